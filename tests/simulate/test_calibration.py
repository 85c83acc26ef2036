"""Calibration to ElaadNL (labelled as such): the sessions the simulation schedules stay
within stated distances of the source distributions, and plug-in frequency matches the
calibration by archetype and day of the week while delivering each day's need."""

from __future__ import annotations

import numpy as np
import pytest

from evflex.simulate.archetypes import shipped_archetypes
from evflex.simulate.calibration import plug_in_fit, session_fit, simulated_sessions

VEHICLES, DAYS = 10_000, 28
#: Largest Kolmogorov-Smirnov distance allowed per quantity (stated in
#: docs/simulation_calibration.md): arrival and connection time are sampled from the
#: source and only cut where the next session begins; energy is capped by what the
#: charger can deliver in the window and by the battery between reserve and target,
#: which removes the largest ElaadNL home sessions (their mean falls from 24 to 17 kWh).
KS_MAX = {"arrival_h": 0.02, "dwell_h": 0.05, ("energy_kwh", "private"): 0.2,
          ("energy_kwh", "workplace"): 0.06, ("energy_kwh", "public"): 0.1}


@pytest.fixture(scope="module")
def fleet():  # type: ignore[no-untyped-def]
    return simulated_sessions(VEHICLES, DAYS, seed=3)


def test_sessions_are_within_the_stated_distances_of_elaadnl(fleet) -> None:  # type: ignore[no-untyped-def]
    fit = session_fit(fleet)
    assert set(fit["site"]) == {"private", "workplace", "public"}
    assert len(fit) == 12
    for row in fit.itertuples():
        bound = KS_MAX.get(row.quantity) or KS_MAX[(row.quantity, row.site)]
        assert row.ks_distance <= bound, row
        if row.quantity == "dwell_h":  # cut short only where the next session begins
            assert 0.85 * row.mean_source <= row.mean_simulated <= row.mean_source


def test_plug_in_frequency_matches_the_calibration_by_archetype(fleet) -> None:  # type: ignore[no-untyped-def]
    fit = plug_in_fit(fleet, VEHICLES)
    arch = shipped_archetypes()
    mix = arch.mixes["cars"]
    for row in fit.itertuples():
        vehicle_days = VEHICLES * mix[row.archetype] * DAYS / 7
        se = np.sqrt(row.plug_in_calibrated * (1 - row.plug_in_calibrated) / vehicle_days)
        assert abs(row.plug_in_simulated - row.plug_in_calibrated) <= 4 * se + 1e-3, row
    home = fit[fit["archetype"] == "commuter_home"]
    # ElaadNL's day-of-week shape of home sessions (Sunday lowest)
    np.testing.assert_allclose(home["share_simulated"], home["share_source"], atol=0.6)
    assert home["plug_in_simulated"].iloc[6] < home["plug_in_simulated"].iloc[:6].min()
    # without a home charger: ElaadNL's workplace shape over the weekdays and its public
    # shape over the weekend (each site's shares renormalised over the days it is used)
    other = fit[fit["archetype"] == "no_home_charger"]
    for days in (slice(0, 5), slice(5, 7)):
        sim, src = (other[c].to_numpy()[days] for c in ("share_simulated", "share_source"))
        np.testing.assert_allclose(100 * sim / sim.sum(), 100 * src / src.sum(), atol=0.8)
    # vehicles skip days: home chargers plug in 3-4 times a week
    assert 3.0 < home["plug_in_simulated"].sum() < 4.5
    # what the sessions deliver is each archetype's sourced daily need
    for k, name in enumerate(fleet.names):
        spec = arch.archetypes[name].plug_in
        need = spec.daily_km.value * spec.kwh_per_km.value
        delivered = fleet.energy_kwh[fleet.archetype == k].sum() / (
            VEHICLES * mix[name] * DAYS)
        assert delivered == pytest.approx(need, rel=0.04), name
