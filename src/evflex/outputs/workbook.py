"""The run as a live Excel workbook, ``workbook.xlsx`` (written with XlsxWriter).

>>> from evflex.model import run
>>> from evflex.outputs.workbook import write_workbook
>>> write_workbook("workbook.xlsx", run("base"), {})              # doctest: +SKIP

Sheets, in order: Executive Summary, Assumptions, Fleet, Filters & Funnel, States,
Capacity, Hourly (when the run simulated vehicles), Denominator Checks, Comparator Stack,
Update Triggers, Scorecard, Decision Implications, Evidence and Sources. A judgement
sheet whose table is not in ``tables`` (the judgement layer did not run) says so in one
line instead of holding data.

The live part
-------------
``Filters & Funnel`` holds one row per region, segment and year with the inputs of the
allocation, styled as inputs: EV stock, V2G-capable stock and smart-capable stock
[vehicles]; the six conditional filters and the three state uses [fraction]. The V2G
funnel next to them is a row of formulas, the algebra of
:func:`evflex.filters.v2g_funnel`. ``States`` holds the exclusive states as formulas over
those cells, the algebra of :func:`evflex.states.allocate_states`, their shares, their
sum, and the World by year as sums over the rows. The Executive Summary's state shares
point at that World block. Every formula carries the engine's value as its cached result,
so a reader sees the engine's numbers before any recalculation, and a changed filter
moves the states, which still add up to the EV stock.

Cell styles: inputs are blue on pale yellow; live formulas are black on white; values the
engine computed and wrote as numbers are black on pale grey.

The defined names ``filter_table``, ``states_table``, ``world_states`` and
``world_funnel`` cover those blocks (header row included), for readers' formulas and
for tests.
"""

from __future__ import annotations

import datetime
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import xlsxwriter
from xlsxwriter.utility import xl_rowcol_to_cell
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from evflex import __version__
from evflex.capacity import METRICS
from evflex.energy_funnel import STAGE_LABELS
from evflex.filters import CONDITIONAL_FILTERS, FUNNEL_STEPS
from evflex.model import ALL_SEGMENTS, WORLD, Results
from evflex.outputs.style import (
    DELIVERABLE_COLOUR,
    FUNNEL_COLOUR,
    STATE_COLOURS,
    STATE_LABELS,
)
from evflex.scenario import parameter_table, registry
from evflex.states import STATES

#: Years of the key-figure table of the Executive Summary (those in the run's axis).
SUMMARY_YEARS = (2025, 2030, 2050, 2100)

SHEET_SUMMARY = "Executive Summary"
SHEET_ASSUMPTIONS = "Assumptions"
SHEET_FLEET = "Fleet"
SHEET_FILTERS = "Filters & Funnel"
SHEET_STATES = "States"
SHEET_CAPACITY = "Capacity"
SHEET_HOURLY = "Hourly"
SHEET_CHECKS = "Denominator Checks"
SHEET_SOURCES = "Sources"
#: Judgement sheets: sheet name, table key in ``tables``, contents line, what it holds.
JUDGEMENT_SHEETS: tuple[tuple[str, str, str, str], ...] = (
    ("Comparator Stack", "comparators", "where V2G survives against the alternatives",
     "Cost per kW-year of each option for each grid service, derated for availability, "
     "and where V2G survives (beats the next-best option)."),
    ("Update Triggers", "triggers", "indicators that would move the assumptions",
     "Dated, sourced indicators with thresholds: which have fired and which assumption "
     "each moves."),
    ("Scorecard", "scorecard", "the verdict on each pathway",
     "One verdict per pathway (scaling, progressing, niche-valid, stalled, activity-only) "
     "by explicit rules over the evidence and the run."),
    ("Decision Implications", "implications", "what follows for each decision-maker",
     "What the result means for utilities, regulators, carmakers, charger makers and "
     "aggregators."),
    ("Evidence", "evidence", "the evidence ledger",
     "The evidence ledger: dated, sourced observations the triggers and the scorecard "
     "read."),
)

#: Stock inputs of the live allocation: key in ``Results.data``, header, description.
STOCK_INPUTS: tuple[tuple[str, str], ...] = (
    ("ev_stock", "EV stock"),
    ("capable_stock", "V2G-capable stock"),
    ("smart_capable_stock", "smart-capable stock"),
)
#: Shares of the state allocation that come after the funnel, in allocation order.
STATE_USES: tuple[str, ...] = ("v2h_v2b_use", "grid_managed_enrolment", "smart_charging_use")

INPUT_FILL = "#FFF2CC"
INPUT_FONT = "#1F4E9E"
VALUE_FILL = "#F2F2F2"
HEADER_FILL = "#1F3B57"
GROUP_FILL = "#D9E1EA"
PASS_FILL = "#D8EFD8"
FAIL_FILL = "#F8D0D0"

#: Number formats by unit.
NUMBER_FORMATS: dict[str, str] = {
    "vehicles": "#,##0",
    "vehicles/year": "#,##0",
    "fraction": "0.0%",
    "TWh": "#,##0.00",
    "GWh": "#,##0.00",
    "GWh/day": "#,##0.00",
    "GW": "#,##0.00",
    "kW": "#,##0.0",
    "kWh": "#,##0.0",
    "kWh/day": "#,##0.0",
    "kWh/vehicle": "#,##0.0",
    "h": "0.00",
    "year": "0",
    "years": "0.0",
}
#: Inputs of fractions show more digits than outputs.
INPUT_FRACTION_FORMAT = "0.000%"
MILLIONS_FORMAT = '#,##0.0,,"M"'
DATE_FORMAT = "yyyy-mm-dd"


def _num_format(unit: str) -> str:
    return NUMBER_FORMATS.get(unit, "General")


class _Formats:
    """The workbook's cell formats, created once and cached by (kind, number format)."""

    KINDS: ClassVar[dict[str, dict[str, Any]]] = {
        "input": {"bg_color": INPUT_FILL, "font_color": INPUT_FONT, "border": 1,
                  "border_color": "#BFBFBF", "locked": False},
        "formula": {"border": 1, "border_color": "#E0E0E0"},
        "value": {"bg_color": VALUE_FILL, "border": 1, "border_color": "#E0E0E0"},
        "label": {"border": 1, "border_color": "#E0E0E0"},
        "text": {"text_wrap": True, "valign": "top", "border": 1, "border_color": "#E0E0E0"},
    }

    def __init__(self, wb: Workbook):
        self.wb = wb
        self.title = wb.add_format({"bold": True, "font_size": 14, "font_color": HEADER_FILL})
        self.subtitle = wb.add_format({"bold": True, "font_size": 11,
                                       "font_color": HEADER_FILL})
        self.note = wb.add_format({"italic": True, "font_color": "#595959", "text_wrap": False})
        self.wrap_note = wb.add_format({"italic": True, "font_color": "#595959",
                                        "text_wrap": True, "valign": "top"})
        self.header = wb.add_format({"bold": True, "text_wrap": True, "valign": "top",
                                     "font_color": "#FFFFFF", "bg_color": HEADER_FILL,
                                     "border": 1, "border_color": "#FFFFFF"})
        self.group = wb.add_format({"bold": True, "bg_color": GROUP_FILL, "border": 1,
                                    "border_color": "#FFFFFF", "align": "left"})
        self.link = wb.add_format({"font_color": "#0563C1", "underline": 1})
        self.bold = wb.add_format({"bold": True})
        self.pass_ = wb.add_format({"bg_color": PASS_FILL})
        self.fail = wb.add_format({"bg_color": FAIL_FILL, "bold": True})
        self._cache: dict[tuple[str, str], Any] = {}

    def cell(self, kind: str, num_format: str = "General") -> Any:
        key = (kind, num_format)
        if key not in self._cache:
            self._cache[key] = self.wb.add_format({**self.KINDS[kind],
                                                   "num_format": num_format})
        return self._cache[key]


