"""Scenario overrides sent by the explorer: validate them, apply them, re-validate.

An override sets one number of a parameter's path. It is named like a distribution site
(:func:`evflex.scenario.schema.site_name`): ``parameter.target`` changes the parameter in
every region (its default path and each of its regional overrides), and
``parameter/Region.target`` changes it in one region only. Targets:

=========  ===================================================================
target     sets
=========  ===================================================================
value      a constant path's value
start      an S-curve's start, or the first of a path's points
end        an S-curve's end, or the last of a path's points (e.g. its 2100 value)
midpoint   an S-curve's midpoint year (not of one solved through an anchor)
steepness  an S-curve's steepness (its pace) [1/year]
=========  ===================================================================

Numbers in the parameter's unit are checked against the registry bounds
(``data/parameters.csv``), S-curve midpoints and steepness against the schema's bounds.
The overridden scenario is then validated in full by :func:`evflex.scenario.load.parse`,
so a change the engine cannot run (an anchor no longer between start and end, say) is
refused with the loader's message. Each changed path's source says it was set in the
explorer and keeps the shipped source beside it.

Only shipped scenarios are loaded, by name; no name from a client is used as a path.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from evflex.scenario import Scenario, ScenarioError, registry, shipped_scenarios
from evflex.scenario.edit import TARGETS, path_number, set_number
from evflex.scenario.load import merge, parse, read_raw
from evflex.scenario.schema import site_name, split_site_name

#: Bounds of the S-curve numbers that are not in the parameter's unit (as in the schema).
SCURVE_BOUNDS: dict[str, tuple[float, float]] = {"midpoint": (1900.0, 2300.0),
                                                "steepness": (0.0, 5.0)}
#: Most overrides one request may carry.
MAX_OVERRIDES = 40
EXPLORER_SOURCE = "assumption: set in the explorer"


@dataclass(frozen=True)
class OverrideProblem:
    """One bad override: where (``parameter[/Region]``, target) and why."""

    key: str
    target: str | None
    message: str

    def __str__(self) -> str:
        where = self.key if self.target is None else f"{self.key}.{self.target}"
        return f"{where}: {self.message}"


class OverrideError(ValueError):
    """Overrides that cannot be applied; ``problems`` says why, one line each."""

    def __init__(self, problems: list[OverrideProblem]):
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


# ----------------------------------------------------------------------------- shipped
def shipped_names() -> list[str]:
    """Names of the shipped scenarios, sorted (the only ones the explorer loads)."""
    return sorted(shipped_scenarios())


@lru_cache(maxsize=16)
def _raw(name: str) -> dict[str, Any]:
    return read_raw(shipped_scenarios()[name])


def raw_scenario(name: str) -> dict[str, Any]:
    """A fresh copy of a shipped scenario's merged mapping (cached read)."""
    if name not in shipped_scenarios():
        raise KeyError(name)
    return copy.deepcopy(_raw(name))


@lru_cache(maxsize=16)
def shipped_scenario(name: str) -> Scenario:
    """A shipped scenario, loaded and validated once."""
    if name not in shipped_scenarios():
        raise KeyError(name)
    return parse(raw_scenario(name), str(shipped_scenarios()[name]))


# ----------------------------------------------------------------------------- numbers
def region_path(scenario: Scenario | Mapping[str, Any], parameter: str,
                region: str) -> Mapping[str, Any]:
    """The raw path that applies to ``region``: its override, else the one it inherits (its
    IEA name's, its blocks', innermost first; never for counts), else the default path."""
    from evflex.regions import hierarchy
    from evflex.scenario.evaluate import REGION_OWN

    if isinstance(scenario, Scenario):
        param = scenario.parameters[parameter].model_dump(exclude_none=True)
    else:
        param = scenario["parameters"][parameter]
    overrides = param.get("overrides") or {}
    hier = hierarchy()
    keys = ([region] if parameter in REGION_OWN
            else [region, hier.name_of(region), *hier.blocks_of(region)])
    for key in keys:
        entry = overrides.get(key)
        if isinstance(entry, Mapping) and any(k in entry for k in ("value", "scurve", "points")):
            return entry
    return param


def _describe_missing(spec: Mapping[str, Any], target: str) -> str:
    if "value" in spec:
        form = "a constant path (use 'value')"
    elif isinstance(spec.get("scurve"), Mapping):
        form = ("an S-curve through an anchor: its midpoint follows from the anchor "
                "(use 'start', 'end' or 'steepness')" if target == "midpoint"
                else "an S-curve (use 'start', 'end', 'midpoint' or 'steepness')")
    else:
        form = "a path of points (use 'start' or 'end')"
    return f"no '{target}' in this parameter's path: it is {form}"


