"""Scenario files: schema, extends, provenance, and one clear line per problem."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from evflex.scenario import ScenarioError, load_scenario, parameter_table, registry
from evflex.scenario.evaluate import evaluate

HEADER = "extends: base\nname: child\nversion: '1'\n"


def _problems(tmp_path: Path, body: str) -> list[str]:
    path = tmp_path / "s.yaml"
    path.write_text(HEADER + body)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    return [str(p) for p in info.value.problems]


def test_shipped_scenarios_carry_unit_and_provenance() -> None:
    for name in ("base", "slow_v2g"):
        sc = load_scenario(name)
        assert set(sc.parameters) == set(registry())
        table = parameter_table(sc)
        assert (table["source"].str.len() > 0).all()
        sourced = ~table["source"].str.lower().str.startswith("assumption")
        defaults = table["applies_to"] == "default"
        assert table.loc[sourced & defaults, "year"].notna().all()
        assert set(table["unit"]) <= {i.unit for i in registry().values()}


@pytest.mark.parametrize(("body", "expected"), [
    ("colour: blue\n", "colour: unknown key (got 'blue', expected one of name, version"),
    ("parameters:\n  v2g_active: {scurve: {start: 0.6, end: 1.4, steepness: 0.1, "
     "midpoint: 2035}, source: assumption}\n",
     "parameters.v2g_active.scurve.end: out of range for v2g_active [fraction] (got 1.4, "
     "expected between 0.0 and 1.0)"),
    ("parameters:\n  charging_access: {unit: percent}\n",
     "parameters.charging_access.unit: wrong unit (got 'percent', expected 'fraction')"),
    ("parameters:\n  charging_access:\n    overrides: {Atlantis: {value: 0.5}}\n",
     "parameters.charging_access.overrides.Atlantis: unknown override key (got 'Atlantis'"),
    ("parameters:\n  battery_kwh_bev: {value: 60, source: Somebody}\n",
     "parameters.battery_kwh_bev.year: a sourced parameter needs the source's year (got no "
     "year"),
    ("regions: [China, Mars]\n", "regions.1: unknown region (World is computed) (got 'Mars'"),
    ("parameters:\n  warranty_covers: {scurve: {start: 0, end: 1, steepness: 0.2, "
     "midpoint: 2030, anchor: {year: 2025, value: 0.5}}}\n",
     "parameters.warranty_covers.scurve: give exactly one of 'midpoint' or 'anchor' (got both"),
    ("parameters:\n  export_permitted: {scurve: {start: 0.2, end: 0.9, steepness: 0.2, "
     "anchor: {year: 2025, value: 0.95}}, source: assumption}\n",
     "parameters.export_permitted.scurve.anchor.value: anchor must lie strictly between start "
     "and end (got 0.95, expected between 0.2 and 0.9)"),
    ("years: {start: 2010, history_end: 2030, end: 2100}\n",
     "years.history_end: beyond the shipped IEA history (got 2030, expected <= 2024)"),
    ("parameters:\n  made_up: {value: 1, unit: x, source: assumption}\n",
     "parameters.made_up: unknown parameter (got 'made_up', expected one of"),
    ("calibration: {states: {year: 2100, v2g: 0.5, v2h_v2b: 0.5, grid_managed: 0.5, "
     "smart_only: 0, outside: 0, source: x}}\n",
     "calibration.states: state targets must sum to 1 (got 1.5, expected 1)"),
])
def test_each_problem_is_one_line_naming_field_value_and_expectation(
        tmp_path: Path, body: str, expected: str) -> None:
    problems = _problems(tmp_path, body)
    assert any(p.startswith(expected) for p in problems), problems
    assert all("\n" not in p for p in problems)


def test_yaml_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\n  bad: [\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert "line 2" in str(info.value)


def test_extends_inherits_and_null_deletes(tmp_path: Path) -> None:
    path = tmp_path / "child.yaml"
    path.write_text(HEADER + "calibration: {states: null}\nparameters:\n"
                    "  v2g_active: {value: 0.5, source: assumption}\n")
    child = load_scenario(path)
    base = load_scenario("base")
    assert child.calibration.states is None
    assert child.parameters["v2g_active"].value == 0.5
    assert child.parameters["v2g_active"].scurve is None  # the form was replaced
    assert child.parameters["charging_access"] == base.parameters["charging_access"]


def test_overrides_take_precedence_region_segment_over_region_over_segment(
        tmp_path: Path) -> None:
    path = tmp_path / "seg.yaml"
    path.write_text(HEADER + "segments: {cars: {iea_mode: cars}, vans: {iea_mode: vans}}\n"
                    "parameters:\n  v2g_active:\n    value: 0.1\n    source: assumption\n"
                    "    overrides:\n      vans: {value: 0.2}\n      USA: {value: 0.3}\n"
                    "      USA/vans: {value: 0.4}\n")
    sc = load_scenario(path)
    values = evaluate(sc, "v2g_active", np.array([2030.0]))[..., 0]
    r = {name: i for i, name in enumerate(sc.regions)}
    s = {name: i for i, name in enumerate(sc.segments)}
    assert values[r["China"], s["cars"]] == 0.1
    assert values[r["China"], s["vans"]] == 0.2
    assert values[r["USA"], s["cars"]] == 0.3
    assert values[r["USA"], s["vans"]] == 0.4


def test_scurve_anchor_passes_through_the_anchor() -> None:
    sc = load_scenario("base")
    anchor = sc.parameters["ev_sales_share"].overrides["China"].scurve.anchor  # type: ignore[union-attr]
    assert anchor is not None
    share = evaluate(sc, "ev_sales_share", np.array([float(anchor.year)]))[..., 0]
    china = sc.regions.index("China")
    assert share[china, 0] == pytest.approx(float(anchor.value), abs=1e-12)


def test_missing_file_is_a_clear_error() -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario("no_such_scenario")
    assert "no such file or shipped scenario" in str(info.value)