@dataclass(frozen=True)
class Column:
    """One column of a table written to a sheet."""

    key: str
    header: str
    num_format: str = "General"
    kind: str = "value"  # input | formula | value | label | text
    width: float = 14.0


def _is_missing(value: Any) -> bool:
    """None, NaN, NaT or pd.NA (a scalar); never true for a string or a number."""
    if value is None:
        return True
    if isinstance(value, str | bool):
        return False
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _plain(value: Any) -> Any:
    """A value XlsxWriter writes natively (numpy scalars to Python ones)."""
    if isinstance(value, np.datetime64):
        value = pd.Timestamp(value)
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.to_pydatetime()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _write_value(ws: Worksheet, row: int, col: int, value: Any, fmt: Any,
                 date_fmt: Any = None) -> None:
    value = _plain(value)
    if _is_missing(value):
        ws.write_blank(row, col, None, fmt)
    elif isinstance(value, bool):
        ws.write_boolean(row, col, value, fmt)
    elif isinstance(value, int | float):
        if math.isinf(value):
            ws.write_string(row, col, "inf" if value > 0 else "-inf", fmt)
        else:
            ws.write_number(row, col, value, fmt)
    elif isinstance(value, datetime.date):
        ws.write_datetime(row, col, value, date_fmt or fmt)
    else:
        ws.write_string(row, col, str(value), fmt)


def _write_table(ws: Worksheet, fmts: _Formats, df: pd.DataFrame, columns: Sequence[Column],
                 row: int, col: int = 0) -> tuple[int, int]:
    """Write ``df[columns]`` with a header row at ``row``; returns (first, last) data row."""
    for j, c in enumerate(columns):
        ws.write_string(row, col + j, c.header, fmts.header)
        ws.set_column(col + j, col + j, c.width)
    first = row + 1
    for j, c in enumerate(columns):
        fmt = fmts.cell(c.kind, c.num_format)
        date_fmt = fmts.cell(c.kind, DATE_FORMAT)
        values = df[c.key].tolist() if c.key in df.columns else [None] * len(df)
        for i, value in enumerate(values):
            _write_value(ws, first + i, col + j, value, fmt, date_fmt)
    return first, first + len(df) - 1


def _sheet_title(ws: Worksheet, fmts: _Formats, title: str, note: str) -> None:
    ws.write_string(0, 0, title, fmts.title)
    ws.write_string(1, 0, note, fmts.note)
    ws.set_row(0, 20)


def _define_block(wb: Workbook, name: str, sheet: str, first_row: int, first_col: int,
                  last_row: int, last_col: int) -> None:
    ref = (f"{xl_rowcol_to_cell(first_row, first_col, True, True)}:"
           f"{xl_rowcol_to_cell(last_row, last_col, True, True)}")
    wb.define_name(name, f"={_quote(sheet)}!{ref}")


def _quote(sheet: str) -> str:
    return "'" + sheet.replace("'", "''") + "'"


def _ref(sheet: str, row: int, col: int, absolute: bool = False) -> str:
    return f"{_quote(sheet)}!{xl_rowcol_to_cell(row, col, absolute, absolute)}"


def _col_range(sheet: str, col: int, first: int, last: int) -> str:
    return (f"{_quote(sheet)}!{xl_rowcol_to_cell(first, col, True, True)}:"
            f"{xl_rowcol_to_cell(last, col, True, True)}")


def _setup_print(ws: Worksheet, header_row: int | None = None) -> None:
    ws.set_landscape()
    ws.set_paper(9)  # A4
    ws.fit_to_pages(1, 0)
    if header_row is not None:
        ws.repeat_rows(header_row)


# --------------------------------------------------------------------------- the inputs
@dataclass
class _LiveInputs:
    """The live allocation's inputs and the engine's results, one row per cell of
    (region, segment, year), in region-major order."""

    labels: pd.DataFrame  # region, segment, year
    stocks: dict[str, np.ndarray]  # [vehicles]
    shares: dict[str, np.ndarray]  # [fraction]
    funnel: np.ndarray  # (row, step) [vehicles]
    states: np.ndarray  # (row, state) [vehicles]
    pool: np.ndarray  # smart-capable EVs not in V2G or V2H/V2B [vehicles]


def _live_inputs(results: Results) -> _LiveInputs:
    ds = results.data
    order = ("region", "segment", "year")
    ev = ds["ev_stock_pt"].sum("powertrain").transpose(*order)
    idx = ev.to_dataframe(name="ev").reset_index()[list(order)]

    def flat(name: str) -> np.ndarray:
        return np.asarray(ds[name].transpose(*order).values, dtype=float).reshape(-1)

    stocks = {"ev_stock": np.asarray(ev.values, dtype=float).reshape(-1),
              "capable_stock": flat("capable_stock"),
              "smart_capable_stock": flat("smart_capable_stock")}
    shares = {name: flat(f"param_{name}") for name in (*CONDITIONAL_FILTERS, *STATE_USES)}
    funnel = np.asarray(ds["funnel"].transpose(*order, "step").values).reshape(len(idx), -1)
    states = np.asarray(ds["states"].transpose(*order, "state").values).reshape(len(idx), -1)
    v2g, v2h = states[:, STATES.index("v2g")], states[:, STATES.index("v2h_v2b")]
    pool = np.maximum(np.minimum(stocks["smart_capable_stock"], stocks["ev_stock"]) - v2g - v2h,
                      0.0)
    return _LiveInputs(idx, stocks, shares, funnel, states, pool)


# ----------------------------------------------------------------- Filters & Funnel
#: Layout of the live tables: header row and first data row (0-based).
GROUP_ROW = 4
HEADER_ROW = 5
DATA_ROW = 6


@dataclass
class _FilterLayout:
    first: int
    last: int
    stock_col: dict[str, int]
    share_col: dict[str, int]
    step_col: dict[str, int]
    year_col: int = 2


