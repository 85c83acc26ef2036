"""Probability of each scorecard verdict over a Monte Carlo ensemble.

The scorecard (:mod:`evflex.judgement.scorecard`) judges each pathway by explicit rules.
Where a rule depends on modelled quantities (state shares, capacities) it is a
:class:`~evflex.judgement.scorecard.QuantityRule`: evaluated on every draw, vectorised,
and the verdicts counted. The dependency runs one way: uncertainty reads the
judgement's rules; the judgement knows nothing of Monte Carlo.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from evflex.judgement.scorecard import QuantityRule, quantity_rules
from evflex.paths import FloatArray
from evflex.scenario import Scenario

if TYPE_CHECKING:
    from evflex.uncertainty.ensemble import Ensemble

__all__ = ["ModelledVerdicts", "QuantityRule", "verdict_rules", "why_no_verdicts"]


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
        rules = quantity_rules(scenario)
    return ModelledVerdicts(tuple(rules)) if rules else None


def why_no_verdicts() -> str:
    """Why :func:`verdict_rules` found no rules, for the run's notes."""
    return ("verdict probabilities: the scorecard gave no rules over modelled quantities "
            "for this scenario; no verdict_probabilities rows")
