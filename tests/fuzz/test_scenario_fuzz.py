"""The validator is total: every file gives a scenario or ScenarioError lines, never a
traceback or a hang; every scenario it accepts runs to the end with finite results.

Hand-made hostile files first, then hypothesis-driven fuzzing (a few dozen examples here;
``pytest -m slow tests/fuzz`` and ``benchmarks/fuzz_scenarios.py`` run 10,000).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import yaml
from fuzz_generators import base_raw, full_run, fuzz_file, random_valid_raw
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evflex.judgement import load_evidence
from evflex.scenario import ScenarioError, load_scenario
from evflex.scenario.load import parse
from evflex.scenario.reader import MAX_BYTES


@pytest.fixture(scope="module")
def raw() -> dict:
    return base_raw()


@pytest.fixture(scope="module")
def base_text() -> bytes:
    return Path(str(load_scenario.__globals__["resolve_path"]("base"))).read_bytes()


@pytest.fixture
def deadline() -> Iterator[None]:
    """Fail (instead of hanging) if a single validation takes over 20 s."""
    def boom(signum: int, frame: object) -> None:
        raise TimeoutError("validation hung")
    old = signal.signal(signal.SIGALRM, boom)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def _problems(path: Path | str) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    lines = str(info.value).splitlines()
    assert lines and all(": " in line for line in lines)
    return lines


def _write(tmp_path: Path, text: str | bytes, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


EXTENDS = "extends: base\n"
ACCESS = EXTENDS + "parameters:\n  charging_access: {unit: fraction, source: assumption, value: "


@pytest.mark.parametrize(("text", "field", "words"), [
    (ACCESS + ".nan}\n",
     "parameters.charging_access.value", "finite"),
    (ACCESS + ".inf}\n",
     "parameters.charging_access.value", "finite"),
    (EXTENDS + "parameters:\n  charging_access: {unit: fraction, value: 'NaN', "
     "source: assumption}\n",
     "parameters.charging_access.value", "valid number"),
    (ACCESS + "true}\n",
     "parameters.charging_access.value", "valid number"),
    (EXTENDS + "parameters:\n  vehicle_sales_growth: {unit: 1/year, value: 1.0e308, "
     "source: assumption}\n",
     "parameters.vehicle_sales_growth.value", "out of range"),
    (EXTENDS + "parameters:\n  charger_power_kw: {unit: kW, value: 0, source: assumption}\n",
     "parameters.charger_power_kw.value", "out of range"),
    (EXTENDS + "parameters:\n  export_power_kw: {unit: kW, value: 0.0, source: assumption}\n",
     "parameters.export_power_kw.value", "out of range"),
    (EXTENDS + "targets: seed-v3.0\nyears: {end: 2050}\n", "calibration.states.year",
     "outside"),
    (EXTENDS + "segments:\n  cars: {iea_mode: cars}\n  more_cars: {iea_mode: cars}\n",
     "segments.more_cars.iea_mode", "counted twice"),
    (EXTENDS + "segments:\n  trucks: {iea_mode: trucks}\n", "segments.trucks (USA)",
     "no total-sales history"),
    (EXTENDS + "bidirectional_models: {capable_models: " + "9" * 25 + "}\n",
     "bidirectional_models.capable_models", "less than or equal"),
    ("name: a\nname: b\n", "(file)", "duplicate key 'name'"),
    ("x: " + "9" * 5000 + "\n", "(file)", "integer too long"),
    ("a: " + "[" * 3000 + "]" * 3000 + "\n", "(file)", "nested too deep"),
    ("extends: " + "x" * 300 + "\n", "extends", "too long"),
    ("a: &a [1, 2]\nb: *a\n", "(file)", "anchors and aliases"),
    ("when: 0000-01-01\n", "(file)", "not a valid date"),
    ("- 1\n- 2\n", "(file)", "not a mapping"),
])
def test_hostile_files_give_one_line_per_problem(tmp_path: Path, deadline: None, text: str,
                                                 field: str, words: str) -> None:
    lines = _problems(_write(tmp_path, text))
    assert any(line.startswith(f"{field}") and words in line
               for line in lines), lines


def test_non_utf8_and_oversized_files(tmp_path: Path, deadline: None) -> None:
    assert "not UTF-8" in _problems(_write(tmp_path, b"name: \xff\xfe\n"))[0]
    big = _write(tmp_path, b"# " + b"x" * MAX_BYTES + b"\n", "big.yaml")
    assert "too large" in _problems(big)[0]


def test_folder_fifo_and_device_are_refused_without_reading(tmp_path: Path,
                                                            deadline: None) -> None:
    folder = tmp_path / "folder.yaml"
    folder.mkdir()
    assert "a folder" in _problems(folder)[0]
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    assert "not a regular file" in _problems(fifo)[0]  # a blocking read would hang here
    assert "not a regular file" in _problems("/dev/zero")[0]


def test_yaml12_numbers_are_numbers(raw: dict) -> None:
    text = yaml.safe_dump(raw, sort_keys=False).replace("charger_power_kw:\n    unit: kW\n"
                                                        "    value: 7.2",
                                                        "charger_power_kw:\n    unit: kW\n"
                                                        "    value: 72.0e-1")
    assert "72.0e-1" in text
    from evflex.scenario.reader import load_yaml

    assert load_yaml(text)["parameters"]["charger_power_kw"]["value"] == 7.2


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(seed=st.integers(0, 2**32 - 1))
def test_fuzzed_files_never_raise_anything_else(tmp_path_factory: pytest.TempPathFactory,
                                               raw: dict, base_text: bytes, seed: int) -> None:
    rng = np.random.default_rng(seed)
    path = tmp_path_factory.mktemp("fuzz") / "f.yaml"
    path.write_bytes(fuzz_file(rng, raw, base_text))
    try:
        scenario = load_scenario(path)
    except ScenarioError as exc:
        assert exc.problems and all(str(p) for p in exc.problems)
    else:
        assert scenario.parameters


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(seed=st.integers(0, 2**32 - 1))
def test_whatever_validates_runs_to_the_end_with_finite_results(raw: dict, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(10):  # a draw may break a cross-field rule; then draw again
        try:
            scenario = parse(random_valid_raw(rng, raw))
        except ScenarioError:
            continue
        assert full_run(scenario, load_evidence()) == []
        return