def _write_filters(wb: Workbook, fmts: _Formats, live: _LiveInputs,
                   funnel_energy: pd.DataFrame) -> _FilterLayout:
    ws = wb.add_worksheet(SHEET_FILTERS)
    reg = registry()
    _sheet_title(ws, fmts, "Filters & Funnel: the V2G filter stack (live)",
                 "Yellow cells are inputs: change a filter share or a stock and the funnel "
                 "here and the states on the States sheet recalculate. Each filter is a share "
                 "of the step before it.")
    ws.write_string(2, 0, "Funnel: v2g_capable = MIN(V2G-capable stock, EV stock); each "
                    "following step = step before × its filter share.", fmts.note)
    n = len(live.labels)
    first, last = DATA_ROW, DATA_ROW + n - 1
    cols: list[Column] = [Column("region", "region", kind="label", width=12),
                          Column("segment", "segment", kind="label", width=9),
                          Column("year", "year", "0", kind="label", width=6)]
    stock_col, share_col, step_col = {}, {}, {}
    for key, label in STOCK_INPUTS:
        stock_col[key] = len(cols)
        cols.append(Column(key, f"{label} [vehicles]", "#,##0", "input", 14))
    for name in (*CONDITIONAL_FILTERS, *STATE_USES):
        share_col[name] = len(cols)
        den = reg[name].denominator if name in reg else ""
        cols.append(Column(name, f"{name} [fraction of {den}]", INPUT_FRACTION_FORMAT,
                           "input", 15))
    for step in FUNNEL_STEPS:
        step_col[step] = len(cols)
        cols.append(Column(step, f"funnel: {step} [vehicles]", "#,##0", "formula", 14))
    frame = live.labels.copy()
    for key, values in {**live.stocks, **live.shares}.items():
        frame[key] = values
    for j, c in enumerate(cols):
        ws.write_string(HEADER_ROW, j, c.header, fmts.header)
        ws.set_column(j, j, c.width)
    ws.set_row(HEADER_ROW, 100)
    groups = [(0, 2, "cell"), (stock_col["ev_stock"], stock_col["smart_capable_stock"],
                               "Inputs: stocks [vehicles]"),
              (share_col[CONDITIONAL_FILTERS[0]], share_col[CONDITIONAL_FILTERS[-1]],
               "Inputs: conditional filters of the V2G funnel [fraction]"),
              (share_col[STATE_USES[0]], share_col[STATE_USES[-1]],
               "Inputs: state uses [fraction]"),
              (step_col[FUNNEL_STEPS[0]], step_col[FUNNEL_STEPS[-1]],
               "V2G funnel [vehicles] (formulas)")]
    for c0, c1, text in groups:
        ws.merge_range(GROUP_ROW, c0, GROUP_ROW, c1, text, fmts.group)
    for j, c in enumerate(cols[: step_col[FUNNEL_STEPS[0]]]):
        fmt = fmts.cell(c.kind, c.num_format)
        for i, value in enumerate(frame[c.key].tolist()):
            _write_value(ws, first + i, j, value, fmt)
    # The funnel, as formulas with the engine's values cached.
    ffmt = fmts.cell("formula", "#,##0")
    ev_c, cap_c = stock_col["ev_stock"], stock_col["capable_stock"]
    for i in range(n):
        r = first + i
        ws.write_formula(r, step_col["ev_stock"], f"={xl_rowcol_to_cell(r, ev_c)}", ffmt,
                         float(live.funnel[i, 0]))
        ws.write_formula(r, step_col["v2g_capable"],
                         f"=MIN({xl_rowcol_to_cell(r, cap_c)},{xl_rowcol_to_cell(r, ev_c)})",
                         ffmt, float(live.funnel[i, 1]))
        for k, name in enumerate(CONDITIONAL_FILTERS, start=2):
            prev = xl_rowcol_to_cell(r, step_col[FUNNEL_STEPS[k - 1]])
            ws.write_formula(r, step_col[name],
                             f"={prev}*{xl_rowcol_to_cell(r, share_col[name])}", ffmt,
                             float(live.funnel[i, k]))
    last_col = len(cols) - 1
    ws.data_validation(first, share_col[CONDITIONAL_FILTERS[0]], last,
                       share_col[STATE_USES[-1]],
                       {"validate": "decimal", "criteria": "between", "minimum": 0,
                        "maximum": 1, "error_title": "A share",
                        "error_message": "A filter share is a fraction between 0 and 1."})
    ws.data_validation(first, stock_col["ev_stock"], last, stock_col["smart_capable_stock"],
                       {"validate": "decimal", "criteria": ">=", "value": 0,
                        "error_title": "A stock",
                        "error_message": "A stock is a number of vehicles, 0 or more."})
    ws.autofilter(HEADER_ROW, 0, last, last_col)
    ws.freeze_panes(DATA_ROW, 3)
    _define_block(wb, "filter_table", SHEET_FILTERS, HEADER_ROW, 0, last, last_col)
    layout = _FilterLayout(first, last, stock_col, share_col, step_col)
    _write_world_funnel(wb, ws, fmts, layout, live, funnel_energy, last_col + 2)
    _setup_print(ws, HEADER_ROW)
    return layout


