"""Weekly per-vehicle profiles and node components: closed forms and conservation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evflex.export.components import Efficiencies, SegmentFleet, node_components
from evflex.export.fleet_profiles import (
    HOURS_PER_WEEK,
    ProfileInputError,
    fleet_groups,
    group_profiles,
)
from evflex.export.network import case_fleets
from evflex.export.simulation import group_sizes
from evflex.simulate.archetypes import Sessions, load_archetypes, parse_mix, sample_sessions


def _one_vehicle(days: int = 7, arrive: int = 18, dwell: int = 13, energy: float = 9.0,
                 kw: float = 3.0, battery: float = 60.0, reserve: float = 18.0,
                 target: float = 54.0, eligible: bool = True) -> Sessions:
    """One vehicle plugged in from ``arrive`` for ``dwell`` hours every day."""
    day = np.arange(days)
    arrival = day * 24 + arrive
    n = days
    return Sessions(
        vehicle=np.zeros(n, dtype=int), archetype=np.zeros(n, dtype=int), names=("x",),
        day=day, arrival=arrival, departure=arrival + dwell,
        energy_kwh=np.full(n, energy), max_kw=np.full(n, kw), export_kw=np.full(n, 7.0),
        battery_kwh=np.full(n, battery), reserve_kwh=np.full(n, reserve),
        arrival_kwh=np.full(n, target - energy), v2g_eligible=np.full(n, eligible),
        step_minutes=60, n_steps=days * 24)


def test_one_vehicle_closed_forms() -> None:
    s = _one_vehicle()
    g = group_profiles(s, np.ones(len(s), dtype=bool))
    window = 54.0 - 18.0
    assert g.window_kwh == pytest.approx(window)
    assert g.daily_energy_kwh == pytest.approx(9.0)
    hours = np.arange(HOURS_PER_WEEK) % 24
    plugged = (hours >= 18) | (hours < 7)
    np.testing.assert_array_equal(g.plugged_share, plugged.astype(float))
    # unmanaged: 3 kW for three hours from 18:00
    np.testing.assert_allclose(g.unmanaged_kw, np.where(np.isin(hours, [18, 19, 20]), 3.0, 0))
    # driving: 9 kWh over the 11 hours away (07:00-17:59)
    np.testing.assert_allclose(g.driving_kw, np.where(~plugged, 9.0 / 11, 0.0))
    # export floor: back to the window by the end of 06:00 at 3 kW (12 kWh in the last 4 h)
    expected = {6: window, 5: window - 3, 4: window - 6, 0: window - 18, 18: 0.0}
    for hour, value in expected.items():
        assert g.floor_export_kwh[hour] == pytest.approx(max(value, 0.0)), hour
    # charge-only floor: arrival level until the last 3 hours, then +3 kWh per hour
    arrival_level = window - 9.0
    assert g.floor_charge_kwh[18] == pytest.approx(arrival_level)
    assert g.floor_charge_kwh[3] == pytest.approx(arrival_level)
    assert g.floor_charge_kwh[4] == pytest.approx(arrival_level + 3)
    assert g.floor_charge_kwh[6] == pytest.approx(window)
    # away: the level falls from the window to the arrival level, ending at it
    assert g.floor_export_kwh[17] == pytest.approx(arrival_level)
    assert g.floor_export_kwh[7] == pytest.approx(window - 9.0 / 11)


def test_profiles_reject_non_hourly_or_partial_weeks() -> None:
    arch = load_archetypes()
    mix = parse_mix(None, arch, "cars")
    with pytest.raises(ProfileInputError, match="not hourly"):
        fleet_groups(sample_sessions(10, 7, 30, 1, mix, arch))
    with pytest.raises(ProfileInputError, match="whole weeks"):
        fleet_groups(sample_sessions(10, 3, 60, 1, mix, arch))


@pytest.fixture(scope="module")
def cars_groups():  # type: ignore[no-untyped-def]
    arch = load_archetypes()
    mix = parse_mix(None, arch, "cars")
    return fleet_groups(sample_sessions(600, 7, 60, 3, mix, arch), group_sizes(600, mix, arch))


def test_simulated_groups_conserve_energy_and_bound_floors(cars_groups) -> None:  # type: ignore[no-untyped-def]
    for g in cars_groups.values():
        week = g.daily_energy_kwh * 7
        assert g.unmanaged_kw.sum() == pytest.approx(week, rel=1e-9)
        assert g.driving_kw.sum() == pytest.approx(week, rel=1e-9)
        assert np.all(g.floor_export_kwh >= -1e-9)
        assert np.all(g.floor_export_kwh <= g.floor_charge_kwh + 1e-9)
        assert np.all(g.floor_charge_kwh <= g.window_kwh * (1 + 1e-9))
        assert np.all((g.plugged_share >= 0) & (g.plugged_share <= 1))


EFF = Efficiencies(charge=0.9, discharge=0.95)


def test_node_components_from_counts(cars_groups) -> None:  # type: ignore[no-untyped-def]
    states = {"v2g": 1e5, "v2h_v2b": 2e5, "grid_managed": 3e5, "smart_only": 1e5,
              "outside": 3e5}
    fleet = SegmentFleet(states=states, charger_kw=7.2, export_kw=7.0)
    node, ts = node_components([fleet], [cars_groups], EFF)
    elig = cars_groups["eligible"]
    assert node["charger_p_nom"] == pytest.approx(6e5 * 7.2 / 1000)
    assert node["charger_p_nom_all"] == pytest.approx(1e6 * 7.2 / 1000)
    assert node["v2g_p_nom"] == pytest.approx(1e5 * 7.0 / 1000)
    assert node["bev_dsm_availability"] == pytest.approx(0.6)
    # the envelope (0.6) fits in the eligible room (0.8): all of it is eligible
    assert node["store_e_nom"] == pytest.approx(6e5 * elig.window_kwh / 1000)
    np.testing.assert_allclose(ts["v2g_p_max_pu"], elig.plugged_share)
    np.testing.assert_allclose(ts["charger_p_max_pu"], elig.plugged_power_share)
    assert np.all((ts["store_e_min_pu"] >= 0) & (ts["store_e_min_pu"] <= 1))
    # grid-side energy of the fleet: battery energy / charge efficiency
    other = cars_groups["other"]
    share = elig.vehicles / (elig.vehicles + other.vehicles)
    battery_week = sum(g.daily_energy_kwh * 7 * n for g, n in
                       ((elig, share * 1e6), (other, (1 - share) * 1e6)))
    assert ts["all_unmanaged_load"].sum() * 1000 == pytest.approx(battery_week / 0.9)


def test_cases_keep_the_fleet_energy(cars_groups) -> None:  # type: ignore[no-untyped-def]
    states = {"v2g": 5e4, "v2h_v2b": 1e5, "grid_managed": 6e5, "smart_only": 1e5,
              "outside": 1.5e5}
    fleet = [SegmentFleet(states=states, charger_kw=7.2, export_kw=7.0)]
    totals = {}
    for case in ("unmanaged", "evflex", "pypsa_eur"):
        node, ts = node_components(case_fleets(fleet, case), [cars_groups], EFF)
        totals[case] = ts["all_unmanaged_load"].sum()
        managed_grid = ts["driving_load"].sum() / EFF.charge
        assert managed_grid + ts["unmanaged_load"].sum() == pytest.approx(totals[case])
    assert totals["evflex"] == pytest.approx(totals["unmanaged"])
    assert totals["pypsa_eur"] == pytest.approx(totals["unmanaged"])
    node, _ = node_components(case_fleets(fleet, "pypsa_eur"), [cars_groups], EFF)
    assert node["bev_dsm_availability"] == pytest.approx(0.5)
    assert node["v2g_p_nom"] == pytest.approx(0.5 * node["charger_p_nom_all"])


_count = st.floats(min_value=0.0, max_value=1e6, allow_nan=False)


@settings(max_examples=40, deadline=None)
@given(v2g=_count, v2h=_count, managed=_count, smart=_count, outside=_count,
       charger_kw=st.floats(1.0, 50.0), export_kw=st.floats(0.0, 50.0))
def test_components_are_bounded_and_conserve_energy(
        cars_groups, v2g: float, v2h: float, managed: float, smart: float,  # type: ignore[no-untyped-def]
        outside: float, charger_kw: float, export_kw: float) -> None:
    """Any split of the fleet: per-unit series in [0, 1], energy independent of the split."""
    states = {"v2g": v2g, "v2h_v2b": v2h, "grid_managed": managed, "smart_only": smart,
              "outside": outside}
    fleet = [SegmentFleet(states=states, charger_kw=charger_kw, export_kw=export_kw)]
    node, ts = node_components(fleet, [cars_groups], EFF)
    for name in ("charger_p_max_pu", "v2g_p_max_pu", "store_e_min_pu"):
        assert np.all((ts[name] >= -1e-12) & (ts[name] <= 1 + 1e-9)), name
    ev = sum(states.values())
    un, _ = node_components(case_fleets(fleet, "unmanaged"), [cars_groups], EFF)
    assert node["annual_energy"] == pytest.approx(un["annual_energy"], rel=1e-9, abs=1e-6)
    managed_grid = ts["driving_load"].sum() / EFF.charge
    assert managed_grid + ts["unmanaged_load"].sum() == pytest.approx(
        ts["all_unmanaged_load"].sum(), rel=1e-9, abs=1e-6)
    assert node["store_e_nom"] <= (v2g + v2h + managed) * max(
        g.window_kwh for g in cars_groups.values()) / 1000 * (1 + 1e-9) + 1e-9
    assert node["bev_dsm_availability"] == pytest.approx(
        (v2g + v2h + managed) / ev if ev > 0 else 0.0)
