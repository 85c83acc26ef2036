"""Probability of each scorecard verdict over a Monte Carlo ensemble.

The scorecard (issue 4, :mod:`evflex.judgement`) judges each pathway by explicit rules.
Where a rule depends on modelled quantities (state shares, capacities), it can be
evaluated on every draw, vectorised, and the verdicts counted. The contract:

- a rule is a :class:`QuantityRule`: a pathway, its possible verdicts, the modelled
  quantities it reads (``NAME[@REGION]:YEAR``, see
  :class:`~evflex.uncertainty.ensemble.Quantity`) and ``classify``, a function of those
  quantities (arrays over the draws) that returns each draw's verdict (index into
  ``verdicts``);
- :mod:`evflex.judgement` offers its rules that depend on modelled quantities through
  ``modelled_rules(scenario) -> list[QuantityRule]``. Without it (or without that
  function) Monte Carlo reports no verdict probabilities and says why.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from evflex.paths import FloatArray
from evflex.scenario import Scenario

if TYPE_CHECKING:
    from evflex.uncertainty.ensemble import Ensemble

JUDGEMENT = "evflex.judgement"
HOOK = "modelled_rules"


@dataclass(frozen=True)
class QuantityRule:
    """A scorecard rule over modelled quantities, evaluated on a batch of draws."""

    pathway: str
    verdicts: tuple[str, ...]
    quantities: tuple[str, ...]
    classify: Callable[[Mapping[str, FloatArray]], np.ndarray]
    rule: str = ""


@dataclass(frozen=True)
class ModelledVerdicts:
    """Rules evaluated on every draw; counts per (rule, verdict) merge by addition."""

    rules: tuple[QuantityRule, ...]

    @property
    def width(self) -> int:
        return max(len(r.verdicts) for r in self.rules)

    def count(self, summary: dict[str, FloatArray], ensemble: Ensemble) -> np.ndarray:
        """Counts (rule, verdict) over the draws of a summary."""
        from evflex.uncertainty.ensemble import Quantity

        regions, years = ensemble.regions, ensemble.years
        out = np.zeros((len(self.rules), self.width), dtype=np.int64)
        for i, rule in enumerate(self.rules):
            values = {q: Quantity.parse(q, regions, years).values(summary, regions, years)
                      for q in rule.quantities}
            index = np.asarray(rule.classify(values), dtype=np.int64)
            if index.min(initial=0) < 0 or index.max(initial=0) >= len(rule.verdicts):
                raise ValueError(f"rule for {rule.pathway}: verdict index out of range (got "
                                 f"{index.min()} to {index.max()}, expected 0 to "
                                 f"{len(rule.verdicts) - 1})")
            out[i, :len(rule.verdicts)] = np.bincount(index, minlength=len(rule.verdicts))
        return out

    def table(self, counts: np.ndarray, draws: int) -> pd.DataFrame:
        """Rows (pathway, verdict, probability, draws, rule) from the summed counts."""
        rows = []
        for i, rule in enumerate(self.rules):
            for j, verdict in enumerate(rule.verdicts):
                rows.append({"pathway": rule.pathway, "verdict": verdict,
                             "probability": counts[i, j] / draws, "draws": int(counts[i, j]),
                             "rule": rule.rule})
        return pd.DataFrame(rows)


def verdict_rules(scenario: Scenario,
                  rules: Sequence[QuantityRule] | None = None) -> ModelledVerdicts | None:
    """The rules to evaluate on every draw: ``rules`` if given, else the scorecard's.

    Returns ``None`` when there are none; :func:`why_no_verdicts` says why.
    """
    if rules is None:
        try:
            module = importlib.import_module(JUDGEMENT)
        except ModuleNotFoundError:
            return None
        hook = getattr(module, HOOK, None)
        if hook is None:
            return None
        rules = list(hook(scenario))
    return ModelledVerdicts(tuple(rules)) if rules else None


def why_no_verdicts() -> str:
    """Why :func:`verdict_rules` found no rules, for the run's notes."""
    try:
        module = importlib.import_module(JUDGEMENT)
    except ModuleNotFoundError:
        return (f"verdict probabilities: no scorecard ({JUDGEMENT} is not installed); "
                "no verdict_probabilities rows")
    if getattr(module, HOOK, None) is None:
        return (f"verdict probabilities: {JUDGEMENT} offers no {HOOK}(scenario) (the rules "
                "that depend on modelled quantities); no verdict_probabilities rows")
    return f"verdict probabilities: {JUDGEMENT}.{HOOK} gave no rules for this scenario"
