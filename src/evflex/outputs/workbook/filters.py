"""Filters & Funnel sheet: the live inputs of the allocation and the V2G funnel as formulas.

One row per region, segment and year holds the inputs of the allocation, styled as
inputs: EV stock, V2G-capable stock, smart-capable stock and vehicle stock [vehicles];
the six conditional filters and the three state uses [fraction]. The V2G funnel next to
them is a row of formulas, the algebra of :func:`evflex.filters.v2g_funnel`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr
from xlsxwriter.utility import xl_rowcol_to_cell
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from evflex.energy_funnel import STAGE_LABELS
from evflex.filters import CONDITIONAL_FILTERS, FUNNEL_STEPS
from evflex.model import WORLD
from evflex.outputs.style import DELIVERABLE_COLOUR, FUNNEL_COLOUR
from evflex.outputs.workbook.cells import (
    CHART_ROWS,
    DATA_ROW,
    GROUP_ROW,
    HEADER_ROW,
    INPUT_FRACTION_FORMAT,
    MILLIONS_FORMAT,
    SHEET_FILTERS,
    Column,
    _col_range,
    _define_block,
    _Formats,
    _setup_print,
    _sheet,
    _sheet_title,
    _write_table,
    _write_value,
    header_height,
)
from evflex.scenario import registry
from evflex.states import STATES

STOCK_INPUTS: tuple[tuple[str, str], ...] = (
    ("ev_stock", "EV stock"),
    ("capable_stock", "V2G-capable stock"),
    ("smart_capable_stock", "smart-capable stock"),
    ("stock", "vehicle stock"),
)
#: Shares of the state allocation that come after the funnel, in allocation order.
STATE_USES: tuple[str, ...] = ("v2h_v2b_use", "grid_managed_enrolment", "smart_charging_use")


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


def _live_inputs(ds: xr.Dataset) -> _LiveInputs:
    """The live rows of ``ds``: the run's dataset, or its cells summed into groups
    (:func:`evflex.outputs.workbook.groups.grouped_cells`)."""
    order = ("region", "segment", "year")
    ev = ds["ev_stock_pt"].sum("powertrain").transpose(*order)
    idx = ev.to_dataframe(name="ev").reset_index()[list(order)]

    def flat(name: str) -> np.ndarray:
        return np.asarray(ds[name].transpose(*order).values, dtype=float).reshape(-1)

    stocks = {"ev_stock": np.asarray(ev.values, dtype=float).reshape(-1),
              "capable_stock": flat("capable_stock"),
              "smart_capable_stock": flat("smart_capable_stock"), "stock": flat("stock")}
    shares = {name: flat(f"param_{name}") for name in (*CONDITIONAL_FILTERS, *STATE_USES)}
    funnel = np.asarray(ds["funnel"].transpose(*order, "step").values).reshape(len(idx), -1)
    states = np.asarray(ds["states"].transpose(*order, "state").values).reshape(len(idx), -1)
    v2g, v2h = states[:, STATES.index("v2g")], states[:, STATES.index("v2h_v2b")]
    pool = np.maximum(np.minimum(stocks["smart_capable_stock"], stocks["ev_stock"]) - v2g - v2h,
                      0.0)
    return _LiveInputs(idx, stocks, shares, funnel, states, pool)


# ----------------------------------------------------------------- Filters & Funnel
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
    ws = _sheet(wb, SHEET_FILTERS)
    reg = registry()
    _sheet_title(ws, fmts, "Filters & Funnel: the V2G filter stack (live)",
                 "Yellow cells are inputs: change a filter share or a stock and the funnel "
                 "here and the states on the States sheet recalculate. Each filter is a share "
                 "of the step before it.")
    ws.write_string(2, 0, "Funnel: v2g_capable = MIN(V2G-capable stock, EV stock); each "
                    "following step = step before × its filter share.", fmts.note)
    n = len(live.labels)
    first, last = DATA_ROW, DATA_ROW + n - 1
    cols: list[Column] = [Column("region", "region", kind="label", width=14),
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
    groups = [(0, 2, "cell"), (stock_col["ev_stock"], stock_col[STOCK_INPUTS[-1][0]],
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
    ws.data_validation(first, stock_col["ev_stock"], last, stock_col[STOCK_INPUTS[-1][0]],
                       {"validate": "decimal", "criteria": ">=", "value": 0,
                        "error_title": "A stock",
                        "error_message": "A stock is a number of vehicles, 0 or more."})
    ws.autofilter(HEADER_ROW, 0, last, last_col)
    ws.freeze_panes(DATA_ROW, 3)
    _define_block(wb, "filter_table", SHEET_FILTERS, HEADER_ROW, 0, last, last_col)
    layout = _FilterLayout(first, last, stock_col, share_col, step_col)
    end = _write_world_funnel(wb, ws, fmts, layout, live, funnel_energy, last_col + 2)
    ws.write_string(3, 0, "Printed: the World funnel block and its charts (columns to the "
                    "right); the per-cell rows are on screen.", fmts.note)
    _setup_print(ws, None, (GROUP_ROW - 2, last_col + 2, end, last_col + 2 + FUNNEL_PRINT_COLUMNS))
    return layout


#: Columns of the printed World funnel block: its tables and the charts to their right.
FUNNEL_PRINT_COLUMNS = 15


def _write_world_funnel(wb: Workbook, ws: Worksheet, fmts: _Formats, layout: _FilterLayout,
                        live: _LiveInputs, funnel_energy: pd.DataFrame, col: int) -> int:
    """World funnel in the funnel year: vehicles (live) and energy (engine), two charts;
    returns the last row the charts cover."""
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
    ws.insert_chart(HEADER_ROW, col + 5, chart)

    # Energy: the engine's energy funnel, as in funnel.png (log scale).
    e_row = last + 4
    ws.write_string(e_row - 1, col, "Energy funnel: naive battery to deliverable at the peak "
                    "(engine values, as funnel.png)", fmts.bold)
    e_cols = [Column("label", "stage", kind="label", width=30),
              Column("vehicles", "vehicles [vehicles]", "#,##0"),
              Column("energy_gwh", "energy [GWh]", "#,##0.0"),
              Column("power_gw", "power at the peak [GW]", "#,##0.0", width=21)]
    e_first, e_last = _write_table(ws, fmts, funnel_energy, e_cols, e_row, col)
    ws.set_row(e_row, header_height(e_cols))
    ws.write_string(e_last + 1, col, "The chart's axis is logarithmic: bar lengths are not "
                    "proportional to energy; read the numbers.", fmts.note)
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
    ws.insert_chart(e_row, col + 5, chart)
    return max(e_last, e_row + CHART_ROWS)


