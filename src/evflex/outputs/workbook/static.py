"""Sheets of engine values: Fleet, Hourly, Assumptions and Sources."""

from __future__ import annotations

import math

import pandas as pd
from xlsxwriter.utility import xl_rowcol_to_cell
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from evflex.model import ALL_SEGMENTS, WORLD
from evflex.outputs.content import year_text
from evflex.outputs.style import STATE_COLOURS
from evflex.outputs.workbook.cells import (
    PRINTED_CELL_ROWS,
    SHEET_ASSUMPTIONS,
    SHEET_FLEET,
    SHEET_HOURLY,
    SHEET_SOURCES,
    Column,
    _Formats,
    _guess_format,
    _num_format,
    _setup_print,
    _sheet,
    _sheet_title,
    _table_sheet,
    _unit_from_name,
    _write_table,
)
from evflex.scenario import registry


def _write_fleet(wb: Workbook, fmts: _Formats, fleet: pd.DataFrame) -> None:
    ws = _sheet(wb, SHEET_FLEET)
    _sheet_title(ws, fmts, "Fleet: stock, sales and retirements (engine values)",
                 "Every region and segment, World and all segments as sums of counts; "
                 "shares recomputed from those sums.")
    cols = [Column("region", "region", kind="label", width=12),
            Column("segment", "segment", kind="label", width=9),
            Column("year", "year", "0", kind="label", width=6),
            Column("sales", "sales [vehicles/year]", "#,##0"),
            Column("ev_sales", "EV sales [vehicles/year]", "#,##0"),
            Column("ev_sales_share", "EV share of sales [fraction of new sales]", "0.00%"),
            Column("stock", "stock [vehicles]", "#,##0"),
            Column("ev_stock", "EV stock [vehicles]", "#,##0"),
            Column("ev_stock_share", "EV share of stock [fraction of vehicle stock]", "0.00%"),
            Column("retirements", "retirements [vehicles/year]", "#,##0"),
            Column("ev_retirements", "EV retirements [vehicles/year]", "#,##0")]
    world = (fleet["region"] == WORLD) & (fleet["segment"] == ALL_SEGMENTS)
    ordered = pd.concat([fleet[world], fleet[~world]], ignore_index=True)
    ws.write_string(2, 0, "World, all segments first; the printed pages hold those rows.",
                    fmts.note)
    _table_sheet(ws, fmts, ordered, cols, header_row=3, freeze_cols=3,
                 print_rows=int(world.sum()))


def _hourly_columns(hourly: pd.DataFrame) -> list[Column]:
    cols = []
    for name in hourly.columns:
        unit = _unit_from_name(str(name))
        cols.append(Column(str(name), f"{name} [{unit}]" if unit else str(name),
                           _num_format(unit) if unit else _guess_format(hourly[name]),
                           width=13))
    return cols


#: Columns of the Hourly sheet printed when it has no load profile columns.
PRINTED_HOURLY_COLUMNS = 9


