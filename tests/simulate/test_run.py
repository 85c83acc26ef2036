"""The chunked fleet simulation: reproducible, chunking-independent, optimal for the
whole fleet within its proven bound, and the seam to the engine."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sim_instances import lp_min_peak

from evflex.capacity import Availability
from evflex.simulate import (
    SimulationConfig,
    SimulationInputError,
    availability_from_simulation,
    simulate,
    simulate_for_run,
)
from evflex.simulate.run import _Fleet
from evflex.simulate.strategies import session_slots


def test_managed_avoids_the_unmanaged_peak_and_v2g_shaves_more() -> None:
    result = simulate(SimulationConfig(vehicles=400, days=2, seed=3, keep_sessions=False))
    s = result.summary
    assert s["peak_unmanaged_kw"] > s["peak_managed_kw"] * 1.2
    assert s["avoided_peak_v2g_vs_managed_kw"] > 0
    assert s["exported_kwh"] > 0
    assert s["managed_gap"] == pytest.approx(0.0, abs=1e-6)  # one chunk: proven optimal
    assert s["v2g_min_soc_margin_kwh"] >= -1e-9               # never below a reserve
    p = result.profile
    for col in ("managed_kw", "v2g_kw"):  # the fleet's energy is the same every way
        assert p[col].sum() == pytest.approx(p["unmanaged_kw"].sum(), rel=1e-9)
    a = result.availability
    assert np.all(a["energy_min_kwh"] <= a["energy_max_kwh"] + 1e-9)
    assert a["plug_in_share"].between(0, 1).all()
    assert np.all(a["headroom_kwh"] >= 0)
    assert np.all(a["export_capacity_kw"] <= a["plugged_power_kw"] * 10)


def test_seed_reproducible_and_chunking_does_not_change_sessions() -> None:
    config = SimulationConfig(vehicles=2500, days=2, seed=7, chunk_vehicles=3000)
    one = simulate(config)
    two = simulate(SimulationConfig(vehicles=2500, days=2, seed=7, chunk_vehicles=1000))
    again = simulate(SimulationConfig(vehicles=2500, days=2, seed=7, chunk_vehicles=1000))
    assert one.sessions is not None and two.sessions is not None
    pd.testing.assert_frame_equal(one.sessions, two.sessions)
    pd.testing.assert_frame_equal(one.availability, two.availability)
    np.testing.assert_allclose(one.profile["unmanaged_kw"], two.profile["unmanaged_kw"])
    pd.testing.assert_frame_equal(two.profile, again.profile)
    assert two.summary == again.summary
    # the managed schedule is the whole fleet's optimum however it is chunked
    assert -1e-9 <= two.summary["managed_gap"] < 1e-6
    assert two.summary["peak_managed_kw"] == pytest.approx(one.summary["peak_managed_kw"],
                                                           rel=1e-9)
    other = simulate(SimulationConfig(vehicles=2500, days=2, seed=8, strategies=("unmanaged",)))
    assert other.sessions is not None
    assert not one.sessions.equals(other.sessions)


def test_chunked_fleet_peak_is_the_lp_optimum_of_the_whole_fleet() -> None:
    """Four chunks reach the optimum of one LP over all vehicles (HiGHS), where the
    fleet, not the base load, sets the peak."""
    config = SimulationConfig(vehicles=4000, days=2, step_minutes=30, seed=11,
                              chunk_vehicles=1000, strategies=("unmanaged", "managed"),
                              base_kw_per_vehicle=0.4)
    result = simulate(config)
    whole = _Fleet(replace_chunk(config), _arch())
    s, _ = whole.chunk(0)
    optimum = lp_min_peak(s, session_slots(s), whole.base_wh) / whole.wh_per_kw
    peak = result.summary["peak_managed_kw"]
    assert peak > result.summary["base_peak_kw"] * 1.05          # the fleet's peak binds
    assert peak == pytest.approx(optimum, rel=1e-6)
    assert result.summary["managed_lower_bound_kw"] <= optimum * (1 + 1e-9)
    assert result.summary["managed_gap"] < 1e-6


def replace_chunk(config: SimulationConfig) -> SimulationConfig:
    from dataclasses import replace

    return replace(config, chunk_vehicles=config.vehicles)


def _arch():
    from evflex.simulate.archetypes import shipped_archetypes

    return shipped_archetypes()


def test_availability_seam_feeds_the_engine() -> None:
    from evflex.model import run

    result = simulate(SimulationConfig(vehicles=300, days=2, strategies=("unmanaged",)))
    avail = availability_from_simulation(result)
    assert isinstance(avail, Availability)
    assert avail == result.to_availability()
    assert 0 < avail.plug_in_share_at_peak <= 1
    assert avail.mobility_reserve_soc < avail.soc_at_peak <= 1
    assert 0 <= avail.charging_coincidence_at_peak <= 1
    assert "300 vehicles x 2 days" in avail.source and "seed 1" in avail.source
    engine = run("base", availability=avail)
    assert engine.data.attrs["availability_source"] == avail.source
    base = run("base")
    assert not np.allclose(engine.data["capacity_v2g_export_power"],
                           base.data["capacity_v2g_export_power"])


def test_simulate_for_run_gives_the_seam_and_a_profile() -> None:
    avail, profile = simulate_for_run(seed=2, vehicles=200, days=2)
    assert "seed 2" in avail.source
    assert {"step", "base_kw", "unmanaged_kw", "managed_kw", "v2g_kw",
            "plug_in_share", "headroom_kwh"} <= set(profile.columns)
    assert len(profile) == 2 * 96
    assert profile["managed_kw"].notna().all() and profile["v2g_kw"].notna().all()


@pytest.mark.parametrize(("change", "field"), [
    ({"vehicles": 0}, "vehicles"), ({"days": 0}, "days"), ({"step_minutes": 7}, "step"),
    ({"chunk_vehicles": 1500}, "chunk_vehicles"), ({"base_kw_per_vehicle": -1.0},
                                                   "base_kw_per_vehicle"),
    ({"strategies": ("managed",)}, "strategies"), ({"peak_hours": 30.0}, "peak_hours"),
    ({"passes": 0}, "passes"), ({"segment": "boats"}, "segment"),
    ({"mix": {"nobody": 1.0}}, "mix"),
])
def test_bad_configuration_names_the_field(change: dict, field: str) -> None:
    """The domain names its own field (the CLI maps it to an option)."""
    with pytest.raises(SimulationInputError, match=f"^{field}: .*got .*expected") as info:
        simulate(SimulationConfig(**{"vehicles": 10, "days": 1, **change}))
    assert info.value.field == field
    assert "--" not in str(info.value).split(":")[0]


@pytest.mark.slow
def test_one_million_vehicle_days_run_in_flat_memory() -> None:
    import resource

    result = simulate(SimulationConfig(vehicles=100_000, days=10, seed=1, keep_sessions=False,
                                       strategies=("unmanaged", "managed")))
    peak_bytes = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # of the process
    # a million vehicle-days; vehicles skip days (plug-in frequency), at most one a day
    assert result.summary["vehicles"] * result.summary["days"] == 1_000_000
    assert 0 < result.summary["sessions"] <= 1_000_000
    assert peak_bytes < 2e9
    assert result.summary["peak_managed_kw"] < result.summary["peak_unmanaged_kw"]
    assert -1e-9 <= result.summary["managed_gap"] < 1e-6


def test_progress_reports_each_batch_and_batches_do_not_change_the_result(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Sweeps cut into batches of classes (to report progress) are the same Gauss-Seidel
    sweeps: the profiles are identical; the progress rises to its total."""
    from evflex.simulate import classes

    config = SimulationConfig(vehicles=3000, days=2, step_minutes=30, seed=3,
                              chunk_vehicles=1000, keep_sessions=False)
    unbatched: list[tuple[int, int]] = []
    whole = simulate(config, progress=lambda done, total: unbatched.append((done, total)))
    monkeypatch.setattr(classes, "BATCH_SLOTS", 5_000)
    seen: list[tuple[int, int]] = []
    batched = simulate(config, progress=lambda done, total: seen.append((done, total)))
    pd.testing.assert_frame_equal(whole.profile, batched.profile)
    done = [d for d, _ in seen]
    assert done == sorted(done)
    assert seen[-1][0] == seen[-1][1]
    assert len(seen) > len(unbatched) + 10   # each batch of each sweep reports