# ----------------------------------------------------------------------------- checking
def check_overrides(scenario: Scenario, overrides: Mapping[str, Mapping[str, float]]
                    ) -> list[OverrideProblem]:
    """Problems of ``overrides`` (``{parameter[/Region]: {target: number}}``) for a scenario.

    Checks the parameter (in the registry), the region (one of the scenario's), the
    target (a number the path has) and the number (finite, inside the bounds).
    """
    problems: list[OverrideProblem] = []
    reg = registry()
    if len(overrides) > MAX_OVERRIDES:
        problems.append(OverrideProblem("overrides", None, f"too many overrides (got "
                                        f"{len(overrides)}, expected at most {MAX_OVERRIDES})"))
        return problems
    for key, numbers in overrides.items():
        parameter, _, region = key.partition("/")
        if parameter not in reg or parameter not in scenario.parameters:
            problems.append(OverrideProblem(key, None, f"unknown parameter (got {parameter!r}, "
                                            "expected one of the parameter registry, e.g. "
                                            "'v2g_enrolled')"))
            continue
        if "/" in key and region not in scenario.regions:
            problems.append(OverrideProblem(key, None, f"unknown region (got {region!r}, "
                                            f"expected one of {list(scenario.regions)})"))
            continue
        info = reg[parameter]
        param = scenario.parameters[parameter].model_dump(exclude_none=True)
        paths = ([region_path(scenario, parameter, region)] if region
                 else [param, *(param.get("overrides") or {}).values()])
        if not numbers:
            problems.append(OverrideProblem(key, None, "no number given (expected at least "
                                            f"one of {', '.join(TARGETS)})"))
        for target, value in numbers.items():
            if target not in TARGETS:
                problems.append(OverrideProblem(key, target, f"unknown target (got {target!r}, "
                                                f"expected one of {', '.join(TARGETS)})"))
                continue
            if not isinstance(value, int | float) or isinstance(value, bool) \
                    or not math.isfinite(value):
                problems.append(OverrideProblem(key, target, f"not a finite number (got "
                                                f"{value!r}, expected a number)"))
                continue
            if all(path_number(p, target) is None for p in paths):
                problems.append(OverrideProblem(key, target, _describe_missing(paths[0], target)))
                continue
            if target in SCURVE_BOUNDS:
                lo, hi = SCURVE_BOUNDS[target]
                unit = "year" if target == "midpoint" else "1/year"
                if not (lo < value <= hi if target == "steepness" else lo <= value <= hi):
                    low = f"> {lo:g}" if target == "steepness" else f">= {lo:g}"
                    problems.append(OverrideProblem(key, target, f"out of range [{unit}] (got "
                                                    f"{value:g}, expected {low} and <= {hi:g})"))
            else:
                below = info.min is not None and value < info.min
                above = info.max is not None and value > info.max
                if below or above:
                    expected = (f"between {info.min:g} and {info.max:g}"
                                if info.min is not None and info.max is not None
                                else f">= {info.min:g}" if info.min is not None
                                else f"<= {info.max:g}")
                    problems.append(OverrideProblem(key, target, f"out of range for {parameter} "
                                                    f"[{info.unit}] (got {value:g}, expected "
                                                    f"{expected})"))
    return problems


# ----------------------------------------------------------------------------- applying
def _mark_source(spec: dict[str, Any], changes: list[str], fallback: str) -> None:
    shipped = str(spec.get("source") or fallback)
    spec["source"] = f"{EXPLORER_SOURCE} ({', '.join(changes)}); shipped source: {shipped}"


def _drop_dists(raw: dict[str, Any], dropped: set[str]) -> None:
    """Correlations of distributions that were dropped with the number they varied go too."""
    block = raw.get("uncertainty")
    if not dropped or not isinstance(block, dict):
        return
    block["correlations"] = [c for c in block.get("correlations") or []
                             if not set(c.get("between") or []) & dropped]


