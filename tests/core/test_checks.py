"""Every denominator check fails on an input built to break it."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest
import xarray as xr

from evflex import checks
from evflex.model import ALL_SEGMENTS, WORLD, Results, run
from evflex.scenario import Scenario


def _status(results: Results, fn: Callable[[Results], list[checks.Check]]) -> dict[str, str]:
    return {c.check: c.status for c in fn(results)}


def _tampered(results: Results, edit: Callable[[xr.Dataset], None]) -> Results:
    data = results.data.copy(deep=True)
    edit(data)
    return Results(scenario=results.scenario, data=data)


def _with_param(scenario: Scenario, name: str, **update: object) -> Scenario:
    param = scenario.parameters[name].model_copy(update=update)
    return scenario.model_copy(update={"parameters": {**scenario.parameters, name: param}})


CELL = {"region": "Europe", "segment": "cars", "year": 2060}


def _add(name: str, amount: float, **where: object) -> Callable[[xr.Dataset], None]:
    def edit(ds: xr.Dataset) -> None:
        ds[name].loc[{**CELL, **where}] = ds[name].loc[{**CELL, **where}] + amount
    return edit


def test_every_check_passes_on_base(base_results: Results) -> None:
    for fn in checks.CHECKS:
        allowed = {"pass", "missing"} if fn is checks.check_nowcast else (
            {"pass", "above", "below"} if fn is checks.check_outside_projections else {"pass"})
        assert set(_status(base_results, fn).values()) <= allowed, fn.__name__


@pytest.mark.parametrize(("fn", "name", "edit"), [
    (checks.check_states_sum_to_one, "states_sum_to_stock", _add("states", 1e5, state="v2g")),
    (checks.check_states_sum_to_one, "states_shares_sum_to_one",
     _add("states", 1e5, state="smart_only")),
    (checks.check_states_sum_to_one, "states_nonnegative", _add("states", -1e9, state="outside")),
    (checks.check_states_nest, "nest_v2g_le_bidirectional_installed",
     _add("funnel", -5e7, step="bidirectional_charger")),
    (checks.check_states_nest, "nest_bidirectional_installed_le_v2g_capable_stock",
     _add("capable_stock", -9e7)),
    (checks.check_states_nest, "nest_v2g_capable_stock_le_ev_stock", _add("capable_stock", 5e8)),
    (checks.check_states_nest, "nest_ev_stock_le_vehicle_stock", _add("stock", -3e8)),
    (checks.check_funnel_monotone, "funnel_monotone", _add("funnel", 1e8, step="v2g_active")),
    (checks.check_stock_reconciles, "stock_reconciles", _add("stock", 1e3)),
    (checks.check_stock_reconciles, "ev_stock_reconciles",
     _add("ev_stock_pt", 1e3, powertrain="bev")),
    (checks.check_stock_reconciles, "retirements_nonnegative", _add("retirements", -1e8)),
    (checks.check_ev_within_total, "ev_sales_le_sales", _add("ev_sales_pt", 5e7, powertrain="bev")),
    (checks.check_share_denominators, "capable_stock_share_lags_sales",
     _add("capable_stock", 1e8)),
    (checks.check_capacity_physical, "capacity_v2g_plugged_le_v2g",
     _add("capacity_v2g_plugged_at_peak", 1e8)),
    (checks.check_capacity_physical, "capacity_v2g_power_le_export_rating",
     _add("capacity_v2g_export_power", 1e3)),
    (checks.check_capacity_physical, "capacity_v2g_energy_le_battery",
     _add("capacity_v2g_export_energy", 1e4)),
    (checks.check_capacity_physical, "capacity_shiftable_load_le_charger_rating",
     _add("capacity_shiftable_load", 1e4)),
    (checks.check_capacity_physical, "capacity_managed_envelope_le_ev_stock",
     _add("capacity_managed_envelope", 1e9)),
])
def test_tampered_results_fail_the_check(base_results: Results, fn: Callable, name: str,
                                         edit: Callable[[xr.Dataset], None]) -> None:
    assert _status(base_results, fn)[name] == "pass"
    broken = _tampered(base_results, edit)
    assert _status(broken, fn)[name] == "fail"
    row = checks.run_checks(broken).set_index("check").loc[name]
    assert row["status"] == "fail"


def test_strict_switch_raises_with_the_table(base_results: Results) -> None:
    checks.run_checks(base_results, strict=True)  # passes quietly
    broken = _tampered(base_results, _add("states", 1e5, state="v2g"))
    with pytest.raises(checks.ChecksFailed) as info:
        checks.run_checks(broken, strict=True)
    assert "states_sum_to_stock" in str(info.value)
    assert (info.value.table["status"] == "fail").sum() >= 1


def test_model_count_used_as_stock_share_fails(base_results: Results) -> None:
    # someone pastes the model share (1.5 %) into the stock: the stock no longer lags
    def edit(ds: xr.Dataset) -> None:
        ev = ds["ev_stock_pt"].sum("powertrain")
        ds["capable_stock"].loc[{"year": 2025}] = ev.sel(year=2025) * 0.9
    broken = _tampered(base_results, edit)
    status = _status(broken, checks.check_share_denominators)
    assert status["model_share_not_used_as_stock_share"] == "fail"
    assert status["capable_stock_share_lags_sales"] == "fail"


def test_sales_share_not_from_the_conversion_fails(base_results: Results) -> None:
    def edit(ds: xr.Dataset) -> None:
        ds["param_bidirectional_share"].loc[{"year": 2025}] = 0.015  # the raw model share
    status = _status(_tampered(base_results, edit), checks.check_share_denominators)
    assert status["model_count_converted_to_sales_share"] == "fail"


def test_world_rows_that_are_not_sums_fail(base_results: Results) -> None:
    class Averaged(Results):
        def states_frame(self) -> pd.DataFrame:
            df = super().states_frame()
            world = df["region"] == WORLD
            df.loc[world, "vehicles"] = df.loc[world, "vehicles"] / 4  # a mean, not a sum
            regional = df[~world & (df["segment"] == ALL_SEGMENTS)]
            mean = regional.groupby(["year", "state"])["share"].mean()
            rows = world & (df["segment"] == ALL_SEGMENTS)
            keys = pd.MultiIndex.from_frame(df.loc[rows, ["year", "state"]])
            df.loc[rows, "share"] = mean.reindex(keys).to_numpy()  # an average of shares
            return df

    status = _status(Averaged(base_results.scenario, base_results.data),
                     checks.check_world_is_sum)
    assert status["world_is_sum_states"] == "fail"
    assert status["world_shares_from_counts"] == "fail"


def test_kinked_sales_growth_fails_the_smoothness_check(base_scenario: Scenario) -> None:
    # a growth path with a one-year spike: +25 % in 2031 between 2 % years
    growth = base_scenario.parameters["vehicle_sales_growth"]
    kinked = growth.overrides["USA"].model_copy(
        update={"points": {2025: 0.02, 2030: 0.02, 2031: 0.25, 2032: 0.02, 2100: 0.0}})
    sc = _with_param(base_scenario, "vehicle_sales_growth",
                     overrides={**growth.overrides, "USA": kinked})
    rows = {c.check: c for c in checks.check_sales_smooth(run(sc))}
    assert rows["sales_smooth"].status == "fail"
    assert rows["sales_smooth"].value == pytest.approx(0.25)
    assert "USA" in rows["sales_smooth"].detail and "2031" in rows["sales_smooth"].detail
    assert rows["sales_smooth"].kind == "test"
    # a drop of EV sales (share path falling off a cliff) fails the EV row
    share = base_scenario.parameters["ev_sales_share"]
    cliff = share.overrides["USA"].model_copy(update={"scurve": None,
                                                      "points": {2025: 0.12, 2040: 0.7,
                                                                 2041: 0.3, 2100: 0.3}})
    sc = _with_param(base_scenario, "ev_sales_share", overrides={**share.overrides,
                                                                 "USA": cliff})
    assert _status(run(sc), checks.check_sales_smooth)["ev_sales_smooth"] == "fail"


def test_base_sales_are_smooth_after_history(base_results: Results) -> None:
    rows = {c.check: c for c in checks.check_sales_smooth(base_results)}
    assert rows["sales_smooth"].status == "pass"
    assert 0 < rows["sales_smooth"].value <= checks.MAX_SALES_CHANGE


def test_calibration_anchors_fail_when_adoption_is_lower(base_scenario: Scenario) -> None:
    param = base_scenario.parameters["ev_sales_share"]
    china = param.overrides["China"]
    assert china.scurve is not None and china.scurve.anchor is not None
    slow_china = china.model_copy(update={"scurve": china.scurve.model_copy(update={
        "anchor": china.scurve.anchor.model_copy(update={"value": 0.30})})})
    sc = _with_param(base_scenario, "ev_sales_share",
                     overrides={**param.overrides, "China": slow_china})
    status = _status(run(sc), checks.check_calibration_anchors)
    # a calibration target missed is reported, not a failure of the run
    assert status["calibration_ev_sales_2025"] == "missed"
    assert status["calibration_ev_sales_share_2025"] == "missed"


def test_calibration_states_fail_on_another_scenario(base_scenario: Scenario) -> None:
    slow = run("slow_v2g")
    assert slow.scenario.calibration.states is None
    assert checks.check_calibration_states(slow) == []
    # slow V2G held to the base targets fails on v2g
    held = Results(scenario=slow.scenario.model_copy(update={"calibration":
                                                             base_scenario.calibration}),
                   data=slow.data)
    status = _status(held, checks.check_calibration_states)
    assert status["calibration_v2g_2100"] == "missed"


def test_history_fails_with_implausible_survival(base_scenario: Scenario) -> None:
    sc = _with_param(base_scenario, "survival_mean_life", value=4.0, overrides={})
    status = _status(run(sc), checks.check_history_ev_stock)
    assert status["history_ev_stock_World"] == "fail"
    assert status["history_ev_stock_Europe"] == "fail"
    # and the total stock: vehicles that last 4 years leave a far smaller fleet
    status = _status(run(sc), checks.check_history_vehicle_stock)
    assert status["history_vehicle_stock_World"] == "fail"