def _write_world_funnel(wb: Workbook, ws: Worksheet, fmts: _Formats, layout: _FilterLayout,
                        live: _LiveInputs, funnel_energy: pd.DataFrame, col: int) -> None:
    """World funnel in the funnel year: vehicles (live) and energy (engine), two charts."""
    year = int(funnel_energy["year"].iloc[0])
    region = str(funnel_energy["region"].iloc[0])
    ws.write_string(GROUP_ROW - 2, col, f"{region} funnel in {year}", fmts.subtitle)
    # Vehicles by step: live sums over the rows of the year (and region).
    ws.write_string(GROUP_ROW, col, "Vehicles by funnel step (live)", fmts.bold)
    headers = ["step", "vehicles [vehicles]", "share of EV stock [fraction]"]
    for j, h in enumerate(headers):
        ws.write_string(HEADER_ROW, col + j, h, fmts.header)
    ws.set_column(col, col, 30)
    ws.set_column(col + 1, col + 2, 15)
    year_rng = _col_range(SHEET_FILTERS, layout.year_col, layout.first, layout.last)
    region_rng = _col_range(SHEET_FILTERS, 0, layout.first, layout.last)
    in_cell = np.asarray(live.labels["year"] == year)
    if region != WORLD:
        in_cell &= np.asarray(live.labels["region"] == region)
    criteria = f"{year_rng},{year}" + (f",{region_rng},\"{region}\"" if region != WORLD else "")
    first = HEADER_ROW + 1
    ev_cell = xl_rowcol_to_cell(first, col + 1, True, True)
    for k, step in enumerate(FUNNEL_STEPS):
        r = first + k
        ws.write_string(r, col, STAGE_LABELS.get(step, step), fmts.cell("label"))
        rng = _col_range(SHEET_FILTERS, layout.step_col[step], layout.first, layout.last)
        value = float(live.funnel[in_cell, k].sum())
        ws.write_formula(r, col + 1, f"=SUMIFS({rng},{criteria})", fmts.cell("formula", "#,##0"),
                         value)
        total = float(live.funnel[in_cell, 0].sum())
        share = f"=IF({ev_cell}>0,{xl_rowcol_to_cell(r, col + 1)}/{ev_cell},0)"
        ws.write_formula(r, col + 2, share, fmts.cell("formula", "0.00%"),
                         value / total if total > 0 else 0.0)
    last = first + len(FUNNEL_STEPS) - 1
    _define_block(wb, "world_funnel", SHEET_FILTERS, HEADER_ROW, col, last, col + 2)
    chart = wb.add_chart({"type": "bar"})
    chart.add_series({
        "name": f"vehicles, {region} {year}",
        "categories": [SHEET_FILTERS, first, col, last, col],
        "values": [SHEET_FILTERS, first, col + 1, last, col + 1],
        "fill": {"color": FUNNEL_COLOUR}, "border": {"none": True},
        "data_labels": {"value": True, "num_format": MILLIONS_FORMAT},
    })
    chart.set_title({"name": f"V2G funnel, vehicles ({region}, {year}; live)",
                     "name_font": {"size": 11}})
    chart.set_y_axis({"reverse": True})
    chart.set_x_axis({"name": "vehicles", "num_format": MILLIONS_FORMAT,
                      "major_gridlines": {"visible": True, "line": {"color": "#E0E0E0"}}})
    chart.set_legend({"none": True})
    chart.set_size({"width": 620, "height": 330})
    ws.insert_chart(last + 2, col, chart)

    # Energy: the engine's energy funnel, as in funnel.png (log scale).
    e_row = last + 20
    ws.write_string(e_row - 1, col, "Energy funnel: naive battery to deliverable at the peak "
                    "(engine values, as funnel.png)", fmts.bold)
    e_cols = [Column("label", "stage", kind="label", width=30),
              Column("vehicles", "vehicles [vehicles]", "#,##0"),
              Column("energy_gwh", "energy [GWh]", "#,##0.0"),
              Column("power_gw", "power at the peak [GW]", "#,##0.0")]
    e_first, e_last = _write_table(ws, fmts, funnel_energy, e_cols, e_row, col)
    ws.set_column(col, col, 30)
    chart = wb.add_chart({"type": "bar"})
    points = [{"fill": {"color": DELIVERABLE_COLOUR if s == "deliverable" else FUNNEL_COLOUR}}
              for s in funnel_energy["stage"]]
    chart.add_series({
        "name": "energy [GWh]",
        "categories": [SHEET_FILTERS, e_first, col, e_last, col],
        "values": [SHEET_FILTERS, e_first, col + 2, e_last, col + 2],
        "points": points, "border": {"none": True},
        "data_labels": {"value": True, "num_format": "#,##0.0"},
    })
    chart.set_title({"name": f"From the naive battery to what the peak can count on "
                             f"({region}, {year})", "name_font": {"size": 11}})
    chart.set_y_axis({"reverse": True})
    chart.set_x_axis({"name": "battery energy [GWh], log scale", "log_base": 10,
                      "num_format": "#,##0", "major_gridlines": {"visible": True,
                                                                 "line": {"color": "#E0E0E0"}}})
    chart.set_legend({"none": True})
    chart.set_size({"width": 620, "height": 360})
    ws.insert_chart(e_last + 2, col, chart)


# ---------------------------------------------------------------------------- States
@dataclass
class _StatesLayout:
    world_first: int
    world_year_col: int
    world_ev_col: int
    world_count_col: dict[str, int]
    world_share_col: dict[str, int]
    years: list[int]


def _write_states(wb: Workbook, fmts: _Formats, live: _LiveInputs, flt: _FilterLayout,
                  results: Results) -> _StatesLayout:
    ws = wb.add_worksheet(SHEET_STATES)
    _sheet_title(ws, fmts, "States: every EV counted once, by its highest active use (live)",
                 "Formulas over the Filters & Funnel inputs: v2g = the last funnel step; "
                 "v2h_v2b = v2h_v2b_use × (bidirectional charger − v2g);")
    ws.write_string(2, 0, "pool = MAX(MIN(smart-capable stock, EV stock) − v2g − v2h_v2b, 0); "
                    "grid_managed = grid_managed_enrolment × pool; smart_only = "
                    "smart_charging_use × (pool − grid_managed); outside = the rest.",
                    fmts.note)
    n = len(live.labels)
    first, last = DATA_ROW, DATA_ROW + n - 1
    ev_col = 3
    count_col = {s: 4 + k for k, s in enumerate(STATES)}
    pool_col = 4 + len(STATES)
    share_col = {s: pool_col + 1 + k for k, s in enumerate(STATES)}
    sum_col = share_col[STATES[-1]] + 1
    headers = ["region", "segment", "year", "EV stock [vehicles]",
               *[f"{s} [vehicles]" for s in STATES],
               "pool: smart-capable EVs not in v2g or v2h_v2b [vehicles]",
               *[f"{s} [share of EV stock]" for s in STATES], "sum of shares [fraction]"]
    widths = [12, 9, 6, 14, *[13] * len(STATES), 17, *[11] * len(STATES), 11]
    for j, (h, w) in enumerate(zip(headers, widths, strict=True)):
        ws.write_string(HEADER_ROW, j, h, fmts.header)
        ws.set_column(j, j, w)
    ws.set_row(HEADER_ROW, 62)
    ws.merge_range(GROUP_ROW, 0, GROUP_ROW, 2, "cell", fmts.group)
    ws.merge_range(GROUP_ROW, ev_col, GROUP_ROW, pool_col, "Counts [vehicles] (formulas)",
                   fmts.group)
    ws.merge_range(GROUP_ROW, share_col[STATES[0]], GROUP_ROW, sum_col,
                   "Shares of the EV stock (formulas)", fmts.group)

    def f(col: int, r: int) -> str:  # a cell of the Filters sheet
        return _ref(SHEET_FILTERS, r, col)

    label = fmts.cell("label")
    year_fmt = fmts.cell("label", "0")
    cnt = fmts.cell("formula", "#,##0")
    shr = fmts.cell("formula", "0.00%")
    tot = fmts.cell("formula", "0.000000%")
    ev = live.stocks["ev_stock"]
    safe = np.where(ev > 0, ev, 1.0)
    labels = zip(live.labels["region"].astype(str), live.labels["segment"].astype(str),
                 live.labels["year"].astype(int), strict=True)
    for i, (region, segment, year) in enumerate(labels):
        r = first + i
        ws.write_string(r, 0, region, label)
        ws.write_string(r, 1, segment, label)
        ws.write_number(r, 2, int(year), year_fmt)
        c = {s: xl_rowcol_to_cell(r, count_col[s]) for s in STATES}
        ev_c, pool_c = xl_rowcol_to_cell(r, ev_col), xl_rowcol_to_cell(r, pool_col)
        ws.write_formula(r, ev_col, f"={f(flt.stock_col['ev_stock'], r)}", cnt, float(ev[i]))
        formulas = {
            "v2g": f"={f(flt.step_col['v2g_active'], r)}",
            "v2h_v2b": f"=MAX({f(flt.step_col['bidirectional_charger'], r)}-{c['v2g']},0)"
                       f"*{f(flt.share_col['v2h_v2b_use'], r)}",
            "grid_managed": f"={pool_c}*{f(flt.share_col['grid_managed_enrolment'], r)}",
            "smart_only": f"=({pool_c}-{c['grid_managed']})"
                          f"*{f(flt.share_col['smart_charging_use'], r)}",
            "outside": f"={ev_c}-{c['v2g']}-{c['v2h_v2b']}-{c['grid_managed']}"
                       f"-{c['smart_only']}",
        }
        for k, s in enumerate(STATES):
            ws.write_formula(r, count_col[s], formulas[s], cnt, float(live.states[i, k]))
        ws.write_formula(
            r, pool_col, f"=MAX(MIN({f(flt.stock_col['smart_capable_stock'], r)},{ev_c})"
            f"-{c['v2g']}-{c['v2h_v2b']},0)", cnt, float(live.pool[i]))
        shares = _shares(live.states[i], float(ev[i]), float(safe[i]))
        for k, s in enumerate(STATES):
            empty = "1" if s == "outside" else "0"
            ws.write_formula(r, share_col[s], f"=IF({ev_c}>0,{c[s]}/{ev_c},{empty})", shr,
                             float(shares[k]))
        ws.write_formula(
            r, sum_col, f"=SUM({xl_rowcol_to_cell(r, share_col[STATES[0]])}:"
            f"{xl_rowcol_to_cell(r, share_col[STATES[-1]])})", tot, float(shares.sum()))
    _flag_sum(ws, fmts, first, last, sum_col)
    ws.autofilter(HEADER_ROW, 0, last, sum_col)
    ws.freeze_panes(DATA_ROW, 3)
    _define_block(wb, "states_table", SHEET_STATES, HEADER_ROW, 0, last, sum_col)
    layout = _write_world_states(wb, ws, fmts, first, last, ev_col, count_col, results,
                                 sum_col + 2)
    _setup_print(ws, HEADER_ROW)
    return layout


