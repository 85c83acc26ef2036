"""Judgement sheets: comparators, triggers, scorecard, implications, evidence."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
from xlsxwriter.workbook import Workbook

from evflex.outputs.content import VERDICT_FILLS
from evflex.outputs.workbook.cells import (
    Column,
    _Formats,
    _guess_format,
    _sheet,
    _sheet_title,
    _table_sheet,
    _unit_from_name,
    fit_widths,
)

# ---------------------------------------------------------------- judgement and sources
#: Wide text columns of the judgement tables.
TEXT_COLUMNS = {"source", "note", "rule", "evidence", "detail", "text", "implication",
                "would_move", "stale", "evidence_rows",
                "reason", "reasons", "description", "summary", "proposed_change", "why",
                "consequence", "action"}


#: Labels longer than this [characters] wrap in a text column of this width.
LONG_LABEL = 30.0
#: Columns each judgement sheet puts first and prints; the others stay on screen (their
#: long texts, sources and links, are also on the Sources sheet). A table not listed
#: prints the columns that fit :data:`JUDGEMENT_PRINT_WIDTH`.
PRINTED_COLUMNS: dict[str, tuple[str, ...]] = {
    "comparators": ("year", "region", "segment", "service", "option", "test", "net_cost",
                    "avoided_cost", "dispatched_gw", "survives"),
    "evidence": ("indicator", "pathway", "region", "date", "value", "unit", "publisher"),
    "triggers": ("trigger", "indicator", "latest_value", "threshold", "fired", "parameter",
                 "proposed_change", "evidence_date", "direction", "rationale"),
    "implications": ("audience", "implication", "basis"),
    "scorecard": ("pathway", "verdict", "rule", "would_move", "reasons"),
}
#: Printed width of a judgement sheet [column-width units].
JUDGEMENT_PRINT_WIDTH = 180.0
#: Width of a long text column that is not printed (it does not wrap) [units].
SCREEN_TEXT_WIDTH = 40.0


def generic_columns(df: pd.DataFrame) -> list[Column]:
    """Columns for a table whose layout this module does not fix (the judgement's)."""
    cols = []
    for name in df.columns:
        key = str(name)
        series = df[name]
        if key in TEXT_COLUMNS:
            cols.append(Column(key, key, kind="text", width=60))
        elif key == "year" or (key.endswith("_year") and pd.api.types.is_integer_dtype(series)):
            cols.append(Column(key, key, "0", kind="label", width=7))
        elif pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            unit = _unit_from_name(key)
            if key in ("derate",) or unit == "fraction":
                cols.append(Column(key, f"{key} [fraction]", "0.0%"))
            elif "cost" in key:
                cols.append(Column(key, key, "#,##0.0"))
            else:
                cols.append(Column(key, key, _guess_format(series)))
        else:
            longest = float(series.astype(str).str.len().max() or 10)
            if longest > LONG_LABEL:
                cols.append(Column(key, key, kind="text", width=LONG_LABEL))
            else:
                cols.append(Column(key, key, kind="label", width=max(10.0, longest + 2)))
    return cols


def _write_judgement(wb: Workbook, fmts: _Formats, sheet: str, key: str, about: str,
                     df: pd.DataFrame | None) -> int:
    """The sheet of one judgement table; returns its last row (3 when it has none)."""
    ws = _sheet(wb, sheet)
    _sheet_title(ws, fmts, sheet, about)
    if df is None:
        ws.write_string(3, 0, f"Not in this run: the judgement layer produced no "
                        f"'{key}' table (evflex.judgement.judge). The sheet fills in as soon "
                        "as it does.", fmts.note)
        return 3
    listed = [c for c in PRINTED_COLUMNS.get(key, ()) if c in df.columns]
    df = df[[*listed, *(c for c in df.columns if c not in listed)]]
    cols = generic_columns(df)
    if listed:
        printed = len(listed)
    else:
        widths = np.cumsum([c.width for c in cols])
        printed = max(1, int(np.searchsorted(widths, JUDGEMENT_PRINT_WIDTH, side="right")))
    cols = [*fit_widths(cols[:printed], JUDGEMENT_PRINT_WIDTH),
            *(replace(c, kind="label", width=SCREEN_TEXT_WIDTH) if c.kind == "text" else c
              for c in cols[printed:])]
    last = _table_sheet(ws, fmts, df, cols, header_row=3, freeze_cols=1)
    if printed < len(cols):
        ws.print_area(0, 0, last, printed - 1)
        ws.write_string(2, 0, f"Printed: the first {printed} of {len(cols)} columns; the "
                        "others (long texts, sources, links) are on screen.", fmts.note)
    if not len(df):
        ws.write_string(4, 0, "(no rows)", fmts.note)
        return 4
    names = [c.key for c in cols]
    if key == "comparators" and "survives" in names:
        # one row per option, service, region, segment and year: filtered to the survivors
        # on screen and in print (hidden rows do not print); clearing the filter shows all
        j = names.index("survives")
        ws.autofilter(3, 0, last, len(cols) - 1)
        ws.filter_column_list(j, ["TRUE"])
        for i, keep in enumerate(df["survives"].astype(bool)):
            if not keep:
                ws.set_row(4 + i, None, None, {"hidden": True})
        printed_note = (f"Printed: the first {printed} of {len(cols)} columns; the others "
                        "(long texts, sources, links) are on screen. "
                        if printed < len(cols) else "")
        ws.write_string(2, 0, printed_note + "Filtered to the options that survive; clear "
                        "the filter on 'survives' to see every option and why it does not.",
                        fmts.note)
    for flag in ("fired", "v2g_survives", "survives"):
        if flag in names:
            j = names.index(flag)
            ws.conditional_format(4, j, last, j, {"type": "cell", "criteria": "==",
                                                  "value": "TRUE", "format": fmts.pass_})
    if "verdict" in names:
        j = names.index("verdict")
        for verdict, fill in VERDICT_FILLS.items():
            ws.conditional_format(4, j, last, j, {
                "type": "cell", "criteria": "==", "value": f'"{verdict}"',
                "format": wb.add_format({"bg_color": fill, "bold": True})})
    return last
