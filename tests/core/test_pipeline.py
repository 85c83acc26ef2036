"""One pipeline: every edge (Python API, CLI, explorer, workbook, store) gets the same
tables for the same scenario, and the pipeline validates objects built in code."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from typer.testing import CliRunner

import evflex
from evflex.cli import app
from evflex.outputs.tables import read_csv
from evflex.pipeline import JUDGEMENT_TABLES, PipelineError, Run, run
from evflex.scenario import ScenarioError, load_scenario

runner = CliRunner()
#: Tables every edge writes (the judgement's included).
COMPARED = ("states", "fleet", "funnel", "capacity", "checks", "energy_funnel",
            "assumptions", "scorecard", "triggers", "comparators", "implications")


def _roundtrip(df: pd.DataFrame) -> pd.DataFrame:
    """A table as it reads back from CSV (the form every edge writes)."""
    return pd.read_csv(io.StringIO(df.to_csv(index=False)))


def _same(a: pd.DataFrame, b: pd.DataFrame, name: str) -> None:
    pd.testing.assert_frame_equal(_roundtrip(a).reset_index(drop=True),
                                  _roundtrip(b).reset_index(drop=True),
                                  check_dtype=False, rtol=1e-12, obj=name)


@pytest.fixture(scope="module")
def api_run() -> Run:
    return evflex.run("base")


def test_the_python_api_is_the_pipeline(api_run: Run) -> None:
    assert isinstance(api_run, Run)
    for name in (*COMPARED, "evidence", "summary"):
        assert name in api_run.tables, name
    assert set(JUDGEMENT_TABLES) <= set(api_run.judgement)
    # The run's own tables are those of the engine it holds.
    _same(api_run.tables["states"], api_run.results.frames()["states"], "states")
    assert "base v3.0" in repr(api_run) and len(repr(api_run)) < 400


def test_cli_writes_the_pipeline_tables(api_run: Run, tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", "base", "--out", str(tmp_path), "--no-workbook",
                                 "--no-report", "--no-parquet", "--quiet"])
    assert result.exit_code == 0, result.output
    for name in COMPARED:
        _same(read_csv(tmp_path / f"{name}.csv"), api_run.tables[name], f"cli {name}")


def test_explorer_downloads_the_pipeline_tables(api_run: Run) -> None:
    from fastapi.testclient import TestClient

    from evflex.web.app import create_app

    with TestClient(create_app()) as client:
        response = client.get("/download/tables.zip?scenario=base&year=2050")
        assert response.status_code == 200, response.text
        zf = zipfile.ZipFile(io.BytesIO(response.content))
        for name in COMPARED:
            _same(read_csv(zf.open(f"{name}.csv")), api_run.tables[name], f"web {name}")
        checks = client.post("/api/checks", json={"scenario": "base"}).json()
    got = pd.DataFrame(checks["checks"])[["check", "status"]]
    _same(got, api_run.checks[["check", "status"]], "web /api/checks")
    verdicts = {r["pathway"]: r["verdict"] for r in checks["scorecard"]}
    assert verdicts == dict(zip(api_run.tables["scorecard"]["pathway"],
                                api_run.tables["scorecard"]["verdict"], strict=True))


def test_store_keeps_the_pipeline_tables(api_run: Run, tmp_path: Path) -> None:
    from evflex.store import RunStore

    store = tmp_path / "runs.duckdb"
    result = runner.invoke(app, ["run", "base", "--out", str(tmp_path / "out"), "--store",
                                 str(store), "--no-workbook", "--no-report", "--quiet"])
    assert result.exit_code == 0, result.output
    stored = RunStore(store).tables("latest")
    for name in ("states", "capacity", "checks", "scorecard"):
        _same(stored[name], api_run.tables[name], f"store {name}")


def test_workbook_holds_the_pipeline_checks_and_verdicts(api_run: Run, tmp_path: Path) -> None:
    from evflex.outputs.workbook import write_workbook

    path = tmp_path / "wb.xlsx"
    write_workbook(path, api_run.results, api_run.tables)
    wb = openpyxl.load_workbook(path)
    cells = {str(c.value) for ws in wb.worksheets for row in ws.iter_rows() for c in row
             if c.value is not None}
    for check in api_run.checks["check"]:
        assert check in cells, check
    for verdict in api_run.tables["scorecard"]["verdict"]:
        assert verdict in cells


def test_an_invalid_object_is_refused_naming_the_field() -> None:
    sc = load_scenario("base")
    param = sc.parameters["v2g_enrolled"]
    assert param.scurve is not None
    bad = sc.model_copy(update={"parameters": {**sc.parameters, "v2g_enrolled": param.model_copy(
        update={"scurve": param.scurve.model_copy(update={"end": 7.0})})}})
    for call in (run, evflex.run):
        with pytest.raises(ScenarioError) as info:
            call(bad)
        assert "parameters.v2g_enrolled.scurve.end" in str(info.value)
        assert "7.0" in str(info.value)
    from evflex.model import run as run_engine

    with pytest.raises(ScenarioError):
        run_engine(bad)


def test_a_funnel_year_outside_the_run_is_a_pipeline_error() -> None:
    with pytest.raises(PipelineError, match="got 2200"):
        run("base", funnel_year=2200, judgement=False)


def test_help_works_without_any_optional_extra(tmp_path: Path) -> None:
    """`evflex --help` and a command needing a missing extra give one line, no traceback.

    The extras' packages are made unimportable in a fresh interpreter (as if only the core
    were installed)."""
    blocker = textwrap.dedent("""
        import sys
        # None in sys.modules: `import x` raises ModuleNotFoundError and find_spec("x")
        # answers None, exactly as when the package is not installed.
        for name in ("numba", "llvmlite", "dask", "distributed", "SALib", "duckdb",
                     "fastapi", "uvicorn", "starlette", "pypsa", "linopy", "highspy"):
            sys.modules[name] = None
        from evflex.cli import app
        app(prog_name="evflex")
    """)
    script = tmp_path / "core_only.py"
    script.write_text(blocker)
    env = {**os.environ}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, str(script), *args], capture_output=True,
                              text=True, env=env, timeout=120)

    help_ = cli("--help")
    assert help_.returncode == 0 and "simulate" in help_.stdout and "[extra: sim]" in help_.stdout
    for args, extra in ((("serve",), "web"), (("runs", "--help"), "store"),
                        (("simulate", "--help"), "sim"),
                        (("sensitivity", "--samples", "8", "--out", str(tmp_path / "sobol")),
                         "uncertainty")):
        proc = cli(*args)
        assert proc.returncode == 1, (args, proc.stdout, proc.stderr)
        assert f"pip install 'evflex[{extra}]'" in proc.stderr
        assert "Traceback" not in proc.stderr
    out = tmp_path / "out"
    ran = cli("run", "base", "--out", str(out), "--no-workbook", "--no-report", "--quiet")
    assert ran.returncode == 0, ran.stderr
    assert (out / "states.csv").exists()
    stored = cli("run", "base", "--out", str(tmp_path / "o2"), "--store",
                 str(tmp_path / "s.duckdb"), "--quiet", "--no-workbook", "--no-report")
    assert stored.returncode == 1 and "evflex[store]" in stored.stderr
    assert not (tmp_path / "o2").exists()