def _shares(counts: np.ndarray, ev: float, safe: float) -> np.ndarray:
    """Shares of one cell's EV stock by state; an empty stock is counted ``outside``."""
    if ev > 0:
        return counts / safe
    out = np.zeros(len(STATES))
    out[STATES.index("outside")] = 1.0
    return out


def _flag_sum(ws: Worksheet, fmts: _Formats, first: int, last: int, col: int) -> None:
    """Red when the shares do not add up to 100 %."""
    top = xl_rowcol_to_cell(first, col, row_abs=False, col_abs=True)
    ws.conditional_format(first, col, last, col, {
        "type": "formula", "criteria": f"=ABS({top}-1)>1E-9", "format": fmts.fail})


def _write_world_states(wb: Workbook, ws: Worksheet, fmts: _Formats, first: int, last: int,
                        ev_col: int, count_col: dict[str, int], results: Results,
                        col: int) -> _StatesLayout:
    years = [int(y) for y in results.scenario.years_axis]
    agg = results.aggregated.sel(region=WORLD, segment=ALL_SEGMENTS)
    ws.write_string(GROUP_ROW - 2, col, "World, all segments, by year (live sums of the rows)",
                    fmts.subtitle)
    year_col, w_ev = col, col + 1
    w_count = {s: col + 2 + k for k, s in enumerate(STATES)}
    w_share = {s: col + 2 + len(STATES) + k for k, s in enumerate(STATES)}
    w_sum = w_share[STATES[-1]] + 1
    headers = ["year", "World EV stock [vehicles]", *[f"{s} [vehicles]" for s in STATES],
               *[f"{s} [share of EV stock]" for s in STATES], "sum of shares [fraction]"]
    for j, h in enumerate(headers):
        ws.write_string(HEADER_ROW, col + j, h, fmts.header)
    ws.set_column(col, col, 6)
    ws.set_column(col + 1, w_sum, 13)
    ws.merge_range(GROUP_ROW, w_ev, GROUP_ROW, w_count[STATES[-1]], "Counts [vehicles]",
                   fmts.group)
    ws.merge_range(GROUP_ROW, w_share[STATES[0]], GROUP_ROW, w_sum,
                   "Shares of the World EV stock", fmts.group)
    year_rng = _col_range(SHEET_STATES, 2, first, last)
    cnt = fmts.cell("formula", "#,##0")
    shr = fmts.cell("formula", "0.00%")
    tot = fmts.cell("formula", "0.000000%")
    w_first = HEADER_ROW + 1
    ev_values = agg["ev_stock"].sel(year=years).values
    state_values = agg["states"].sel(year=years).transpose("year", "state").values
    share_values = agg["state_share"].sel(year=years).transpose("year", "state").values
    for i, year in enumerate(years):
        r = w_first + i
        y = xl_rowcol_to_cell(r, year_col)
        ws.write_number(r, year_col, year, fmts.cell("label", "0"))
        ws.write_formula(r, w_ev, f"=SUMIFS({_col_range(SHEET_STATES, ev_col, first, last)},"
                         f"{year_rng},{y})", cnt, float(ev_values[i]))
        ev_c = xl_rowcol_to_cell(r, w_ev)
        for k, s in enumerate(STATES):
            rng = _col_range(SHEET_STATES, count_col[s], first, last)
            ws.write_formula(r, w_count[s], f"=SUMIFS({rng},{year_rng},{y})", cnt,
                             float(state_values[i, k]))
            empty = "1" if s == "outside" else "0"
            ws.write_formula(r, w_share[s],
                             f"=IF({ev_c}>0,{xl_rowcol_to_cell(r, w_count[s])}/{ev_c},{empty})",
                             shr, float(share_values[i, k]))
        ws.write_formula(r, w_sum, f"=SUM({xl_rowcol_to_cell(r, w_share[STATES[0]])}:"
                         f"{xl_rowcol_to_cell(r, w_share[STATES[-1]])})", tot,
                         float(share_values[i].sum()))
    w_last = w_first + len(years) - 1
    _flag_sum(ws, fmts, w_first, w_last, w_sum)
    _define_block(wb, "world_states", SHEET_STATES, HEADER_ROW, col, w_last, w_sum)

    layout = _StatesLayout(w_first, year_col, w_ev, w_count, w_share, years)
    for k, kind in enumerate(("share", "vehicles")):
        ws.insert_chart(HEADER_ROW + 1 + 19 * k, w_sum + 2, _states_chart(wb, layout, kind))
    return layout


