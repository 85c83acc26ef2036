"""Evaluate a scenario's parameters into arrays over (region, segment, year).

Override precedence for a (region, segment) cell: ``Region/segment`` over ``Region``
over ``segment`` over the parameter's default path.
"""

from __future__ import annotations

import numpy as np

from evflex.paths import FloatArray, interpolate_points, logistic, midpoint_through
from evflex.scenario.load import models_to_sales_share
from evflex.scenario.schema import PathSpec, Scenario


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


def evaluate(scenario: Scenario, name: str, years: FloatArray | None = None) -> FloatArray:
    """Parameter ``name`` as an array of shape (region, segment, year)."""
    if years is None:
        years = np.asarray(scenario.years_axis, dtype=float)
    param = scenario.parameters[name]
    default = evaluate_path(param, years, scenario)
    out = np.empty((len(scenario.regions), len(scenario.segments), years.size))
    for i, region in enumerate(scenario.regions):
        for j, segment in enumerate(scenario.segments):
            spec = (param.overrides.get(f"{region}/{segment}") or param.overrides.get(region)
                    or param.overrides.get(segment))
            out[i, j] = default if spec is None else evaluate_path(spec, years, scenario)
    return out


def evaluate_all(scenario: Scenario) -> dict[str, FloatArray]:
    """Every parameter of the scenario on its year axis, shape (region, segment, year)."""
    years = np.asarray(scenario.years_axis, dtype=float)
    return {name: evaluate(scenario, name, years) for name in scenario.parameters}
