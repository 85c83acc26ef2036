"""Executive Summary sheet: key figures (live where the chain is), scorecard, contents."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from xlsxwriter.workbook import Workbook

from evflex import __version__
from evflex.judgement.summary import rule_text
from evflex.model import Results
from evflex.outputs.content import VERDICT_FILLS, is_missing, key_figures, plain
from evflex.outputs.workbook.capacity import CapacityLayout
from evflex.outputs.workbook.cells import (
    CHART_ROWS,
    LINE_HEIGHT,
    MILLIONS_FORMAT,
    SHEET_CAPACITY,
    SHEET_STATES,
    SHEET_SUMMARY,
    _Formats,
    _quote,
    _ref,
    _setup_print,
    text_lines,
)
from evflex.outputs.workbook.scorecard import ScorecardCells
from evflex.outputs.workbook.states import _states_chart, _StatesLayout
from evflex.states import STATES

#: Width of the summary's printed columns A:F [column-width units].
SUMMARY_WIDTH = 58 + 10 + 4 * 12


def _write_summary(wb: Workbook, fmts: _Formats, results: Results, tables: Mapping[str, Any],
                   st: _StatesLayout, sheets: list[tuple[str, str]], cap: CapacityLayout,
                   checks_count: str, verdicts: ScorecardCells | None,
                   rows_note: str | None = None) -> tuple[list[int], int]:
    """The summary; ``rows_note`` says what the live sheets' rows are when they are
    groups of regions. Returns the first row of each of its sections (key figures,
    scorecard, summary, cell styles, contents, chart) and that of the contents (a list
    that may run onto the next page)."""
    ws = wb.get_worksheet_by_name(SHEET_SUMMARY)
    assert ws is not None  # created first, filled last
    sc = results.scenario
    sections: list[int] = []
    ws.set_column(0, 0, 58)
    ws.set_column(1, 1, 10)
    ws.set_column(2, 5, 12)
    ws.write_string(0, 0, f"evflex · {sc.name} v{sc.version}: how much of the EV fleet is a "
                    "grid resource", fmts.title)
    description = " ".join(sc.description.split())
    ws.merge_range(1, 0, 1, 5, description, fmts.wrap_note)
    ws.set_row(1, LINE_HEIGHT * text_lines(description, SUMMARY_WIDTH))
    checks = tables["checks"]
    n_pass = int((checks["status"] == "pass").sum())
    info = [("Scenario", f"{sc.name} v{sc.version}"),
            ("Availability at the peak from", str(results.data.attrs.get("availability_source",
                                                                         "scenario"))),
            ("Denominator checks", f"{n_pass} of {len(checks)} pass"),
            ("Written by", f"evflex {__version__}")]
    for i, (k, v) in enumerate(info):
        ws.write_string(3 + i, 0, k, fmts.bold)
        if k == "Denominator checks":
            ws.write_formula(3 + i, 1, checks_count, None, v)
        else:
            ws.write_string(3 + i, 1, v)
    row = 3 + len(info) + 1
    if rows_note is not None:
        ws.merge_range(row, 0, row, 5, rows_note, fmts.wrap_note)
        ws.set_row(row, LINE_HEIGHT * text_lines(rows_note, SUMMARY_WIDTH))
        row += 2

    # Key figures; state shares point at the live World block of the States sheet.
    figures = key_figures(results, tables["capacity"])
    years = [c for c in figures.columns if isinstance(c, int)]
    sections.append(row)
    ws.write_string(row, 0, "Key figures, World (live except the fleet rows, which are "
                    "engine values)", fmts.subtitle)
    row += 1
    ws.write_string(row, 0, "figure", fmts.header)
    ws.write_string(row, 1, "unit", fmts.header)
    for j, y in enumerate(years):
        ws.write_number(row, 2 + j, y, fmts.header)
    first = row + 1
    for i, rec in enumerate(figures.to_dict("records")):
        r = first + i
        unit = rec["unit"]
        ws.write_string(r, 0, rec["figure"], fmts.cell("label"))
        ws.write_string(r, 1, unit, fmts.cell("label"))
        num = ("0.00%" if unit == "fraction" else MILLIONS_FORMAT if unit == "vehicles"
               else "#,##0.0##")
        state = rec.get("state")
        for j, y in enumerate(years):
            value = float(rec[y])
            wr = st.world_first + st.years.index(int(y))
            if isinstance(state, str) and state in STATES:
                ws.write_formula(r, 2 + j, f"={_ref(SHEET_STATES, wr, st.world_share_col[state])}",
                                 fmts.cell("formula", num), value)
            elif state == "managed_envelope":
                refs = "+".join(_ref(SHEET_STATES, wr, st.world_share_col[s])
                                for s in ("v2g", "v2h_v2b", "grid_managed"))
                ws.write_formula(r, 2 + j, f"={refs}", fmts.cell("formula", num), value)
            elif isinstance(rec.get("metric"), str) and int(y) in cap.world_rows:
                ref = _ref(SHEET_CAPACITY, cap.world_rows[int(y)], cap.summary_col[rec["metric"]])
                ws.write_formula(r, 2 + j, f"={ref}", fmts.cell("formula", num), value)
            elif rec["figure"] == "EV stock":
                ws.write_formula(r, 2 + j, f"={_ref(SHEET_STATES, wr, st.world_ev_col)}",
                                 fmts.cell("formula", num), value)
            else:
                ws.write_number(r, 2 + j, value, fmts.cell("value", num))
    row = first + len(figures) + 1

    scorecard = tables.get("scorecard")
    if scorecard is not None and {"pathway", "verdict"} <= set(scorecard.columns):
        sections.append(row)
        ws.write_string(row, 0, "Final scorecard", fmts.subtitle)
        row += 1
        cols = [c for c in ("pathway", "verdict", "rule") if c in scorecard.columns]
        for j, c in enumerate(cols[:2]):
            ws.write_string(row, j, c, fmts.header)
        if "rule" in cols:
            ws.merge_range(row, 2, row, 5, "rule that decided (as evflex ran it)", fmts.header)
        for i, rec in enumerate(scorecard.to_dict("records")):
            r = row + 1 + i
            pathway, verdict = str(rec["pathway"]), str(rec["verdict"])
            ws.write_string(r, 0, pathway, fmts.cell("label"))
            if verdicts is not None and pathway in verdicts.verdict:
                vr, vc = verdicts.verdict[pathway]
                ws.write_formula(r, 1, f"={_ref(verdicts.sheet, vr, vc)}",
                                 fmts.cell("formula"), verdict)
            else:
                ws.write_string(r, 1, verdict, fmts.cell("value"))
            if "rule" in rec:
                rule = rule_text(str(rec["rule"]))
                ws.merge_range(r, 2, r, 5, rule, fmts.cell("text"))
                ws.set_row(r, LINE_HEIGHT * text_lines(rule, 4 * 12))
        for name, fill in VERDICT_FILLS.items():
            ws.conditional_format(row + 1, 1, row + len(scorecard), 1, {
                "type": "cell", "criteria": "==", "value": f'"{name}"',
                "format": wb.add_format({"bg_color": fill, "bold": True})})
        row += len(scorecard) + 2

    summary = tables.get("summary")
    if summary is not None and len(summary):
        sections.append(row)
        ws.write_string(row, 0, "Executive summary (judgement layer)", fmts.subtitle)
        row += 1
        for rec in summary.to_dict("records"):
            values = [rec["text"]] if "text" in rec else list(rec.values())
            text = " · ".join(str(v) for v in values if not is_missing(plain(v)))
            ws.merge_range(row, 0, row, 5, text, fmts.cell("text"))
            ws.set_row(row, LINE_HEIGHT * text_lines(text, SUMMARY_WIDTH))
            row += 1
        row += 1

    sections.append(row)
    ws.write_string(row, 0, "Cell styles", fmts.subtitle)
    row += 1
    for kind, text in (("input", "input: change it, and the live formulas recalculate"),
                       ("formula", "formula: recalculates from the inputs (live)"),
                       ("value", "engine value: computed by evflex and written as a number")):
        ws.write_string(row, 0, text, fmts.cell(kind))
        row += 1
    row += 1
    sections.append(row)
    contents = row
    ws.write_string(row, 0, "Contents", fmts.subtitle)
    row += 1
    for name, about in sheets:
        ws.write_url(row, 0, f"internal:{_quote(name)}!A1", fmts.link, string=name)
        ws.write_string(row, 1, about)
        row += 1
    row += 1
    sections.append(row)
    ws.insert_chart(row, 0, _states_chart(wb, st, "share"))
    _setup_print(ws, None, (0, 0, row + CHART_ROWS, 5))
    ws.activate()
    return sections, contents