def _states_chart(wb: Workbook, st: _StatesLayout, kind: str) -> Any:
    """Stacked area of the World's states (``share`` or ``vehicles``), live from States."""
    cols = st.world_share_col if kind == "share" else st.world_count_col
    y_axis = ({"min": 0, "max": 1, "num_format": "0%", "name": "share of the EV stock"}
              if kind == "share" else
              {"min": 0, "num_format": MILLIONS_FORMAT, "name": "EVs in stock [vehicles]"})
    first, last = st.world_first, st.world_first + len(st.years) - 1
    chart = wb.add_chart({"type": "area", "subtype": "stacked"})
    for s in STATES:
        chart.add_series({
            "name": STATE_LABELS[s],
            "categories": [SHEET_STATES, first, st.world_year_col, last, st.world_year_col],
            "values": [SHEET_STATES, first, cols[s], last, cols[s]],
            "fill": {"color": STATE_COLOURS[s]}, "border": {"none": True},
        })
    what = "share of EV stock" if kind == "share" else "vehicles"
    chart.set_title({"name": f"Exclusive states, {what} (World; live)",
                     "name_font": {"size": 11}})
    chart.set_y_axis({**y_axis, "major_gridlines": {"visible": True,
                                                    "line": {"color": "#E0E0E0"}}})
    chart.set_x_axis({"name": "year", "interval_unit": 10, "interval_tick": 10,
                      "position_axis": "on_tick"})
    chart.set_legend({"position": "right"})
    chart.set_size({"width": 760, "height": 360})
    return chart


# ------------------------------------------------------------------------ static sheets
def _write_fleet(wb: Workbook, fmts: _Formats, fleet: pd.DataFrame) -> None:
    ws = wb.add_worksheet(SHEET_FLEET)
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
    _table_sheet(ws, fmts, fleet, cols, header_row=3, freeze_cols=3)


def _table_sheet(ws: Worksheet, fmts: _Formats, df: pd.DataFrame, cols: Sequence[Column],
                 header_row: int = 3, freeze_cols: int = 0, row_height: float = 48) -> int:
    """A sheet whose body is one table: header, frozen panes, filter, print setup."""
    _, last = _write_table(ws, fmts, df, cols, header_row)
    ws.set_row(header_row, row_height)
    ws.freeze_panes(header_row + 1, freeze_cols)
    if len(df):
        ws.autofilter(header_row, 0, last, len(cols) - 1)
    _setup_print(ws, header_row)
    return last


def capacity_wide(capacity: pd.DataFrame) -> pd.DataFrame:
    """The capacity table with one column per metric (region, year, metrics...)."""
    wide = capacity.pivot_table(index=["region", "year"], columns="metric", values="value",
                                sort=False, aggfunc="first")
    metrics = [m for m in METRICS if m in wide.columns]
    return wide[metrics].reset_index()


def _write_capacity(wb: Workbook, fmts: _Formats, capacity: pd.DataFrame,
                    availability_source: str) -> None:
    ws = wb.add_worksheet(SHEET_CAPACITY)
    _sheet_title(ws, fmts, "Capacity: from counts to GW and GWh (engine values)",
                 f"Summed over segments; availability from the {availability_source}.")
    wide = capacity_wide(capacity)
    cols = [Column("region", "region", kind="label", width=12),
            Column("year", "year", "0", kind="label", width=6),
            *[Column(m, f"{m} [{u}]", _num_format(u), width=15) for m, u in METRICS.items()]]
    last = _table_sheet(ws, fmts, wide, cols, header_row=3, freeze_cols=2)
    world = np.flatnonzero(np.asarray(wide["region"] == WORLD))
    if len(world) == 0:
        return
    w0, w1 = 4 + int(world[0]), 4 + int(world[-1])
    chart = wb.add_chart({"type": "line"})
    for metric, colour in (("shiftable_load", STATE_COLOURS["grid_managed"]),
                           ("v2g_export_power", STATE_COLOURS["v2g"])):
        j = next(i for i, c in enumerate(cols) if c.key == metric)
        chart.add_series({"name": f"{metric} [GW]",
                          "categories": [SHEET_CAPACITY, w0, 1, w1, 1],
                          "values": [SHEET_CAPACITY, w0, j, w1, j],
                          "line": {"color": colour, "width": 2.25}})
    chart.set_title({"name": "World: power at the evening peak [GW]",
                     "name_font": {"size": 11}})
    chart.set_y_axis({"name": "GW", "num_format": "#,##0",
                      "major_gridlines": {"visible": True, "line": {"color": "#E0E0E0"}}})
    chart.set_x_axis({"name": "year", "interval_unit": 10, "interval_tick": 10})
    chart.set_legend({"position": "bottom"})
    chart.set_size({"width": 640, "height": 340})
    ws.insert_chart(3, len(cols) + 1, chart)
    del last


def _hourly_columns(hourly: pd.DataFrame) -> list[Column]:
    cols = []
    for name in hourly.columns:
        unit = _unit_from_name(str(name))
        cols.append(Column(str(name), f"{name} [{unit}]" if unit else str(name),
                           _num_format(unit) if unit else _guess_format(hourly[name]),
                           width=13))
    return cols


def _unit_from_name(name: str) -> str:
    for suffix, unit in (("_kwh", "kWh"), ("_kw", "kW"), ("_gw", "GW"), ("_gwh", "GWh"),
                         ("_share", "fraction"), ("share", "fraction")):
        if name.endswith(suffix):
            return unit
    if name == "hour":
        return "h"
    return ""


def _guess_format(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series):
        return "General"
    if pd.api.types.is_integer_dtype(series):
        return "0"
    if pd.api.types.is_float_dtype(series):
        return "#,##0.000"
    return "General"


def _write_hourly(wb: Workbook, fmts: _Formats, hourly: pd.DataFrame) -> None:
    ws = wb.add_worksheet(SHEET_HOURLY)
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
    _setup_print(ws, 3)
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


def _write_checks(wb: Workbook, fmts: _Formats, checks: pd.DataFrame) -> None:
    ws = wb.add_worksheet(SHEET_CHECKS)
    n_pass = int((checks["status"] == "pass").sum()) if "status" in checks else 0
    _sheet_title(ws, fmts, "Denominator Checks",
                 f"{n_pass} of {len(checks)} pass. Each compares two independently computed "
                 "quantities (a sum against a total, a series against data, a count against "
                 "its bound).")
    cols = [Column("check", "check", kind="label", width=44),
            Column("status", "status", kind="label", width=8),
            Column("value", "value (measured)", "0.000E+00", width=14),
            Column("limit", "limit", kind="label", width=30),
            Column("detail", "detail", kind="text", width=90)]
    last = _table_sheet(ws, fmts, checks, cols, header_row=3, freeze_cols=1, row_height=20)
    if len(checks):
        ws.conditional_format(4, 1, last, 1, {"type": "cell", "criteria": "==",
                                              "value": '"pass"', "format": fmts.pass_})
        ws.conditional_format(4, 1, last, 1, {"type": "cell", "criteria": "==",
                                              "value": '"fail"', "format": fmts.fail})