def apply_overrides(raw: dict[str, Any], overrides: Mapping[str, Mapping[str, float]]
                    ) -> list[dict[str, Any]]:
    """Apply checked overrides to a raw scenario mapping in place; the changes made.

    Every-region overrides (``parameter.target``) go first, then one-region ones
    (``parameter/Region.target``), so a region's own setting wins. A regional override of
    a parameter that has no entry for that region adds one, copied from the default path.
    A distribution (``dist``) of a number that is set is dropped, with its correlations:
    the explorer's single run does not draw. Returns one record per number changed:
    ``parameter, region (None: default path), target, old, new``.
    """
    changes: list[dict[str, Any]] = []
    dropped: set[str] = set()
    ordered = sorted(overrides.items(), key=lambda kv: ("/" in kv[0], kv[0]))
    for key, numbers in ordered:
        parameter, _, region = key.partition("/")
        param = raw["parameters"][parameter]
        targets: list[tuple[str | None, dict[str, Any]]]
        if region:
            entries = param.setdefault("overrides", {})
            entry = entries.get(region)
            if not (isinstance(entry, dict) and any(k in entry for k in ("value", "scurve",
                                                                           "points"))):
                inherited = region_path(raw, parameter, region)
                base = {k: copy.deepcopy(inherited[k]) for k in ("value", "scurve", "points")
                        if k in inherited}
                entry = merge(entry or {}, base) if isinstance(entry, dict) else base
                entry["source"] = param.get("source")
                if param.get("year") is not None:
                    entry["year"] = param["year"]
                entries[region] = entry
            targets = [(region, entry)]
        else:
            targets = [(None, param), *((k, v) for k, v in (param.get("overrides") or {}).items()
                                        if isinstance(v, dict))]
        for where, spec in targets:
            done = []
            for target, value in numbers.items():
                old = set_number(spec, target, float(value))
                if old is None:
                    continue
                done.append(f"{target} {old:g} → {float(value):g}")
                changes.append({"parameter": parameter, "region": where, "target": target,
                                "old": old, "new": float(value)})
                dist_key = target
                if "points" in spec and target in ("start", "end"):
                    dist_key = str((min if target == "start" else max)(
                        int(y) for y in spec["points"]))
                dists = spec.get("dist") or {}
                for k in list(dists):
                    if str(k) == dist_key:
                        del dists[k]
                        dropped.add(site_name(parameter, where, dist_key))
                if "dist" in spec and not spec["dist"]:
                    del spec["dist"]
            if done:
                _mark_source(spec, done, str(param.get("source", "")))
    _drop_dists(raw, dropped)
    return changes


def overridden_scenario(name: str, overrides: Mapping[str, Mapping[str, float]]
                        ) -> tuple[Scenario, list[dict[str, Any]]]:
    """The shipped scenario ``name`` with ``overrides`` applied and validated again.

    Raises :class:`OverrideError` for bad overrides, naming each; ``KeyError`` for a name
    that is not shipped.
    """
    base = shipped_scenario(name)
    if not overrides:
        return base, []
    problems = check_overrides(base, overrides)
    if problems:
        raise OverrideError(problems)
    raw = raw_scenario(name)
    changes = apply_overrides(raw, overrides)
    try:
        scenario = parse(raw, f"{name} (explorer overrides)")
    except ScenarioError as exc:
        raise OverrideError([_problem_of(exc_problem, overrides)
                             for exc_problem in exc.problems]) from None
    return scenario, changes


def _problem_of(problem: Any, overrides: Mapping[str, Mapping[str, float]]) -> OverrideProblem:
    """A loader problem of the overridden scenario, named after the override that caused it."""
    path = str(problem.path)
    for key, numbers in overrides.items():
        parameter, _, region = key.partition("/")
        prefix = f"parameters.{parameter}"
        if path == prefix or path.startswith(prefix + "."):
            rest = path.removeprefix(prefix)
            if region and f".overrides.{region}" not in rest:
                continue
            target = next((t for t in numbers if t in rest), next(iter(numbers), None))
            _, _, after = rest.partition(".overrides.")
            place = f" in {after.split('.')[0]}" if after and not region else ""
            return OverrideProblem(key, target, f"{problem.problem}{place} (got {problem.got}, "
                                   f"expected {problem.expected})")
    return OverrideProblem("overrides", None, str(problem))


def parse_site(name: str) -> tuple[str, str]:
    """``parameter[/Region].target`` → (``parameter[/Region]``, target); ``ValueError``."""
    parameter, region, target = split_site_name(name)
    if isinstance(target, int):
        raise ValueError(f"not a target (got {name!r}, expected one of {', '.join(TARGETS)})")
    return (parameter if region is None else f"{parameter}/{region}"), target
