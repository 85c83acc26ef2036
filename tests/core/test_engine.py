"""The engine on the shipped scenarios: calibration computed, aggregates are sums."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evflex.checks import run_checks
from evflex.model import ALL_SEGMENTS, WORLD, Results, run
from evflex.scenario import Scenario, load_scenario, models_to_sales_share
from evflex.states import STATES


def test_all_checks_pass_on_the_shipped_scenarios(base_results: Results) -> None:
    for results in (base_results, run("slow_v2g")):
        table = run_checks(results)
        assert len(table) >= 30
        reported = {"above", "below", "missing"}  # outside projections, unsupported now-casts
        assert set(table["status"]) <= {"pass"} | reported, table[
            ~table["status"].isin({"pass"} | reported)].to_string()
        assert set(table.loc[table["kind"] != "test", "status"]) == {"pass"}


def test_2025_anchors_are_computed_from_the_fleet(base_results: Results) -> None:
    """World 2025 figures are recomputed here from the regional rows of fleet.csv."""
    fleet = base_results.fleet_frame()
    rows = fleet[(fleet["year"] == 2025) & (fleet["region"] != WORLD)
                 & (fleet["segment"] != ALL_SEGMENTS)]
    ev_sales = rows["ev_sales"].sum()
    share = ev_sales / rows["sales"].sum()
    anchors = base_results.scenario.calibration.anchors
    assert anchors is not None and anchors.year == 2025
    assert anchors.ev_sales.low <= ev_sales <= anchors.ev_sales.high
    assert anchors.ev_sales_share.low <= share <= anchors.ev_sales_share.high
    # 2025 is a projection year: EV sales follow from total sales x the share paths
    sales_share = base_results.data["param_ev_sales_share"].sel(year=2025)
    modelled = (base_results.data["sales"].sel(year=2025) * sales_share).sum()
    assert float(modelled) == pytest.approx(ev_sales, rel=1e-12)


def test_2100_states_are_computed_and_respond_to_the_filters(base_scenario: Scenario) -> None:
    results = run(base_scenario)
    shares = results.world_state_shares(2100)
    targets = {"v2g": 0.30, "v2h_v2b": 0.10, "grid_managed": 0.50, "smart_only": 0.07,
               "outside": 0.03}
    for state, target in targets.items():
        assert abs(shares[state] - target) <= 0.01, (state, shares[state])
    # the same split recomputed from regional state counts
    states = results.states_frame()
    cells = states[(states["year"] == 2100) & (states["region"] != WORLD)
                   & (states["segment"] != ALL_SEGMENTS)]
    counts = cells.groupby("state")["vehicles"].sum()
    np.testing.assert_allclose(counts[list(STATES)] / counts.sum(),
                               [shares[s] for s in STATES], rtol=1e-12)
    # not copied: halving the V2G enrolment end value moves V2G well off target
    param = base_scenario.parameters["v2g_enrolled"]
    assert param.scurve is not None
    changed = param.model_copy(update={"scurve": param.scurve.model_copy(
        update={"end": param.scurve.end / 2})})
    other = base_scenario.model_copy(update={"parameters": {**base_scenario.parameters,
                                                            "v2g_enrolled": changed}})
    assert run(other).world_state_shares(2100)["v2g"] < 0.2


def test_history_follows_the_iea_series(base_results: Results) -> None:
    agg = base_results.aggregated
    model = agg["ev_stock"].sel(region=WORLD, segment=ALL_SEGMENTS, year=slice(2016, 2024))
    iea = agg["iea_ev_stock"].sel(region=WORLD, segment=ALL_SEGMENTS, year=slice(2016, 2024))
    rel = np.abs(model.values / iea.values - 1)
    assert rel.max() < 0.05
    # and history EV sales are the IEA's, summed by powertrain
    sales = agg["ev_sales"].sel(region=WORLD, segment=ALL_SEGMENTS, year=2024)
    assert float(sales) == pytest.approx(17.3e6, rel=0.03)


def test_world_is_a_sum_of_counts_not_an_average_of_shares(base_results: Results) -> None:
    states = base_results.states_frame()
    year = states[(states["year"] == 2100) & (states["segment"] == ALL_SEGMENTS)]
    regional = year[year["region"] != WORLD]
    world = year[year["region"] == WORLD].set_index("state")
    counts = regional.groupby("state")["vehicles"].sum()
    np.testing.assert_allclose(world.loc[list(STATES), "vehicles"], counts[list(STATES)],
                               rtol=1e-12)
    mean_of_shares = regional.groupby("state")["share"].mean()
    # regions differ in size and progress, so an average of shares would be wrong
    assert not np.allclose(world.loc[list(STATES), "share"], mean_of_shares[list(STATES)],
                           atol=1e-4)


def test_phevs_are_not_v2g_candidates_unless_the_scenario_says_so(
        base_scenario: Scenario) -> None:
    off = run(base_scenario).aggregated["capable_stock"].sel(region=WORLD, segment="all",
                                                             year=2040)
    options = base_scenario.options.model_copy(update={"phev_v2g_eligible": True})
    on = run(base_scenario.model_copy(update={"options": options})).aggregated[
        "capable_stock"].sel(region=WORLD, segment="all", year=2040)
    assert float(on) > float(off) * 1.01


def test_capable_stock_share_lags_the_sales_share(base_results: Results) -> None:
    agg = base_results.aggregated.sel(region=WORLD, segment=ALL_SEGMENTS)
    sales_share = (agg["capable_sales"] / agg["ev_sales"]).sel(year=2030)
    stock_share = (agg["capable_stock"] / agg["ev_stock"]).sel(year=2030)
    assert float(stock_share) < float(sales_share)
    # the model count enters through the explicit conversion: 22 models at 1.5 % x weight 2
    assert models_to_sales_share(load_scenario("base")) == pytest.approx(0.03)


def test_output_tables_have_the_documented_columns(base_results: Results) -> None:
    frames = base_results.frames()
    assert list(frames["states"].columns) == ["region", "segment", "year", "state", "vehicles",
                                              "share"]
    assert list(frames["fleet"].columns) == [
        "region", "segment", "year", "sales", "ev_sales", "ev_sales_share", "stock", "ev_stock",
        "ev_stock_share", "retirements", "ev_retirements"]
    assert list(frames["funnel"].columns)[:5] == ["region", "segment", "year", "step",
                                                  "vehicles"]
    assert list(frames["capacity"].columns) == ["region", "year", "metric", "value", "unit"]
    n_cells = (4 + 1) * (1 + 1) * 91
    assert len(frames["fleet"]) == n_cells
    assert len(frames["states"]) == n_cells * len(STATES)
    assert set(frames["states"]["region"]) == {"China", "Europe", "USA", "RestOfWorld", WORLD}
    funnel = frames["funnel"]
    first = funnel.groupby(["region", "segment", "year"], sort=False)["step"].first()
    assert set(first) == {"ev_stock"}
    # the funnel's first step is the EV stock of fleet.csv
    merged = funnel[funnel["step"] == "ev_stock"].merge(frames["fleet"],
                                                        on=["region", "segment", "year"])
    np.testing.assert_allclose(merged["vehicles"], merged["ev_stock"], rtol=1e-12)
    assert not frames["capacity"].isna().any().any()
    assert pd.api.types.is_float_dtype(frames["states"]["share"])