# ---------------------------------------------------------------- judgement and sources
#: Wide text columns of the judgement tables.
TEXT_COLUMNS = {"source", "note", "rule", "evidence", "detail", "text", "implication",
                "reason", "reasons", "description", "summary", "proposed_change", "why",
                "consequence", "action"}


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
            width = min(40.0, max(10.0, float(series.astype(str).str.len().max() or 10) + 2))
            cols.append(Column(key, key, kind="label", width=width))
    return cols


def _write_judgement(wb: Workbook, fmts: _Formats, sheet: str, key: str, about: str,
                     df: pd.DataFrame | None) -> None:
    ws = wb.add_worksheet(sheet)
    _sheet_title(ws, fmts, sheet, about)
    if df is None:
        ws.write_string(3, 0, f"Not in this run: the judgement layer produced no "
                        f"'{key}' table (evflex.judgement.judge). The sheet fills in as soon "
                        "as it does.", fmts.note)
        return
    cols = generic_columns(df)
    last = _table_sheet(ws, fmts, df, cols, header_row=3, freeze_cols=1, row_height=32)
    if not len(df):
        ws.write_string(4, 0, "(no rows)", fmts.note)
        return
    names = [c.key for c in cols]
    for flag in ("fired", "v2g_survives"):
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


#: Fill of each scorecard verdict.
VERDICT_FILLS = {"scaling": "#B7E1CD", "progressing": "#D9EAD3", "niche-valid": "#FFF2CC",
                 "stalled": "#F4CCCC", "activity-only": "#EAD1DC"}