def _write_hourly(wb: Workbook, fmts: _Formats, hourly: pd.DataFrame) -> None:
    ws = _sheet(wb, SHEET_HOURLY)
    _sheet_title(ws, fmts, "Hourly: simulated charging profiles and availability",
                 "From the vehicle simulation (evflex run --simulate). The last columns add "
                 "each strategy's charging to the system (base) load, as formulas.")
    cols = _hourly_columns(hourly)
    first, last = _write_table(ws, fmts, hourly, cols, 3)
    extra = [c for c in ("unmanaged_kw", "managed_kw", "v2g_kw") if c in hourly.columns]
    keys = list(hourly.columns)
    base_col = keys.index("base_kw") if "base_kw" in keys else None
    load_cols: dict[str, int] = {}
    if base_col is not None:
        for k, name in enumerate(extra):
            j = len(cols) + k
            load_cols[name] = j
            strategy = name[: -len("_kw")]
            ws.write_string(3, j, f"system load with {strategy} charging [kW]", fmts.header)
            ws.set_column(j, j, 15)
            src = keys.index(name)
            fmt = fmts.cell("formula", "#,##0.0")
            for i, (b, v) in enumerate(zip(hourly["base_kw"], hourly[name], strict=True)):
                r = first + i
                value = float(b) + float(v)
                ws.write_formula(r, j, f"={xl_rowcol_to_cell(r, base_col)}+"
                                 f"{xl_rowcol_to_cell(r, src)}", fmt,
                                 value if math.isfinite(value) else "")
    ws.set_row(3, 48)
    ws.freeze_panes(4, 2)
    ws.autofilter(3, 0, last, len(cols) + len(load_cols) - 1)
    # printed: the first rows of the load profile (up to the last strategy's charging);
    # every row, column and the chart are on screen
    profile = [keys.index(c) for c in ("base_kw", *extra) if c in keys]
    printed_col = max(profile, default=min(len(cols), PRINTED_HOURLY_COLUMNS) - 1)
    printed_rows = min(len(hourly), PRINTED_CELL_ROWS)
    ws.write_string(2, 0, f"Printed: the first {printed_rows} of {len(hourly)} rows and "
                    f"columns up to {keys[printed_col]}; every row and column, the system "
                    "load and its chart are on screen.", fmts.note)
    _setup_print(ws, 3, (0, 0, 3 + printed_rows, printed_col))
    if base_col is None or not len(hourly):
        return
    step_col = keys.index("step") if "step" in keys else 0
    chart = wb.add_chart({"type": "line"})
    series = [("base_kw", base_col, "#333333", "system (base) load")]
    colours = {"unmanaged_kw": "#D55E00", "managed_kw": STATE_COLOURS["grid_managed"],
               "v2g_kw": STATE_COLOURS["v2g"]}
    series += [(n, j, colours[n], f"with {n[:-3]} charging") for n, j in load_cols.items()]
    for _, j, colour, name in series:
        chart.add_series({"name": name, "categories": [SHEET_HOURLY, first, step_col, last,
                                                       step_col],
                          "values": [SHEET_HOURLY, first, j, last, j],
                          "line": {"color": colour, "width": 1.5}})
    chart.set_title({"name": "System load with the simulated fleet's charging [kW]",
                     "name_font": {"size": 11}})
    chart.set_y_axis({"name": "kW", "num_format": "#,##0",
                      "major_gridlines": {"visible": True, "line": {"color": "#E0E0E0"}}})
    chart.set_x_axis({"name": "simulation step", "interval_unit": 24, "interval_tick": 24})
    chart.set_legend({"position": "bottom"})
    chart.set_size({"width": 760, "height": 360})
    ws.insert_chart(4, len(cols) + len(load_cols) + 1, chart)




def _write_sources(wb: Workbook, fmts: _Formats, sources: pd.DataFrame,
                   printed: int | None = None) -> None:
    """The Sources sheet; ``printed``: print only the first rows (the others are the
    sources of regions without rows of their own, on screen)."""
    ws = _sheet(wb, SHEET_SOURCES)
    _sheet_title(ws, fmts, "Sources",
                 "Every source behind the run's parameters, data, calibration targets and "
                 "judgement; 'assumption' marks the authors' own choices.")
    cols = [Column("source", "source", kind="text", width=96),
            Column("year", "year", kind="label", width=10),
            Column("kind", "kind", kind="label", width=16),
            Column("used_for", "used for", kind="text", width=58)]
    _printed_note(ws, fmts, printed, len(sources), "sources", "the sources used only by "
                  "regions without rows of their own")
    _table_sheet(ws, fmts, sources, cols, header_row=3, freeze_cols=1, print_rows=printed)


def _printed_note(ws: Worksheet, fmts: _Formats, printed: int | None, total: int, what: str,
                  rest: str) -> None:
    if printed is not None and printed < total:
        ws.write_string(2, 0, f"Printed: the first {printed} of {total} {what}; {rest} "
                        "follow on screen (evflex run --workbook-regions gives a region its "
                        "own rows).", fmts.note)


def _write_assumptions(wb: Workbook, fmts: _Formats, assumptions: pd.DataFrame,
                       printed: int | None = None) -> None:
    """The Assumptions sheet; ``printed``: print only the first rows (the others are the
    overrides of regions without rows of their own, on screen)."""
    ws = _sheet(wb, SHEET_ASSUMPTIONS)
    _sheet_title(ws, fmts, "Assumptions: every parameter with its unit, source and year",
                 "Each row is a parameter's default path or a regional/segment override; "
                 "'denominator' is the population the share is taken of.")
    reg = registry()
    df = assumptions.copy()
    df["description"] = df["parameter"].map(
        lambda p: reg[p].description if p in reg else "")
    df["year"] = df["year"].map(year_text)
    cols = [Column("parameter", "parameter", kind="label", width=24),
            Column("applies_to", "applies to", kind="label", width=12),
            Column("unit", "unit", kind="label", width=9),
            Column("group", "group", kind="label", width=10),
            Column("denominator", "denominator (share of)", kind="text", width=16),
            Column("path", "value or path", kind="text", width=26),
            Column("source", "source", kind="text", width=42),
            Column("year", "source year", kind="label", width=7),
            Column("note", "note", kind="text", width=18),
            Column("description", "description", kind="text", width=22)]
    _printed_note(ws, fmts, printed, len(df), "rows", "the overrides of regions without rows "
                  "of their own")
    _table_sheet(ws, fmts, df, cols, header_row=3, freeze_cols=2, print_rows=printed)


