"""The comparator stack: closed-form costs, run derates, ranking and where V2G survives."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pandas as pd
import pytest
from judgement_helpers import synthetic_run

from evflex.judgement import CostsError, comparator_stack
from evflex.judgement.comparators import (
    COLUMNS,
    OPTIONS,
    SERVICES,
    cost_per_kw_year,
    crf,
    load_costs,
    run_derates,
)
from evflex.model import Results


def cost_rows(*rows: tuple[str, str, str, int, float, str]) -> pd.DataFrame:
    recs = [{"option": o, "service": s, "item": i, "year": y, "value": v, "unit": u,
             "source": "test", "note": ""} for o, s, i, y, v, u in rows]
    return pd.DataFrame(recs)


GENERAL = [("all", "*", "discount_rate", 2025, 0.0, "1/year"),
           ("all", "*", "usd_per_eur", 2025, 2.0, "USD/EUR")]


def synthetic_frames(year: int = 2050) -> SimpleNamespace:
    """A run of 1 M managed EVs (of which 100 k V2G) with round capacities, split over
    two regions (the comparator sums the run over its named dimensions)."""
    return synthetic_run(year, {"v2g": 0.1, "grid_managed": 0.9}, 1e6, {
        "managed_envelope": 1e6, "shiftable_load": 1.44,  # 1e6 x 7.2 kW x 0.2
        "shiftable_energy": 7.2,  # GWh/day; nameplate 7.2 GW x 4 h = 28.8 GWh -> 0.25
        "v2g_plugged_at_peak": 6e4, "v2g_export_power": 0.35,  # 1e5 x 7 kW = 0.7 GW -> 0.5
        "v2g_export_energy": 0.7, "naive_battery": 0.07},  # 0.7 GW x 4 h = 2.8 GWh -> 0.25
        {"charger_power_kw": 7.2, "export_power_kw": 7.0, "peak_duration_h": 4.0})


def test_crf_closed_forms() -> None:
    assert crf(0.0, 10) == pytest.approx(0.1)
    assert crf(0.07, 10) == pytest.approx(0.07 / (1 - 1.07 ** -10))
    assert crf(0.07, 10) == pytest.approx(0.142378, abs=1e-6)
    with pytest.raises(ValueError):
        crf(0.05, 0)


def test_capital_cost_closed_form_with_currency_and_learning() -> None:
    table = cost_rows(*GENERAL,
                      ("peaking plant", "*", "capex_power", 2025, 1000, "EUR/kW"),
                      ("peaking plant", "*", "capex_power", 2035, 500, "EUR/kW"),
                      ("peaking plant", "*", "fom", 2025, 0.02, "1/year"),
                      ("peaking plant", "*", "lifetime_power", 2025, 10, "years"),
                      ("peaking plant", "*", "learning_rate", 2025, 0.1, "1/year"),
                      ("peaking plant", "*", "learning_floor", 2025, 0.5, "fraction"))
    # 2025: 1000 EUR x 2 USD/EUR x (1/10 + 0.02) = 240 USD/kW-year
    assert cost_per_kw_year(table, "peaking plant", 2025)[0] == pytest.approx(240)
    # 2030: capex interpolated to 750 EUR
    assert cost_per_kw_year(table, "peaking plant", 2030)[0] == pytest.approx(180)
    # 2037: two years of 10 % learning after the last point (500 EUR)
    assert cost_per_kw_year(table, "peaking plant", 2037)[0] == pytest.approx(
        500 * 0.81 * 2 * 0.12)
    # far out: the floor (half of 500 EUR) holds
    assert cost_per_kw_year(table, "peaking plant", 2100)[0] == pytest.approx(250 * 2 * 0.12)


def test_storage_and_per_vehicle_costs_closed_form() -> None:
    table = cost_rows(*GENERAL,
                      ("utility-scale battery", "*", "capex_power", 2025, 100, "USD/kW"),
                      ("utility-scale battery", "*", "capex_energy", 2025, 50, "USD/kWh"),
                      ("utility-scale battery", "*", "duration", 2025, 4, "h"),
                      ("utility-scale battery", "*", "lifetime_power", 2025, 10, "years"),
                      ("utility-scale battery", "*", "lifetime_energy", 2025, 20, "years"),
                      ("V2G", "*", "unit_capex", 2025, 1000, "USD/vehicle"),
                      ("V2G", "*", "unit_lifetime", 2025, 10, "years"),
                      ("V2G", "*", "unit_annual", 2025, 100, "USD/vehicle-year"))
    # 100/10 + 50 x 4 / 20 = 20 USD/kW-year
    assert cost_per_kw_year(table, "utility-scale battery", 2030)[0] == pytest.approx(20)
    # (1000/10 + 100) / 8 kW = 25 USD/kW-year
    assert cost_per_kw_year(table, "V2G", 2030, unit_kw=8)[0] == pytest.approx(25)
    with pytest.raises(CostsError, match="no nameplate kW"):
        cost_per_kw_year(table, "V2G", 2030)


def test_run_derates_are_deliverable_over_nameplate() -> None:
    d = run_derates(synthetic_frames(), 2050)
    assert d[("managed charging", "peak capacity")][0] == pytest.approx(0.2)
    assert d[("managed charging", "energy shifting")][0] == pytest.approx(0.25)
    assert d[("V2G", "peak capacity")][0] == pytest.approx(0.5)
    assert d[("V2G", "frequency response")][0] == pytest.approx(0.6)
    assert d[("V2G", "energy shifting")][0] == pytest.approx(0.25)
    assert d[("V2G", "peak capacity")][2] == pytest.approx(7.0)
    assert d[("managed charging", "peak capacity")][2] == pytest.approx(7.2)


def test_ranking_and_where_v2g_survives() -> None:
    table = cost_rows(*GENERAL,
                      ("V2G", "*", "unit_annual", 2025, 70, "USD/vehicle-year"),
                      ("V2G", "peak capacity", "offers", 2025, 1, "flag"),
                      ("V2G", "frequency response", "offers", 2025, 1, "flag"),
                      ("peaking plant", "*", "capex_power", 2025, 300, "USD/kW"),
                      ("peaking plant", "*", "lifetime_power", 2025, 10, "years"),
                      ("peaking plant", "peak capacity", "derate", 2025, 1.0, "fraction"),
                      ("peaking plant", "frequency response", "derate", 2025, 1.0, "fraction"))
    out = comparator_stack(synthetic_frames(), 2050, table)
    assert tuple(out.columns) == COLUMNS
    out = out.set_index(["service", "option"])
    # V2G: 70/7 = 10 USD per nameplate kW-year
    assert out.loc[("peak capacity", "V2G"), "cost_per_kw_year"] == pytest.approx(10)
    # peak: 10 / 0.5 = 20 < peaker 30 -> V2G survives; frequency: 10 / 0.6 = 16.7 < 30 too
    assert out.loc[("peak capacity", "V2G"), "effective_cost"] == pytest.approx(20)
    assert out.loc[("peak capacity", "V2G"), "rank"] == 1
    assert out.loc[("peak capacity", "peaking plant"), "rank"] == 2
    assert out["v2g_survives"].all()
    cheaper = table.copy()
    cheaper.loc[cheaper["item"] == "capex_power", "value"] = 180  # peaker now 18 USD/kW-year
    again = comparator_stack(synthetic_frames(), 2050, cheaper).set_index(
        ["service", "option"])
    assert not again.loc["peak capacity", "v2g_survives"].any()  # 20 > 18
    assert again.loc["frequency response", "v2g_survives"].all()  # 10 / 0.6 = 16.7 < 18


def test_shipped_costs_cover_every_service_and_change_with_the_year(base_run: Results) -> None:
    table = load_costs()
    assert table["source"].str.strip().str.len().gt(0).all()
    out = comparator_stack(base_run, (2030, 2050))
    assert set(out["service"]) == set(SERVICES)
    assert set(out["option"]) == set(OPTIONS)
    assert (out["derate"] <= 1.0 + 1e-12).all() and (out["derate"] > 0).all()
    assert (out["effective_cost"] >= out["cost_per_kw_year"] - 1e-9).all()
    cost = out.set_index(["year", "service", "option"])["cost_per_kw_year"]
    assert cost[(2050, "peak capacity", "utility-scale battery")] < cost[
        (2030, "peak capacity", "utility-scale battery")]
    assert cost[(2050, "peak capacity", "V2G")] < cost[(2030, "peak capacity", "V2G")]
    for (_, _), grp in out.groupby(["year", "service"]):
        assert sorted(grp["rank"]) == list(range(1, len(grp) + 1))
        v2g = grp[grp["option"] == "V2G"]
        if not v2g.empty:
            best_other = grp[grp["option"] != "V2G"]["effective_cost"].min()
            assert grp["v2g_survives"].all() == bool(v2g["effective_cost"].iloc[0] < best_other)


def test_v2g_derate_follows_the_runs_capacity(base_run: Results) -> None:
    frames = base_run.frames()
    out = comparator_stack(base_run, 2050)
    row = out[(out["service"] == "peak capacity") & (out["option"] == "V2G")].iloc[0]
    cap = frames["capacity"].set_index(["region", "year", "metric"])["value"]
    st = frames["states"].set_index(["region", "segment", "year", "state"])["vehicles"]
    nameplate_gw = st[("World", "all", 2050, "v2g")] * 7.0 / 1e6
    assert row["derate"] == pytest.approx(cap[("World", 2050, "v2g_export_power")] / nameplate_gw)
    assert row["effective_cost"] == pytest.approx(row["cost_per_kw_year"] / row["derate"])


def test_bad_cost_rows_and_years_are_refused() -> None:
    bad = cost_rows(("jetpack", "*", "capex_power", 2025, -1, "USD/kW"))
    bad.loc[0, "source"] = ""
    with pytest.raises(CostsError) as err:
        load_costs(bad)
    for column in ("option", "value", "source"):
        assert f"column '{column}'" in str(err.value)
    with pytest.raises(ValueError, match="not in the run"):
        comparator_stack(synthetic_frames(), 2049)


def test_no_vehicles_gives_no_derate_and_no_survival() -> None:
    run = synthetic_frames()
    for name in run.data.data_vars:
        if not str(name).startswith("param_"):
            run.data[name] = run.data[name] * 0.0
    out = comparator_stack(run, 2050)
    v2g = out[out["option"] == "V2G"]
    assert v2g["derate"].map(math.isnan).all()
    assert not out["v2g_survives"].any()
