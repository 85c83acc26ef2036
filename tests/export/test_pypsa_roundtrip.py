"""A real PyPSA round trip: export, read the NetCDF back, solve a small system with HiGHS.

Physical facts checked on the solved network against the exported CSV files (a second
path, so a component lost or mangled in the NetCDF shows): every kWh driven is charged,
V2G never exceeds its link at any hour, the EV battery never falls below the departure
floor, and the peaker built with the filtered shares lies between the unmanaged fleet
and PyPSA-Eur's 0.5 share.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from evflex.cli import app

pypsa = pytest.importorskip("pypsa")
pytest.importorskip("highspy")

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:pypsa",
                                        "ignore:The inplace keyword:Warning")
runner = CliRunner()
REGION, YEAR = "Europe", 2050


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("roundtrip")
    result = runner.invoke(app, ["export", "pypsa", "base", "--years", f"2040,{YEAR}",
                                 "--regions", f"{REGION},USA", "--sim-vehicles", "1000",
                                 "--compare", "--out", str(out)])
    assert result.exit_code == 0, (result.output, repr(result.exception))
    return out


def test_network_file_holds_the_exported_components(exported: Path) -> None:
    nodes = pd.read_csv(exported / "nodes.csv").set_index(["region", "year"])
    ts = pd.read_csv(exported / "timeseries.csv")
    n = pypsa.Network(str(exported / f"network_{YEAR}.nc"))
    assert len(n.snapshots) == 168
    assert n.snapshots[0].weekday() == 0
    for region in (REGION, "USA"):
        row = nodes.loc[(region, YEAR)]
        s = ts[(ts["region"] == region) & (ts["year"] == YEAR)].sort_values("hour")
        assert n.links.at[f"{region} BEV charger", "p_nom"] == pytest.approx(row["charger_p_nom"])
        assert n.links.at[f"{region} V2G", "p_nom"] == pytest.approx(row["v2g_p_nom"])
        assert n.stores.at[f"{region} EV battery", "e_nom"] == pytest.approx(row["store_e_nom"])
        np.testing.assert_allclose(n.stores_t.e_min_pu[f"{region} EV battery"],
                                   s["store_e_min_pu"])
        np.testing.assert_allclose(n.links_t.p_max_pu[f"{region} V2G"], s["v2g_p_max_pu"])
        np.testing.assert_allclose(n.loads_t.p_set[f"{region} land transport EV"],
                                   s["driving_load"])


def test_solved_round_trip_is_physical(exported: Path) -> None:
    from evflex.export.network import add_toy_system, solve

    n = pypsa.Network(str(exported / f"network_{YEAR}.nc"))
    # one node is enough: drop the other region's components
    for kind, names in (("Load", n.loads.index[n.loads.bus.str.startswith("USA")]),
                        ("Link", n.links.index[n.links.bus0.str.startswith("USA")]),
                        ("Store", n.stores.index[n.stores.bus.str.startswith("USA")]),
                        ("Bus", n.buses.index[n.buses.index.str.startswith("USA")])):
        n.remove(kind, names)
    ts = pd.read_csv(exported / "timeseries.csv")
    s = ts[(ts["region"] == REGION) & (ts["year"] == YEAR)].sort_values("hour")
    nodes = pd.read_csv(exported / "nodes.csv").set_index(["region", "year"])
    row = nodes.loc[(REGION, YEAR)]
    demand = s["all_unmanaged_load"].to_numpy()
    # an evening peak in the base demand (the simulation's shipped shape), so that
    # exporting at the peak is worth its losses
    from evflex.simulate.run import read_base_load

    base = np.tile(read_base_load(), 7) * demand.mean() * 2.0
    add_toy_system(n, REGION, base, firm_mw=float((base + demand).mean()))
    solve(n)

    charger = n.links_t.p0[f"{REGION} BEV charger"].to_numpy()
    v2g_out = -n.links_t.p1[f"{REGION} V2G"].to_numpy()
    v2g_in = n.links_t.p0[f"{REGION} V2G"].to_numpy()
    e = n.stores_t.e[f"{REGION} EV battery"].to_numpy()
    # every MWh driven reaches the batteries (cyclic store: charged = driven + exported)
    charged = (charger * row["charger_efficiency"]).sum()
    assert charged == pytest.approx(s["driving_load"].sum() + v2g_in.sum(), rel=1e-6)
    assert s["driving_load"].sum() > 0
    # V2G never above its link (rating x hourly availability, from the CSV)
    limit = row["v2g_p_nom"] * s["v2g_p_max_pu"].to_numpy() * row["v2g_efficiency"]
    assert np.all(v2g_out <= limit + 1e-6 * max(1.0, limit.max()))
    assert v2g_out.max() > 0  # the link is used
    # the chargers never above their availability either
    assert np.all(charger <= row["charger_p_nom"] * s["charger_p_max_pu"].to_numpy() + 1e-3)
    # state of charge above the reserve and the departure floor at every hour
    floor = row["store_e_nom"] * s["store_e_min_pu"].to_numpy()
    assert np.all(e >= floor - 1e-6 * row["store_e_nom"])
    # hours after which the floor falls: vehicles leave with their energy
    departures = np.flatnonzero(np.diff(s["store_e_min_pu"].to_numpy()) < 0)
    assert departures.size > 0
    assert np.all(e[departures] >= floor[departures] - 1e-6 * row["store_e_nom"])
    assert np.all(e >= 0)


def test_compare_puts_filtered_shares_between_unmanaged_and_pypsa_eur(exported: Path) -> None:
    table = pd.read_csv(exported / "compare.csv")
    assert set(table["case"]) == {"unmanaged", "evflex", "pypsa_eur"}
    assert (exported / "compare.png").stat().st_size > 10_000
    summary = (exported / "compare.md").read_text()
    europe = table[(table["region"] == REGION) & (table["case"] == "evflex")]
    assert f"{europe['peaker_mw'].iloc[0] / 1e3:,.1f}" in summary
    assert "Schram" in summary and "US EIA" in summary
    for region, t in table.groupby("region"):
        peaker = t.set_index("case")["peaker_mw"]
        assert peaker["pypsa_eur"] < peaker["evflex"] < peaker["unmanaged"], region
        share = t.set_index("case")["bev_dsm_availability"]
        assert share["pypsa_eur"] == pytest.approx(0.5)
        assert t["ev_energy_mwh"].nunique() == 1 or np.ptp(t["ev_energy_mwh"]) < 1e-6 * t[
            "ev_energy_mwh"].max()
        # the unmanaged peaker covers the unmanaged peak above the firm source
        un = t.set_index("case").loc["unmanaged"]
        assert un["peaker_mw"] == pytest.approx(un["unmanaged_peak_mw"] - un["firm_mw"],
                                                rel=1e-6)


def test_full_year_network_repeats_the_week_by_weekday(tmp_path: Path) -> None:
    out = tmp_path / "year"
    result = runner.invoke(app, ["export", "pypsa", "base", "--years", "2030",
                                 "--regions", "USA", "--sim-vehicles", "300", "--full-year",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    n = pypsa.Network(str(out / "network_2030.nc"))
    assert len(n.snapshots) == 8760
    ts = pd.read_csv(out / "timeseries.csv").set_index("hour")
    # 2030-01-01 is a Tuesday; 2030-07-17 18:00 is a Wednesday
    for stamp, hour in (("2030-01-01 00:00", 24), ("2030-07-17 18:00", 2 * 24 + 18)):
        assert n.links_t.p_max_pu.at[pd.Timestamp(stamp), "USA V2G"] == pytest.approx(
            ts.at[hour, "v2g_p_max_pu"])
        assert n.stores_t.e_min_pu.at[pd.Timestamp(stamp), "USA EV battery"] == pytest.approx(
            ts.at[hour, "store_e_min_pu"])
