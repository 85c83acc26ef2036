"""The command line: files written, exit codes and messages, nothing half-written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import evflex.outputs.tables as tables_module
from evflex.cli import app

runner = CliRunner()
FILES = ("states.csv", "fleet.csv", "funnel.csv", "capacity.csv", "checks.csv", "states.png",
         "funnel.png")


@pytest.fixture(scope="module")
def base_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("base")
    result = runner.invoke(app, ["run", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_run_writes_the_documented_files(base_out: Path) -> None:
    for name in FILES:
        assert (base_out / name).stat().st_size > 0, name
    assert (base_out / "states.parquet").exists()
    states = pd.read_csv(base_out / "states.csv")
    assert list(states.columns) == ["region", "segment", "year", "state", "vehicles", "share"]
    world = states[(states["region"] == "World") & (states["segment"] == "all")]
    assert world.groupby("year")["share"].sum().sub(1).abs().max() < 1e-12
    checks = pd.read_csv(base_out / "checks.csv")
    assert list(checks.columns) == ["check", "kind", "status", "value", "limit", "detail"]
    # nothing fails and no calibration target is missed; comparisons with outside
    # projections (above/below) and checks the ledger cannot support (missing) are reported
    assert set(checks["status"]) <= {"pass", "above", "below", "missing"}
    assert (checks["status"] == "pass").sum() >= 30
    assert not list(base_out.glob(".evflex-*"))  # no staging left behind


def test_run_prints_the_summary_table(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", "slow_v2g", "--out", str(tmp_path)])
    assert result.exit_code == 0
    for year in ("2025", "2030", "2050", "2100"):
        assert year in result.output
    assert "V2G (active export)" in result.output
    assert "v2g_export_power [GW]" in result.output


def test_failed_checks_exit_3_and_name_the_check(tmp_path: Path) -> None:
    scenario = tmp_path / "kinked.yaml"
    scenario.write_text("extends: base\nname: kinked\nversion: x\nparameters:\n"
                        "  vehicle_sales_growth: {points: {2025: 0.02, 2030: 0.02, 2031: 0.3, "
                        "2032: 0.02}, source: assumption}\n")
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", str(scenario), "--out", str(out), "--no-workbook",
                                 "--no-report"])
    assert result.exit_code == 3
    assert "check failed: sales_smooth" in result.output
    assert "--allow-failed-checks" in result.output
    assert (out / "checks.csv").exists()  # the results are there to inspect
    allowed = runner.invoke(app, ["run", str(scenario), "--out", str(out), "--no-workbook",
                                  "--no-report", "--allow-failed-checks"])
    assert allowed.exit_code == 0
    assert "check failed: sales_smooth" in allowed.output


def test_a_variant_with_one_number_changed_exits_0(tmp_path: Path) -> None:
    scenario = tmp_path / "low.yaml"
    scenario.write_text("extends: base\nname: low_enrolment\nversion: x\nparameters:\n"
                        "  v2g_enrolled: {scurve: {start: 0.0, end: 0.2, steepness: 0.1, "
                        "anchor: {year: 2025, value: 0.02}}, source: assumption}\n")
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", str(scenario), "--out", str(out), "--no-workbook",
                                 "--no-report"])
    assert result.exit_code == 0, result.output
    checks = pd.read_csv(out / "checks.csv")
    assert "fail" not in set(checks["status"])


def test_validate_exit_codes_and_one_line_per_problem(tmp_path: Path) -> None:
    ok = runner.invoke(app, ["validate", "base", "slow_v2g"])
    assert ok.exit_code == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("extends: base\nname: b\nversion: x\ncolour: blue\n")
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1
    assert lines[0].startswith(f"{bad}: colour: unknown key (got 'blue', expected one of "
                               "name, version, description, years, regions, segments, ")
    assert lines[0].endswith(", parameters)")


def test_bad_inputs_exit_1_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("extends: base\nname: b\nversion: x\nregions: [Mars]\n")
    for args in (["run", str(bad), "--out", str(tmp_path / "o")],
                 ["run", "nope", "--out", str(tmp_path / "o")],
                 ["run", "--funnel-year", "1990", "--out", str(tmp_path / "o")]):
        result = runner.invoke(app, args)
        assert result.exit_code == 1, args
        assert "Traceback" not in result.output
        assert "(got " in result.output and "expected " in result.output


def test_unwritable_output_keeps_earlier_files(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "states.csv").write_text("earlier results\n")
    (out / "funnel.png").mkdir()  # a folder where a file must go: the write is refused
    result = runner.invoke(app, ["run", "--out", str(out)])
    assert result.exit_code == 1
    assert "--out: cannot write results" in result.output
    assert (out / "states.csv").read_text() == "earlier results\n"  # not half-replaced
    assert (out / "funnel.png").is_dir()
    assert not list(out.glob(".evflex-*"))
    a_file = tmp_path / "file"
    a_file.write_text("x")
    result = runner.invoke(app, ["run", "--out", str(a_file)])
    assert result.exit_code == 1
    assert "--out: cannot write results" in result.output


def test_a_failure_while_swapping_keeps_the_earlier_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    out.mkdir()
    for name in ("a.csv", "b.csv", "c.csv"):
        (out / name).write_text(f"old {name}")
    tables = {n: pd.DataFrame({"x": [1]}) for n in ("a", "b", "c")}

    def full_disk(a: object, b: object) -> bool:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tables_module, "_exchange", full_disk)
    with pytest.raises(OSError):
        tables_module.write_run(out, tables, parquet=False)
    for name in ("a.csv", "b.csv", "c.csv"):
        assert (out / name).read_text() == f"old {name}"
    assert sorted(p.name for p in out.iterdir()) == ["a.csv", "b.csv", "c.csv"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no staging beside


def test_a_failing_writer_changes_nothing(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("old")

    def broken(path: Path) -> None:
        path.write_text("half")
        raise RuntimeError("chart failed")

    with pytest.raises(RuntimeError):
        tables_module.write_run(tmp_path, {"a": pd.DataFrame({"x": [1]})},
                                {"chart.png": broken}, parquet=False)
    assert (tmp_path / "a.csv").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv"]


def test_console_script_runs_as_installed(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "evflex.cli", "validate", "base"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    proc = subprocess.run([sys.executable, "-m", "evflex.cli", "validate", "nope"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith("nope: scenario: no such file")


def test_run_judges_stores_and_writes_workbook_and_report(tmp_path: Path) -> None:
    out, store = tmp_path / "out", tmp_path / "runs.duckdb"
    result = runner.invoke(app, ["run", "--out", str(out), "--store", str(store),
                                 "--apply-triggers"])
    assert result.exit_code == 0, result.output
    for name in ("evidence.csv", "triggers.csv", "scorecard.csv", "comparators.csv",
                 "implications.csv", "workbook.xlsx", "report.html", "scenario_revised.yaml"):
        assert (out / name).stat().st_size > 0, name
    verdicts = pd.read_csv(out / "scorecard.csv").set_index("pathway")["verdict"].to_dict()
    from evflex.judgement import load_evidence, scorecard
    from evflex.model import run as run_model

    judged = scorecard(load_evidence(), run_model("base"))
    assert verdicts == dict(zip(judged["pathway"], judged["verdict"], strict=True))
    assert "Recorded run" in result.output
    listed = runner.invoke(app, ["runs", "list", "--store", str(store)])
    assert listed.exit_code == 0 and "base" in listed.output
    revised = runner.invoke(app, ["validate", str(out / "scenario_revised.yaml")])
    assert revised.exit_code == 0, revised.output
    quick = runner.invoke(app, ["run", "--out", str(tmp_path / "q"), "--no-workbook",
                                "--no-report", "-q"])
    assert quick.exit_code == 0
    assert not (tmp_path / "q" / "workbook.xlsx").exists()
    assert not (tmp_path / "q" / "report.html").exists()


def test_a_bad_evidence_ledger_writes_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "ledger.csv"
    bad.write_text("indicator,pathway\nx,y\n")
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", "--evidence", str(bad), "--out", str(out)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "expected" in result.output
    assert not out.exists() or not any(out.iterdir())
