"""The present pinned by evidence, and the seed's 2100 split as a named target set."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from evflex.checks import check_calibration_states
from evflex.cli import app
from evflex.judgement import apply_triggers
from evflex.model import run
from evflex.scenario import load_scenario, shipped_scenarios
from evflex.scenario.evaluate import evaluate_path
from evflex.scenario.load import models_to_sales_share, resolve_path
from evflex.scenario.targets import target_set

runner = CliRunner()
SHIPPED = ("base", "slow_v2g", "uncertain", "countries", "steps", "segments")


def _no_workbook(*args: str) -> list[str]:
    return [*args, "--no-workbook", "--no-report"]


@pytest.mark.parametrize("name", SHIPPED)
def test_every_s_curve_is_pinned_at_the_present(name: str) -> None:
    sc = load_scenario(name)
    years = np.arange(2010, 2101, dtype=float)
    for pname, param in sc.parameters.items():
        for key, spec in [("default", param), *param.overrides.items()]:
            if spec.scurve is None:
                continue
            anchor = spec.scurve.anchor
            assert anchor is not None, f"{name}: {pname}/{key} has no reference value"
            assert anchor.year in (2024, 2025), (pname, key, anchor.year)
            value = (models_to_sales_share(sc) if anchor.value == "bidirectional_models"
                     else float(anchor.value))
            path = evaluate_path(spec, years, sc)
            # today's model value is the source's number
            assert path[int(anchor.year) - 2010] == pytest.approx(value, rel=1e-12)


def test_base_is_calibrated_to_the_seed_split_within_half_a_point() -> None:
    sc = load_scenario("base")
    assert sc.targets == "seed-v3.0"
    seed = target_set("seed-v3.0")
    assert sc.calibration.states is not None and seed["tolerance"] == 0.005
    shares = run(sc).world_state_shares(2100)
    for state in ("v2g", "v2h_v2b", "grid_managed", "smart_only", "outside"):
        assert abs(shares[state] - seed[state]) <= 0.005, (state, shares[state])


def test_variants_do_not_inherit_the_targets(tmp_path: Path) -> None:
    for name in ("slow_v2g", "uncertain"):
        sc = load_scenario(name)
        assert sc.targets is None and sc.calibration.states is None
        assert check_calibration_states(run(sc)) == []


def test_a_copy_of_base_with_one_number_changed_exits_0(tmp_path: Path) -> None:
    copy = tmp_path / "mine.yaml"
    shutil.copy(resolve_path("base"), copy)
    text = copy.read_text(encoding="utf-8").replace(
        "scurve: {start: 0.0, end: 0.7446,", "scurve: {start: 0.0, end: 0.40,")
    assert "end: 0.40" in text
    copy.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    result = runner.invoke(app, _no_workbook("run", str(copy), "--out", str(out)))
    assert result.exit_code == 0, result.output
    checks = pd.read_csv(out / "checks.csv").set_index("check")
    assert checks.loc["calibration_v2g_2100", "status"] == "missed"
    assert checks.loc["calibration_v2g_2100", "kind"] == "calibration"
    assert "calibration target missed: calibration_v2g_2100" in result.output


def test_a_trigger_revised_scenario_drops_the_targets() -> None:
    fired = pd.DataFrame([{"trigger": "t", "parameter": "v2g_enrolled",
                           "proposed_change": "scurve.end +0.05", "fired": True,
                           "evidence_date": None}])
    text = apply_triggers("base", fired)
    data = yaml.safe_load(text)
    assert "targets" not in data
    assert "Not calibrated to target set seed-v3.0" in data["description"]


def test_bad_targets_and_reference_values_are_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("extends: base\nname: b\nversion: x\ntargets: seed-v9\n", encoding="utf-8")
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines == [f"{bad}: targets: no such target set (got 'seed-v9', expected one of "
                     + ", ".join(sorted(p.stem for p in (
                         resolve_path("base").parents[1] / "targets").glob("*.yaml"))) + ")"]
    bad.write_text("extends: base\nname: b\nversion: x\nparameters:\n  v2g_enrolled: {scurve: "
                   "{start: 0.0, end: 0.7, steepness: 0.1, anchor: {year: 2025, value: 1.3}}, "
                   "source: assumption}\n", encoding="utf-8")
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1
    assert "parameters.v2g_enrolled.scurve.anchor.value: reference value out of range" in lines[0]
    assert "got 1.3" in lines[0]


def test_shipped_scenarios_are_listed() -> None:
    assert set(SHIPPED) <= set(shipped_scenarios())
