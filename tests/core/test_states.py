"""Properties of the filter funnel and the exclusive states, for any inputs."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from evflex.filters import CONDITIONAL_FILTERS, FUNNEL_STEPS, removed_by_step, v2g_funnel
from evflex.states import STATES, allocate_states, state_shares

share = st.floats(0.0, 1.0)
count = st.floats(0.0, 1e8)

USES = ("v2h_v2b_use", "grid_managed_enrolment", "smart_charging_use")
ALL_SHARES = (*CONDITIONAL_FILTERS, *USES)


@st.composite
def cells(draw: st.DrawFn) -> dict[str, float]:
    ev = draw(count)
    cell = {
        "ev_stock": ev,
        "capable": draw(st.floats(0.0, 1.0)) * ev,
        "smart": draw(st.floats(0.0, 1.0)) * ev,
    }
    cell["smart"] = max(cell["smart"], cell["capable"])  # bidirectional ⊂ smart-capable
    cell.update({name: draw(share) for name in ALL_SHARES})
    return cell


def states_of(cell: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
    arr = {k: np.array([v]) for k, v in cell.items()}
    funnel = v2g_funnel(arr["ev_stock"], arr["capable"], {k: arr[k] for k in CONDITIONAL_FILTERS})
    installed = funnel[FUNNEL_STEPS.index("bidirectional_charger")]
    states = allocate_states(arr["ev_stock"], funnel[-1], installed, arr["smart"],
                             arr["v2h_v2b_use"], arr["grid_managed_enrolment"],
                             arr["smart_charging_use"])
    return funnel[:, 0], states[:, 0]


@settings(max_examples=300, deadline=None)
@given(cells())
def test_states_sum_to_stock_and_shares_to_one(cell: dict[str, float]) -> None:
    _, states = states_of(cell)
    assert np.all(states >= -1e-9 * max(cell["ev_stock"], 1.0))
    assert abs(states.sum() - cell["ev_stock"]) <= 1e-9 * max(cell["ev_stock"], 1.0)
    shares = state_shares(states[:, None], np.array([cell["ev_stock"]]))
    assert abs(shares.sum() - 1.0) <= 1e-12


@settings(max_examples=300, deadline=None)
@given(cells())
def test_states_nest(cell: dict[str, float]) -> None:
    funnel, states = states_of(cell)
    v2g, v2h, managed, smart, _ = states
    installed = funnel[FUNNEL_STEPS.index("bidirectional_charger")]
    tol = 1e-9 * max(cell["ev_stock"], 1.0)
    assert v2g <= installed + tol
    assert v2g + v2h <= installed + tol            # bidirectional use needs the charger
    assert installed <= funnel[FUNNEL_STEPS.index("v2g_capable")] + tol
    assert v2g + v2h + managed + smart <= max(cell["smart"], 0) + tol  # needs smart capability
    assert funnel[1] <= cell["ev_stock"] + tol


@settings(max_examples=200, deadline=None)
@given(cells())
def test_funnel_is_monotone_and_removals_add_up(cell: dict[str, float]) -> None:
    funnel, _ = states_of(cell)
    assert np.all(np.diff(funnel) <= 1e-9 * max(cell["ev_stock"], 1.0))
    removed = removed_by_step(funnel[:, None])[:, 0]
    assert removed[0] == 0
    assert abs(funnel[0] - removed.sum() - funnel[-1]) <= 1e-6 * max(cell["ev_stock"], 1.0)


@settings(max_examples=300, deadline=None)
@given(cells(), st.sampled_from(ALL_SHARES), st.floats(0.0, 1.0))
def test_a_stricter_filter_never_raises_a_count(cell: dict[str, float], name: str,
                                                 factor: float) -> None:
    """Lowering any filter never raises a funnel step, nor the vehicles at or above any
    state (v2g; v2g+v2h_v2b; the managed envelope; the flexible envelope)."""
    stricter = {**cell, name: cell[name] * factor}
    funnel, states = states_of(cell)
    funnel2, states2 = states_of(stricter)
    tol = 1e-9 * max(cell["ev_stock"], 1.0)
    assert np.all(funnel2 <= funnel + tol)
    assert np.all(np.cumsum(states2[:-1]) <= np.cumsum(states[:-1]) + tol)
    assert states2[STATES.index("outside")] >= states[STATES.index("outside")] - tol


def test_empty_stock_is_all_outside() -> None:
    shares = state_shares(np.zeros((5, 3)), np.zeros(3))
    np.testing.assert_array_equal(shares[STATES.index("outside")], 1.0)
    assert np.all(shares.sum(axis=0) == 1.0)
