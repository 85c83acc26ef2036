"""Verdict probabilities: rules over modelled quantities, counted over every draw."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import pytest

from evflex.scenario import Scenario
from evflex.uncertainty.execute import Executor
from evflex.uncertainty.montecarlo import run_montecarlo
from evflex.uncertainty.verdicts import QuantityRule


def _v2g_rule(threshold: float) -> QuantityRule:
    def classify(q: Mapping[str, np.ndarray]) -> np.ndarray:
        return np.where(q["v2g:2100"] > threshold, 0, 1)

    return QuantityRule("V2G export", ("progressing", "niche-valid"), ("v2g:2100",), classify,
                        f"progressing if V2G share 2100 > {threshold}")


def _three_way(q: Mapping[str, np.ndarray]) -> np.ndarray:
    managed = q["grid_managed:2050"] + q["v2g:2050"] + q["v2h_v2b:2050"]
    return np.select([managed > 0.6, managed > 0.4], [0, 1], 2)


THREE = QuantityRule("managed charging", ("scaling", "progressing", "stalled"),
                     ("grid_managed:2050", "v2g:2050", "v2h_v2b:2050"), _three_way,
                     "envelope 2050 > 60 % scaling, > 40 % progressing")


def test_probabilities_agree_with_the_quantiles(small_uncertain: Scenario) -> None:
    """Half the draws lie above the (exact) median: the rule at the median gives 50 %."""
    n = 400  # within the pilot: exact quantiles
    plain = run_montecarlo(small_uncertain, n, 8)
    q = plain.states_quantiles.set_index(["region", "year", "state"])
    median = float(q.loc[("World", 2100, "v2g"), "p50"])
    p75 = float(q.loc[("World", 2100, "v2g"), "p75"])
    judged = run_montecarlo(small_uncertain, n, 8, rules=[_v2g_rule(median), _v2g_rule(p75),
                                                          THREE])
    table = judged.verdict_probabilities
    first = table[table["rule"] == f"progressing if V2G share 2100 > {median}"]
    assert first.set_index("verdict")["probability"].to_dict() == {"progressing": 0.5,
                                                                   "niche-valid": 0.5}
    second = table[table["rule"] == f"progressing if V2G share 2100 > {p75}"]
    assert second.set_index("verdict")["probability"]["progressing"] == pytest.approx(
        0.25, abs=1.5 / n)
    three = table[table["pathway"] == "managed charging"]
    assert three["draws"].sum() == n
    assert three["probability"].sum() == pytest.approx(1.0)


def test_counts_are_the_same_in_chunks_and_on_a_cluster(small_uncertain: Scenario,
                                                        cluster: object) -> None:
    n = 1400
    here = run_montecarlo(small_uncertain, n, 5, chunk_size=128, rules=[THREE])
    there = run_montecarlo(small_uncertain, n, 5, chunk_size=512, rules=[THREE],
                           executor=Executor(client=cluster))
    pd.testing.assert_frame_equal(here.verdict_probabilities, there.verdict_probabilities)
    assert here.verdict_probabilities["draws"].sum() == n


def test_the_shipped_scorecard_gives_verdict_probabilities(small_uncertain: Scenario) -> None:
    result = run_montecarlo(small_uncertain, 20, 1)
    probs = result.verdict_probabilities
    assert not probs.empty
    assert set(probs["pathway"]) >= {"v2g", "v2h_v2b", "grid_managed", "smart_charging"}

    share = probs["probability"]
    assert share.between(0, 1).all()
    assert share.groupby(probs["pathway"]).sum().sub(1).abs().max() < 1e-9
