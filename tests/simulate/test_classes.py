"""Classes of sessions: the exact aggregation behind the fleet's min-peak schedule.

The class schedule must split into session schedules that each stay within the
session's window and charger and deliver its energy exactly, and add up to the class
schedule, also when a class's sessions are split over chunks; the observation kernel
must agree with the array expressions it replaced."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from sim_instances import background_wh, lp_min_peak, sessions

from evflex.simulate import kernels
from evflex.simulate.archetypes import sample_sessions
from evflex.simulate.classes import (
    class_shares,
    count_classes,
    merge_classes,
    min_peak_classes,
    split_class_schedule,
)
from evflex.simulate.strategies import (
    aggregate,
    as_late_as_possible,
    per_session,
    session_slots,
    state_of_charge,
    unmanaged,
)


@settings(max_examples=20, deadline=None)
@given(n=st.integers(2, 80), days=st.integers(1, 2), seed=st.integers(0, 10_000),
       scale=st.sampled_from([0.05, 0.4, 1.0]), step=st.sampled_from([15, 30, 60]),
       segment=st.sampled_from(["cars", "vans", "buses"]),
       sweeps=st.sampled_from([0, 1, 16]))
def test_class_schedule_splits_into_exact_session_schedules(
        n: int, days: int, seed: int, scale: float, step: int, segment: str,
        sweeps: int) -> None:
    s = sessions(n, days, seed, step, segment)
    slots = session_slots(s)
    bg = background_wh(s, scale)
    classes = count_classes(s)
    exact = min_peak_classes(classes, bg, max_sweeps=sweeps)
    wh = split_class_schedule(class_shares(classes, exact.wh, exact.start), s, slots.start)
    np.testing.assert_allclose(per_session(slots, wh, len(s)), s.energy_wh, rtol=1e-9,
                               atol=1e-6)
    assert np.all(wh >= -1e-9)
    assert np.all(wh <= s.slot_wh[slots.row] + 1e-6)
    np.testing.assert_allclose(aggregate(slots, wh, s.n_steps), exact.load_wh, rtol=1e-9,
                               atol=1e-6)
    # the classes' optimum is the sessions' optimum (HiGHS on the per-session LP)
    optimum = lp_min_peak(s, slots, bg)
    peak = float((bg + exact.load_wh).max())
    assert abs(peak / optimum - 1) < 1e-6
    assert exact.lower_wh <= optimum * (1 + 1e-9)


def test_chunks_split_their_share_and_add_up_to_the_class_schedule() -> None:
    from sim_instances import ARCH, parse_mix

    mix = parse_mix(None, ARCH)
    parts = [sample_sessions(1000, 2, 30, 5, mix, ARCH, first_vehicle=f) for f in (0, 1000)]
    whole = sample_sessions(2000, 2, 30, 5, mix, ARCH)
    classes = merge_classes([count_classes(p) for p in parts])
    assert classes.table.equals(count_classes(whole).table)
    bg = background_wh(whole, 0.4)
    exact = min_peak_classes(classes, bg)
    shares = class_shares(classes, exact.wh, exact.start)
    total = np.zeros(whole.n_steps)
    for p in parts:
        slots = session_slots(p)
        wh = split_class_schedule(shares, p, slots.start)
        np.testing.assert_allclose(per_session(slots, wh, len(p)), p.energy_wh, atol=1e-6)
        assert np.all(wh <= p.slot_wh[slots.row] + 1e-6)
        total += aggregate(slots, wh, p.n_steps)
    np.testing.assert_allclose(total, exact.load_wh, rtol=1e-9, atol=1e-6)


def test_observation_kernel_matches_the_array_expressions() -> None:
    s = sessions(300, 3, 4, 15)
    slots = session_slots(s)
    h, peak_step = s.n_steps, 70
    sums = np.zeros((kernels.OBS_ROWS, h))
    at_peak = np.zeros(2)
    kernels.observe_sessions(s.arrival.astype(np.int64),
                             (s.departure - s.arrival).astype(np.int64),
                             s.slot_wh.astype(float), s.energy_wh.astype(float), s.max_kw,
                             s.export_kw, s.battery_kwh, s.reserve_kwh, s.arrival_kwh,
                             s.v2g_eligible, h, peak_step, sums, at_peak)
    un, alap = unmanaged(s, slots), as_late_as_possible(s, slots)
    elig = s.v2g_eligible[slots.row]
    col, rows = slots.col[elig], slots.row[elig]
    unwrapped = s.arrival[slots.row] + slots.offset < h
    soc = (state_of_charge(s, slots, alap) - alap / 1000.0)[elig]
    soc_un = (state_of_charge(s, slots, un) - un / 1000.0)[elig]
    expected = {
        kernels.OBS_UNMANAGED: aggregate(slots, un, h),
        kernels.OBS_ASAP: np.bincount(slots.col[unwrapped], un[unwrapped], h),
        kernels.OBS_ALAP: np.bincount(slots.col[unwrapped], alap[unwrapped], h),
        kernels.OBS_PLUGGED: np.bincount(slots.col, minlength=h),
        kernels.OBS_PLUGGED_KW: np.bincount(slots.col, s.max_kw[slots.row], h),
        kernels.OBS_CHARGING: np.bincount(slots.col[un > 0], minlength=h),
        kernels.OBS_PLUGGED_V2G: np.bincount(col, minlength=h),
        kernels.OBS_EXPORT_KW: np.bincount(col, s.export_kw[rows], h),
        kernels.OBS_SOC: np.bincount(col, soc, h),
        kernels.OBS_SOC_UNMANAGED: np.bincount(col, soc_un, h),
        kernels.OBS_BATTERY: np.bincount(col, s.battery_kwh[rows], h),
        kernels.OBS_HEADROOM: np.bincount(col, np.maximum(soc - s.reserve_kwh[rows], 0), h),
    }
    for row, want in expected.items():
        np.testing.assert_allclose(sums[row], want, rtol=1e-9, atol=1e-6, err_msg=str(row))
    here = rows[col == peak_step]
    np.testing.assert_allclose(at_peak, [s.reserve_kwh[here].sum(), s.battery_kwh[here].sum()])


def test_valley_filling_proves_the_optimum_without_a_flow() -> None:
    """The sweeps' schedule meets a nested cut bound (no maximum flow), and that bound is
    the LP optimum (HiGHS) of a fleet whose own load sets the peak; the flow method,
    forced with no sweeps, reaches the same peak."""
    s = sessions(600, 2, 3, 30)
    slots = session_slots(s)
    bg = background_wh(s, 0.4)
    classes = count_classes(s)
    filled = min_peak_classes(classes, bg)
    flowed = min_peak_classes(classes, bg, max_sweeps=0)
    optimum = lp_min_peak(s, slots, bg)
    assert optimum > bg.max() * 1.05
    assert filled.flows == 0 < flowed.flows
    assert 0 < filled.sweeps <= 16
    for result in (filled, flowed):
        assert abs(result.level_wh / optimum - 1) < 1e-6
    assert abs(filled.lower_wh / optimum - 1) < 1e-8
    assert filled.level_wh <= filled.lower_wh * (1 + 1e-9)
