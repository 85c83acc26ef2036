"""Cross-field rules of a scenario that its schema and registry bounds cannot see.

Each rule takes a schema-valid scenario whose parameters are inside their registry bounds
and returns :class:`~evflex.scenario.load.Problem` rows; a scenario that passes them all
runs to the end (engine, checks, judgement) with finite results.

- calibration years lie on the scenario's year axis (the checks read them there);
- each IEA mode feeds one segment (two segments on one mode would count its IEA history
  twice);
- every region and segment has a total-sales history in the IEA data (EV sales / EV
  sales share in at least one history year), which the sales-driven fleet starts from.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from evflex.scenario.problems import Problem
    from evflex.scenario.schema import Scenario

def _problem(path: str, problem: str, got: str, expected: str) -> Problem:
    from evflex.scenario.problems import Problem

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


def history_sales_known(scenario: Scenario) -> list[Problem]:
    """Every region and segment has IEA total sales (EV sales / EV sales share) in history.

    The fleet is driven by sales (:mod:`evflex.fleet.sales`): its history is the IEA's, so
    a cell the IEA does not report has nothing to start from.
    """
    from evflex.fleet.history import total_sales_history

    years = [y for y in scenario.years_axis if y <= scenario.years.history_end]
    if not years:
        return []
    history = total_sales_history(scenario.regions, list(scenario.segments), years,
                                  [seg.iea_mode for seg in scenario.segments.values()])
    known = np.asarray((np.isfinite(history) & (history > 0)).any(axis=-1))
    out = []
    for i, region in enumerate(scenario.regions):
        for j, (name, segment) in enumerate(scenario.segments.items()):
            if not known[i, j]:
                out.append(_problem(
                    f"segments.{name} ({region})",
                    "no total-sales history in the IEA data (EV sales / EV sales share)",
                    f"{region}/{segment.iea_mode}, {years[0]}-{years[-1]}",
                    "a region and IEA mode the IEA reports with an EV sales share"))
    return out


#: Every rule, in report order.
RULES = (calibration_years, one_segment_per_mode, history_sales_known)


def rule_problems(scenario: Scenario) -> list[Problem]:
    """Problems found by every rule."""
    return [p for rule in RULES for p in rule(scenario)]
