"""Probability of each scorecard verdict over a Monte Carlo ensemble.

The scorecard (:mod:`evflex.judgement`) judges each pathway by explicit rules. Where a
rule depends on modelled quantities (state shares, capacities), it is evaluated on every
draw, vectorised, and the verdicts are counted; rules that depend only on the evidence
ledger give the same verdict in every draw and are reported as such.
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Protocol

import numpy as np
import pandas as pd

from evflex.paths import FloatArray
from evflex.scenario import Scenario

if TYPE_CHECKING:
    from evflex.uncertainty.ensemble import Ensemble


class VerdictRules(Protocol):
    """Scorecard rules evaluated on a batch of draws."""

    def count(self, summary: dict[str, FloatArray], ensemble: Ensemble) -> np.ndarray:
        """Counts of each (pathway, verdict) over the draws of a summary."""

    def table(self, counts: np.ndarray, draws: int) -> pd.DataFrame:
        """Rows (pathway, verdict, probability, draws, rule) from the summed counts."""


def judgement_available() -> bool:
    """Whether :mod:`evflex.judgement` is installed with a scorecard."""
    return importlib.util.find_spec("evflex.judgement") is not None


def verdict_rules(scenario: Scenario) -> VerdictRules | None:
    """The scorecard rules that depend on modelled quantities, or ``None`` without them."""
    if not judgement_available():
        return None
    return None
