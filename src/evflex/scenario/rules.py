"""Cross-field rules of a scenario that its schema and registry bounds cannot see.

Each rule takes a schema-valid scenario whose parameters are inside their registry bounds
and returns :class:`~evflex.scenario.load.Problem` rows; a scenario that passes them all
runs to the end (engine, checks, judgement) with finite results.

- calibration years lie on the scenario's year axis (the checks read them there);
- each IEA mode feeds one segment (two segments on one mode would count its IEA history
  twice);
- in every history year the IEA EV sales of a region and segment fit inside the total
  sales that the ``vehicle_stock`` path and the survival curve imply, so the EV stock
  can never exceed the vehicle stock.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from evflex.scenario.load import Problem
    from evflex.scenario.schema import Scenario

#: Relative slack of the EV-sales rule: float round-off only.
SALES_RTOL = 1e-9


def _problem(path: str, problem: str, got: str, expected: str) -> Problem:
    from evflex.scenario.load import Problem

    return Problem(path, problem, got, expected)


def calibration_years(scenario: Scenario) -> list[Problem]:
    """Calibration anchors and state targets sit inside the years axis."""
    start, end = scenario.years.start, scenario.years.end
    out = []
    cal = scenario.calibration
    for where, target in (("calibration.anchors.year", cal.anchors),
                          ("calibration.states.year", cal.states)):
        if target is not None and not start <= target.year <= end:
            out.append(_problem(where, "outside the scenario's years", str(target.year),
                                f"between years.start {start} and years.end {end}"))
    return out


def one_segment_per_mode(scenario: Scenario) -> list[Problem]:
    """No two segments take their history from the same IEA mode."""
    owner: dict[str, str] = {}
    out = []
    for name, segment in scenario.segments.items():
        mode = segment.iea_mode
        if mode in owner:
            out.append(_problem(
                f"segments.{name}.iea_mode", f"IEA mode already used by segment "
                f"{owner[mode]!r}; its history would be counted twice", repr(mode),
                "each IEA mode (cars, vans, buses, trucks) in one segment"))
        else:
            owner[mode] = name
    return out


def history_sales_fit(scenario: Scenario) -> list[Problem]:
    """IEA EV sales never exceed the total sales implied by ``vehicle_stock`` in history.

    Total sales are those that carry the stock along its path given the survival curve
    (:func:`evflex.fleet.stock.sales_from_stock`), the same arrays the engine uses.
    """
    from evflex.fleet.history import ev_series
    from evflex.fleet.stock import sales_from_stock
    from evflex.fleet.survival import survival_by_age
    from evflex.scenario.evaluate import evaluate

    years = [y for y in scenario.years_axis if y <= scenario.years.history_end]
    if not years:
        return []
    axis = np.asarray(years, dtype=float)
    # The stock-flow of history needs only the history years: sales in a year depend on
    # earlier years alone.
    stock = evaluate(scenario, "vehicle_stock", axis)
    life = evaluate(scenario, "survival_mean_life", axis)[..., 0]
    shape = evaluate(scenario, "survival_shape", axis)[..., 0]
    growth = evaluate(scenario, "pre_history_growth", axis)[..., 0]
    surv_age = survival_by_age(life, shape, scenario.options.survival_max_age)
    with np.errstate(all="ignore"):
        sales = sales_from_stock(stock, surv_age, growth)[0]
    ev = ev_series("ev_sales", scenario.regions, list(scenario.segments), years,
                   [seg.iea_mode for seg in scenario.segments.values()]).sum(axis=2)
    excess = ev - sales * (1.0 + SALES_RTOL)
    out = []
    for i, region in enumerate(scenario.regions):
        for j, segment in enumerate(scenario.segments):
            bad = np.flatnonzero(excess[i, j] > 0)
            if bad.size == 0:
                continue
            k = int(bad[0])
            out.append(_problem(
                f"parameters.vehicle_stock ({region}/{segment})",
                f"in {years[k]} IEA EV sales exceed the total sales the vehicle stock path "
                "implies (the EV stock would exceed the vehicle stock)",
                f"EV sales {ev[i, j, k]:,.0f} > sales {sales[i, j, k]:,.0f} "
                f"(stock {stock[i, j, k]:,.0f})",
                "a vehicle stock path large and growing enough for the IEA EV history"))
    return out


#: Every rule, in report order.
RULES = (calibration_years, one_segment_per_mode, history_sales_fit)


def rule_problems(scenario: Scenario) -> list[Problem]:
    """Problems found by every rule."""
    return [p for rule in RULES for p in rule(scenario)]
