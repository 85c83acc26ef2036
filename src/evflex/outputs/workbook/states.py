"""States sheet: every EV counted once, as formulas over the Filters & Funnel inputs.

The exclusive states are the algebra of :func:`evflex.states.allocate_states` written as
cell formulas, with their shares, their sum, and the World by year as sums of the rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from xlsxwriter.utility import xl_rowcol_to_cell
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from evflex.model import ALL_SEGMENTS, WORLD, Results
from evflex.outputs.style import STATE_COLOURS, STATE_LABELS
from evflex.outputs.workbook.cells import (
    CHART_ROWS,
    DATA_ROW,
    GROUP_ROW,
    HEADER_ROW,
    MILLIONS_FORMAT,
    SHEET_FILTERS,
    SHEET_STATES,
    _col_range,
    _define_block,
    _Formats,
    _ref,
    _setup_print,
    _sheet,
    _sheet_title,
)
from evflex.outputs.workbook.filters import _FilterLayout, _LiveInputs
from evflex.states import STATES


# ---------------------------------------------------------------------------- States
@dataclass
class _StatesLayout:
    world_first: int
    world_year_col: int
    world_ev_col: int
    world_count_col: dict[str, int]
    world_share_col: dict[str, int]
    years: list[int]
    world_sum_col: int = 0
    #: The rows of every (region, segment, year) cell.
    first: int = 0
    last: int = 0
    ev_col: int = 0
    count_col: dict[str, int] = field(default_factory=dict)
    share_col: dict[str, int] = field(default_factory=dict)
    sum_col: int = 0
    print_end: int = 0


def _write_states(wb: Workbook, fmts: _Formats, live: _LiveInputs, flt: _FilterLayout,
                  results: Results) -> _StatesLayout:
    ws = _sheet(wb, SHEET_STATES)
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
    widths = [14, 9, 6, 14, *[13] * len(STATES), 17, *[11] * len(STATES), 11]
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
    ws.write_string(3, 0, "Printed: the World block and its charts (columns to the right); "
                    "the per-cell rows are on screen.", fmts.note)
    _setup_print(ws, HEADER_ROW, (GROUP_ROW - 2, layout.world_year_col, layout.print_end,
                                  layout.world_sum_col))
    layout.first, layout.last, layout.ev_col = first, last, ev_col
    layout.count_col, layout.share_col, layout.sum_col = count_col, share_col, sum_col
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

    layout = _StatesLayout(w_first, year_col, w_ev, w_count, w_share, years, w_sum)
    for k, kind in enumerate(("share", "vehicles")):
        ws.insert_chart(w_last + 2 + (CHART_ROWS + 1) * k, col, _states_chart(wb, layout, kind))
    layout.print_end = w_last + 2 + 2 * (CHART_ROWS + 1)
    ws.set_h_pagebreaks([w_last + 1])  # the charts on a page of their own
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


