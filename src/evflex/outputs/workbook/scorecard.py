"""The scorecard's verdicts as formulas over the live World states.

The scorecard rules (:mod:`evflex.judgement.scorecard`) read two kinds of metric: those
of the evidence ledger (growth, markets, adoption share...), which the workbook shows as
engine values, and the run's World share of the EV stock in a pathway's states, which it
reads from the States sheet's World block. The verdict is then the rules' ordered list of
conditions written as one nested ``IF``: change a filter, and a pathway whose projected
share crosses a threshold changes verdict.

The block is written only when the shipped rules, applied to the run's ledger, give the
verdicts of the scorecard table (the run used those rules); otherwise a note says the
verdicts are static.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
from xlsxwriter.utility import xl_rowcol_to_cell
from xlsxwriter.workbook import Workbook

from evflex.outputs.content import VERDICT_FILLS
from evflex.outputs.workbook.cells import (
    LINE_HEIGHT,
    SHEET_STATES,
    _Formats,
    _ref,
    _sheet,
    column_units,
    text_lines,
)
from evflex.outputs.workbook.states import _StatesLayout

#: Stand-in for an infinite ratio (only a denominator of 0): above any threshold.
INFINITE = 1e300
EXCEL_OPS = {">": ">", ">=": ">=", "<": "<", "<=": "<=", "==": "="}


@dataclass
class ScorecardCells:
    """Cell of each pathway's live verdict (sheet, row, column)."""

    sheet: str
    verdict: dict[str, tuple[int, int]]


def _run_share_year(spec: Mapping[str, Any], evidence: pd.DataFrame, pathway: str,
                    years: list[int]) -> int:
    year = spec["year"]
    if year == "end":
        return years[-1]
    if year == "evidence":
        mine = evidence[evidence["pathway"] == pathway]
        ev_year = int(pd.Timestamp(mine["date"].max()).year) if not mine.empty else years[0]
        return min(max(ev_year, years[0]), years[-1])
    return int(year)


def _world_totals(states: pd.DataFrame) -> Any:
    """The States table's World, all-segment counts as a (state, year) DataArray: the same
    totals the scorecard sums from the run, read from the block the formulas point at."""
    world = states[(states["region"] == "World") & (states["segment"] == "all")]
    return world.set_index(["state", "year"])["vehicles"].to_xarray()


def _share_refs(rules: Mapping[str, Any], pathway: str, st: _StatesLayout, year: int) -> str:
    wr = st.world_first + list(st.years).index(year)
    return "(" + "+".join(_ref(SHEET_STATES, wr, st.world_share_col[s])
                          for s in rules["pathway_states"][pathway]) + ")"


def _condition(cond: Mapping[str, Any], cell: str) -> str:
    test = f"{cell}{EXCEL_OPS[cond['op']]}{float(cond['value'])!r}"
    missing = "TRUE" if cond.get("missing") else "FALSE"
    return f"IF(ISNUMBER({cell}),{test},{missing})"


def verdict_formula(rules: Mapping[str, Any], cells: Mapping[str, str]) -> str:
    """The rules' verdicts as one nested IF over the metric cells."""
    entries = list(rules["verdicts"])
    formula = f'"{entries[-1]["verdict"]}"'
    for entry in reversed(entries[:-1]):
        conds = [_condition(c, cells[c["metric"]]) for c in entry.get("all") or []]
        test = f"AND({','.join(conds)})" if conds else "TRUE"
        formula = f'IF({test},"{entry["verdict"]}",{formula})'
    return f"={formula}"


