"""One way to edit a scenario: every edit is validated again, and names its problems."""

from __future__ import annotations

import pytest

from evflex.model import run
from evflex.scenario import ScenarioError, load_scenario
from evflex.scenario.edit import edit
from evflex.uncertainty.solve import with_numbers


def test_an_edit_moves_the_run_and_keeps_the_rest() -> None:
    base = load_scenario("base")
    # lowered, but above the 2025 value the curve is pinned at (0.6)
    lower = edit(base, {"v2g_active.end": 0.7}, note="test: lowered")
    assert lower.parameters["v2g_active"].scurve.end == 0.7  # type: ignore[union-attr]
    assert lower.parameters["v2g_active"].note == "test: lowered"
    assert lower.parameters["v2g_enrolled"] == base.parameters["v2g_enrolled"]
    v2g = run(lower).world_state_shares(2100)["v2g"]
    assert v2g < run(base).world_state_shares(2100)["v2g"]


@pytest.mark.parametrize(("numbers", "named"), [
    ({"v2g_active.end": 7.0}, "parameters.v2g_active.scurve.end"),
    ({"no_such.end": 0.5}, "no_such.end"),
    ({"v2g_active.nothing": 0.5}, "v2g_active.nothing"),
    ({"v2g_active": 0.5}, "v2g_active"),
])
def test_a_bad_edit_is_refused_naming_the_site(numbers: dict[str, float], named: str) -> None:
    with pytest.raises(ScenarioError) as info:
        edit(load_scenario("base"), numbers)
    assert named in str(info.value)


def test_solve_edits_through_the_same_door() -> None:
    """`solve` used to copy models without validating them; now an out-of-range number
    is refused exactly as in a file."""
    with pytest.raises(ScenarioError, match="v2g_enrolled"):
        with_numbers(load_scenario("base"), {"v2g_enrolled.end": 1.5})
