"""A scenario as stored with a run: its merged YAML text and a hash of what it says.

The text is the scenario's mapping with its ``extends`` chain merged in (so a stored run
never depends on a parent file that may since have changed), dumped as YAML. The hash is
the SHA-256 of the canonical JSON of the *validated* scenario (keys sorted, every default
filled in), so two files that say the same thing in different words, order or comments
hash the same, and any change that the engine could see changes the hash.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import yaml

from evflex.scenario import Problem, Scenario, ScenarioError
from evflex.scenario.load import parse, read_raw, resolve_path


def canonical_json(scenario: Scenario) -> str:
    """The validated scenario as canonical JSON: sorted keys, no whitespace, defaults in."""
    return json.dumps(scenario.model_dump(mode="json"), sort_keys=True,
                      separators=(",", ":"), ensure_ascii=False)


def scenario_hash(scenario: Scenario) -> str:
    """SHA-256 (hex) of :func:`canonical_json`."""
    return hashlib.sha256(canonical_json(scenario).encode("utf-8")).hexdigest()


def as_mapping(scenario: Scenario) -> dict[str, Any]:
    """A validated scenario back as a plain mapping that :func:`parse` accepts again."""
    return scenario.model_dump(mode="python", exclude_none=True)


def dump_yaml(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def scenario_text(scenario: Scenario, source: str | Path | None) -> tuple[str, str | None]:
    """The YAML text to store for ``scenario`` and the file it came from.

    With ``source`` (a file or shipped name), the text is that file's merged mapping and
    it must validate to ``scenario`` itself; without it, the validated scenario is dumped.
    Raises :class:`ValueError` if ``source`` is not the scenario of the run.
    """
    if source is None:
        return dump_yaml(as_mapping(scenario)), None
    try:
        path = resolve_path(source)
        raw = read_raw(path)
        from_file = parse(raw, str(path))
    except ScenarioError as exc:
        raise ValueError(f"scenario_source: cannot be read (got {str(source)!r}: "
                         f"{exc.problems[0]})") from None
    if from_file != scenario:
        raise ValueError(f"scenario_source: not the scenario of this run (got {str(path)!r} "
                         f"= {from_file.name} v{from_file.version}, expected the file of "
                         f"{scenario.name} v{scenario.version} as run)")
    return dump_yaml(raw), str(path.resolve())


def load_text(text: str, source: str) -> Scenario:
    """A scenario from stored YAML text; :class:`ScenarioError` if it no longer validates."""
    from evflex.scenario.reader import ReadProblem, load_yaml

    try:
        data = load_yaml(text)
    except ReadProblem:
        data = None
    if not isinstance(data, dict):
        raise ScenarioError(source, [Problem("(stored scenario)", "not a YAML mapping",
                                             type(data).__name__, "a scenario mapping")])
    return parse(data, source)