def sources_table(results: Results, tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Every source the run uses: ``source, year, kind, used_for``, one row per source."""
    sc = results.scenario
    rows: list[tuple[str, Any, str, str]] = []
    assumptions = tables.get("assumptions")
    if assumptions is None:
        assumptions = parameter_table(sc)
    for r in assumptions.itertuples(index=False):
        where = r.parameter if r.applies_to == "default" else f"{r.parameter} ({r.applies_to})"
        rows.append((str(r.source), r.year, "parameter", str(where)))
    bm = sc.bidirectional_models
    rows.append((bm.source, bm.year, "scenario", "bidirectional_models (capable models)"))
    rows.append((bm.sales_weight_source, bm.year, "scenario",
                 "bidirectional_models.sales_weight"))
    cal = sc.calibration
    if cal.anchors is not None:
        rows.append((cal.anchors.source, cal.anchors.year, "calibration target",
                     "calibration anchors (checks)"))
    if cal.states is not None:
        rows.append((cal.states.source, cal.states.year, "calibration target",
                     "calibration states (checks)"))
    iea = results.data["iea_ev_stock"].attrs.get("source")
    if iea:
        rows.append((str(iea), None, "data", "history of EV sales and stock "
                     "(src/evflex/data/iea_gev2025_extract.csv)"))
    for key, kind, what in (("evidence", "evidence", "indicator"),
                            ("triggers", "trigger", "trigger"),
                            ("comparators", "comparator", "option"),
                            ("scorecard", "scorecard", "pathway"),
                            ("implications", "implication", "audience")):
        df = tables.get(key)
        if df is None or "source" not in df.columns:
            continue
        label = what if what in df.columns else df.columns[0]
        year_col = "date" if "date" in df.columns else "year" if "year" in df.columns else None
        for rec in df.to_dict("records"):
            year = rec[year_col] if year_col else None
            rows.append((str(rec["source"]), year, kind, str(rec[label])))
    df = pd.DataFrame(rows, columns=["source", "year", "kind", "used_for"])
    df = df[df["source"].str.strip().astype(bool) & (df["source"] != "nan")]
    df["year"] = df["year"].map(_year_text)
    out = (df.groupby(["source", "kind"], sort=False)
           .agg(year=("year", _join_unique), used_for=("used_for", _join_unique))
           .reset_index())
    return out[["source", "year", "kind", "used_for"]]


def _year_text(value: Any) -> str:
    value = _plain(value)
    if _is_missing(value) or value == "":
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime.datetime):
        return value.date().isoformat()
    return str(value)


def _join_unique(values: Iterable[str]) -> str:
    seen: list[str] = []
    for v in values:
        if v and v not in seen:
            seen.append(v)
    return "; ".join(seen)


def _write_sources(wb: Workbook, fmts: _Formats, sources: pd.DataFrame) -> None:
    ws = wb.add_worksheet(SHEET_SOURCES)
    _sheet_title(ws, fmts, "Sources",
                 "Every source behind the run's parameters, data, calibration targets and "
                 "judgement; 'assumption' marks the authors' own choices.")
    cols = [Column("source", "source", kind="text", width=90),
            Column("year", "year", kind="label", width=10),
            Column("kind", "kind", kind="label", width=16),
            Column("used_for", "used for", kind="text", width=60)]
    _table_sheet(ws, fmts, sources, cols, header_row=3, freeze_cols=1, row_height=20)


def _write_assumptions(wb: Workbook, fmts: _Formats, assumptions: pd.DataFrame) -> None:
    ws = wb.add_worksheet(SHEET_ASSUMPTIONS)
    _sheet_title(ws, fmts, "Assumptions: every parameter with its unit, source and year",
                 "Each row is a parameter's default path or a regional/segment override; "
                 "'denominator' is the population the share is taken of.")
    reg = registry()
    df = assumptions.copy()
    df["description"] = df["parameter"].map(
        lambda p: reg[p].description if p in reg else "")
    df["year"] = df["year"].map(_year_text)
    cols = [Column("parameter", "parameter", kind="label", width=26),
            Column("applies_to", "applies to", kind="label", width=14),
            Column("unit", "unit", kind="label", width=9),
            Column("group", "group", kind="label", width=11),
            Column("denominator", "denominator (share of)", kind="text", width=26),
            Column("path", "value or path", kind="text", width=44),
            Column("source", "source", kind="text", width=70),
            Column("year", "source year", kind="label", width=8),
            Column("note", "note", kind="text", width=36),
            Column("description", "description", kind="text", width=50)]
    _table_sheet(ws, fmts, df, cols, header_row=3, freeze_cols=2, row_height=20)


# ---------------------------------------------------------------- Executive Summary
def key_figures(results: Results, capacity: pd.DataFrame) -> pd.DataFrame:
    """World key figures in :data:`SUMMARY_YEARS`: ``figure, unit, <year>...``."""
    years = [y for y in SUMMARY_YEARS if y in results.scenario.years_axis]
    rows: list[dict[Any, Any]] = []
    rows.append({"figure": "EV stock", "unit": "vehicles",
                 **{y: results.world("ev_stock", y) for y in years}})
    rows.append({"figure": "EV share of the vehicle stock", "unit": "fraction",
                 **{y: results.world("ev_stock_share", y) for y in years}})
    rows.append({"figure": "EV share of new sales", "unit": "fraction",
                 **{y: results.world("ev_sales_share", y) for y in years}})
    shares = {y: results.world_state_shares(y) for y in years}
    for s in STATES:
        rows.append({"figure": f"{STATE_LABELS[s]} ({s})", "unit": "fraction", "state": s,
                     **{y: shares[y][s] for y in years}})
    rows.append({"figure": "Managed-charging envelope (v2g + v2h_v2b + grid_managed)",
                 "unit": "fraction", "state": "managed_envelope",
                 **{y: sum(shares[y][s] for s in ("v2g", "v2h_v2b", "grid_managed"))
                    for y in years}})
    world = capacity[capacity["region"] == WORLD].set_index(["year", "metric"])["value"]
    for metric in ("naive_battery", "shiftable_load", "shiftable_energy",
                   "v2g_plugged_at_peak", "v2g_export_power", "v2g_export_energy"):
        rows.append({"figure": metric, "unit": METRICS[metric], "metric": metric,
                     **{y: float(world[(y, metric)]) for y in years}})
    return pd.DataFrame(rows)


def _write_summary(wb: Workbook, fmts: _Formats, results: Results, tables: Mapping[str, Any],
                   st: _StatesLayout, sheets: list[tuple[str, str]]) -> None:
    ws = wb.get_worksheet_by_name(SHEET_SUMMARY)
    assert ws is not None  # created first, filled last
    sc = results.scenario
    ws.set_column(0, 0, 58)
    ws.set_column(1, 1, 10)
    ws.set_column(2, 5, 12)
    ws.set_column(6, 6, 3)
    ws.write_string(0, 0, f"evflex · {sc.name} v{sc.version}: how much of the EV fleet is a "
                    "grid resource", fmts.title)
    ws.merge_range(1, 0, 1, 5, " ".join(sc.description.split()), fmts.wrap_note)
    ws.set_row(1, 48)
    checks = tables["checks"]
    n_pass = int((checks["status"] == "pass").sum())
    info = [("Scenario", f"{sc.name} v{sc.version}"),
            ("Availability at the peak from", str(results.data.attrs.get("availability_source",
                                                                         "scenario"))),
            ("Denominator checks", f"{n_pass} of {len(checks)} pass"),
            ("Written by", f"evflex {__version__}")]
    for i, (k, v) in enumerate(info):
        ws.write_string(3 + i, 0, k, fmts.bold)
        ws.write_string(3 + i, 1, v)
    row = 3 + len(info) + 1

    # Key figures; state shares point at the live World block of the States sheet.
    figures = key_figures(results, tables["capacity"])
    years = [c for c in figures.columns if isinstance(c, int)]
    ws.write_string(row, 0, "Key figures, World (state shares live from the States sheet)",
                    fmts.subtitle)
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
            elif rec["figure"] == "EV stock":
                ws.write_formula(r, 2 + j, f"={_ref(SHEET_STATES, wr, st.world_ev_col)}",
                                 fmts.cell("formula", num), value)
            else:
                ws.write_number(r, 2 + j, value, fmts.cell("value", num))
    row = first + len(figures) + 1
    ws.insert_chart(3, 7, _states_chart(wb, st, "share"))

    scorecard = tables.get("scorecard")
    if scorecard is not None and {"pathway", "verdict"} <= set(scorecard.columns):
        ws.write_string(row, 0, "Final scorecard", fmts.subtitle)
        row += 1
        cols = [c for c in ("pathway", "verdict", "rule") if c in scorecard.columns]
        for j, c in enumerate(cols):
            ws.write_string(row, j if j < 2 else 2, c, fmts.header)
        for i, rec in enumerate(scorecard.to_dict("records")):
            r = row + 1 + i
            ws.write_string(r, 0, str(rec["pathway"]), fmts.cell("label"))
            ws.write_string(r, 1, str(rec["verdict"]), wb.add_format(
                {"bold": True, "bg_color": VERDICT_FILLS.get(str(rec["verdict"]), "#FFFFFF"),
                 "border": 1, "border_color": "#E0E0E0"}))
            if "rule" in rec:
                ws.write_string(r, 2, str(rec["rule"]))
        row += len(scorecard) + 2

    summary = tables.get("summary")
    if summary is not None and len(summary):
        ws.write_string(row, 0, "Executive summary (judgement layer)", fmts.subtitle)
        row += 1
        for rec in summary.to_dict("records"):
            parts = [str(v) for v in rec.values() if not _is_missing(_plain(v))]
            ws.merge_range(row, 0, row, 8, " · ".join(parts), fmts.cell("text"))
            ws.set_row(row, 15 * max(1, math.ceil(len(" · ".join(parts)) / 150)))
            row += 1
        row += 1

    ws.write_string(row, 0, "Cell styles", fmts.subtitle)
    row += 1
    for kind, text in (("input", "input: change it, and the live formulas recalculate"),
                       ("formula", "formula: recalculates from the inputs (live)"),
                       ("value", "engine value: computed by evflex and written as a number")):
        ws.write_string(row, 0, text, fmts.cell(kind))
        row += 1
    row += 1
    ws.write_string(row, 0, "Contents", fmts.subtitle)
    row += 1
    for name, about in sheets:
        ws.write_url(row, 0, f"internal:{_quote(name)}!A1", fmts.link, string=name)
        ws.write_string(row, 1, about)
        row += 1
    _setup_print(ws)
    ws.activate()


# ----------------------------------------------------------------------------- entry
def complete_tables(results: Results, tables: Mapping[str, pd.DataFrame]
                    ) -> dict[str, pd.DataFrame]:
    """``tables`` with the pipeline's tables added where missing (engine frames, checks,
    assumptions, the energy funnel in the pipeline's default year)."""
    needed = ("states", "fleet", "funnel", "capacity", "checks", "assumptions",
              "energy_funnel")
    if all(k in tables for k in needed):
        return dict(tables)
    from evflex.pipeline import finish

    return {**finish(results, judgement=False).tables, **tables}


def write_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """Write through a temporary file beside ``path``, then move it in (all or nothing)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


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
        for sheet, key, short, about in JUDGEMENT_SHEETS:
            if key == "evidence" and key not in tables:
                continue
            _write_judgement(wb, fmts, sheet, key, about, tables.get(key))
            sheets.append((sheet, short))
        _write_sources(wb, fmts, sources_table(results, tables))
        sheets.append((SHEET_SOURCES, "every source, with what it is used for"))
        _write_summary(wb, fmts, results, tables, st, sheets)
    finally:
        wb.close()
