"""evflex runs list|show|export|check and evflex diff: files, exit codes and messages."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from evflex.cli import app
from evflex.model import Results
from evflex.store import record_run

runner = CliRunner()
ENV = {"COLUMNS": "200"}
Run = tuple[Results, dict[str, pd.DataFrame]]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, base_run: Run,
          slow_run: Run) -> tuple[Path, str, str]:
    path = tmp_path_factory.mktemp("store") / "runs.duckdb"
    a = record_run(path, *base_run, "base")
    b = record_run(path, *slow_run, "slow_v2g")
    return path, a, b


def _one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


def test_list_shows_the_runs(store: tuple[Path, str, str]) -> None:
    path, a, b = store
    result = runner.invoke(app, ["runs", "list", "--store", str(path)], env=ENV)
    assert result.exit_code == 0, result.output
    assert a in result.stdout and b in result.stdout
    assert result.stdout.index(b) < result.stdout.index(a)  # newest first
    passed = re.search(r"\b(\d+)/(\d+)\b", result.stdout)
    assert "slow_v2g v3.0-slow" in result.stdout and passed is not None
    # checks that pass, of all rows (outside-projection and unsupported now-cast rows are
    # reported, not passed)
    assert 30 <= int(passed.group(1)) <= int(passed.group(2))
    only = runner.invoke(app, ["runs", "list", "--store", str(path), "--scenario", "base"],
                         env=ENV)
    assert a in only.stdout and b not in only.stdout


def test_store_from_the_environment(store: tuple[Path, str, str]) -> None:
    path, a, _ = store
    result = runner.invoke(app, ["runs", "show", a[:6]], env={**ENV, "EVFLEX_STORE": str(path)})
    assert result.exit_code == 0, result.output
    assert f"Run {a}" in result.stdout


def test_show_prints_metadata_and_outputs(store: tuple[Path, str, str]) -> None:
    path, a, _ = store
    result = runner.invoke(app, ["runs", "show", "latest~1", "--store", str(path),
                                 "--scenario"], env=ENV)
    assert result.exit_code == 0, result.output
    for text in (a, "base v3.0", "V2G (active export) [% of EVs]",
                 "v2g_export_power [GW]", "2100", "bidirectional_models:"):
        assert text in result.stdout, text
    passed = re.search(r"\b(\d+)/(\d+) pass", result.stdout)
    assert passed is not None and 30 <= int(passed.group(1)) <= int(passed.group(2))


def test_bad_run_id_is_one_line_exit_1(store: tuple[Path, str, str]) -> None:
    path, _, _ = store
    for command in (["runs", "show", "zzzzzz"], ["runs", "export", "zzzzzz", "--out", "x"]):
        result = runner.invoke(app, [*command, "--store", str(path)], env=ENV)
        assert result.exit_code == 1
        line = _one_line(result.stderr)
        assert line.startswith("run: no run 'zzzzzz' in the store")
        assert str(path) in line.replace("\n", "")


def test_missing_store_is_one_line_exit_1(tmp_path: Path) -> None:
    missing = tmp_path / "nothing.duckdb"
    result = runner.invoke(app, ["runs", "list", "--store", str(missing)], env=ENV)
    assert result.exit_code == 1
    assert "no run store there" in _one_line(result.stderr)
    assert not missing.exists()


def test_export_writes_the_run_files(store: tuple[Path, str, str], tmp_path: Path,
                                     base_run: Run) -> None:
    path, a, _ = store
    out = tmp_path / "exported"
    result = runner.invoke(app, ["runs", "export", a, "--out", str(out), "--store", str(path)],
                           env=ENV)
    assert result.exit_code == 0, result.output
    for name in ("states", "fleet", "funnel", "capacity", "checks", "energy_funnel",
                 "assumptions"):
        assert (out / f"{name}.csv").exists() and (out / f"{name}.parquet").exists()
    for name in ("states.png", "funnel.png", "scenario.yaml", "run.json"):
        assert (out / name).stat().st_size > 0, name
    states = pd.read_csv(out / "states.csv")
    assert list(states.columns) == ["region", "segment", "year", "state", "vehicles", "share"]
    pd.testing.assert_frame_equal(pd.read_parquet(out / "capacity.parquet"),
                                  base_run[1]["capacity"])
    from evflex.scenario import load_scenario

    assert load_scenario(out / "scenario.yaml") == base_run[0].scenario


def test_export_into_a_file_fails_cleanly(store: tuple[Path, str, str], tmp_path: Path) -> None:
    path, a, _ = store
    blocker = tmp_path / "file"
    blocker.write_text("keep me")
    result = runner.invoke(app, ["runs", "export", a, "--out", str(blocker), "--store",
                                 str(path)], env=ENV)
    assert result.exit_code == 1
    assert _one_line(result.stderr).startswith("--out: cannot write the run")
    assert blocker.read_text() == "keep me"


def test_check_command(store: tuple[Path, str, str]) -> None:
    path, _, _ = store
    result = runner.invoke(app, ["runs", "check", "--store", str(path)], env=ENV)
    assert result.exit_code == 0, result.output
    assert "2 run(s), schema version 2, all whole" in result.stdout


def test_diff_of_two_runs_writes_its_files(store: tuple[Path, str, str],
                                           tmp_path: Path) -> None:
    path, a, b = store
    out = tmp_path / "diff"
    result = runner.invoke(app, ["diff", a, b, "--store", str(path), "--out", str(out),
                                 "--year", "2050", "--year", "2100"], env=ENV)
    assert result.exit_code == 0, result.output
    for text in ("Assumptions that changed", "v2g_enrolled", "Key outputs, World",
                 "Attribution of the change in 2100", "exact over 32 coalitions",
                 "Verdicts that changed", "calibration_v2g_2100"):
        assert text in result.stdout, text
    table = pd.read_csv(out / "diff.csv")
    assert list(table.columns[:7]) == ["output", "label", "unit", "year", "group",
                                       "attribution", "total_change"]
    assert sorted(table["year"].unique()) == [2050, 2100]
    sums = table.groupby(["output", "year"]).agg(s=("attribution", "sum"),
                                                 t=("total_change", "first"),
                                                 a=("value_a", "first"))
    assert ((sums["s"] - sums["t"]).abs() <= 1e-9 * sums["a"].abs().clip(lower=1)).all()
    png = (out / "waterfall.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
    for name in ("changes.csv", "outputs.csv", "verdicts.csv", "diff.json"):
        assert (out / name).stat().st_size > 0


def test_diff_bad_input(store: tuple[Path, str, str], tmp_path: Path) -> None:
    path, a, _ = store
    cases = [
        (["diff", "zzzz", "base"], "A: no run, scenario file or shipped scenario named 'zzzz'"),
        (["diff", a, "base", "--by", "colour"], "--by: unknown grouping (got 'colour'"),
        (["diff", a, "slow_v2g", "--year", "1990"], "--year: not on both year axes (got 1990"),
        (["diff", a, "slow_v2g", "--year", "2050", "--chart-year", "2100"],
         "--chart-year: not one of the diff's years (got 2100"),
    ]
    for args, start in cases:
        out = tmp_path / "never"
        result = runner.invoke(app, [*args, "--store", str(path), "--out", str(out)], env=ENV)
        assert result.exit_code == 1, (args, result.output)
        assert _one_line(result.stderr).startswith(start), result.stderr
        assert not out.exists()


def test_real_process_exit_code_and_message(store: tuple[Path, str, str]) -> None:
    path, _, _ = store
    proc = subprocess.run([sys.executable, "-m", "evflex.cli", "runs", "show", "nope1",
                           "--store", str(path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert _one_line(proc.stderr).startswith("run: no run 'nope1' in the store")


def test_diff_on_a_narrow_terminal_lists_assumptions_as_rows(tmp_path: Path) -> None:
    result = runner.invoke(app, ["diff", "base", "slow_v2g", "--out", str(tmp_path / "d"),
                                 "--store", str(tmp_path / "none.duckdb"), "--year", "2100"],
                           env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert "every output in diff.csv" in result.stdout
    lines = result.stdout.splitlines()
    assert any(line.lstrip("│ ").startswith("v2g_enrolled") for line in lines)
    assert any(line.lstrip("│ ").startswith("total") for line in lines)
