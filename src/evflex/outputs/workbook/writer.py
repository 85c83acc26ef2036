"""The workbook writer: sheets in order, written all or nothing."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import xlsxwriter

from evflex import __version__
from evflex.capacity import Availability
from evflex.model import Results
from evflex.outputs.content import (
    JUDGEMENT_SECTIONS,
    complete_tables,
    sources_table,
    write_atomically,
)
from evflex.outputs.workbook.capacity import _write_capacity, _write_capacity_cells
from evflex.outputs.workbook.cells import (
    SHEET_ASSUMPTIONS,
    SHEET_CAPACITY,
    SHEET_CAPACITY_CELLS,
    SHEET_CHECK_CELLS,
    SHEET_CHECKS,
    SHEET_FILTERS,
    SHEET_FLEET,
    SHEET_HOURLY,
    SHEET_SOURCES,
    SHEET_STATES,
    SHEET_SUMMARY,
    _Formats,
)
from evflex.outputs.workbook.checks import _write_checks
from evflex.outputs.workbook.filters import _live_inputs, _write_filters
from evflex.outputs.workbook.judgement import _write_judgement
from evflex.outputs.workbook.scorecard import write_live_scorecard
from evflex.outputs.workbook.states import _write_states
from evflex.outputs.workbook.static import (
    _write_assumptions,
    _write_fleet,
    _write_hourly,
    _write_sources,
)
from evflex.outputs.workbook.summary import _write_summary


def write_workbook(path: str | Path, results: Results,
                   tables: Mapping[str, pd.DataFrame], *,
                   availability: Availability | None = None) -> None:
    """Write the run as a live Excel workbook at ``path`` (``workbook.xlsx``).

    ``tables`` are the run's output tables (``states, fleet, funnel, capacity, checks,
    assumptions, energy_funnel``; ``hourly`` when vehicles were simulated; the
    judgement's ``comparators, triggers, scorecard, implications, summary, evidence``).
    Missing engine tables are computed from ``results``; a missing judgement table gives
    a sheet that says so. The file is written to a temporary name and moved in, so an
    error leaves any earlier file in place.

    ``availability`` is the one the run used when it came from a simulation (the
    Capacity by Cell sheet shows it as inputs); by default the scenario's parameters.
    """
    full = complete_tables(results, tables)
    write_atomically(Path(path), lambda p: _build(p, results, full, availability))


def _build(path: Path, results: Results, tables: Mapping[str, pd.DataFrame],
           availability: Availability | None = None) -> None:
    wb = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False,
                                         "strings_to_formulas": False,
                                         "strings_to_urls": False})
    try:
        sc = results.scenario
        wb.set_properties({"title": f"evflex {sc.name} v{sc.version}",
                           "subject": "EV fleet as a grid resource",
                           "author": "evflex", "comments": f"written by evflex {__version__}"})
        wb.set_calc_mode("auto")
        fmts = _Formats(wb)
        live = _live_inputs(results)
        # Every sheet in its place first: formulas refer forwards and backwards.
        order = [SHEET_SUMMARY, SHEET_ASSUMPTIONS, SHEET_FLEET, SHEET_FILTERS, SHEET_STATES,
                 SHEET_CAPACITY, SHEET_CAPACITY_CELLS,
                 *([SHEET_HOURLY] if "hourly" in tables else []), SHEET_CHECKS,
                 SHEET_CHECK_CELLS,
                 *(sheet for sheet, key, _, _ in JUDGEMENT_SECTIONS
                   if key != "evidence" or key in tables), SHEET_SOURCES]
        for name in order:
            wb.add_worksheet(name)
        about = {
            SHEET_ASSUMPTIONS: "every parameter with its unit, source and year",
            SHEET_FLEET: "stock, sales, retirements; EV shares (engine values)",
            SHEET_FILTERS: "the filter inputs (editable) and the V2G funnel (live)",
            SHEET_STATES: "exclusive states as formulas over the filters (live)",
            SHEET_CAPACITY: "GW and GWh of the managed envelope and of V2G (live)",
            SHEET_CAPACITY_CELLS: "availability and power inputs; capacity per cell (live)",
            SHEET_HOURLY: "simulated charging profiles against the system load",
            SHEET_CHECKS: "pass/fail of every denominator check (live where it can be)",
            SHEET_CHECK_CELLS: "what each live check measures, per cell (live)",
            SHEET_SOURCES: "every source, with what it is used for",
            **{sheet: short for sheet, _, short, _ in JUDGEMENT_SECTIONS},
        }
        _write_assumptions(wb, fmts, tables["assumptions"])
        _write_fleet(wb, fmts, tables["fleet"])
        flt = _write_filters(wb, fmts, live, tables["energy_funnel"])
        st = _write_states(wb, fmts, live, flt, results)
        source = str(results.data.attrs.get("availability_source", "scenario"))
        cap = _write_capacity_cells(wb, fmts, results, live, flt, st, availability)
        _write_capacity(wb, fmts, tables["capacity"], cap, source)
        if "hourly" in tables:
            _write_hourly(wb, fmts, tables["hourly"])
        count = _write_checks(wb, fmts, tables["checks"], results, live, flt, st, cap)
        verdicts = None
        for sheet, key, _, text in JUDGEMENT_SECTIONS:
            if key == "evidence" and key not in tables:
                continue
            last = _write_judgement(wb, fmts, sheet, key, text, tables.get(key))
            if key == "scorecard":
                verdicts = write_live_scorecard(wb, fmts, sheet, last + 2, tables, st)
        _write_sources(wb, fmts, sources_table(results, tables))
        _write_summary(wb, fmts, results, tables, st,
                       [(name, about[name]) for name in order[1:]], cap, count, verdicts)
    finally:
        wb.close()
