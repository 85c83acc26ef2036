"""Capacity sheet: from counts to GW and GWh."""

from __future__ import annotations

import numpy as np
import pandas as pd
from xlsxwriter.workbook import Workbook

from evflex.capacity import METRICS
from evflex.model import WORLD
from evflex.outputs.style import STATE_COLOURS
from evflex.outputs.workbook.cells import (
    SHEET_CAPACITY,
    Column,
    _Formats,
    _num_format,
    _sheet_title,
    _table_sheet,
)


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


