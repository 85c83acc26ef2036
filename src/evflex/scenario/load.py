"""Load a scenario file: YAML → ``extends`` merge → schema → cross-field checks.

Every problem is reported as one :class:`Problem`, printed as
``field.path: problem (got X, expected Y)``. Loading never raises anything but
:class:`ScenarioError` for a bad file.
"""

from __future__ import annotations

import copy
import types
import typing
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ValidationError

from evflex.paths import midpoint_through
from evflex.regions import hierarchy
from evflex.scenario.problems import Problem, ScenarioError
from evflex.scenario.reader import ReadProblem, read_mapping
from evflex.scenario.schema import (
    Parameter,
    PathSpec,
    Scenario,
    SchemaProblem,
    models_to_sales_share,
)

#: The regions of the block-level scenarios (``evflex/data/regions.csv`` lists every known
#: region, countries included; see :mod:`evflex.regions`).
KNOWN_REGIONS = ("China", "Europe", "USA", "RestOfWorld")
#: Keys of a path that select its form; a child scenario's form replaces its parent's.
PATH_FORMS = ("value", "scurve", "points")
#: The shipped scenario used when none is named.
DEFAULT_SCENARIO = "base"
#: Longest ``extends`` chain (files) and name [characters].
MAX_EXTENDS, MAX_NAME = 16, 255
#: Problems listed at most; the rest are counted in one last line.
MAX_PROBLEMS = 50




@dataclass(frozen=True)
class ParameterInfo:
    """One row of the parameter registry ``data/parameters.csv``."""

    name: str
    group: str
    unit: str
    min: float | None
    max: float | None
    vintage: bool
    denominator: str
    description: str


@cache
def registry() -> dict[str, ParameterInfo]:
    """The parameter registry: name, unit, bounds, denominator and meaning of each."""
    with resources.files("evflex.data").joinpath("parameters.csv").open("r") as fh:
        table = pd.read_csv(fh, keep_default_na=False)
    out: dict[str, ParameterInfo] = {}
    for row in table.to_dict("records"):
        out[str(row["name"])] = ParameterInfo(
            name=str(row["name"]),
            group=str(row["group"]),
            unit=str(row["unit"]),
            min=float(row["min"]) if row["min"] != "" else None,
            max=float(row["max"]) if row["max"] != "" else None,
            vintage=row["vintage"] == "yes",
            denominator=str(row["denominator"]),
            description=str(row["description"]),
        )
    return out


def shipped_scenarios() -> dict[str, Path]:
    """Names and paths of the scenarios shipped with evflex."""
    folder = resources.files("evflex.data").joinpath("scenarios")
    return {Path(p.name).stem: Path(str(p)) for p in folder.iterdir() if p.name.endswith(".yaml")}


def resolve_path(name_or_path: str | Path | None) -> Path:
    """A scenario file from a path, or from the name of a shipped scenario."""
    if name_or_path is None:
        name_or_path = DEFAULT_SCENARIO
    path = Path(name_or_path)
    try:
        if path.exists():
            return path
    except (OSError, ValueError):  # a name too long for the file system, a NUL byte
        pass
    shipped = shipped_scenarios()
    if str(name_or_path) in shipped:
        return shipped[str(name_or_path)]
    raise ScenarioError(
        str(name_or_path),
        [
            Problem(
                "scenario",
                "no such file or shipped scenario",
                _short(str(name_or_path)),
                f"an existing YAML file or one of {sorted(shipped)}",
            )
        ],
    )


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        return read_mapping(path)
    except ReadProblem as exc:
        raise ScenarioError(str(path), [Problem("(file)", exc.problem, exc.got, exc.expected)]
                            ) from None


