"""Now-cast checks against the evidence ledger, and the IEA STEPS 2030 comparison."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from evflex import checks
from evflex.judgement import load_evidence
from evflex.model import Results, run
from evflex.nowcast_checks import NowcastError, nowcast, read_mapping
from evflex.scenario import Scenario

ROOT = Path(__file__).resolve().parents[2]
#: The full IEA file in ``shared/`` beside the project's root (CI lays a copy there).
FULL = ROOT.parent / "shared" / "data" / "iea-global-ev-data-2025.csv"


def _require_full() -> None:
    """Skip locally without the full IEA file; on CI its absence is a failure."""
    if not FULL.exists():
        if os.environ.get("CI"):
            pytest.fail(f"the full IEA file is missing (expected at {FULL})")
        pytest.skip("the full IEA file is not next to the project")


def _rows(results: Results) -> dict[str, checks.Check]:
    return {c.check: c for c in checks.check_nowcast(results)}


def test_base_agrees_with_the_observed_present(base_results: Results) -> None:
    rows = _rows(base_results)
    passed = [r for r in rows.values() if r.status == "pass"]
    assert len(passed) >= 3 and all(r.kind == "test" for r in rows.values())
    gm = rows["nowcast_grid_managed_share_USA"]
    ledger = load_evidence()
    obs = ledger[ledger["indicator"] == "enrolled_share/us_utility_programmes"]["value"].iloc[-1]
    assert f"= {obs:g}" in gm.detail  # the observed value is the ledger's, not typed in
    # checks the ledger cannot support are listed as missing, with what they need
    assert rows["nowcast_v2g_vehicles"].status == "missing"
    assert "missing" in rows["nowcast_v2g_vehicles"].detail


def test_a_scenario_that_contradicts_the_ledger_fails(base_scenario: Scenario) -> None:
    # the old base: grid-managed enrolment at 12.8 % of its pool in 2024, not 4 %
    param = base_scenario.parameters["grid_managed_enrolment"]
    assert param.scurve is not None and param.scurve.anchor is not None
    high = param.model_copy(update={"scurve": param.scurve.model_copy(update={
        "anchor": param.scurve.anchor.model_copy(update={"value": 0.25})})})
    sc = base_scenario.model_copy(update={"parameters": {**base_scenario.parameters,
                                                         "grid_managed_enrolment": high}})
    row = _rows(run(sc))["nowcast_grid_managed_share_USA"]
    assert row.status == "fail"
    assert row.value > 0.05
    table = checks.run_checks(run(sc))
    assert "nowcast_grid_managed_share_USA" in set(checks.failed(table)["check"])


def test_an_unknown_quantity_is_one_line(tmp_path: Path) -> None:
    mapping = tmp_path / "nowcast.csv"
    mapping.write_text("check,indicator,ledger_region,quantity,region,year,low,high,reason\n"
                       "x,enrolled_share/us_utility_programmes,USA,v2g_cars,USA,2025,0.5,1.5,r\n",
                       encoding="utf-8")
    with pytest.raises(NowcastError) as info:
        read_mapping(mapping)
    message = str(info.value)
    assert "\n" not in message
    assert "quantity: unknown quantity (got 'v2g_cars', expected one of" in message
    assert "row 1 (x)" in message


def test_a_custom_mapping_is_compared(base_results: Results, tmp_path: Path) -> None:
    mapping = tmp_path / "nowcast.csv"
    mapping.write_text("check,indicator,ledger_region,quantity,region,year,low,high,reason\n"
                       "tight,enrolled_share/us_utility_programmes,USA,grid_managed_share,USA,"
                       "2025,0.99,1.01,too tight on purpose\n", encoding="utf-8")
    (row,) = nowcast(base_results, load_evidence(), read_mapping(mapping))
    assert row.status == "fail"  # 2.4 % of all EVs is not 4 % +- 1 %


def _steps_from_the_iea_file(region: str, parameter: str) -> float:
    _require_full()
    raw = pd.read_csv(FULL)
    rows = raw[(raw["category"] == "Projection-STEPS") & (raw["mode"] == "Cars")
               & (raw["region_country"] == region) & (raw["parameter"] == parameter)]
    if parameter.endswith("share"):
        return float(rows["value"].iloc[0]) / 100.0
    return float(rows[rows["powertrain"].isin(["BEV", "PHEV"])]["value"].sum())


def test_steps_comparison_reads_the_iea_projection(base_results: Results) -> None:
    rows = {c.check: c for c in checks.check_outside_projections(base_results)}
    sales = rows["steps_2030_ev_sales_World"]
    projected = _steps_from_the_iea_file("World", "EV sales")
    modelled = base_results.world("ev_sales", 2030)
    assert sales.value == pytest.approx(modelled / projected)
    assert sales.status == "above" and sales.kind == "test"  # base runs ahead of STEPS
    share = rows["steps_2030_ev_sales_share_World"]
    assert share.value == pytest.approx(base_results.world("ev_sales_share", 2030)
                                        / _steps_from_the_iea_file("World", "EV sales share"))


def test_the_steps_scenario_follows_steps_to_2030() -> None:
    rows = {c.check: c for c in checks.check_outside_projections(run("steps"))}
    for region in ("World", "China", "Europe", "USA"):
        for parameter in ("ev_sales", "ev_sales_share"):
            row = rows[f"steps_2030_{parameter}_{region}"]
            assert row.status == "pass", (row.check, row.value)
            assert row.value == pytest.approx(1.0, abs=0.01)
    assert rows["steps_2030_ev_stock_World"].status == "pass"
