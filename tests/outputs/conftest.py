"""Fixtures of the output tests: one base run, its tables as the CLI writes them (CSV),
the workbook and the report written from them, with and without simulated and
judgement tables."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from output_helpers import run_tables

from evflex.model import Results, run
from evflex.outputs.report import write_report
from evflex.outputs.tables import write_run
from evflex.outputs.workbook import write_workbook


@pytest.fixture(scope="session")
def base_results() -> Results:
    return run("base")


@pytest.fixture(scope="session")
def two_segment_results() -> Results:
    """The base scenario with a second segment (buses, IEA mode 'buses'), for layouts over
    more than one segment; its numbers are only structural."""
    from evflex.scenario.load import parse, read_raw, resolve_path

    raw = read_raw(resolve_path("base"))
    raw["segments"]["buses"] = {"iea_mode": "buses", "description": "buses (structure test)"}
    return run(parse(raw, "base+buses"))


@pytest.fixture(scope="session")
def hourly() -> pd.DataFrame:
    """Hourly profiles of a small real simulation, as ``evflex run --simulate`` joins them."""
    from evflex.simulate.run import SimulationConfig, simulate

    sim = simulate(SimulationConfig(vehicles=200, days=2, seed=3, keep_sessions=False,
                                    strategies=("unmanaged", "managed", "v2g")))
    return sim.profile.merge(sim.availability, on=["step", "hour"])


@pytest.fixture(scope="session")
def judgement_tables() -> dict[str, pd.DataFrame]:
    """Tables with the columns the judgement layer documents (issue 4), as inputs to the
    writers' layout: the writers take whatever rows ``evflex.judgement.judge`` returns, so
    these test the layout, not any verdict."""
    return {
        "comparators": pd.DataFrame({
            "year": [2030, 2030, 2030, 2050, 2050, 2050],
            "service": ["peak capacity"] * 3 + ["peak capacity"] * 3,
            "option": ["managed charging", "V2G", "utility-scale battery"] * 2,
            "cost_per_kw_year": [30.0, 150.0, 120.0, 25.0, 90.0, 80.0],
            "derate": [0.4, 0.3, 0.95, 0.45, 0.35, 0.95],
            "effective_cost": [75.0, 500.0, 126.3, 55.6, 257.1, 84.2],
            "rank": [1, 3, 2, 1, 3, 2],
            "v2g_survives": [False, False, False, False, False, False]}),
        "triggers": pd.DataFrame({
            "trigger": ["capable_models"], "indicator": ["v2g_capable_model_share"],
            "latest_value": [0.015], "threshold": [0.05], "fired": [False],
            "parameter": ["bidirectional_share"], "proposed_change": ["+20 % by 2035"],
            "evidence_date": ["2026-05-01"], "source": ["IEA (2026) V2G assessment"]}),
        "scorecard": pd.DataFrame({
            "pathway": ["smart_charging", "grid_managed", "v2h_v2b", "v2g"],
            "verdict": ["scaling", "scaling", "niche-valid", "progressing"],
            "rule": ["r1", "r2", "r3", "r4"], "evidence": ["e1", "e2", "e3", "e4"]}),
        "implications": pd.DataFrame({"audience": ["utilities"],
                                      "implication": ["Plan on managed charging first."]}),
        "summary": pd.DataFrame({"section": ["headline"],
                                 "text": ["Managed charging is the scaling pathway."]}),
        "evidence": pd.DataFrame({
            "indicator": ["v2g_capable_models"], "pathway": ["v2g"], "region": ["World"],
            "date": ["2026-05-01"], "value": [22.0], "unit": ["models"],
            "source": ["IEA (2026) V2G assessment"], "note": [""]}),
    }


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory: pytest.TempPathFactory, base_results: Results) -> Path:
    """A base run's CSV tables plus ``workbook.xlsx`` and ``report.html`` written by the
    same ``write_run`` call, as ``evflex run`` does."""
    out = tmp_path_factory.mktemp("run")
    tables = run_tables(base_results)
    write_run(out, tables, {
        "workbook.xlsx": lambda p: write_workbook(p, base_results, tables),
        "report.html": lambda p: write_report(p, base_results, tables),
    }, parquet=False)
    return out


@pytest.fixture(scope="session")
def full_run_dir(tmp_path_factory: pytest.TempPathFactory, base_results: Results,
                 hourly: pd.DataFrame, judgement_tables: dict[str, pd.DataFrame]) -> Path:
    """As :func:`run_dir`, with simulated hourly profiles and the judgement's tables."""
    out = tmp_path_factory.mktemp("full")
    tables = {**run_tables(base_results), "hourly": hourly, **judgement_tables}
    write_run(out, tables, {
        "workbook.xlsx": lambda p: write_workbook(p, base_results, tables),
        "report.html": lambda p: write_report(p, base_results, tables),
    }, parquet=False)
    return out
