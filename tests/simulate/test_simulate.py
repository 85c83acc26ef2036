"""The vehicle simulation: exact energies, limits, optimality against HiGHS, chunking."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog
from scipy.sparse import coo_array
from typer.testing import CliRunner

from evflex.cli import app
from evflex.simulate.archetypes import (
    SimulationInputError,
    parse_mix,
    parse_step,
    sample_sessions,
    shipped_archetypes,
)
from evflex.simulate.run import SimulationConfig, read_base_load, simulate
from evflex.simulate.strategies import (
    aggregate,
    min_peak,
    peak_block,
    session_slots,
    unmanaged,
    v2g,
)

ARCH = shipped_archetypes()


def _sessions(n: int, days: int, seed: int, step: int = 60, segment: str = "cars"):
    return sample_sessions(n, days, step, seed, parse_mix(None, ARCH, segment), ARCH)


def _base(sessions, scale: float = 1.0) -> np.ndarray:
    pu = read_base_load()
    spd = 1440 // sessions.step_minutes
    hours = (np.arange(sessions.n_steps) % spd) * sessions.step_minutes // 60
    return pu[hours] * 1.23 * scale * (sessions.vehicle.max() + 1)


def lp_min_peak(sessions, base_kw: np.ndarray) -> float:
    """The min-peak linear programme, solved by HiGHS: min z s.t. base + load <= z."""
    slots = session_slots(sessions)
    m, h, n = slots.row.size, sessions.n_steps, len(sessions)
    dt = sessions.dt_h
    c = np.zeros(m + 1)
    c[-1] = 1.0
    # energy per session: sum_t p dt = E   (p in kW)
    a_eq = coo_array((np.full(m, dt), (slots.row, np.arange(m))), shape=(n, m + 1))
    b_eq = sessions.energy_wh / 1000.0
    # per step: sum_i p - z <= -base
    rows = np.r_[slots.col, np.arange(h)]
    cols = np.r_[np.arange(m), np.full(h, m)]
    vals = np.r_[np.ones(m), -np.ones(h)]
    a_ub = coo_array((vals, (rows, cols)), shape=(h, m + 1))
    bounds = [(0.0, float(p)) for p in sessions.slot_wh[slots.row] / (1000.0 * dt)]
    bounds.append((None, None))
    res = linprog(c, A_ub=a_ub.tocsr(), b_ub=-base_kw, A_eq=a_eq.tocsr(), b_eq=b_eq,
                  bounds=bounds, method="highs")
    assert res.status == 0, res.message
    return float(res.fun)


@settings(max_examples=12, deadline=None)
@given(n=st.integers(5, 60), days=st.integers(1, 2), seed=st.integers(0, 10_000),
       scale=st.sampled_from([0.05, 0.3, 1.0]), step=st.sampled_from([30, 60]))
def test_managed_peak_equals_the_lp_optimum(n: int, days: int, seed: int, scale: float,
                                            step: int) -> None:
    s = _sessions(n, days, seed, step)
    base = _base(s, scale)
    slots = session_slots(s)
    optimum = lp_min_peak(s, base)
    for sweeps in (0, 20):
        result = min_peak(s, slots, base, smooth_sweeps=sweeps)
        dt_wh = 1000.0 * s.dt_h
        peak = float((base + aggregate(slots, result.wh, s.n_steps) / dt_wh).max())
        assert peak <= optimum * (1 + 1e-3)
        assert peak >= optimum * (1 - 1e-6)  # nothing beats the LP: the check can fail


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 80), days=st.integers(1, 3), seed=st.integers(0, 10_000),
       step=st.sampled_from([15, 30, 60]), segment=st.sampled_from(["cars", "vans", "buses"]))
def test_every_vehicle_gets_exactly_its_energy_within_window_and_limits(
        n: int, days: int, seed: int, step: int, segment: str) -> None:
    s = _sessions(n, days, seed, step, segment)
    slots = session_slots(s)
    base = _base(s)
    cap = s.slot_wh[slots.row]
    for wh in (unmanaged(s, slots), min_peak(s, slots, base, smooth_sweeps=10).wh):
        got = np.bincount(slots.row, weights=wh, minlength=len(s))
        np.testing.assert_allclose(got, s.energy_wh, rtol=1e-9, atol=1e-6)
        assert np.all(wh >= -1e-9)
        assert np.all(wh <= cap + 1e-6)          # power limit, only inside the window
    assert np.all(s.departure > s.arrival)
    # a vehicle's sessions do not overlap
    order = np.lexsort((s.arrival, s.vehicle))
    same = s.vehicle[order][1:] == s.vehicle[order][:-1]
    assert np.all(s.arrival[order][1:][same] >= s.departure[order][:-1][same])


@settings(max_examples=15, deadline=None)
@given(n=st.integers(5, 60), days=st.integers(1, 2), seed=st.integers(0, 10_000))
def test_v2g_keeps_the_reserve_and_leaves_with_the_energy_needed(n: int, days: int,
                                                                  seed: int) -> None:
    s = _sessions(n, days, seed, 30)
    slots = session_slots(s)
    base = _base(s)
    result = v2g(s, slots, base, peak_block(base, 48, 8))
    net = result.charge_wh - result.discharge_wh
    # leaves with exactly its need: what it exported came back
    np.testing.assert_allclose(np.bincount(slots.row, net, len(s)), s.energy_wh, atol=1e-6)
    # state of charge along each session: never below the reserve, never above the target
    cum = np.cumsum(net)
    first = np.r_[0, np.flatnonzero(np.diff(slots.row)) + 1]
    start = np.repeat(cum[first] - net[first], np.diff(np.r_[first, slots.row.size]))
    soc_kwh = s.arrival_kwh[slots.row] + (cum - start) / 1000.0
    assert np.all(soc_kwh >= s.reserve_kwh[slots.row] - 1e-6)
    assert np.all(soc_kwh <= (s.arrival_kwh + s.energy_kwh)[slots.row] + 1e-6)
    assert np.all(soc_kwh <= s.battery_kwh[slots.row] + 1e-6)
    # exports only from V2G-eligible vehicles, within the export rating
    exporting = np.bincount(slots.row, result.discharge_wh, len(s)) > 0
    assert not np.any(exporting & ~s.v2g_eligible)
    rating = np.floor(s.export_kw * 1000 * s.dt_h)[slots.row]
    assert np.all(result.discharge_wh <= rating + 1e-9)


def test_managed_avoids_the_unmanaged_peak_and_v2g_shaves_more() -> None:
    result = simulate(SimulationConfig(vehicles=400, days=2, seed=3, keep_sessions=False))
    s = result.summary
    assert s["peak_unmanaged_kw"] > s["peak_managed_kw"] * 1.2
    assert s["avoided_peak_v2g_vs_managed_kw"] > 0
    assert s["peak_managed_kw"] >= s["managed_lower_bound_kw"] * (1 - 1e-9)
    p = result.profile
    # the fleet's energy is the same under every strategy
    for col in ("managed_kw", "v2g_kw"):
        assert p[col].sum() == pytest.approx(p["unmanaged_kw"].sum(), rel=1e-9)
    band = result.availability
    assert np.all(band["energy_min_kwh"] <= band["energy_max_kwh"] + 1e-9)


def test_seed_reproducible_and_chunking_does_not_change_sessions() -> None:
    one = simulate(SimulationConfig(vehicles=2500, days=2, seed=7, chunk_vehicles=3000,
                                    strategies=("unmanaged", "managed")))
    two = simulate(SimulationConfig(vehicles=2500, days=2, seed=7, chunk_vehicles=1000,
                                    strategies=("unmanaged", "managed")))
    again = simulate(SimulationConfig(vehicles=2500, days=2, seed=7, chunk_vehicles=1000,
                                      strategies=("unmanaged", "managed")))
    assert one.sessions is not None and two.sessions is not None
    pd.testing.assert_frame_equal(one.sessions, two.sessions)
    pd.testing.assert_frame_equal(one.availability, two.availability)
    np.testing.assert_allclose(one.profile["unmanaged_kw"], two.profile["unmanaged_kw"])
    pd.testing.assert_frame_equal(two.profile, again.profile)
    # sequential filling over chunks stays close to the one-chunk optimum
    assert two.summary["peak_managed_kw"] <= one.summary["peak_managed_kw"] * 1.01
    other = simulate(SimulationConfig(vehicles=2500, days=2, seed=8,
                                      strategies=("unmanaged",)))
    assert not one.sessions.equals(other.sessions)


def test_availability_seam_feeds_the_engine() -> None:
    from evflex.model import run

    result = simulate(SimulationConfig(vehicles=300, days=2, strategies=("unmanaged",)))
    avail = result.to_availability()
    assert 0 < avail.plug_in_share_at_peak <= 1
    assert avail.mobility_reserve_soc < avail.soc_at_peak <= 1
    assert "simulation" in avail.source
    engine = run("base", availability=avail)
    assert engine.data.attrs["availability_source"] == avail.source
    base = run("base")
    assert not np.allclose(engine.data["capacity_v2g_export_power"],
                           base.data["capacity_v2g_export_power"])


@pytest.mark.parametrize(("step", "minutes"), [("15min", 15), ("1h", 60), ("1", 1), (30, 30)])
def test_step_parsing(step: object, minutes: int) -> None:
    assert parse_step(step) == minutes  # type: ignore[arg-type]


@pytest.mark.parametrize("step", ["7min", "90min", "0", "abc"])
def test_bad_step_is_a_clear_error(step: str) -> None:
    with pytest.raises(SimulationInputError, match="--step"):
        parse_step(step)


def test_cli_writes_the_files_and_rejects_bad_input(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "sim"
    result = runner.invoke(app, ["simulate", "--vehicles", "200", "--days", "2", "--out",
                                 str(out), "--step", "30min"])
    assert result.exit_code == 0, result.output
    sessions = pd.read_csv(out / "sessions.csv")
    assert list(sessions.columns) == ["vehicle", "archetype", "arrival_step", "departure_step",
                                      "energy_kwh", "max_kw", "battery_kwh", "reserve_kwh"]
    profile = pd.read_csv(out / "profile.csv")
    assert list(profile.columns)[:1] == ["step"]
    assert {"base_kw", "unmanaged_kw", "managed_kw", "v2g_kw"} <= set(profile.columns)
    assert len(profile) == 2 * 48
    assert (profile["v2g_kw"] < 0).any()  # exports show as negative load
    availability = pd.read_csv(out / "availability.csv")
    assert {"plug_in_share", "energy_min_kwh", "energy_max_kwh"} <= set(availability.columns)
    assert (out / "profile.png").stat().st_size > 0
    bad_load = tmp_path / "load.csv"
    bad_load.write_text("hour,load_pu\n0,1\n")
    for args, field in ((["--step", "7min"], "--step"), (["--mix", "robot=1"], "--mix"),
                        (["--base-load", str(bad_load)], "--base-load"),
                        (["--vehicles", "0"], "--vehicles")):
        result = runner.invoke(app, ["simulate", "--out", str(tmp_path / "x"), *args])
        assert result.exit_code == 1, args
        assert result.output.startswith(field)
        assert "Traceback" not in result.output


@pytest.mark.slow
def test_one_million_vehicle_days_run_in_flat_memory() -> None:
    import tracemalloc

    tracemalloc.start()
    result = simulate(SimulationConfig(vehicles=100_000, days=10, seed=1, keep_sessions=False,
                                       strategies=("unmanaged", "managed"), smooth_sweeps=5))
    _, peak_bytes = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert result.summary["sessions"] == 1_000_000
    assert peak_bytes < 3e9
    assert result.summary["peak_managed_kw"] < result.summary["peak_unmanaged_kw"]


def test_run_with_simulate_takes_availability_from_the_simulation(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "run"
    result = runner.invoke(app, ["run", "--simulate", "--sim-vehicles", "200", "--sim-days",
                                 "2", "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    assert "Availability from the simulation: 200 vehicles x 2 days" in result.output
    hourly = pd.read_csv(out / "hourly.csv")
    assert {"base_kw", "unmanaged_kw", "managed_kw", "v2g_kw", "plug_in_share"} <= set(
        hourly.columns)
    plain = tmp_path / "plain"
    assert runner.invoke(app, ["run", "--out", str(plain), "-q"]).exit_code == 0
    cap = pd.read_csv(out / "capacity.csv")
    cap_plain = pd.read_csv(plain / "capacity.csv")
    v2g = cap["metric"] == "v2g_export_power"
    assert not np.allclose(cap.loc[v2g, "value"], cap_plain.loc[v2g, "value"])
    assert not (plain / "hourly.csv").exists()
