"""The comparator stack: cost tests, one currency year, run supply, stacking, depth caps."""

from __future__ import annotations

import copy
import itertools
import math
from types import SimpleNamespace

import pandas as pd
import pytest
from judgement_helpers import synthetic_run

from evflex.judgement import CostsError, comparator_stack
from evflex.judgement.comparators import (
    COLUMNS,
    _credit,
    load_services,
    run_supply,
    survivors,
)
from evflex.judgement.costs import (
    COLUMNS as COST_COLUMNS,
)
from evflex.judgement.costs import (
    OPTIONS,
    SERVICES,
    Prices,
    annual_cost,
    crf,
    degradation_per_kwh,
    load_costs,
)
from evflex.model import Results


def cost_rows(*rows: tuple) -> pd.DataFrame:
    """Rows (option, segment, service, item, cost_type, year, value, unit, currency_year)."""
    recs = [dict(zip(COST_COLUMNS, (*r, "test", ""), strict=True)) for r in rows]
    return pd.DataFrame(recs).astype({"year": int, "value": float})


GENERAL = [("all", "all", "*", "discount_rate", "parameter", 2025, 0.0, "1/year", ""),
           ("all", "all", "*", "currency_year", "parameter", 2025, 2024, "year", ""),
           ("all", "all", "*", "cpi_usd", "parameter", 2015, 100.0, "index", ""),
           ("all", "all", "*", "cpi_usd", "parameter", 2024, 150.0, "index", ""),
           ("all", "all", "*", "usd_per_eur", "parameter", 2015, 2.0, "USD/EUR", ""),
           ("all", "all", "*", "ev_pack_price", "parameter", 2024, 100.0, "USD/kWh", "2024"),
           ("all", "all", "*", "v2g_cycle_life", "parameter", 2024, 2000.0, "cycles", "")]


def synthetic(year: int = 2050) -> SimpleNamespace:
    """1 M managed EVs (100 k V2G) with round capacities, split 40/60 over two regions."""
    return synthetic_run(year, {"v2g": 0.1, "grid_managed": 0.9}, 1e6, {
        "managed_envelope": 1e6, "shiftable_load": 1.44,  # 1e6 x 7.2 kW x 0.2
        "shiftable_energy": 7.2,  # GWh/day; nameplate 7.2 GW x 4 h = 28.8 GWh -> 0.25
        "v2g_plugged_at_peak": 6e4, "v2g_export_power": 0.35,  # 1e5 x 7 kW = 0.7 GW -> 0.5
        "v2g_export_energy": 0.7, "naive_battery": 0.07},  # 0.7 GW x 4 h = 2.8 GWh -> 0.25
        {"charger_power_kw": 7.2, "export_power_kw": 7.0, "peak_duration_h": 4.0})


def test_crf_closed_forms() -> None:
    assert crf(0.0, 10) == pytest.approx(0.1)
    assert crf(0.07, 10) == pytest.approx(0.142378, abs=1e-6)
    with pytest.raises(ValueError):
        crf(0.05, 0)


def test_one_currency_year_converts_and_deflates() -> None:
    table = cost_rows(*GENERAL,
                      ("peaking plant", "all", "*", "capex_power", "resource", 2025, 1000,
                       "EUR/kW", "2015"),
                      ("peaking plant", "all", "*", "lifetime_power", "parameter", 2025, 10,
                       "years", ""))
    # 1000 EUR(2015) x 2 USD/EUR x CPI 150/100 = 3000 USD(2024); / 10 years
    assert annual_cost(table, "peaking plant", "all", 2030, "TRC")[0] == pytest.approx(300)
    assert annual_cost(table, "peaking plant", "all", 2030, "PAC")[0] == pytest.approx(300)
    prices = Prices.of(table)
    assert prices.to_usd(10.0, "USD/kW", 2030) == 10.0  # after the last CPI: not deflated
    assert degradation_per_kwh(table)[0] == pytest.approx(100 / 2000)


