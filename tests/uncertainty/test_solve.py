"""What must be true: targets met in an independent run, bounds held, changes minimal."""

from __future__ import annotations

import re

import numpy as np
import pytest

from evflex.model import run
from evflex.scenario import Scenario
from evflex.scenario.load import parse
from evflex.uncertainty.solve import (
    SolveInputError,
    Target,
    default_levers,
    make_lever,
    solve,
    with_numbers,
)


def _targets(sc: Scenario, *texts: str) -> list[Target]:
    return [Target.parse(t, [*sc.regions, "World"], sc.years_axis) for t in texts]


def test_solution_meets_the_target_in_a_plain_run_and_stays_in_bounds(base: Scenario) -> None:
    solution = solve(base, _targets(base, "v2g:2100:0.40"))
    assert solution.reached, solution.message
    results = run(solution.solved_scenario)
    assert results.world_state_shares(2100)["v2g"] == pytest.approx(0.40, abs=1e-4)
    for lever, value in zip(solution.levers, solution.values, strict=True):
        assert lever.low <= value <= lever.high
    # only the V2G funnel's levers moved; managed charging's did not
    moved = {lv.name for lv, v in zip(solution.levers, solution.values, strict=True)
             if abs(v - lv.base) > 1e-6}
    assert "v2g_enrolled.end" in moved
    assert "grid_managed_enrolment.end" not in moved
    # the solved scenario is a valid scenario file
    dumped = solution.solved_scenario.model_dump(mode="json", exclude_none=True)
    assert parse(dumped).parameters["v2g_enrolled"].scurve is not None


def test_solution_is_closer_to_the_base_than_moving_one_lever(base: Scenario) -> None:
    """Any other way to meet the target moves the levers more (relative squared change)."""
    target = _targets(base, "v2g:2100:0.36")
    solution = solve(base, target)
    assert solution.reached
    best = float(np.sum(solution.table()["change"] ** 2))
    # alternative: v2g_enrolled.end alone (V2G is proportional to it)
    only = solve(base, target, levers=["v2g_enrolled.end"])
    assert only.reached
    alone = float(np.sum(only.table()["change"] ** 2))
    assert best < alone
    # spread over the six V2G filters, the relative changes are nearly equal
    changes = solution.table().set_index("lever")["change"]
    v2g = changes[["export_permitted.end", "v2g_enrolled.end", "warranty_covers.end",
                   "v2g_active.end"]]
    assert v2g.max() - v2g.min() < 0.01


def test_unreachable_target_says_how_far_it_can_go(base: Scenario) -> None:
    solution = solve(base, _targets(base, "v2g:2050:0.5"))
    assert not solution.reached
    lo, hi = solution.reachable["v2g:2050"]
    assert "v2g:2050 = 0.5 cannot be reached within the bounds" in solution.message
    assert 0 <= lo < hi < 0.5
    # the upper end is real: every lever at its upper bound gives it
    top = with_numbers(base, {lv.name: lv.high for lv in solution.levers
                              if lv.name != "v2h_v2b_use.end"})
    assert run(top).world_state_shares(2050)["v2g"] == pytest.approx(hi, rel=1e-3)


def test_bounds_come_from_the_scenarios_distribution(uncertain: Scenario) -> None:
    lever = make_lever(uncertain, "v2g_enrolled.end")
    assert (lever.low, lever.high) == (0.4, 0.9)
    assert lever.bounds_from.startswith("distribution")
    anchored = make_lever(uncertain, "ev_sales_share/USA.steepness")
    assert (anchored.low, anchored.high) == (0.12, 0.32)
    assert "bidirectional_share.end" in default_levers(uncertain)


@pytest.mark.parametrize(("text", "message"), [
    ("v2g:2100", "target: not a target (got 'v2g:2100', expected NAME[@REGION]:YEAR:VALUE"),
    ("v2x:2100:0.3", "target: unknown quantity (got 'v2x'"),
    ("v2g@Mars:2100:0.3", "target: unknown region (got 'Mars'"),
    ("v2g:2200:0.3", "target: year outside the scenario (got 2200, expected 2010 to 2100)"),
    ("v2g:2100:1.3", "target: a share outside 0-1 (got 1.3 for v2g:2100"),
])
def test_bad_targets_are_named(base: Scenario, text: str, message: str) -> None:
    with pytest.raises(SolveInputError) as info:
        _targets(base, text)
    assert str(info.value).startswith(message)


def test_bad_levers_are_named(base: Scenario) -> None:
    message = "vary: no such number (got 'v2g_enrolled.value'"
    with pytest.raises(SolveInputError, match=re.escape(message)):
        solve(base, _targets(base, "v2g:2100:0.35"), levers=["v2g_enrolled.value"])
