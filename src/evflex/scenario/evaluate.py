"""Evaluate a scenario's parameters into arrays over (region, segment, year).

Override precedence for a (region, segment) cell: ``Region/segment`` over ``Region``,
then the region's IEA name and its blocks, innermost first, each ``/segment`` before
alone (:meth:`evflex.regions.Hierarchy.override_keys`: ``China`` applies to ``CN``,
``Europe`` to ``GB``), then ``segment``, then the parameter's default path. Counts
(:data:`REGION_OWN`) are never inherited from a name or a block: only the region's own
override, the segment's, or the default applies.

:func:`evaluate_draws` does the same for a batch of draws of the scenario's
distributions (``dist``), with a leading draw axis and no Python loop per draw.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from evflex.paths import FloatArray, interpolate_points, logistic, midpoint_through
from evflex.regions import hierarchy
from evflex.scenario.schema import (
    Parameter,
    PathSpec,
    Scenario,
    models_to_sales_share,
    split_site_name,
)


def evaluate_path(spec: PathSpec, years: FloatArray, scenario: Scenario) -> FloatArray:
    """One path on the year axis [unit of the parameter]."""
    if spec.value is not None:
        return np.full(years.shape, float(spec.value))
    if spec.points is not None:
        return interpolate_points(years, spec.points)
    sc = spec.scurve
    assert sc is not None  # guaranteed by the schema's one-form validator
    if sc.midpoint is not None:
        midpoint = sc.midpoint
    else:
        assert sc.anchor is not None
        value = (models_to_sales_share(scenario) if sc.anchor.value == "bidirectional_models"
                 else float(sc.anchor.value))
        midpoint = midpoint_through(sc.anchor.year, value, sc.start, sc.end, sc.steepness)
    return logistic(years, sc.start, sc.end, midpoint, sc.steepness)


#: Parameters that are counts of a region: a block's or a name's value would be wrong for
#: each of its members, so they are never inherited. (The fleet is driven by sales from the
#: IEA history and a growth rate, which members may inherit; no count is left.)
REGION_OWN: frozenset[str] = frozenset()


def override_keys(name: str, region: str, segment: str) -> tuple[str, ...]:
    """Override keys that may apply to parameter ``name`` in a cell, first wins."""
    if name in REGION_OWN:
        return (f"{region}/{segment}", region, segment)
    return hierarchy().override_keys(region, segment)


def cell_spec(scenario: Scenario, name: str, region: str, segment: str) -> str | None:
    """The override key that applies to a (region, segment) cell, or ``None`` (default)."""
    overrides = scenario.parameters[name].overrides
    for key in override_keys(name, region, segment):
        if key in overrides:
            return key
    return None


def evaluate(scenario: Scenario, name: str, years: FloatArray | None = None) -> FloatArray:
    """Parameter ``name`` as an array of shape (region, segment, year)."""
    if years is None:
        years = np.asarray(scenario.years_axis, dtype=float)
    param = scenario.parameters[name]
    default = evaluate_path(param, years, scenario)
    out = np.empty((len(scenario.regions), len(scenario.segments), years.size))
    cache: dict[str, FloatArray] = {}
    for i, region in enumerate(scenario.regions):
        for j, segment in enumerate(scenario.segments):
            key = cell_spec(scenario, name, region, segment)
            if key is None:
                out[i, j] = default
                continue
            if key not in cache:
                cache[key] = evaluate_path(param.overrides[key], years, scenario)
            out[i, j] = cache[key]
    return out


def evaluate_path_draws(spec: PathSpec, years: FloatArray, scenario: Scenario,
                        values: Mapping[str | int, FloatArray]) -> FloatArray:
    """One path for a batch of draws, shape (D, year) [unit of the parameter].

    ``values`` maps a target of ``spec.dist`` (``value``, ``start``, ``end``,
    ``midpoint``, ``steepness`` or a point's year) to its drawn values, shape (D,);
    numbers not in ``values`` keep the path's own. An S-curve through an anchor keeps
    passing through it: its midpoint is solved for each draw.
    """
    n = len(next(iter(values.values())))
    years = np.asarray(years, dtype=float)

    def number(target: str | int, own: float) -> FloatArray:
        drawn = values.get(target)
        return (np.full((n, 1), own) if drawn is None
                else np.asarray(drawn, dtype=float).reshape(n, 1))

    if spec.value is not None:
        return np.broadcast_to(number("value", spec.value), (n, years.size)).copy()
    if spec.points is not None:
        xs = sorted(spec.points)
        ys = np.concatenate([number(x, spec.points[x]) for x in xs], axis=1)  # (D, K)
        # linear interpolation is linear in the point values: weights (K, T)
        weights = np.stack([interpolate_points(years, {x: float(x == k) for x in xs})
                            for k in xs])
        return ys @ weights
    sc = spec.scurve
    assert sc is not None  # guaranteed by the schema's one-form validator
    start, end = number("start", sc.start), number("end", sc.end)
    steepness = number("steepness", sc.steepness)
    if sc.midpoint is not None:
        midpoint = number("midpoint", sc.midpoint)
    else:
        assert sc.anchor is not None
        value = (models_to_sales_share(scenario) if sc.anchor.value == "bidirectional_models"
                 else float(sc.anchor.value))
        # as evflex.paths.midpoint_through, for arrays (validation keeps the anchor inside)
        midpoint = sc.anchor.year - np.log((value - start) / (end - value)) / steepness
    # as evflex.paths.logistic, for arrays of (D, 1) numbers against (T,) years
    z = np.clip(-steepness * (years - midpoint), -700.0, 700.0)
    return np.asarray(start + (end - start) / (1.0 + np.exp(z)), dtype=np.float64)


def evaluate_draws(scenario: Scenario,
                   draws: Mapping[str, FloatArray]) -> dict[str, FloatArray]:
    """Every parameter for a batch of draws, with a leading draw axis.

    ``draws`` maps numbers of the scenario's paths, named
    ``parameter[/override].target`` as :attr:`evflex.scenario.schema.DistSite.name`
    (e.g. ``v2g_enrolled.end``, ``charging_access/China.2100``), to their values for
    each draw, shape (D,); usually the scenario's distributions, but any number a
    distribution could vary is accepted. A parameter with drawn numbers has shape
    (D, region, segment, year); any other keeps its single-run values with a leading
    axis of length 1, so that the engine (:func:`evflex.model.compute_arrays`) computes
    what varies per draw and broadcasts the rest.
    """
    years = np.asarray(scenario.years_axis, dtype=float)
    by_path: dict[str, dict[str | None, dict[str | int, FloatArray]]] = {}
    for name, values in draws.items():
        parameter, override, target = split_site_name(name)
        param = scenario.parameters.get(parameter)
        spec = (None if param is None
                else param if override is None else param.overrides.get(override))
        if spec is None or target not in spec.dist_targets():
            raise KeyError(f"no such number in scenario {scenario.name!r}: {name!r}")
        by_path.setdefault(parameter, {}).setdefault(override, {})[target] = (
            np.asarray(values, dtype=float))
    out: dict[str, FloatArray] = {}
    for name, param in scenario.parameters.items():
        paths = by_path.get(name)
        if not paths:
            out[name] = evaluate(scenario, name, years)[None]
            continue
        n = len(next(iter(next(iter(paths.values())).values())))
        cache: dict[str | None, FloatArray] = {}

        def path(key: str | None, paths: dict[str | None, dict[str | int, FloatArray]] = paths,
                 param: Parameter = param, n: int = n,
                 cache: dict[str | None, FloatArray] = cache) -> FloatArray:
            if key not in cache:
                spec = param if key is None else param.overrides[key]
                cache[key] = (evaluate_path_draws(spec, years, scenario, paths[key])
                              if key in paths
                              else np.broadcast_to(evaluate_path(spec, years, scenario),
                                                   (n, years.size)))
            return cache[key]

        values = np.empty((n, len(scenario.regions), len(scenario.segments), years.size))
        for i, region in enumerate(scenario.regions):
            for j, segment in enumerate(scenario.segments):
                values[:, i, j] = path(cell_spec(scenario, name, region, segment))
        out[name] = values
    return out


def evaluate_all(scenario: Scenario) -> dict[str, FloatArray]:
    """Every parameter of the scenario on its year axis, shape (region, segment, year)."""
    years = np.asarray(scenario.years_axis, dtype=float)
    return {name: evaluate(scenario, name, years) for name in scenario.parameters}