def test_trc_counts_resources_and_pac_counts_what_the_programme_pays() -> None:
    table = cost_rows(*GENERAL,
                      ("V2G", "all", "*", "unit_capex", "resource", 2025, 1000, "USD/vehicle",
                       "2024"),
                      ("V2G", "all", "*", "unit_lifetime", "parameter", 2025, 10, "years", ""),
                      ("V2G", "all", "*", "unit_incentive", "incentive", 2025, 300,
                       "USD/vehicle-year", "2024"),
                      ("V2G", "all", "*", "unit_admin", "admin", 2025, 20, "USD/vehicle-year",
                       "2024"),
                      ("V2G", "buses", "*", "unit_capex", "resource", 2025, 5000,
                       "USD/vehicle", "2024"),
                      ("home battery", "all", "*", "capex_power", "resource", 2025, 100,
                       "USD/kW", "2024"),
                      ("home battery", "all", "*", "lifetime_power", "parameter", 2025, 10,
                       "years", ""))
    # TRC: (1000 / 10 + 20) / 8 kW = 15; PAC: (300 + 20) / 8 = 40
    assert annual_cost(table, "V2G", "cars", 2030, "TRC", unit_kw=8)[0] == pytest.approx(15)
    assert annual_cost(table, "V2G", "cars", 2030, "PAC", unit_kw=8)[0] == pytest.approx(40)
    # a segment's own row replaces the 'all' row: (5000 / 10 + 20) / 8 = 65
    assert annual_cost(table, "V2G", "buses", 2030, "TRC", unit_kw=8)[0] == pytest.approx(65)
    # a participant-side option without a sourced incentive has no PAC cost, not a free one
    assert math.isnan(annual_cost(table, "home battery", "all", 2030, "PAC")[0])
    with pytest.raises(CostsError, match="no nameplate kW"):
        annual_cost(table, "V2G", "cars", 2030, "TRC")
    with pytest.raises(CostsError, match="cost test: got 'NPV'"):
        annual_cost(table, "V2G", "cars", 2030, "NPV", unit_kw=8)


def test_run_supply_reads_each_region_and_segment_of_the_run() -> None:
    table = load_costs()
    d = run_supply(synthetic(), 2050, table)
    for region, share in (("A", 0.4), ("B", 0.6)):
        mc = d[("managed charging", region, "cars")]["services"]
        v2g = d[("V2G", region, "cars")]["services"]
        assert mc["peak capacity"][0] == pytest.approx(0.2)
        assert mc["peak capacity"][1] == pytest.approx(1.44 * share)  # GW
        assert mc["energy shifting"][0] == pytest.approx(0.25)
        assert v2g["peak capacity"][0] == pytest.approx(0.5)
        assert v2g["frequency response"][0] == pytest.approx(0.6)
        assert v2g["energy shifting"][0] == pytest.approx(0.25)
        assert d[("V2G", region, "cars")]["kw"] == pytest.approx(7.0)


def test_capacity_credit_falls_as_penetration_rises() -> None:
    credits = [_credit(0.9, x, 10.0) for x in (0.0, 1.0, 5.0, 10.0, 50.0)]
    assert credits[0] == 0.9
    assert all(a > b for a, b in itertools.pairwise(credits))
    assert _credit(0.9, 10.0, 10.0) == pytest.approx(0.9 * (1 - math.exp(-1)))
    assert _credit(0.9, 50.0, math.inf) == 0.9  # no saturation depth: no decline


def test_merit_order_fills_the_depth_and_names_why() -> None:
    rows = pd.DataFrame({"option": ["a", "b", "c", "d"], "segment": ["all"] * 4,
                         "net_cost": [10.0, 20.0, 30.0, 90.0],
                         "effective_cost": [10.0, 20.0, 30.0, 90.0],
                         "supply_gw": [2.0, 5.0, math.inf, math.inf]})
    out = survivors(rows, 4.0, avoided=50.0).set_index("option")
    assert out["dispatched_gw"].tolist() == [2.0, 2.0, 0.0, 0.0]
    assert out["survives"].tolist() == [True, True, False, False]
    assert "market is filled by cheaper options" in out.loc["c", "why"]
    assert "above the avoided cost" in out.loc["d", "why"]
    free = survivors(rows, math.inf, avoided=50.0).set_index("option")
    assert free["survives"].tolist() == [True, True, True, False]


