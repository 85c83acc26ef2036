"""One way to edit a scenario: set numbers of its paths, then validate it again.

Every editor uses this module: the explorer's overrides (:mod:`evflex.web.overrides`),
``evflex solve`` (:func:`evflex.uncertainty.solve.with_numbers`) and whatever a user
writes in Python. A number is named like a distribution site
(:func:`evflex.scenario.schema.site_name`): ``parameter[/override].target`` where the
target is ``value``, ``start``, ``end``, ``midpoint``, ``steepness`` or a point's year.
The edited scenario always goes through the full schema and cross-field checks
(:func:`evflex.scenario.load.parse`), so an edit can never produce a scenario that a
file with the same numbers would not pass.

>>> from evflex.scenario import load_scenario
>>> from evflex.scenario.edit import edit
>>> sc = edit(load_scenario("base"), {"v2g_active.end": 0.5})
>>> edit(sc, {"v2g_active.end": 7.0})          # doctest: +ELLIPSIS
Traceback (most recent call last):
...
evflex.scenario.load.ScenarioError: ...v2g_active...7.0...
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from evflex.scenario.load import Problem, ScenarioError, parse
from evflex.scenario.schema import Scenario, split_site_name

TARGETS: tuple[str, ...] = ("value", "start", "end", "midpoint", "steepness")


def path_number(spec: Mapping[str, Any], target: str) -> float | None:
    """The number ``target`` of one raw path mapping, or ``None`` if it has none."""
    if target == "value":
        value = spec.get("value")
        return None if value is None else float(value)
    scurve = spec.get("scurve")
    if isinstance(scurve, Mapping):
        if target in ("start", "end", "steepness"):
            return float(scurve[target])
        if target == "midpoint" and scurve.get("midpoint") is not None:
            return float(scurve["midpoint"])
        return None
    points = spec.get("points")
    if isinstance(points, Mapping) and points and target in ("start", "end"):
        year = (min if target == "start" else max)(int(y) for y in points)
        return float(points[year])
    return None


def set_number(spec: dict[str, Any], target: str, value: float) -> float | None:
    """Set ``target`` in a raw path; the old number, or ``None`` if it has no such number."""
    old = path_number(spec, target)
    if old is None:
        return None
    if target == "value":
        spec["value"] = value
    elif "scurve" in spec:
        spec["scurve"][target] = value
    else:
        points = spec["points"]
        year = (min if target == "start" else max)(int(y) for y in points)
        key = next(k for k in points if int(k) == year)
        points[key] = value
    return old


def edit(scenario: Scenario, numbers: Mapping[str, float], *,
         note: str | None = None) -> Scenario:
    """``scenario`` with the named numbers set, validated again in full.

    ``note`` (optional) is written on each edited path, e.g. who set it and why.
    Raises :class:`ScenarioError` naming the site for an unknown parameter, override or
    target, and the loader's problems for a value the scenario cannot take.
    """
    raw: dict[str, Any] = scenario.model_dump(exclude_none=True)
    problems: list[Problem] = []
    for site, value in numbers.items():
        try:
            parameter, override, target = split_site_name(site)
        except ValueError as exc:
            problems.append(Problem(site, str(exc), repr(site), "PARAMETER[/OVERRIDE].TARGET"))
            continue
        param = raw["parameters"].get(parameter)
        if param is None:
            problems.append(Problem(site, "unknown parameter", repr(parameter),
                                    "a parameter of the scenario"))
            continue
        spec = param if override is None else (param.get("overrides") or {}).get(override)
        if spec is None:
            problems.append(Problem(site, "unknown override", repr(override),
                                    "an override of the parameter"))
            continue
        if isinstance(target, int):
            points = spec.get("points")
            if not isinstance(points, dict):
                problems.append(Problem(site, "not a path of points", "another form",
                                        "points"))
                continue
            points[target] = float(value)
        elif set_number(spec, target, float(value)) is None:
            problems.append(Problem(site, "the path has no such number", repr(target),
                                    "one of " + ", ".join(TARGETS) + " that its form has"))
            continue
        if note is not None:
            spec["note"] = note
    if problems:
        raise ScenarioError(f"(edit of {scenario.name!r})", problems)
    return parse(raw, f"(edit of {scenario.name!r})")


__all__ = ["TARGETS", "edit", "path_number", "set_number"]
