"""The workbook writer: sheets in order, written all or nothing."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import xlsxwriter

from evflex import __version__
from evflex.model import Results
from evflex.outputs.content import (
    JUDGEMENT_SECTIONS,
    complete_tables,
    sources_table,
    write_atomically,
)
from evflex.outputs.workbook.capacity import _write_capacity
from evflex.outputs.workbook.cells import (
    SHEET_ASSUMPTIONS,
    SHEET_CAPACITY,
    SHEET_CHECKS,
    SHEET_FILTERS,
    SHEET_FLEET,
    SHEET_HOURLY,
    SHEET_SOURCES,
    SHEET_STATES,
    SHEET_SUMMARY,
    _Formats,
)
from evflex.outputs.workbook.filters import _live_inputs, _write_filters
from evflex.outputs.workbook.judgement import _write_checks, _write_judgement
from evflex.outputs.workbook.states import _write_states
from evflex.outputs.workbook.static import (
    _write_assumptions,
    _write_fleet,
    _write_hourly,
    _write_sources,
)
from evflex.outputs.workbook.summary import _write_summary


def write_workbook(path: str | Path, results: Results,
                   tables: Mapping[str, pd.DataFrame]) -> None:
    """Write the run as a live Excel workbook at ``path`` (``workbook.xlsx``).

    ``tables`` are the run's output tables (``states, fleet, funnel, capacity, checks,
    assumptions, energy_funnel``; ``hourly`` when vehicles were simulated; the
    judgement's ``comparators, triggers, scorecard, implications, summary, evidence``).
    Missing engine tables are computed from ``results``; a missing judgement table gives
    a sheet that says so. The file is written to a temporary name and moved in, so an
    error leaves any earlier file in place.
    """
    full = complete_tables(results, tables)
    write_atomically(Path(path), lambda p: _build(p, results, full))


def _build(path: Path, results: Results, tables: Mapping[str, pd.DataFrame]) -> None:
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
        wb.add_worksheet(SHEET_SUMMARY)
        sheets: list[tuple[str, str]] = [
            (SHEET_ASSUMPTIONS, "every parameter with its unit, source and year"),
            (SHEET_FLEET, "stock, sales, retirements; EV shares"),
            (SHEET_FILTERS, "the filter inputs (editable) and the V2G funnel (live)"),
            (SHEET_STATES, "exclusive states as formulas over the filters (live)"),
            (SHEET_CAPACITY, "GW and GWh of the managed envelope and of V2G"),
        ]
        _write_assumptions(wb, fmts, tables["assumptions"])
        _write_fleet(wb, fmts, tables["fleet"])
        live = _live_inputs(results)
        flt = _write_filters(wb, fmts, live, tables["energy_funnel"])
        st = _write_states(wb, fmts, live, flt, results)
        _write_capacity(wb, fmts, tables["capacity"],
                        str(results.data.attrs.get("availability_source", "scenario")))
        if "hourly" in tables:
            _write_hourly(wb, fmts, tables["hourly"])
            sheets.append((SHEET_HOURLY, "simulated charging profiles against the system load"))
        _write_checks(wb, fmts, tables["checks"])
        sheets.append((SHEET_CHECKS, "pass/fail of every denominator check, with values"))
        for sheet, key, short, about in JUDGEMENT_SECTIONS:
            if key == "evidence" and key not in tables:
                continue
            _write_judgement(wb, fmts, sheet, key, about, tables.get(key))
            sheets.append((sheet, short))
        _write_sources(wb, fmts, sources_table(results, tables))
        sheets.append((SHEET_SOURCES, "every source, with what it is used for"))
        _write_summary(wb, fmts, results, tables, st, sheets)
    finally:
        wb.close()
