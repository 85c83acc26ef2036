"""The workbook writer: sheets in order, written all or nothing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
from evflex.outputs.workbook.capacity import (
    _write_capacity,
    _write_capacity_cells,
    availability_inputs,
)
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
    keep_sections_together,
    squeeze_short_tail,
)
from evflex.outputs.workbook.checks import _write_checks
from evflex.outputs.workbook.filters import _live_inputs, _write_filters
from evflex.outputs.workbook.groups import (
    Group,
    display_regions,
    grouped_cells,
    hidden_keys,
    is_identity,
    rows_note,
    workbook_groups,
)
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

#: Tables with one row per region that the workbook cuts to the regions it shows.
PER_REGION = ("fleet", "capacity", "comparators")


def write_workbook(path: str | Path, results: Results,
                   tables: Mapping[str, pd.DataFrame], *,
                   availability: Availability | None = None,
                   regions: Sequence[str] | None = None) -> None:
    """Write the run as a live Excel workbook at ``path`` (``workbook.xlsx``).

    ``tables`` are the run's output tables (``states, fleet, funnel, capacity, checks,
    assumptions, energy_funnel``; ``hourly`` when vehicles were simulated; the
    judgement's ``comparators, triggers, scorecard, implications, summary, evidence``).
    Missing engine tables are computed from ``results``; a missing judgement table gives
    a sheet that says so. The file is written to a temporary name and moved in, so an
    error leaves any earlier file in place.

    ``availability`` is the one the run used when it came from a simulation (the
    Capacity by Cell sheet shows it as inputs); by default the scenario's parameters.

    ``regions``: the model regions that get live rows of their own. By default every
    region of a block-level run; a country run's workbook holds its blocks and the World:
    the other regions' rows are summed into groups that share their blocks
    (:mod:`evflex.outputs.workbook.groups`). The Capacity and Fleet sheets and the
    Comparator Stack show those regions and the aggregates of ``tables``.
    """
    full = complete_tables(results, tables)
    unknown = sorted(set(regions or ()) - set(results.scenario.regions))
    if unknown:
        raise ValueError(f"regions: {unknown[0]!r} is not a region of the run (expected "
                         f"one of {', '.join(results.scenario.regions[:6])}, ...)")
    groups = workbook_groups(results, regions)
    write_atomically(Path(path), lambda p: _build(p, results, full, groups, availability))


def _shown(tables: Mapping[str, pd.DataFrame], regions: Sequence[str]
           ) -> dict[str, pd.DataFrame]:
    """``tables`` with the per-region tables cut to ``regions``."""
    out = dict(tables)
    for name in PER_REGION:
        if name in out and "region" in out[name].columns:
            df = out[name]
            out[name] = df[df["region"].isin(list(regions))].reset_index(drop=True)
    return out


def printed_first(assumptions: pd.DataFrame, hidden: set[str]) -> tuple[pd.DataFrame, int]:
    """The assumptions with the rows that apply to ``hidden`` override keys last, and how
    many rows come before them (the printed ones)."""
    key = assumptions["applies_to"].astype(str).str.split("/").str[0]
    shown = ~key.isin(hidden)
    return (pd.concat([assumptions[shown], assumptions[~shown]], ignore_index=True),
            int(shown.sum()))


def _build(path: Path, results: Results, tables: Mapping[str, pd.DataFrame],
           groups: list[Group], availability: Availability | None = None) -> None:
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
        parts = display_regions(results, groups, list(dict.fromkeys(
            tables["capacity"]["region"].astype(str))))
        tables = _shown(tables, list(parts))
        cells, avail = grouped_cells(results, groups,
                                     availability_inputs(results, availability))
        live = _live_inputs(cells)
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
        assumptions, printed = printed_first(tables["assumptions"],
                                             hidden_keys(results, groups))
        _write_assumptions(wb, fmts, assumptions, printed)
        _write_fleet(wb, fmts, tables["fleet"])
        flt = _write_filters(wb, fmts, live, tables["energy_funnel"])
        st = _write_states(wb, fmts, live, flt, results)
        source = str(results.data.attrs.get("availability_source", "scenario"))
        cap = _write_capacity_cells(wb, fmts, cells, live, flt, st, avail)
        _write_capacity(wb, fmts, tables["capacity"], cap, source, parts)
        if "hourly" in tables:
            _write_hourly(wb, fmts, tables["hourly"])
        count = _write_checks(wb, fmts, tables["checks"], results, cells, live, flt, st, cap)
        verdicts = None
        for sheet, key, _, text in JUDGEMENT_SECTIONS:
            if key == "evidence" and key not in tables:
                continue
            if key == "comparators" and not is_identity(groups, results.scenario.regions):
                text += (" Shown: the regions with rows of their own (evflex run "
                         "--workbook-regions GB,DE adds countries); comparators.csv holds "
                         "every country.")
            last = _write_judgement(wb, fmts, sheet, key, text, tables.get(key))
            if key == "scorecard":
                verdicts = write_live_scorecard(wb, fmts, sheet, last + 2, tables, st)
        sources = sources_table(results, tables)
        shown = sources_table(results, {**tables, "assumptions": assumptions[:printed]})
        in_print = pd.Series([(s, k) in set(zip(shown["source"], shown["kind"], strict=True))
                              for s, k in zip(sources["source"], sources["kind"], strict=True)],
                             index=sources.index)
        _write_sources(wb, fmts, pd.concat([sources[in_print], sources[~in_print]],
                                           ignore_index=True), int(in_print.sum()))
        sections, contents = _write_summary(wb, fmts, results, tables, st,
                                            [(name, about[name]) for name in order[1:]],
                                            cap, count, verdicts, rows_note(groups))
        for ws in wb.worksheets():
            if squeeze_short_tail(ws) is None and ws.name == SHEET_SUMMARY:
                keep_sections_together(ws, sections, loose=[contents])
    finally:
        wb.close()