def write_live_scorecard(wb: Workbook, fmts: _Formats, sheet: str, row: int,
                         tables: Mapping[str, pd.DataFrame], st: _StatesLayout,
                         first_width: float = 16.0) -> ScorecardCells | None:
    """The live verdict block on ``sheet`` from ``row`` on; None when it cannot be live."""
    from evflex.judgement.scorecard import compute_metrics, decide, load_rules

    ws = _sheet(wb, sheet)
    score, evidence = tables.get("scorecard"), tables.get("evidence")
    if score is None or evidence is None or not {"pathway", "verdict"} <= set(score.columns):
        return None
    rules = load_rules()
    pathways = [str(p) for p in score["pathway"]]
    evidence = evidence.assign(date=pd.to_datetime(evidence["date"], errors="coerce"))
    try:
        totals = _world_totals(tables["states"])
        metrics = {p: compute_metrics(evidence, totals, p, rules) for p in pathways}
        recomputed = [str(decide(metrics[p], rules)[0]["verdict"]) for p in pathways]
    except (KeyError, ValueError, TypeError) as exc:  # a ledger the rules cannot read
        recomputed, reason = [], f" ({type(exc).__name__}: {exc})"
    else:
        reason = ""
    if recomputed != [str(v) for v in score["verdict"]]:
        ws.write_string(row, 0, "Verdicts are static: the run's scorecard was not made with "
                        "the shipped rules, so the workbook cannot restate them as "
                        f"formulas{reason}.",
                        fmts.note)
        return None
    names = list(rules["metrics"])
    ws.write_string(row, 0, "Verdicts recalculated from the rules (live)", fmts.subtitle)
    ws.write_string(row + 1, 0, "Run-share metrics are formulas over the States sheet's World "
                    "block; evidence metrics are the ledger's (static, grey); blank = no "
                    f"observation; an infinite ratio shows as {INFINITE:g}.", fmts.note)
    header = row + 2
    ws.write_string(header, 0, "metric [unit]", fmts.header)
    for i, pathway in enumerate(pathways, start=1):
        ws.write_string(header, i, pathway, fmts.header)
    verdict_row = header + 1
    ws.write_string(verdict_row, 0, "verdict (live)", fmts.bold)
    years = list(st.years)
    out: dict[str, tuple[int, int]] = {}
    share_fmt = fmts.cell("formula", "0.00%")
    value_fmt = fmts.cell("value", "#,##0.###")
    huge_fmt = fmts.cell("value", "0.0E+00")
    ws.set_row(header, LINE_HEIGHT * max(text_lines(p, column_units(ws, i), bold=True)
                                         for i, p in enumerate(pathways, start=1)))
    for j, name in enumerate(names):
        unit = rules["metrics"][name].get("unit", "")
        text = f"{name} [{unit}]" if unit else name
        ws.write_string(verdict_row + 1 + j, 0, text, fmts.cell("text"))
        ws.set_row(verdict_row + 1 + j, LINE_HEIGHT * text_lines(text, first_width))
    for i, pathway in enumerate(pathways, start=1):
        cells: dict[str, str] = {}
        for j, name in enumerate(names):
            r = verdict_row + 1 + j
            spec, value = rules["metrics"][name], metrics[pathway][name].value
            cells[name] = xl_rowcol_to_cell(r, i)
            if spec["kind"] == "run_share":
                y = _run_share_year(spec, evidence, pathway, years)
                if y not in years:
                    ws.write_blank(r, i, None, value_fmt)
                    continue
                ws.write_formula(r, i, f"={_share_refs(rules, pathway, st, y)}", share_fmt,
                                 value)
            elif spec["kind"] == "run_growth":
                y0 = _run_share_year({"year": spec["from"]}, evidence, pathway, years)
                y1 = min(y0 + int(spec["years"]), years[-1])
                if y0 not in years or y1 <= y0 or math.isnan(value):
                    ws.write_blank(r, i, None, value_fmt)
                    continue
                a, b = _share_refs(rules, pathway, st, y0), _share_refs(rules, pathway, st, y1)
                ws.write_formula(r, i, f"=IF({a}>0,({b}/{a})^(1/{y1 - y0})-1,"
                                       f"IF({b}>0,{INFINITE!r},0))", share_fmt,
                                 INFINITE if math.isinf(value) else value)
            elif math.isnan(value):
                ws.write_blank(r, i, None, value_fmt)
            else:
                ws.write_number(r, i, INFINITE if math.isinf(value) else value,
                                huge_fmt if math.isinf(value) else value_fmt)
        verdict = str(score["verdict"].iloc[i - 1])
        ws.write_formula(verdict_row, i, verdict_formula(rules, cells), fmts.cell("formula"),
                         verdict)
        out[pathway] = (verdict_row, i)
    for verdict, fill in VERDICT_FILLS.items():
        ws.conditional_format(verdict_row, 1, verdict_row, len(pathways), {
            "type": "cell", "criteria": "==", "value": f'"{verdict}"',
            "format": wb.add_format({"bg_color": fill, "bold": True})})
    ws.print_area(0, 0, verdict_row + len(names), 4)
    return ScorecardCells(sheet, out)