def test_shipped_stack_on_the_base_run(base_run: Results) -> None:
    out = comparator_stack(base_run, (2030, 2050))
    assert tuple(out.columns) == COLUMNS
    assert set(out["service"]) == set(SERVICES) and set(out["option"]) == set(OPTIONS)
    assert set(out["region"]) == {str(r) for r in base_run.data["region"].values}
    assert set(out["test"]) == {"TRC"}
    ok = out.dropna(subset=["net_cost"])
    # survival is what the numbers give: dispatched at a net cost not above the avoided cost
    assert (ok.loc[ok["survives"], "net_cost"] <= ok.loc[ok["survives"], "avoided_cost"]
            + 1e-9).all()
    assert (ok.loc[ok["survives"], "dispatched_gw"] > 0).all()
    assert (ok["net_cost"] <= ok["effective_cost"] + 1e-9).all()
    # the counterfactual's own effective cost is the avoided cost
    cf = out[(out["service"] == "peak capacity") & (out["option"] == "peaking plant")]
    assert (cf["effective_cost"] - cf["avoided_cost"]).abs().max() < 1e-9
    # the managed fleet's credit for peak capacity falls below its derate (penetration)
    mc = out[(out["service"] == "peak capacity") & (out["option"] == "managed charging")]
    assert (mc["capacity_credit"] < mc["derate"]).all()
    # costs fall with learning
    cost = out.set_index(["year", "region", "service", "option"])["cost_per_kw_year"]
    assert cost[(2050, "Europe", "peak capacity", "V2G")] < cost[
        (2030, "Europe", "peak capacity", "V2G")]


def survivors_of(out: pd.DataFrame) -> set[tuple]:
    won = out[out["survives"]]
    return set(zip(won["year"], won["region"], won["service"], won["option"], won["segment"],
                   strict=True))


def test_removing_stacking_or_the_depth_cap_changes_the_survivors(base_run: Results) -> None:
    default = survivors_of(comparator_stack(base_run, 2050))
    no_stack = survivors_of(comparator_stack(base_run, 2050, stacking=False))
    no_cap = survivors_of(comparator_stack(base_run, 2050, depth_cap=False))
    assert default != no_stack and default != no_cap
    fr = {s for s in default if s[2] == "frequency response"}
    fr_free = {s for s in no_cap if s[2] == "frequency response"}
    assert fr < fr_free  # a larger market lets more options in, never fewer
    # without stacking, options whose own cost exceeds the avoided cost drop out
    assert any(s not in no_stack for s in default)


def test_the_programme_administrator_test_prices_the_incentives(base_run: Results) -> None:
    trc = comparator_stack(base_run, 2050)
    pac = comparator_stack(base_run, 2050, test="PAC")
    key = ["region", "service", "option", "segment"]
    both = trc.merge(pac, on=key, suffixes=("_trc", "_pac"))
    v2g = both[both["option"] == "V2G"]
    assert (v2g["cost_per_kw_year_pac"] > v2g["cost_per_kw_year_trc"]).all()
    owned = both[both["option"] == "peaking plant"]
    assert (owned["cost_per_kw_year_pac"] - owned["cost_per_kw_year_trc"]).abs().max() < 1e-9
    assert pac.loc[pac["option"] == "home battery", "cost_per_kw_year"].isna().all()


def test_bad_cost_rows_services_and_years_are_refused() -> None:
    bad = cost_rows(("jetpack", "all", "*", "capex_power", "resource", 2025, -1, "USD/kW", ""))
    bad.loc[0, "source"] = ""
    with pytest.raises(CostsError) as err:
        load_costs(bad)
    for column in ("option", "value", "source", "currency_year"):
        assert f"column '{column}'" in str(err.value)
    assert len(str(err.value).splitlines()) == 4
    services = copy.deepcopy(load_services())
    services["services"]["peak capacity"]["counterfactual"] = "wishful thinking"
    services["services"]["frequency response"]["depth_gw"] = {"Europe": -1}
    with pytest.raises(CostsError) as err:
        load_services(services)
    assert "peak capacity.counterfactual: got 'wishful thinking'" in str(err.value)
    assert "frequency response.depth_gw" in str(err.value)
    with pytest.raises(ValueError, match="not in the run"):
        comparator_stack(synthetic(), 2049)
    with pytest.raises(CostsError, match="cost test"):
        comparator_stack(synthetic(), 2050, test="NPV")


def test_no_vehicles_offers_nothing() -> None:
    run = synthetic()
    for name in run.data.data_vars:
        if not str(name).startswith("param_"):
            run.data[name] = run.data[name] * 0.0
    out = comparator_stack(run, 2050)
    v2g = out[out["option"] == "V2G"]
    assert v2g["derate"].map(math.isnan).all()
    assert not v2g["survives"].any() and not out["v2g_survives"].any()
    assert v2g["why"].str.startswith("not offered").all()