def merge(parent: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge ``child`` onto ``parent``.

    Mappings merge key by key; ``null`` in the child deletes the key; a child path that
    names a form (``value``/``scurve``/``points``) replaces the parent's form and drops
    the parent's distributions (``dist``) of it; ``overrides`` entries are replaced whole,
    unless the child's entry names no form (e.g. only ``dist``): then it adds to it.
    """
    out = copy.deepcopy(parent)
    if any(k in child for k in PATH_FORMS):
        for k in (*PATH_FORMS, "dist"):
            out.pop(k, None)
    for key, value in child.items():
        if value is None:
            out.pop(key, None)
        elif key == "overrides" and isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **{
                k: (merge(out[key][k], v) if _adds_to_path(v) and isinstance(out[key].get(k), dict)
                    else copy.deepcopy(v))
                for k, v in value.items()}}
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _adds_to_path(entry: Any) -> bool:
    """A child's override entry that names no path form only adds to the parent's entry."""
    return isinstance(entry, dict) and not any(k in entry for k in PATH_FORMS)


def read_raw(path: Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The scenario's mapping with its ``extends`` chain merged in."""
    data = _read_yaml(path)
    parent_name = data.pop("extends", None)
    if parent_name is None:
        return data
    if not isinstance(parent_name, str) or not parent_name.strip():
        raise ScenarioError(
            str(path), [Problem("extends", "not a name", _short(parent_name), "a scenario name")]
        )
    if len(parent_name) > MAX_NAME or "\0" in parent_name:
        raise ScenarioError(str(path), [Problem(
            "extends", "name too long or not printable", _short(parent_name),
            f"a scenario name or file of at most {MAX_NAME} characters")])
    if len(_seen) >= MAX_EXTENDS:
        raise ScenarioError(str(path), [Problem(
            "extends", "chain of extends too long", f"more than {MAX_EXTENDS} files",
            f"at most {MAX_EXTENDS} files")])
    sibling = path.parent / f"{parent_name}.yaml"
    try:
        use_sibling = sibling.is_file()
    except (OSError, ValueError):
        use_sibling = False
    parent_path = sibling if use_sibling else resolve_path(parent_name)
    if parent_path.resolve() in _seen:
        raise ScenarioError(
            str(path),
            [Problem("extends", "circular extends", parent_name, "a chain without loops")],
        )
    parent = read_raw(parent_path, (*_seen, path.resolve()))
    # a named target set is the parent's calibration, not a property its variants share
    parent.pop("targets", None)
    return merge(parent, data)


def _short(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping" if value else "{}"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _unwrap(annotation: Any) -> Any:
    """Strip Optional/Annotated down to a model class or a dict/list type."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
            annotation = models[0] if models else args[0]
        else:
            return annotation


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    """The keys the schema allows at the mapping that holds ``loc[-1]``."""
    current: Any = Scenario
    for part in loc[:-1]:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return []
            current = field.annotation
        elif typing.get_origin(current) in (dict, list):
            current = typing.get_args(current)[-1]
        else:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _expected(err: Any) -> str:
    ctx = err.get("ctx") or {}
    kind = err["type"]
    bounds = {"greater_than": "> {gt}", "greater_than_equal": ">= {ge}",
              "less_than": "< {lt}", "less_than_equal": "<= {le}"}
    if kind in bounds:
        return bounds[kind].format(**ctx)
    if kind == "literal_error":
        return f"one of {ctx.get('expected')}"
    if kind == "extra_forbidden":
        allowed = _allowed_keys(tuple(err["loc"]))
        return "one of " + ", ".join(allowed) if allowed else "no such key"
    if kind == "missing":
        return "a value"
    if kind == "finite_number":
        return "a finite number"
    if kind in ("float_type", "float_parsing"):
        return "a number"
    if kind.endswith("_type") or kind.endswith("_parsing"):
        return kind.removesuffix("_type").removesuffix("_parsing").replace("_", " ")
    if kind == "too_short":
        return f"at least {ctx.get('min_length')} item(s)"
    return "a valid value"


def _from_validation_error(exc: ValidationError) -> list[Problem]:
    problems = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(scenario)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        got = "nothing" if err["type"] == "missing" else _short(err.get("input"))
        found = (err.get("ctx") or {}).get("error")
        if isinstance(found, SchemaProblem):
            where = f"{loc}.{found.field}" if found.field else loc
            problems.append(Problem(where, found.problem, found.got, found.expected))
            continue
        problems.append(Problem(loc, msg, got, _expected(err)))
    return problems


def _check_path(name: str, where: str, spec: PathSpec, info: ParameterInfo,
                scenario: Scenario) -> list[Problem]:
    problems = []
    values: list[tuple[str, float]] = []
    if spec.value is not None:
        values.append((f"{where}.value", spec.value))
    if spec.points is not None:
        values.extend((f"{where}.points.{y}", v) for y, v in spec.points.items())
    if spec.scurve is not None:
        sc = spec.scurve
        values += [(f"{where}.scurve.start", sc.start), (f"{where}.scurve.end", sc.end)]
        if sc.anchor is not None and not isinstance(sc.anchor.value, str) and not (
                (info.min is None or sc.anchor.value >= info.min)
                and (info.max is None or sc.anchor.value <= info.max)):
            # the reference value (today's, pinned by evidence) outside the bounds: one line
            # naming it, not also the start/end ordering it breaks
            problems.append(Problem(
                f"{where}.scurve.anchor.value",
                f"reference value out of range for {name} [{info.unit}]",
                _short(sc.anchor.value),
                f"between {info.min} and {info.max}" if info.max is not None
                else f">= {info.min}"))
            return problems
        if sc.anchor is not None:
            anchor = (models_to_sales_share(scenario) if sc.anchor.value == "bidirectional_models"
                      else float(sc.anchor.value))
            try:
                midpoint_through(sc.anchor.year, anchor, sc.start, sc.end, sc.steepness)
            except ValueError:
                problems.append(Problem(
                    f"{where}.scurve.anchor.value",
                    "anchor must lie strictly between start and end",
                    _short(anchor), f"between {sc.start} and {sc.end}"))
    for path, v in values:
        lo, hi = info.min, info.max
        if not ((lo is None or v >= lo) and (hi is None or v <= hi)):
            problems.append(Problem(path, f"out of range for {name} [{info.unit}]", _short(v),
                                    f"between {lo} and {hi}" if hi is not None else f">= {lo}"))
    return problems


#: Bounds of the S-curve numbers that are not in the parameter's unit.
_SCURVE_BOUNDS = {"midpoint": (1900.0, 2300.0), "steepness": (0.0, 5.0)}


def _check_dists(name: str, where: str, spec: PathSpec, info: ParameterInfo,
                 scenario: Scenario) -> list[Problem]:
    """Distributions of one path: support inside the bounds, base value inside the support."""
    from scipy.special import ndtr

    problems = []
    for target, dist in (spec.dist or {}).items():
        at = f"{where}.dist.{target}"
        lo, hi = (_SCURVE_BOUNDS[target] if isinstance(target, str) and target in _SCURVE_BOUNDS
                  else (info.min, info.max))
        s_lo, s_hi = dist.support
        unit = "year" if target == "midpoint" else "1/year" if target == "steepness" else info.unit
        if (lo is not None and s_lo < lo) or (hi is not None and s_hi > hi):
            expected = (f"low >= {lo:g} and high <= {hi:g}" if lo is not None and hi is not None
                        else f"low >= {lo:g}" if lo is not None else f"high <= {hi:g}")
            of = (f"an S-curve {target}" if isinstance(target, str) and target in _SCURVE_BOUNDS
                  else name)
            problems.append(Problem(at, f"distribution reaches outside the bounds of {of} "
                                    f"[{unit}]", f"{s_lo:g} to {s_hi:g}", expected))
            continue
        base = spec.base_value(target)
        if not s_lo <= base <= s_hi:
            problems.append(Problem(at, "the path's own value lies outside the distribution",
                                    f"{base:g}", f"between {s_lo:g} and {s_hi:g}"))
        if dist.kind in ("normal", "lognormal") and (dist.low is not None
                                                     or dist.high is not None):
            if dist.kind == "normal":
                centre, scale, t_lo, t_hi = dist.mean, dist.sd, s_lo, s_hi
            else:  # lognormal: the bounds in log space
                centre, scale = np.log(dist.median or 1.0), dist.sigma
                t_lo, t_hi = (np.log(s_lo) if s_lo > 0 else -np.inf), np.log(s_hi)
            assert centre is not None and scale is not None
            mass = float(ndtr((t_hi - centre) / scale) - ndtr((t_lo - centre) / scale))
            if mass < 1e-6:
                problems.append(Problem(at, "the bounds hold almost none of the distribution",
                                        f"probability {mass:.3g} between {s_lo:g} and {s_hi:g}",
                                        "bounds around the mean or median"))
    sc = spec.scurve
    if sc is not None and sc.anchor is not None and spec.dist:
        anchor = (models_to_sales_share(scenario) if sc.anchor.value == "bidirectional_models"
                  else float(sc.anchor.value))
        ranges = {t: (spec.dist[t].support if t in spec.dist else (v, v))
                  for t, v in (("start", sc.start), ("end", sc.end))}
        (s_lo, s_hi), (e_lo, e_hi) = ranges["start"], ranges["end"]
        if not (s_hi < anchor < e_lo or e_hi < anchor < s_lo):
            problems.append(Problem(
                f"{where}.dist", "draws of start or end would not keep the anchor strictly "
                "between them", f"anchor {anchor:.4g}, start {ranges['start'][0]:g} to "
                f"{ranges['start'][1]:g}, end {ranges['end'][0]:g} to {ranges['end'][1]:g}",
                "start and end ranges on either side of the anchor"))
    return problems


def _check_correlations(scenario: Scenario) -> list[Problem]:
    """Correlations name existing distributions, once each, and form a PSD matrix."""
    problems = []
    names = [d.name for d in scenario.distributions()]
    index = {n: i for i, n in enumerate(names)}
    matrix = np.eye(len(names))
    seen: set[frozenset[str]] = set()
    for i, corr in enumerate(scenario.uncertainty.correlations):
        at = f"uncertainty.correlations.{i}"
        unknown = [n for n in corr.between if n not in index]
        if unknown:
            problems.append(Problem(f"{at}.between", "no such distribution", repr(unknown[0]),
                                    "one of " + ", ".join(names) if names
                                    else "a parameter with a 'dist'"))
            continue
        a, b = corr.between
        if a == b:
            problems.append(Problem(f"{at}.between", "a distribution with itself", repr(a),
                                    "two different distributions"))
            continue
        if frozenset((a, b)) in seen:
            problems.append(Problem(f"{at}.between", "pair given twice", f"{a}, {b}",
                                    "each pair once"))
            continue
        seen.add(frozenset((a, b)))
        matrix[index[a], index[b]] = matrix[index[b], index[a]] = corr.rho
    if not problems and len(names):
        smallest = float(np.linalg.eigvalsh(matrix).min())
        if smallest < -1e-10:
            problems.append(Problem("uncertainty.correlations",
                                    "correlation matrix is not positive semi-definite",
                                    f"smallest eigenvalue {smallest:.4g}", ">= 0"))
    return problems


def cross_check(scenario: Scenario) -> list[Problem]:
    """Problems the schema alone cannot see: registry, units, bounds, override keys."""
    problems: list[Problem] = []
    reg = registry()
    hier = hierarchy()
    known = hier.region_ids
    for i, region in enumerate(scenario.regions):
        if region not in known:
            problems.append(Problem(f"regions.{i}", "unknown region (World is computed)",
                                    repr(region), f"a region of evflex/data/regions.csv "
                                    f"(e.g. {', '.join(known[:5])}, GB, DE)"))
    resolutions = {r: res for r, res in zip(hier.regions["region"],
                                            hier.regions["resolution"], strict=True)}
    mixed = sorted({resolutions[r] for r in scenario.regions if r in resolutions})
    if len(mixed) > 1:
        problems.append(Problem("regions", "regions of two resolutions (the World would "
                                "count them twice)", ", ".join(mixed),
                                "regions of one resolution: blocks or countries"))
    if len(set(scenario.regions)) != len(scenario.regions):
        problems.append(Problem("regions", "duplicate region", str(scenario.regions),
                                "each region once"))
    if scenario.years.history_end > 2024:
        problems.append(Problem("years.history_end", "beyond the shipped IEA history",
                                str(scenario.years.history_end), "<= 2024"))
    for name in sorted(set(reg) - set(scenario.parameters)):
        problems.append(Problem(f"parameters.{name}", "missing parameter", "nothing",
                                f"a path in [{reg[name].unit}]"))
    # Overrides for a known region the scenario leaves out (e.g. inherited through
    # ``extends``) are allowed and unused; anything else is a typo.
    regions = (set(scenario.regions) | set(known) | set(hier.block_names)
               | set(hier.regions["name"]))
    keys = regions | set(scenario.segments) | {
        f"{r}/{s}" for r in regions for s in scenario.segments
    }
    for name, param in scenario.parameters.items():
        where = f"parameters.{name}"
        if name not in reg:
            problems.append(Problem(where, "unknown parameter", repr(name),
                                    "one of " + ", ".join(sorted(reg))))
            continue
        info = reg[name]
        if param.unit != info.unit:
            problems.append(Problem(f"{where}.unit", "wrong unit", repr(param.unit),
                                    repr(info.unit)))
        problems += _check_path(name, where, param, info, scenario)
        problems += _check_dists(name, where, param, info, scenario)
        for key, spec in param.overrides.items():
            if key not in keys:
                problems.append(Problem(f"{where}.overrides.{key}", "unknown override key",
                                        repr(key), "a region, a block, a segment or "
                                        "'Region/segment'"))
                continue
            problems += _check_path(name, f"{where}.overrides.{key}", spec, info, scenario)
            problems += _check_dists(name, f"{where}.overrides.{key}", spec, info, scenario)
    problems += _check_correlations(scenario)
    return problems


def parse(data: dict[str, Any], source: str = "(scenario)") -> Scenario:
    """Validate a scenario mapping (``extends`` already merged).

    Schema first, then the registry (units, bounds, keys), then the cross-field rules of
    :mod:`evflex.scenario.rules`; raises :class:`ScenarioError` with one line per problem.
    """
    from evflex.scenario.rules import rule_problems
    from evflex.scenario.targets import apply_targets

    if isinstance(data, dict):
        data = dict(data)
        if isinstance(data.get("calibration"), dict):
            data["calibration"] = dict(data["calibration"])
        problem = apply_targets(data)
        if problem is not None:
            raise ScenarioError(source, [Problem(*problem)])
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(source, _capped(_from_validation_error(exc))) from None
    except (RecursionError, ValueError, OverflowError, TypeError) as exc:
        raise ScenarioError(source, [Problem("(scenario)", f"cannot be validated: "
                                             f"{type(exc).__name__}", _short(str(exc)),
                                             "a scenario mapping")]) from None
    problems = cross_check(scenario)
    if not problems:
        problems = rule_problems(scenario)
    if problems:
        raise ScenarioError(source, _capped(problems))
    return scenario


def _capped(problems: list[Problem]) -> list[Problem]:
    """At most :data:`MAX_PROBLEMS` problems, the rest counted in one last line."""
    if len(problems) <= MAX_PROBLEMS:
        return problems
    rest = len(problems) - MAX_PROBLEMS
    return [*problems[:MAX_PROBLEMS],
            Problem("(scenario)", f"{rest} more problem(s) not listed", f"{len(problems)}",
                    f"at most {MAX_PROBLEMS} listed")]


def load_scenario(name_or_path: str | Path | None = None) -> Scenario:
    """Load and validate a scenario by path or shipped name (default: ``base``).

    Shipped scenarios are parsed once per process (they are package data, and a
    :class:`Scenario` is immutable); files are read anew on every call.
    """
    path = resolve_path(name_or_path)
    if _is_shipped(path):
        return _load_shipped(str(path))
    return parse(read_raw(path), str(path))


def _is_shipped(path: Path) -> bool:
    folder = Path(str(resources.files("evflex.data").joinpath("scenarios"))).resolve()
    return path.resolve().parent == folder


@cache
def _load_shipped(path: str) -> Scenario:
    return parse(read_raw(Path(path)), path)


def validated(scenario: Scenario | str | Path | None) -> Scenario:
    """A valid scenario from an object, a shipped name or a path (default ``base``).

    An object built or edited in code (e.g. with ``model_copy``, which skips pydantic's
    validation) goes through the same schema and cross-field checks as a file, so an
    out-of-range value raises :class:`ScenarioError` naming the field.
    """
    if not isinstance(scenario, Scenario):
        return load_scenario(scenario)
    return parse(scenario.model_dump(), f"(scenario object {scenario.name!r})")


def parameter_table(scenario: Scenario) -> pd.DataFrame:
    """Every parameter and override with its unit, form, source and year.

    ``used_by`` names the scenario's regions (``Region/segment`` where segments differ)
    whose values come from that entry: its own region, or regions that inherit it from
    their IEA name or their block (``inherited``), or the default path; empty for an
    entry no region of the scenario uses.
    """
    from evflex.scenario.evaluate import cell_spec

    rows = []
    reg = registry()

    def used_by(name: str) -> dict[str, str]:
        users: dict[str, list[str]] = {}
        for region in scenario.regions:
            keys = {seg: cell_spec(scenario, name, region, seg) for seg in scenario.segments}
            if len(set(keys.values())) == 1:
                users.setdefault(next(iter(keys.values())) or "default", []).append(region)
            else:
                for seg, key in keys.items():
                    users.setdefault(key or "default", []).append(f"{region}/{seg}")
        out = {}
        for key, regions in users.items():
            own = key == "default" or all(r.split("/")[0] == key.split("/")[0]
                                          for r in regions)
            out[key] = ", ".join(regions) + ("" if own else " (inherited)")
        return out

    def describe(spec: PathSpec) -> str:
        if spec.value is not None:
            return f"value {spec.value:g}"
        if spec.scurve is not None:
            sc = spec.scurve
            mid = (f"midpoint {sc.midpoint:g}" if sc.midpoint is not None
                   else f"through {sc.anchor.value} in {sc.anchor.year}")  # type: ignore[union-attr]
            return f"S-curve {sc.start:g}→{sc.end:g}, {mid}, steepness {sc.steepness:g}"
        pts = spec.points or {}
        return "points " + ", ".join(f"{y}: {v:g}" for y, v in sorted(pts.items()))

    for name, param in scenario.parameters.items():
        base: Parameter = param
        users = used_by(name)
        rows.append({"parameter": name, "applies_to": "default",
                     "used_by": users.get("default", ""), "unit": base.unit,
                     "group": reg[name].group if name in reg else "",
                     "denominator": reg[name].denominator if name in reg else "",
                     "path": describe(base), "source": base.source, "year": base.year,
                     "note": base.note or ""})
        for key, spec in base.overrides.items():
            rows.append({"parameter": name, "applies_to": key, "used_by": users.get(key, ""),
                         "unit": base.unit,
                         "group": reg[name].group if name in reg else "",
                         "denominator": reg[name].denominator if name in reg else "",
                         "path": describe(spec), "source": spec.source or base.source,
                         "year": spec.year if spec.source else base.year,
                         "note": spec.note or ""})
    return pd.DataFrame(rows)
