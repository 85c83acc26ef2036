"""``evflex export``: files, traced numbers, one-line errors, nothing half-written, CF NetCDF."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml
from typer.testing import CliRunner

from evflex.cli import app
from evflex.scenario import load_scenario
from evflex.scenario.evaluate import evaluate_all

runner = CliRunner()


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("export") / "pypsa"
    result = runner.invoke(app, ["export", "pypsa", "base", "--years", "2040,2050",
                                 "--regions", "Europe,USA", "--no-netcdf",
                                 "--sim-vehicles", "1000", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_files_cover_every_region_and_year(exported: Path) -> None:
    nodes = pd.read_csv(exported / "nodes.csv")
    assert sorted(zip(nodes["region"], nodes["year"], strict=True)) == sorted(
        (r, y) for r in ("Europe", "USA") for y in (2040, 2050))
    ts = pd.read_csv(exported / "timeseries.csv")
    assert len(ts) == 4 * 168
    assert ts.groupby(["region", "year"])["hour"].nunique().eq(168).all()
    over = yaml.safe_load((exported / "pypsa_eur_overlay.yaml").read_text())
    assert set(over["nodes"]) == {"Europe", "USA"}
    node = nodes.set_index(["region", "year"]).loc[("Europe", 2050)]
    assert over["nodes"]["Europe"][2050]["bev_dsm_availability"] == pytest.approx(
        node["managed_envelope"] / node["ev_stock"], rel=1e-5)
    assert over["replaces"]["sector.bev_dsm_availability"] == 0.5


def test_exported_numbers_recomputed_from_capacity_and_simulation(exported: Path) -> None:
    """Charger link of the envelope, V2G power at the simulated system peak, the store."""
    nodes = pd.read_csv(exported / "nodes.csv").set_index(["region", "year"])
    ts = pd.read_csv(exported / "timeseries.csv")
    cap = pd.read_csv(exported / "capacity.csv").set_index(["region", "year", "metric"])["value"]
    sim = pd.read_csv(exported / "simulation_summary.csv").set_index("segment").loc["cars"]
    params = evaluate_all(load_scenario("base"))
    sc = load_scenario("base")
    for region in ("Europe", "USA"):
        for year in (2040, 2050):
            # shiftable load = envelope x coincidence x charger power: undo the coincidence
            managed_mw = cap[(region, year, "shiftable_load")] * 1e3 / sim[
                "charging_coincidence_at_peak"]
            assert nodes.loc[(region, year), "charger_p_nom"] == pytest.approx(
                managed_mw, rel=1e-9)
            # V2G at the peak hour = v2g plugged at the peak x export rating
            r, t = sc.regions.index(region), list(sc.years_axis).index(year)
            export_kw = float(np.broadcast_to(params["export_power_kw"],
                                              (len(sc.regions), 1, len(sc.years_axis)))[r, 0, t])
            peak_hour = int(sim["system_peak_hour"])
            pu = ts[(ts["region"] == region) & (ts["year"] == year)].set_index("hour")[
                "v2g_p_max_pu"]
            v2g_at_peak = nodes.loc[(region, year), "v2g_p_nom"] * pu[peak_hour]
            assert v2g_at_peak == pytest.approx(
                cap[(region, year, "v2g_plugged_at_peak")] * export_kw / 1e3, rel=1e-9)
            # and the store: the envelope (all in the eligible group while it fits) x the
            # simulated SoC window of that group
            groups = pd.read_csv(exported / "simulation_groups.csv").set_index("group")
            envelope = cap[(region, year, "managed_envelope")]
            share = groups.loc["eligible", "vehicles"] / groups["vehicles"].sum()
            assert envelope <= share * nodes.loc[(region, year), "ev_stock"]
            assert nodes.loc[(region, year), "store_e_nom"] == pytest.approx(
                envelope * groups.loc["eligible", "window_kwh"] / 1e3, rel=1e-9)


@pytest.mark.parametrize(("args", "words"), [
    (["--years", "2030,2200"], ["--years:", "2200", "2010 to 2100"]),
    (["--years", "20x0"], ["--years:", "20x0"]),
    (["--regions", "Europe,Mars"], ["--regions:", "'Mars'", "Europe"]),
    (["--sim-days", "5"], ["--sim-days:", "5", "multiple of 7"]),
    (["--compare", "--compare-year", "2045"], ["--compare-year:", "2045"]),
])
def test_bad_input_is_one_line_and_changes_nothing(tmp_path: Path, args: list[str],
                                                   words: list[str]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "nodes.csv").write_text("earlier")
    result = runner.invoke(app, ["export", "pypsa", "base", "--no-netcdf", "--out", str(out),
                                 *args])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    for word in words:
        assert word in lines[0]
    assert "Traceback" not in result.output
    assert sorted(p.name for p in out.iterdir()) == ["nodes.csv"]
    assert (out / "nodes.csv").read_text() == "earlier"


def test_segment_without_simulation_is_named(tmp_path: Path) -> None:
    from evflex.scenario import shipped_scenarios

    base = shipped_scenarios()["base"].read_text()
    assert "  cars: {iea_mode: cars" in base
    path = tmp_path / "trucks.yaml"
    path.write_text(base.replace("  cars: {iea_mode: cars", "  trucks: {iea_mode: cars"))
    result = runner.invoke(app, ["export", "pypsa", str(path), "--no-netcdf", "--out",
                                 str(tmp_path / "out")])
    assert result.exit_code == 1, result.output
    assert len(result.output.strip().splitlines()) == 1
    assert "simulation: missing for segment 'trucks'" in result.output
    assert not (tmp_path / "out").exists()


def test_netcdf_of_the_run_has_cf_units_and_long_names(tmp_path: Path) -> None:
    path = tmp_path / "run.nc"
    result = runner.invoke(app, ["export", "netcdf", "base", "--out", str(path)])
    assert result.exit_code == 0, result.output
    with xr.open_dataset(path) as ds:
        assert ds.attrs["Conventions"].startswith("CF-")
        for name, var in ds.variables.items():
            assert var.attrs.get("long_name"), name
        for name, var in ds.data_vars.items():
            assert "units" in var.attrs and "unit" not in var.attrs, name
        assert ds["capacity_v2g_export_power"].attrs["units"] == "GW"
        assert ds["capable_kwh"].attrs["units"] == "kWh vehicle-1"
        assert ds["param_ev_sales_share"].attrs["units"] == "1"
        assert ds["sales"].attrs["units"] == "vehicles year-1"
        europe = ds["states"].sel(region="Europe", year=2050).sum()
        assert float(europe) > 0


def test_without_pypsa_csv_and_overlay_still_written(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "pypsa", None)  # import pypsa -> ModuleNotFoundError
    out = tmp_path / "out"
    result = runner.invoke(app, ["export", "pypsa", "base", "--years", "2050", "--out",
                                 str(out), "--sim-vehicles", "200"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "pypsa: not installed (expected the optional extra: pip install 'evflex[pypsa]')"]
    assert not out.exists()
    result = runner.invoke(app, ["export", "pypsa", "base", "--years", "2050", "--out",
                                 str(out), "--sim-vehicles", "200", "--no-netcdf"])
    assert result.exit_code == 0, result.output
    assert {"nodes.csv", "timeseries.csv", "pypsa_eur_overlay.yaml"} <= {
        p.name for p in out.iterdir()}


def test_regions_by_id_name_or_block_and_years_inside_the_run() -> None:
    from evflex.export.bundle import parse_regions, parse_years
    from evflex.export.components import ExportInputError

    sc = load_scenario("countries")
    eu = parse_regions("EU27", sc)
    assert {"DE", "FR", "RestOfEU27"} <= set(eu) and "GB" not in eu
    assert parse_regions("Germany,fr", sc) == ["FR", "DE"]  # the run's order
    with pytest.raises(ExportInputError, match="unknown region 'Atlantis'"):
        parse_regions("DE,Atlantis", sc)
    assert parse_years(None, sc) == [2030, 2040, 2050]
    with pytest.raises(ExportInputError, match="outside the run"):
        parse_years("1990", sc)
