"""The judgement layer: evidence ledger, update triggers, scorecard, comparator stack,
decision implications and executive summary, computed from the evidence and the run.

- :func:`load_evidence`: the ledger (shipped, plus or instead of a user's file);
- :func:`evaluate_triggers` / :func:`apply_triggers`: which triggers fire, and the
  scenario revised by them;
- :func:`scorecard`: a verdict per pathway by the rules of ``data/scorecard_rules.yaml``;
- :func:`comparator_stack`: cost per delivered kW-year by service, option and year;
- :func:`judge`: all of it for one run, as tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from evflex.judgement.comparators import CostsError, comparator_stack
from evflex.judgement.evidence import EvidenceError, EvidenceProblem, load_evidence
from evflex.judgement.facts import compute_facts
from evflex.judgement.implications import ImplicationsError, implications
from evflex.judgement.scorecard import RulesError, scorecard
from evflex.judgement.scorecard import quantity_rules as modelled_rules
from evflex.judgement.summary import summary, summary_markdown
from evflex.judgement.triggers import TriggerError, apply_triggers, evaluate_triggers
from evflex.model import Results

__all__ = [
    "CostsError",
    "EvidenceError",
    "EvidenceProblem",
    "ImplicationsError",
    "RulesError",
    "TriggerError",
    "apply_triggers",
    "comparator_stack",
    "evaluate_triggers",
    "judge",
    "load_evidence",
    "modelled_rules",
    "scorecard",
    "summary_markdown",
]


def judge(results: Results, evidence: pd.DataFrame | None = None, *,
          rules: Mapping[str, Any] | Path | str | None = None,
          costs: pd.DataFrame | Path | str | None = None,
          years: Iterable[int] | None = None) -> dict[str, pd.DataFrame]:
    """The judgement of one run: ``evidence, triggers, scorecard, comparators,
    implications, summary`` tables.

    Parameters
    ----------
    results : the model run (:class:`evflex.model.Results`); read by the named dimensions
        of its dataset, with its own scenario, never a shipped one.
    evidence : the ledger; default the shipped one (:func:`load_evidence`).
    rules, costs : scorecard rules and comparator costs; default the shipped files.
    years : comparator years; default 2030, 2050 and the run's last year.
    """
    ledger = load_evidence() if evidence is None else evidence
    trig = evaluate_triggers(ledger)
    score = scorecard(ledger, results, rules)
    comp = comparator_stack(results, years, costs)
    facts = compute_facts(results, ledger, score, comp, trig)
    return {"evidence": ledger, "triggers": trig, "scorecard": score, "comparators": comp,
            "implications": implications(facts), "summary": summary(facts, score)}
