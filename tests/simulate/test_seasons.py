"""Seasons and regions of the simulation: representative weeks, seasonal consumption,
each region's availability feeding its own capacity."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from evflex.capacity import AVAILABILITY_FIELDS
from evflex.pipeline import run
from evflex.scenario import load_scenario
from evflex.simulate import SimulationConfig
from evflex.simulate.archetypes import shipped_archetypes
from evflex.simulate.regional import (
    HOME,
    RegionProfile,
    region_profiles,
    regional_archetypes,
    simulate_regions,
)
from evflex.simulate.seasons import (
    FIGURES,
    climate_of,
    climate_table,
    consumption_factor,
    representative_weeks,
    simulate_year,
)

SMALL = SimulationConfig(vehicles=300, days=7, seed=3, keep_sessions=False)


def test_relation_passes_through_its_sourced_points() -> None:
    # AAA (2019): range -41 % at -6.7 degC, -17 % at 35 degC, against 23.9 degC
    assert consumption_factor(-6.7) == pytest.approx(1 / 0.59, rel=2e-3)
    assert consumption_factor(35.0) == pytest.approx(1 / 0.83, rel=2e-3)
    assert consumption_factor(23.9) == pytest.approx(1.0)
    assert consumption_factor(-30.0) == consumption_factor(-6.7)  # constant beyond


@pytest.mark.parametrize("station", sorted(set(climate_table()["climate"])))
def test_weeks_cover_the_year_and_keep_its_mean_consumption(station: str) -> None:
    weeks = representative_weeks(station)
    weights = np.array([w.weight for w in weeks])
    assert weights.sum() == pytest.approx(1.0)
    assert [round(w * 365) for w in weights] == [90, 92, 92, 91]
    # by construction the year's mean consumption stays the sourced one ...
    factors = np.array([w.consumption_factor for w in weeks])
    assert float(np.dot(weights, factors)) == pytest.approx(1.0, abs=0.01)
    # ... from the data: every shipped climate's winter costs more per km than its summer
    by_name = {w.name: w for w in weeks}
    assert by_name["winter"].temp_c < by_name["summer"].temp_c
    assert by_name["winter"].consumption_factor > by_name["summer"].consumption_factor


def test_region_climates() -> None:
    assert climate_of("Europe") == "dwd_bavaria"
    assert climate_of("DE") == "dwd_bavaria"          # through its block
    assert climate_of("RestOfWorld") is None
    assert all(np.isnan(w.temp_c) and w.consumption_factor == 1.0
               for w in representative_weeks(None))


def test_a_year_in_four_weeks() -> None:
    arch = regional_archetypes(shipped_archetypes(), RegionProfile(0.8, 9.0, "missouri"))
    year = simulate_year(SMALL, arch, "missouri")
    t = year.seasons.set_index("season")
    # the annual figures are the weighted means of the weeks'
    for f in FIGURES:
        assert year.annual[f] == pytest.approx(float(np.average(t[f], weights=t["weight"])))
    # the binding season is the one of the highest system peak
    assert year.binding == t["peak_unmanaged_kw"].idxmax()
    # colder weeks need more energy: more sessions, more energy, more charging at the peak
    assert t.loc["winter", "sessions"] > t.loc["summer", "sessions"]
    assert t.loc["winter", "energy_kwh"] > t.loc["summer", "energy_kwh"]
    # what the cars charge matches what they drive in each week: the scenario's
    # 9 kWh a day times the week's consumption factor (sampled sessions, within 6 %)
    per_day = t["energy_kwh"] / (SMALL.vehicles * SMALL.days)
    np.testing.assert_allclose(per_day, 9.0 * t["consumption_factor"], rtol=0.06)


def test_regional_mix_and_energy_come_from_the_scenario() -> None:
    sc = load_scenario("base")
    profiles = region_profiles(sc)
    # base's charging_access in its last historical year (2024): China 0.70, USA 0.92
    assert profiles["China"].home_share == pytest.approx(0.70)
    assert profiles["USA"].home_share == pytest.approx(0.92)
    arch = regional_archetypes(shipped_archetypes(), profiles["China"])
    assert arch.mixes["cars"][HOME] == pytest.approx(0.70)
    need = {n: a.plug_in.daily_km.value * a.plug_in.kwh_per_km.value
            for n, a in arch.archetypes.items() if n in arch.mixes["cars"] and a.plug_in}
    mean = sum(arch.mixes["cars"][n] * v for n, v in need.items())
    assert mean == pytest.approx(profiles["China"].daily_energy_kwh)


def test_each_region_gets_its_own_simulated_capacity() -> None:
    """Two regions with different inputs get different availability, each region's
    capacity is computed from its own, and the run records the values used."""
    r = run("base", simulate=SMALL, judgement=False)
    sc, ds, avail = r.scenario, r.data, r.availability
    assert avail is not None
    coincidence = np.asarray(avail.charging_coincidence_at_peak).ravel()
    plugged = np.asarray(avail.plug_in_share_at_peak).ravel()
    assert coincidence.shape == (len(sc.regions),)
    i, j = sc.regions.index("China"), sc.regions.index("RestOfWorld")
    assert coincidence[i] != coincidence[j] and plugged[i] != plugged[j]
    # the capacity of each region uses its own simulated coincidence and plug-in share
    y = 2050
    cap = ds.sel(year=y, segment="cars")
    shiftable = cap["capacity_shiftable_load"] * 1e6 / (
        cap["capacity_managed_envelope"] * cap["param_charger_power_kw"])
    np.testing.assert_allclose(shiftable.to_numpy(), coincidence, rtol=1e-9)
    ratio = cap["capacity_v2g_plugged_at_peak"] / cap["states"].sel(state="v2g")
    np.testing.assert_allclose(ratio.to_numpy(), plugged, rtol=1e-9)
    # assumptions.csv: one row per region and field, carrying the value used
    rows = r.tables["assumptions"]
    rows = rows[rows["group"].eq("availability") & rows["path"].str.startswith("simulated")]
    assert len(rows) == len(sc.regions) * len(AVAILABILITY_FIELDS)
    for k, region in enumerate(sc.regions):
        row = rows[(rows["applies_to"] == region)
                   & (rows["parameter"] == "charging_coincidence_at_peak")].iloc[0]
        assert float(row["path"].split()[1]) == pytest.approx(coincidence[k], abs=1e-4)
    seasons = r.tables["simulation_seasons"]
    assert set(seasons["region"]) == set(sc.regions)
    assert (seasons.groupby("region")["binding"].sum() == 1).all()


def test_progress_and_each_regions_binding_week() -> None:
    sc = load_scenario("base")
    calls: list[tuple[int, int]] = []
    sim = simulate_regions(sc, SMALL, progress=lambda d, t: calls.append((d, t)))
    assert calls[-1][0] == calls[-1][1]                 # progress reaches its total
    assert len(sim.hourly.groupby("region")) == len(sc.regions)


def test_base_coincidence_default_is_the_simulated_binding_season() -> None:
    """base.yaml's charging coincidence (0.12) against Europe's simulated winter peak
    (another seed and fleet than the 10,000 cars per region it was read from)."""
    sc = load_scenario("base")
    default = sc.parameters["charging_coincidence_at_peak"].value
    profile = region_profiles(sc)["Europe"]
    year = simulate_year(SimulationConfig(vehicles=3000, days=7, seed=11, keep_sessions=False,
                                          strategies=("unmanaged",)),
                         regional_archetypes(shipped_archetypes(), profile), profile.climate)
    t = year.seasons.set_index("season")
    binding = float(t.loc[year.binding, "charging_coincidence_at_peak"])
    assert year.binding == "winter"
    assert binding == pytest.approx(default, abs=0.015)
    assert year.annual["charging_coincidence_at_peak"] < binding - 0.01


def test_simulate_region_writes_a_year_of_seasons(tmp_path: Path) -> None:
    from evflex.cli import app

    out = tmp_path / "sim"
    res = CliRunner().invoke(app, ["simulate", "--vehicles", "300", "--region", "DE",
                                   "--strategies", "unmanaged", "--out", str(out)])
    assert res.exit_code == 0, res.output
    seasons = pd.read_csv(out / "seasons.csv")
    assert list(seasons["season"]) == ["winter", "spring", "summer", "autumn"]
    assert seasons["binding"].sum() == 1 and (out / "seasons.png").exists()
    assert not (out / "sessions.csv").exists()
    # the other tables are the binding week's
    summary = pd.read_csv(out / "summary.csv").set_index("metric")["value"]
    binding = seasons[seasons["binding"]].iloc[0]
    assert summary["charging_coincidence_at_peak"] == pytest.approx(
        binding["charging_coincidence_at_peak"])
    bad = CliRunner().invoke(app, ["simulate", "--vehicles", "300", "--region", "Mars",
                                   "--out", str(tmp_path / "bad")])
    assert bad.exit_code == 1 and "--region: unknown (got 'Mars'" in bad.output
    assert not (tmp_path / "bad").exists()


def test_depot_segments_get_their_own_simulated_availability() -> None:
    """Vans and buses (depot archetypes) are simulated per region too: each segment's
    capacity uses its own figures, and the rows name region and segment."""
    sc = load_scenario("segments")
    sim = simulate_regions(sc, SimulationConfig(vehicles=200, days=7, seed=2,
                                                keep_sessions=False,
                                                strategies=("unmanaged",)))
    plugged = np.asarray(sim.availability.plug_in_share_at_peak)
    assert plugged.shape == (len(sc.regions), len(sc.segments), 1)
    cars, vans = list(sc.segments).index("cars"), list(sc.segments).index("vans")
    assert (plugged[:, vans] != plugged[:, cars]).all()
    cells = set(sim.assumptions["applies_to"])
    assert {f"{r}/{s}" for r in sc.regions for s in sc.segments} == cells
    assert set(sim.seasons["segment"]) == set(sc.segments)


def test_seasonal_base_load_from_monthly_demand() -> None:
    """The USA's base load follows EIA's monthly sales (summer-peaking, air conditioning);
    regions without a load series keep the assumed winter-peaking factors."""
    from evflex.simulate.seasons import load_of

    assert load_of("USA") == load_of("US") == "us_eia_2023" and load_of("Europe") is None
    us = {w.name: w for w in representative_weeks(climate_of("USA"), load_of("USA"))}
    assert max(us, key=lambda n: us[n].base_load_factor) == "summer"
    assert sum(w.weight * w.base_load_factor for w in us.values()) == pytest.approx(1.0)
    eu = {w.name: w for w in representative_weeks(climate_of("Europe"), load_of("Europe"))}
    assert max(eu, key=lambda n: eu[n].base_load_factor) == "winter"


def test_run_simulate_refuses_a_need_the_sessions_cannot_meet(tmp_path: Path) -> None:
    import yaml

    from evflex.cli import app

    text = (Path(__file__).parents[2] / "src/evflex/data/scenarios/base.yaml").read_text()
    data = yaml.safe_load(text)
    data["parameters"]["daily_energy_kwh"]["value"] = 60.0
    scenario = tmp_path / "hot.yaml"
    scenario.write_text(yaml.safe_dump(data))
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["run", str(scenario), "--simulate", "--sim-vehicles",
                                   "100", "--out", str(out), "--no-workbook", "--no-report"])
    assert res.exit_code == 1
    assert "scenario parameter daily_energy_kwh: too high for the simulated sessions" in (
        res.output)
    assert "Traceback" not in res.output and not out.exists()
