"""``simulate`` as a command, on a small typer app of its own: files, columns, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from evflex.cli.simulate import simulate
from evflex.simulate.run import SESSION_COLUMNS

app = typer.Typer()
app.command("simulate")(simulate)


@app.command("other")
def _other() -> None:  # a second command, so that "simulate" is a sub-command as in the CLI
    """Placeholder."""


runner = CliRunner()


def test_simulate_writes_sessions_profile_availability_summary_and_chart(
        tmp_path: Path) -> None:
    out = tmp_path / "sim"
    result = runner.invoke(app, ["simulate", "--vehicles", "1500", "--days", "2", "--step",
                                 "30min", "--chunk-size", "1000", "--seed", "4", "--out",
                                 str(out)])
    assert result.exit_code == 0, result.output
    sessions = pd.read_csv(out / "sessions.csv")
    assert list(sessions.columns) == SESSION_COLUMNS
    # at most one session per vehicle and day (vehicles skip days)
    assert 1500 * 0.3 < len(sessions) <= 1500 * 2
    assert sessions["vehicle"].between(0, 1499).all()
    assert sessions.groupby("vehicle").size().max() <= 2
    profile = pd.read_csv(out / "profile.csv")
    assert {"step", "base_kw", "unmanaged_kw", "managed_kw", "v2g_kw"} <= set(profile.columns)
    assert len(profile) == 2 * 48
    # the unmanaged energy equals the sessions' energy [kWh = kW x 0.5 h]
    assert profile["unmanaged_kw"].sum() * 0.5 == pytest.approx(sessions["energy_kwh"].sum(),
                                                                rel=1e-9)
    for col in ("managed_kw", "v2g_kw"):  # every strategy delivers the same energy
        assert profile[col].sum() == pytest.approx(profile["unmanaged_kw"].sum(), rel=1e-9)
    availability = pd.read_csv(out / "availability.csv")
    assert {"plug_in_share", "headroom_kwh", "plugged_power_kw", "energy_min_kwh",
            "energy_max_kwh"} <= set(availability.columns)
    summary = json.loads((out / "summary.json").read_text())
    table = pd.read_csv(out / "summary.csv").set_index("metric")["value"]
    assert summary["peak_managed_kw"] == pytest.approx(table["peak_managed_kw"])
    assert summary["avoided_peak_managed_vs_unmanaged_kw"] > 0
    assert (out / "profile.png").stat().st_size > 10_000
    # the same seed writes the same files
    again = tmp_path / "again"
    assert runner.invoke(app, ["simulate", "--vehicles", "1500", "--days", "2", "--step",
                               "30min", "--chunk-size", "1000", "--seed", "4", "--out",
                               str(again), "-q"]).exit_code == 0
    for name in ("sessions.csv", "profile.csv", "availability.csv", "summary.csv"):
        assert (out / name).read_bytes() == (again / name).read_bytes(), name


def test_no_sessions_and_custom_archetypes(tmp_path: Path) -> None:
    from importlib import resources

    shipped = resources.files("evflex.data").joinpath("simulate/archetypes.yaml").read_text()
    custom = tmp_path / "arch.yaml"
    custom.write_text(shipped.replace("target_soc: {choice: {values: [0.95]}",
                                      "target_soc: {choice: {values: [0.85]}"))
    out = tmp_path / "sim"
    result = runner.invoke(app, ["simulate", str(custom), "--vehicles", "100", "--days", "1",
                                 "--segment", "buses", "--no-sessions", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert not (out / "sessions.csv").exists()
    assert (out / "profile.csv").exists()


@pytest.mark.parametrize(("args", "field"), [
    (["--step", "7min"], "--step"),
    (["--step", "2h"], "--step"),
    (["--step", "abc"], "--step"),
    (["--vehicles", "0"], "--vehicles"),
    (["--vehicles", "1000000000"], "--vehicles"),
    (["--seed", "-1"], "--seed"),
    (["--peak-hours", "nan"], "--peak-hours"),
    (["--peak-hours", "inf"], "--peak-hours"),
    (["--base-kw-per-vehicle", "inf"], "--base-kw-per-vehicle"),
    (["--base-kw-per-vehicle", "nan"], "--base-kw-per-vehicle"),
    (["--passes", "1000000"], "--passes"),
    (["--days", "0"], "--days"),
    (["--chunk-size", "1500"], "--chunk-size"),
    (["--mix", "nobody=1"], "--mix"),
    (["--mix", "commuter_home"], "--mix"),
    (["--strategies", "managed"], "--strategies"),
    (["--segment", "boats"], "--segment"),
    (["no/such/archetypes.yaml"], "SCENARIO"),
])
def test_bad_input_is_one_line_naming_the_field(tmp_path: Path, args: list[str],
                                                 field: str) -> None:
    result = runner.invoke(app, ["simulate", "--out", str(tmp_path / "x"), *args])
    assert result.exit_code == 1, result.output
    assert result.output.startswith(f"{field}: ")
    assert "got" in result.output and "expected" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "x").exists()


def test_bad_base_load_and_bad_archetypes_file(tmp_path: Path) -> None:
    bad_load = tmp_path / "load.csv"
    bad_load.write_text("hour,load_pu\n0,1\n1,2\n")
    result = runner.invoke(app, ["simulate", "--base-load", str(bad_load), "--out",
                                 str(tmp_path / "x")])
    assert result.exit_code == 1
    assert result.output.startswith("--base-load: hour")
    bad_arch = tmp_path / "arch.yaml"
    bad_arch.write_text("version: 1\narchetypes: {}\nmixes: {}\nmixes_source: x\nextra: 1\n")
    result = runner.invoke(app, ["simulate", str(bad_arch), "--out", str(tmp_path / "x")])
    assert result.exit_code == 1
    assert result.output.startswith("SCENARIO: ")
    assert "extra" in result.output
