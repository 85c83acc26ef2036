"""The commands: files written, exit codes and one-line messages."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from evflex.cli import app

runner = CliRunner()


def _scenario(tmp_path: Path) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text("""extends: base
name: small
version: '1'
parameters:
  v2g_enrolled:
    dist: {end: {kind: triangular, low: 0.4, mode: 0.745, high: 0.9, source: assumption}}
  plug_in_share_at_peak:
    dist: {value: {kind: uniform, low: 0.4, high: 0.8, source: assumption}}
""")
    return path


def test_montecarlo_writes_tables_and_fan_charts(tmp_path: Path) -> None:
    out = tmp_path / "mc"
    result = runner.invoke(app, ["montecarlo", str(_scenario(tmp_path)), "--draws", "300",
                                 "--seed", "7", "--out", str(out), "--no-parquet"])
    assert result.exit_code == 0, result.output
    for name in ("states_quantiles.csv", "states_vehicles_quantiles.csv",
                 "capacity_quantiles.csv", "verdict_probabilities.csv", "distributions.csv",
                 "fan_states.png", "fan_capacity.png", "fan_v2g_regions.png"):
        assert (out / name).stat().st_size > 0, name
    sq = pd.read_csv(out / "states_quantiles.csv")
    assert list(sq.columns) == ["region", "year", "state", "p05", "p25", "p50", "p75", "p95"]
    dists = pd.read_csv(out / "distributions.csv")
    assert set(dists["name"]) == {"v2g_enrolled.end", "plug_in_share_at_peak.value"}
    assert "300 draws" in result.output


@pytest.mark.parametrize(("args", "message"), [
    (["base", "--draws", "10"], "scenario 'base' has no distributions (got 0 'dist' entries"),
    (["--draws", "1"], "--draws: out of range (got 1, expected 2 to 1,000,000)"),
    (["--draws", "1000000000"], "--draws: out of range (got 1000000000, expected 2 to"),
    (["--seed", "-1"], "--seed: out of range (got -1, expected 0 to 2**64 - 1)"),
    (["nowhere.yaml"], "scenario: no such file or shipped scenario (got 'nowhere.yaml'"),
    (["--draws", "10", "--scheduler", "tcp://127.0.0.1:1"],
     "--scheduler: cannot connect (got 'tcp://127.0.0.1:1'"),
    (["--chunk-size", "0"], "--chunk-size: out of range (got 0, expected 1 to 100,000)"),
])
def test_montecarlo_bad_input_is_one_line_and_exit_1(tmp_path: Path, args: list[str],
                                                     message: str) -> None:
    result = runner.invoke(app, ["montecarlo", *args, "--out", str(tmp_path / "o")])
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "o" / "states_quantiles.csv").exists()


def test_output_folder_that_cannot_be_written_keeps_what_was_there(tmp_path: Path) -> None:
    out = tmp_path / "mc"
    out.mkdir()
    (out / "states_quantiles.csv").mkdir()  # a folder in the way
    result = runner.invoke(app, ["montecarlo", str(_scenario(tmp_path)), "--draws", "20",
                                 "--out", str(out), "--no-parquet"])
    assert result.exit_code == 1
    assert "--out: cannot write results" in result.output
    assert not (out / "capacity_quantiles.csv").exists()


def test_sensitivity_writes_sobol_and_tornado(tmp_path: Path) -> None:
    out = tmp_path / "s"
    result = runner.invoke(app, ["sensitivity", str(_scenario(tmp_path)), "--samples", "64",
                                 "--out", str(out), "--no-parquet"])
    assert result.exit_code == 0, result.output
    sobol = pd.read_csv(out / "sobol.csv")
    assert list(sobol.columns) == ["output", "input", "S1", "S1_conf", "ST", "ST_conf"]
    assert len(sobol) == 6 * 2  # six key outputs x two inputs
    assert (out / "tornado.png").stat().st_size > 0
    bad = runner.invoke(app, ["sensitivity", str(_scenario(tmp_path)), "--samples", "100",
                              "--out", str(out)])
    assert bad.exit_code == 1
    assert "--samples: not a power of two (got 100, expected e.g. 128)" in bad.output


def test_solve_reports_the_funnel_and_writes_a_runnable_scenario(tmp_path: Path) -> None:
    out = tmp_path / "solve"
    result = runner.invoke(app, ["solve", "--target", "v2g:2100:0.35", "--out", str(out),
                                 "--no-parquet"])
    assert result.exit_code == 0, result.output
    assert "Implied V2G funnel" in result.output
    funnel = pd.read_csv(out / "funnel.csv")
    assert funnel["step"].tolist()[0] == "ev_stock"
    assert funnel["solved_vehicles"].iloc[-1] > funnel["base_vehicles"].iloc[-1]
    again = runner.invoke(app, ["run", str(out / "scenario_solved.yaml"), "--out",
                                str(tmp_path / "run"), "-q"])
    assert again.exit_code == 0, again.output
    states = pd.read_csv(tmp_path / "run" / "states.csv")
    v2g = states.query("region == 'World' and segment == 'all' and year == 2100 "
                       "and state == 'v2g'")["share"].iloc[0]
    assert v2g == pytest.approx(0.35, abs=1e-4)


def test_solve_exits_4_when_the_target_is_out_of_reach(tmp_path: Path) -> None:
    result = runner.invoke(app, ["solve", "--target", "v2g:2040:0.5", "--out",
                                 str(tmp_path / "x"), "--no-parquet"])
    assert result.exit_code == 4, result.output
    assert "target not reachable: v2g:2040 = 0.5 cannot be reached within the bounds " \
           "(reachable" in result.output
    assert "Traceback" not in result.output
    targets = pd.read_csv(tmp_path / "x" / "targets.csv")
    assert not targets["met"].iloc[0]


def test_solve_without_target_is_bad_input(tmp_path: Path) -> None:
    result = runner.invoke(app, ["solve", "--out", str(tmp_path / "x")])
    assert result.exit_code == 1
    assert "--target: none given" in result.output


@pytest.mark.slow
def test_montecarlo_on_a_scheduler_given_by_address(tmp_path: Path) -> None:
    """A real scheduler and two worker processes, reached through --scheduler."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        args = ["montecarlo", str(_scenario(tmp_path)), "--draws", "1500", "--seed", "3",
                "--no-parquet", "--chunk-size", "256"]
        env = {**os.environ, "COLUMNS": "120"}
        remote = subprocess.run([sys.executable, "-m", "evflex.cli", *args, "--out",
                                 str(tmp_path / "a"), "--scheduler", cluster.scheduler_address],
                                capture_output=True, text=True, env=env, check=False)
        assert remote.returncode == 0, remote.stderr
        assert "Dask scheduler" in remote.stdout
    local = runner.invoke(app, [*args, "--out", str(tmp_path / "b")])
    assert local.exit_code == 0
    for name in ("states_quantiles.csv", "capacity_quantiles.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_montecarlo_with_simulation_replicas(tmp_path: Path) -> None:
    out = tmp_path / "mc"
    args = ["montecarlo", str(_scenario(tmp_path)), "--draws", "50", "--out", str(out),
            "--no-parquet", "--simulate-replicas", "3", "--simulate-vehicles", "1000",
            "--simulate-days", "2"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    replicas = pd.read_csv(out / "simulation_replicas.csv")
    assert len(replicas) == 3
    assert "availability from 3 simulation replicas" in result.output
    bad = runner.invoke(app, [*args[:-6], "--simulate-replicas", "2", "--simulate-vehicles",
                              "0"])
    assert bad.exit_code == 1
    assert "--simulate-vehicles: out of range (got 0, expected 1 to 1,000,000)" in bad.output
