"""Denominator Checks sheet, live where a check reads the live chain.

A check of :mod:`evflex.checks` that reads only the states, the funnel, the stocks and the
capacity (states add up, nesting, funnel monotone, capacity within physical bounds, the
calibration of the state shares) is written as formulas: ``Check Measures`` holds, per
(region, segment, year) row, the relative excess the check measures, and the check's
value and status are formulas over that column. The other checks (stock reconciliation,
history against IEA data, calibration anchors of the fleet, share denominators) read
the fleet, which the workbook does not recalculate: they are engine values, marked
static.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr
from xlsxwriter.utility import xl_rowcol_to_cell
from xlsxwriter.workbook import Workbook

from evflex.capacity import KW_PER_GW, KWH_PER_GWH
from evflex.checks import IDENTITY_RTOL
from evflex.filters import FUNNEL_STEPS
from evflex.model import Results
from evflex.outputs.workbook.capacity import CapacityLayout
from evflex.outputs.workbook.cells import (
    DATA_ROW,
    HEADER_ROW,
    LINE_HEIGHT,
    PRINTED_CELL_ROWS,
    SHEET_CAPACITY_CELLS,
    SHEET_CHECK_CELLS,
    SHEET_CHECKS,
    SHEET_FILTERS,
    SHEET_STATES,
    Column,
    _col_range,
    _define_block,
    _Formats,
    _ref,
    _setup_print,
    _sheet,
    _sheet_title,
    _table_sheet,
    _write_cell_labels,
    text_lines,
)
from evflex.outputs.workbook.filters import _FilterLayout, _LiveInputs
from evflex.outputs.workbook.states import _StatesLayout
from evflex.states import STATES

#: Limit of the capacity bounds' relative excess (as :func:`evflex.checks.check_capacity_physical`).
CAPACITY_RTOL = 1e-9
#: Width of a measure column [column-width units] (its header wraps).
MEASURE_WIDTH = 9.0
LIVE = "live: formulas over the workbook's cells"
STATIC = "static: computed by evflex (reads the fleet)"


@dataclass(frozen=True)
class Measure:
    """One per-row measure: a relative excess ``MAX(lo - hi, 0) / MAX(|hi|, floor)``."""

    check: str
    lo: Callable[[int], str]  # row -> formula text of the bounded quantity
    hi: Callable[[int], str]  # row -> formula text of its bound
    lo_values: np.ndarray
    hi_values: np.ndarray
    floor: float = 1.0
    nonnegative: str | None = None  # capacity metric whose values must be >= 0

    def values(self) -> np.ndarray:
        excess = np.clip(self.lo_values - self.hi_values, 0.0, None)
        return excess / np.maximum(np.abs(self.hi_values), self.floor)

    def formula(self, r: int) -> str:
        return f"=MAX(({self.lo(r)})-({self.hi(r)}),0)/MAX(ABS({self.hi(r)}),{self.floor:g})"


def _measures(ds: xr.Dataset, live: _LiveInputs, flt: _FilterLayout, st: _StatesLayout,
              cap: CapacityLayout) -> list[Measure]:
    order = ("region", "segment", "year")

    def flat(name: str) -> np.ndarray:
        return np.asarray(ds[name].transpose(*order).values, dtype=float).reshape(-1)

    def fcell(key: str) -> Callable[[int], str]:
        return lambda r: _ref(SHEET_FILTERS, r, flt.stock_col[key])

    def step(name: str) -> Callable[[int], str]:
        return lambda r: _ref(SHEET_FILTERS, r, flt.step_col[name])

    def state(s: str) -> Callable[[int], str]:
        return lambda r: _ref(SHEET_STATES, r, st.count_col[s])

    def states(names: tuple[str, ...]) -> Callable[[int], str]:
        return lambda r: "+".join(state(s)(r) for s in names)

    def metric(m: str) -> Callable[[int], str]:
        return lambda r: _ref(SHEET_CAPACITY_CELLS, r, cap.metric_col[m])

    def cell(key: str, col: int) -> Callable[[int], str]:
        return lambda r: _ref(SHEET_CAPACITY_CELLS, r, col)

    k = {s: live.states[:, STATES.index(s)] for s in STATES}
    stocks, funnel = live.stocks, live.funnel
    bidir = funnel[:, FUNNEL_STEPS.index("bidirectional_charger")]
    envelope_names = ("v2g", "v2h_v2b", "grid_managed")
    envelope = k["v2g"] + k["v2h_v2b"] + k["grid_managed"]
    ev = stocks["ev_stock"]
    plugged = flat("capacity_v2g_plugged_at_peak")
    out = [
        Measure("states_sum_to_stock", states(STATES), fcell("ev_stock"),
                live.states.sum(axis=1), ev),
        Measure("nest_v2g_le_bidirectional_installed", state("v2g"),
                step("bidirectional_charger"), k["v2g"], bidir),
        Measure("nest_bidirectional_installed_le_v2g_capable_stock",
                step("bidirectional_charger"), fcell("capable_stock"), bidir,
                stocks["capable_stock"]),
        Measure("nest_v2g_capable_stock_le_ev_stock", fcell("capable_stock"), fcell("ev_stock"),
                stocks["capable_stock"], ev),
        Measure("nest_ev_stock_le_vehicle_stock", fcell("ev_stock"), fcell("stock"), ev,
                stocks["stock"]),
        Measure("nest_managed_envelope_le_flexible", states(envelope_names),
                states((*envelope_names, "smart_only")), envelope, envelope + k["smart_only"]),
    ]
    cc = {name: cap.input_col[name] for name in ("export_power_kw", "charger_power_kw")}
    capable_kwh_col = cap.input_col["capable_kwh"]
    bounds = [
        ("v2g_plugged_le_v2g", metric("v2g_plugged_at_peak"), state("v2g"), plugged, k["v2g"],
         "v2g_plugged_at_peak"),
        ("v2g_power_le_export_rating", metric("v2g_export_power"),
         lambda r: f"{metric('v2g_plugged_at_peak')(r)}*"
                   f"{cell('export_power_kw', cc['export_power_kw'])(r)}/{KW_PER_GW:.0f}",
         flat("capacity_v2g_export_power"), plugged * flat("param_export_power_kw") / KW_PER_GW,
         "v2g_export_power"),
        ("v2g_energy_le_battery", metric("v2g_export_energy"),
         lambda r: f"{metric('v2g_plugged_at_peak')(r)}*"
                   f"{cell('capable_kwh', capable_kwh_col)(r)}/{KWH_PER_GWH:.0f}",
         flat("capacity_v2g_export_energy"), plugged * flat("capable_kwh") / KWH_PER_GWH,
         "v2g_export_energy"),
        ("v2g_energy_le_naive_battery", lambda r: f"{metric('v2g_export_energy')(r)}/1000",
         metric("naive_battery"), flat("capacity_v2g_export_energy") / 1e3,
         flat("capacity_naive_battery"), "naive_battery"),
        ("shiftable_load_le_charger_rating", metric("shiftable_load"),
         lambda r: f"{metric('managed_envelope')(r)}*"
                   f"{cell('charger_power_kw', cc['charger_power_kw'])(r)}/{KW_PER_GW:.0f}",
         flat("capacity_shiftable_load"), envelope * flat("param_charger_power_kw") / KW_PER_GW,
         "shiftable_load"),
        ("managed_envelope_le_ev_stock", metric("managed_envelope"), fcell("ev_stock"),
         flat("capacity_managed_envelope"), ev, "managed_envelope"),
    ]
    for name, lo, hi, lo_v, hi_v, nonneg in bounds:
        out.append(Measure(f"capacity_{name}", lo, hi, lo_v, hi_v, 1e-12, nonneg))
    return out


def _funnel_rise(r: int, flt: _FilterLayout) -> str:
    parts = []
    for before, after in itertools.pairwise(FUNNEL_STEPS):
        b, a = (_ref(SHEET_FILTERS, r, flt.step_col[s]) for s in (before, after))
        parts.append(f"MAX({a}-{b},0)/MAX({b},1)")
    return f"=MAX({','.join(parts)})"


@dataclass
class _CheckCells:
    col: dict[str, int]
    first: int
    last: int


def _write_check_cells(wb: Workbook, fmts: _Formats, ds: xr.Dataset, live: _LiveInputs,
                       flt: _FilterLayout, st: _StatesLayout, cap: CapacityLayout
                       ) -> tuple[_CheckCells, list[Measure]]:
    ws = _sheet(wb, SHEET_CHECK_CELLS)
    _sheet_title(ws, fmts, "Check Measures: what each live check measures, per cell (live)",
                 "Relative excess of a quantity over its bound, MAX(lo − hi, 0) / MAX(|hi|, 1), "
                 "per region, segment and year; the Denominator Checks sheet takes the MAX.")
    measures = _measures(ds, live, flt, st, cap)
    n = len(live.labels)
    first, last = DATA_ROW, DATA_ROW + n - 1
    names = [*(m.check for m in measures[:1]), "states_shares_sum_to_one",
             *(m.check for m in measures[1:]), "funnel_monotone"]
    col = {name: 3 + j for j, name in enumerate(names)}
    for j, h in enumerate(["region", "segment", "year"]):
        ws.write_string(HEADER_ROW, j, h, fmts.header)
        ws.set_column(j, j, (14, 9, 6)[j])
    for name, j in col.items():
        ws.write_string(HEADER_ROW, j, f"{name} [relative]", fmts.header)
        ws.set_column(j, j, MEASURE_WIDTH)
    ws.set_row(HEADER_ROW, LINE_HEIGHT * max(
        text_lines(f"{name} [relative]", MEASURE_WIDTH, bold=True) for name in col))
    label, year_fmt = fmts.cell("label"), fmts.cell("label", "0")
    fmt = fmts.cell("formula", "0.0E+00")
    values = {m.check: m.values() for m in measures}
    ev = live.stocks["ev_stock"]
    shares = np.where(ev[:, None] > 0, live.states / np.where(ev > 0, ev, 1.0)[:, None],
                      np.eye(len(STATES))[STATES.index("outside")][None, :])
    values["states_shares_sum_to_one"] = np.abs(shares.sum(axis=1) - 1.0)
    f = live.funnel
    values["funnel_monotone"] = np.max(np.clip(f[:, 1:] - f[:, :-1], 0.0, None)
                                       / np.maximum(f[:, :-1], 1.0), axis=1)
    by_name = {m.check: m for m in measures}
    _write_cell_labels(ws, first, live.labels, label, year_fmt)
    for i in range(n):
        r = first + i
        for name, j in col.items():
            if name == "states_shares_sum_to_one":
                formula = f"=ABS({_ref(SHEET_STATES, r, st.sum_col)}-1)"
            elif name == "funnel_monotone":
                formula = _funnel_rise(r, flt)
            else:
                formula = by_name[name].formula(r)
            ws.write_formula(r, j, formula, fmt, float(values[name][i]))
    ws.freeze_panes(DATA_ROW, 3)
    ws.autofilter(HEADER_ROW, 0, last, max(col.values()))
    _define_block(wb, "check_measures", SHEET_CHECK_CELLS, HEADER_ROW, 0, last,
                  max(col.values()))
    _setup_print(ws, HEADER_ROW)
    ws.write_string(3, 0, f"Printed: the first {PRINTED_CELL_ROWS} of {n} rows; all are on "
                    "screen.", fmts.note)
    ws.print_area(0, 0, min(last, DATA_ROW + PRINTED_CELL_ROWS - 1), max(col.values()))
    return _CheckCells(col, first, last), measures


def _live_check(name: str, results: Results, cells: _CheckCells, measures: list[Measure],
                st: _StatesLayout, cap: CapacityLayout) -> tuple[str, str] | None:
    """(value formula, status formula) of a live check, or None for a static one."""
    if name in cells.col:
        value = f"MAX({_col_range(SHEET_CHECK_CELLS, cells.col[name], cells.first, cells.last)})"
        tol = IDENTITY_RTOL if not name.startswith("capacity_") else CAPACITY_RTOL
        ok = f"{value}<={tol:g}"
        nonneg = next((m.nonnegative for m in measures if m.check == name), None)
        if nonneg is not None:
            metric = _col_range(SHEET_CAPACITY_CELLS, cap.metric_col[nonneg], cap.cell_first,
                                cap.cell_last)
            ok = f"AND({ok},MIN({metric})>=0)"
        return f"={value}", f'=IF({ok},"pass","fail")'
    if name == "states_nonnegative":
        counts = (f"{_col_range(SHEET_STATES, st.count_col[STATES[0]], st.first, st.last)}:"
                  f"{xl_rowcol_to_cell(st.last, st.count_col[STATES[-1]], True, True)}")
        ev = _col_range(SHEET_STATES, st.ev_col, st.first, st.last)
        value = f"MAX(-MIN({counts}),0)"
        return f"={value}", f'=IF({value}<={IDENTITY_RTOL:g}*MAX({ev}),"pass","fail")'
    targets = results.scenario.calibration.states
    if targets is not None:
        for s in STATES:
            if name == f"calibration_{s}_{targets.year}" and targets.year in st.years:
                share = _ref(SHEET_STATES, st.world_first + st.years.index(targets.year),
                             st.world_share_col[s])
                target = float(getattr(targets, s))
                return (f"={share}", f'=IF(ABS({share}-{target!r})<={targets.tolerance!r},'
                                     '"pass","missed")')
    return None


def _write_checks(wb: Workbook, fmts: _Formats, checks: pd.DataFrame, results: Results,
                  ds: xr.Dataset, live: _LiveInputs, flt: _FilterLayout, st: _StatesLayout,
                  cap: CapacityLayout) -> str:
    """The checks sheet; returns the formula text counting the checks that pass."""
    ws = _sheet(wb, SHEET_CHECKS)
    _sheet_title(ws, fmts, "Denominator Checks", "")
    cells, measures = _write_check_cells(wb, fmts, ds, live, flt, st, cap)
    cols = [Column("check", "check", kind="label", width=40),
            Column("status", "status", kind="label", width=8),
            Column("value", "value (measured)", "0.000E+00", width=12),
            Column("limit", "limit", kind="label", width=26),
            Column("detail", "detail", kind="text", width=70),
            Column("computed", "computed", kind="text", width=24)]
    df = checks.copy()
    live_formulas = [_live_check(str(c), results, cells, measures, st, cap)
                     for c in df["check"]]
    df["computed"] = [LIVE if f is not None else STATIC for f in live_formulas]
    last = _table_sheet(ws, fmts, df, cols, header_row=3, freeze_cols=1)
    first = 4
    for i, formulas in enumerate(live_formulas):
        if formulas is None:
            continue
        value, status = formulas
        r = first + i
        ws.write_formula(r, 2, value, fmts.cell("formula", "0.000E+00"),
                         float(df["value"].iloc[i]))
        ws.write_formula(r, 1, status, fmts.cell("formula"), str(df["status"].iloc[i]))
    status_rng = _col_range(SHEET_CHECKS, 1, first, last)
    count = f'COUNTIF({status_rng},"pass")&" of "&ROWS({status_rng})&" pass"'
    n_pass = int((df["status"] == "pass").sum())
    ws.write_formula(1, 0, f'={count}&". Live checks recalculate with the inputs; static ones '
                     'are the engine\'s (column computed)."', fmts.note,
                     f"{n_pass} of {len(df)} pass. Live checks recalculate with the inputs; "
                     "static ones are the engine's (column computed).")
    if len(df):
        ws.conditional_format(first, 1, last, 1, {"type": "cell", "criteria": "==",
                                                  "value": '"pass"', "format": fmts.pass_})
        ws.conditional_format(first, 1, last, 1, {"type": "cell", "criteria": "==",
                                                  "value": '"fail"', "format": fmts.fail})
    _define_block(wb, "checks_table", SHEET_CHECKS, 3, 0, last, len(cols) - 1)
    return f"={count}"
