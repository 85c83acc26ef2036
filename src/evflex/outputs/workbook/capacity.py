"""Capacity sheets: from counts to GW and GWh, as formulas over the live states.

``Capacity by Cell`` has one row per region, segment and year, in the row order of the
Filters & Funnel and States sheets. Its inputs are the availability at the peak and the
power and energy parameters of :func:`evflex.capacity.grid_capacity`; two columns are
engine values (the mean battery of the EV stock and of the V2G-capable stock, which the
engine builds from vintages); the metrics are that function's algebra written as
formulas over the States sheet's counts. ``Capacity`` sums the rows over segments, by
region and year and for the World, with SUMIFS: editing a filter, a stock or an
availability input moves every figure on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr
from xlsxwriter.utility import xl_rowcol_to_cell
from xlsxwriter.workbook import Workbook

from evflex.capacity import (
    AVAILABILITY_FIELDS,
    KW_PER_GW,
    KWH_PER_GWH,
    KWH_PER_TWH,
    METRICS,
    Availability,
)
from evflex.model import WORLD, Results
from evflex.outputs.style import STATE_COLOURS
from evflex.outputs.workbook.cells import (
    DATA_ROW,
    GROUP_ROW,
    HEADER_ROW,
    PRINTED_CELL_ROWS,
    SHEET_CAPACITY,
    SHEET_CAPACITY_CELLS,
    SHEET_FILTERS,
    SHEET_STATES,
    Column,
    _col_range,
    _define_block,
    _Formats,
    _num_format,
    _ref,
    _setup_print,
    _sheet,
    _sheet_title,
    _write_cell_labels,
    header_height,
)
from evflex.outputs.workbook.filters import _FilterLayout, _LiveInputs
from evflex.outputs.workbook.states import _StatesLayout

#: Power and energy parameters of the capacity metrics (scenario parameters), in order.
POWER_INPUTS: tuple[str, ...] = ("charger_power_kw", "export_power_kw", "peak_duration_h",
                                 "daily_energy_kwh", "shiftable_energy_share")
#: Units of the inputs that are not in the parameter registry's table.
INPUT_UNITS: dict[str, str] = {
    "plug_in_share_at_peak": "fraction of V2G vehicles", "soc_at_peak": "fraction of battery",
    "mobility_reserve_soc": "fraction of battery",
    "charging_coincidence_at_peak": "fraction of managed vehicles",
    "charger_power_kw": "kW", "export_power_kw": "kW", "peak_duration_h": "h",
    "daily_energy_kwh": "kWh/day", "shiftable_energy_share": "fraction"}


class AvailabilityMissing(ValueError):
    """The run's availability came from a simulation and was not handed to the writer."""


@dataclass
class CapacityLayout:
    """Where the live capacity lives: the by-cell rows and the summary table."""

    cell_first: int
    cell_last: int
    metric_col: dict[str, int]  # on the by-cell sheet
    summary_first: int
    summary_last: int
    summary_col: dict[str, int]  # on the Capacity sheet
    world_rows: dict[int, int]  # year -> row of the World on the Capacity sheet
    input_col: dict[str, int]  # inputs and engine values on the by-cell sheet


def availability_inputs(results: Results, availability: Availability | None
                        ) -> dict[str, np.ndarray]:
    """The availability of the run per (region, segment, year) row [fraction].

    From the scenario's parameters unless the run took it from a simulation: then the
    object the run used (``availability``, else the one the run carries).
    """
    if availability is None:
        availability = results.availability
    ds = results.data
    order = ("region", "segment", "year")
    shape = tuple(ds.sizes[d] for d in order)
    source = str(ds.attrs.get("availability_source", "scenario"))
    if availability is None and source != "scenario":
        raise AvailabilityMissing(
            f"the run's availability came from the {source}; pass that Availability to "
            "write_workbook(availability=...)")
    out = {}
    for name in AVAILABILITY_FIELDS:
        if availability is None:
            values = ds[f"param_{name}"].transpose(*order).values
        else:
            values = np.broadcast_to(np.asarray(getattr(availability, name), dtype=float),
                                     shape)
        out[name] = np.asarray(values, dtype=float).reshape(-1)
    return out


def _write_capacity_cells(wb: Workbook, fmts: _Formats, ds: xr.Dataset, live: _LiveInputs,
                          flt: _FilterLayout, st: _StatesLayout,
                          availability: Mapping[str, np.ndarray]) -> CapacityLayout:
    """The by-cell sheet over the rows of ``ds`` (the run's cells or their groups), with
    ``availability`` per row (:func:`availability_inputs`)."""
    order = ("region", "segment", "year")
    n = len(live.labels)

    def flat(name: str) -> np.ndarray:
        return np.asarray(ds[name].transpose(*order).values, dtype=float).reshape(-1)

    ws = _sheet(wb, SHEET_CAPACITY_CELLS)
    source = str(ds.attrs.get("availability_source", "scenario"))
    _sheet_title(ws, fmts, "Capacity by cell: GW and GWh from the live states (live)",
                 f"Yellow cells are inputs (availability from the {source}); grey cells are "
                 "engine values built from vintages (static); white cells are formulas over "
                 "the States sheet.")
    ws.write_string(2, 0, "shiftable load = envelope × coincidence × charger kW / 1e6; "
                    "export power = plugged × MIN(export kW, usable kWh / peak h) / 1e6; "
                    "usable = capable battery × MAX(SoC − reserve, 0).", fmts.note)
    ev = live.stocks["ev_stock"]
    naive_kwh = flat("capacity_naive_battery") * KWH_PER_TWH
    battery = np.where(ev > 0, naive_kwh / np.where(ev > 0, ev, 1.0), flat("param_battery_kwh_bev"))
    engine_values = {"mean_battery_kwh": battery, "capable_kwh": flat("capable_kwh")}
    inputs = {**availability,
              **{p: flat(f"param_{p}") for p in POWER_INPUTS}}
    metric_names = [*METRICS, "usable_kwh"]
    cols: list[Column] = [Column("region", "region", kind="label", width=14),
                          Column("segment", "segment", kind="label", width=9),
                          Column("year", "year", "0", kind="label", width=6)]
    for name in metric_names:
        unit = METRICS.get(name, "kWh/vehicle")
        cols.append(Column(name, f"{name} [{unit}]", _num_format(unit), "formula", 12))
    cols += [Column("mean_battery_kwh", "mean battery of the EV stock [kWh/vehicle] (engine, "
                    "from vintages)", "#,##0.00", width=12),
             Column("capable_kwh", "mean battery of the V2G-capable stock [kWh/vehicle] "
                    "(engine, from vintages)", "#,##0.00", width=12)]
    col: dict[str, int] = {}
    for name in inputs:
        unit = INPUT_UNITS[name]
        fmt = "0.000%" if "fraction" in unit else "#,##0.00"
        cols.append(Column(name, f"{name} [{unit}]", fmt, "input", 12))
    for j, c in enumerate(cols):
        col[c.key] = j
        ws.write_string(HEADER_ROW, j, c.header, fmts.header)
        ws.set_column(j, j, c.width)
    ws.set_row(HEADER_ROW, header_height(cols))
    groups = [(0, 2, "cell"), (col[metric_names[0]], col[metric_names[-1]], "Capacity (formulas)"),
              (col["mean_battery_kwh"], col["capable_kwh"], "Engine values"),
              (col[AVAILABILITY_FIELDS[0]], col[AVAILABILITY_FIELDS[-1]],
               "Inputs: availability at the peak"),
              (col[POWER_INPUTS[0]], col[POWER_INPUTS[-1]], "Inputs: power and energy")]
    for c0, c1, text in groups:
        ws.merge_range(GROUP_ROW, c0, GROUP_ROW, c1, text, fmts.group)

    first, last = DATA_ROW, DATA_ROW + n - 1
    label, year_fmt = fmts.cell("label"), fmts.cell("label", "0")
    value_fmt = {k: fmts.cell("value", cols[col[k]].num_format) for k in engine_values}
    input_fmt = {k: fmts.cell("input", cols[col[k]].num_format) for k in inputs}
    metric_fmt = {k: fmts.cell("formula", cols[col[k]].num_format) for k in metric_names}
    states = {s: st.count_col[s] for s in ("v2g", "v2h_v2b", "grid_managed")}
    expected = {m: flat(f"capacity_{m}") for m in METRICS}
    expected["usable_kwh"] = flat("usable_kwh")
    _write_cell_labels(ws, first, live.labels, label, year_fmt)
    for i in range(n):
        r = first + i
        for k, values in engine_values.items():
            ws.write_number(r, col[k], float(values[i]), value_fmt[k])
        for k, values in inputs.items():
            ws.write_number(r, col[k], float(values[i]), input_fmt[k])
        x = {k: xl_rowcol_to_cell(r, j) for k, j in col.items()}
        s = {k: _ref(SHEET_STATES, r, j) for k, j in states.items()}
        ev_ref = _ref(SHEET_FILTERS, r, flt.stock_col["ev_stock"])
        formulas = {
            "naive_battery": f"={ev_ref}*{x['mean_battery_kwh']}/{KWH_PER_TWH:.0f}",
            "managed_envelope": f"={s['v2g']}+{s['v2h_v2b']}+{s['grid_managed']}",
            "shiftable_load": f"={x['managed_envelope']}*{x['charging_coincidence_at_peak']}"
                              f"*{x['charger_power_kw']}/{KW_PER_GW:.0f}",
            "shiftable_energy": f"={x['managed_envelope']}*{x['daily_energy_kwh']}"
                                f"*{x['shiftable_energy_share']}/{KWH_PER_GWH:.0f}",
            "v2g_plugged_at_peak": f"={s['v2g']}*{x['plug_in_share_at_peak']}",
            "usable_kwh": f"={x['capable_kwh']}*MAX({x['soc_at_peak']}"
                          f"-{x['mobility_reserve_soc']},0)",
            "v2g_export_power": f"={x['v2g_plugged_at_peak']}*MIN({x['export_power_kw']},"
                                f"{x['usable_kwh']}/{x['peak_duration_h']})/{KW_PER_GW:.0f}",
            "v2g_export_energy": f"={x['v2g_plugged_at_peak']}*MIN({x['usable_kwh']},"
                                 f"{x['export_power_kw']}*{x['peak_duration_h']})"
                                 f"/{KWH_PER_GWH:.0f}",
        }
        for name in metric_names:
            ws.write_formula(r, col[name], formulas[name], metric_fmt[name],
                             float(expected[name][i]))
    for name in inputs:
        unit = INPUT_UNITS[name]
        rule = ({"validate": "decimal", "criteria": "between", "minimum": 0, "maximum": 1}
                if "fraction" in unit else
                {"validate": "decimal", "criteria": ">", "value": 0})
        ws.data_validation(first, col[name], last, col[name], {
            **rule, "error_title": name,
            "error_message": f"{name} is in {unit}" + (", between 0 and 1." if "fraction" in unit
                                                       else ", above 0.")})
    ws.autofilter(HEADER_ROW, 0, last, len(cols) - 1)
    ws.freeze_panes(DATA_ROW, 3)
    _define_block(wb, "capacity_cells", SHEET_CAPACITY_CELLS, HEADER_ROW, 0, last,
                  len(cols) - 1)
    _setup_print(ws, HEADER_ROW)
    ws.write_string(3, 0, f"Printed: the first {PRINTED_CELL_ROWS} of {n} rows and the "
                    "capacity columns; all rows, the engine values and the inputs are on "
                    "screen.", fmts.note)
    ws.print_area(0, 0, min(last, DATA_ROW + PRINTED_CELL_ROWS - 1), col[metric_names[-1]])
    return CapacityLayout(first, last, {m: col[m] for m in metric_names}, 0, 0, {}, {},
                          {k: col[k] for k in (*engine_values, *inputs)})


def capacity_wide(capacity: pd.DataFrame) -> pd.DataFrame:
    """The capacity table with one column per metric (region, year, metrics...), the
    World first."""
    wide = capacity.pivot_table(index=["region", "year"], columns="metric", values="value",
                                sort=False, aggfunc="first")
    metrics = [m for m in METRICS if m in wide.columns]
    wide = wide[metrics].reset_index()
    world = wide["region"] == WORLD
    return pd.concat([wide[world], wide[~world]], ignore_index=True)


def _write_capacity(wb: Workbook, fmts: _Formats, capacity: pd.DataFrame,
                    cells: CapacityLayout, availability_source: str,
                    parts: Mapping[str, list[str] | None]) -> CapacityLayout:
    """The Capacity sheet: one row per region of ``parts`` and year, the sum of the
    by-cell rows whose label is one of its parts (``None``: every row, the World)."""
    ws = _sheet(wb, SHEET_CAPACITY)
    _sheet_title(ws, fmts, "Capacity: from counts to GW and GWh (live)",
                 f"Sums over segments of the {SHEET_CAPACITY_CELLS} sheet (SUMIFS), World "
                 f"first; availability from the {availability_source}.")
    wide = capacity_wide(capacity[capacity["region"].isin(list(parts))])
    header = 3
    cols = [Column("region", "region", kind="label", width=16),
            Column("year", "year", "0", kind="label", width=6),
            *[Column(m, f"{m} [{u}]", _num_format(u), "formula", 15)
              for m, u in METRICS.items()]]
    for j, c in enumerate(cols):
        ws.write_string(header, j, c.header, fmts.header)
        ws.set_column(j, j, c.width)
    ws.set_row(header, 48)
    first = header + 1
    region_rng = _col_range(SHEET_CAPACITY_CELLS, 0, cells.cell_first, cells.cell_last)
    year_rng = _col_range(SHEET_CAPACITY_CELLS, 2, cells.cell_first, cells.cell_last)
    label, year_fmt = fmts.cell("label"), fmts.cell("label", "0")
    world_rows: dict[int, int] = {}
    for i, rec in enumerate(wide.to_dict("records")):
        r = first + i
        region, year = str(rec["region"]), int(rec["year"])
        ws.write_string(r, 0, region, label)
        ws.write_number(r, 1, year, year_fmt)
        y = xl_rowcol_to_cell(r, 1)
        labels = parts[region]
        if labels is None:
            world_rows[year] = r
            wheres = [f"{year_rng},{y}"]
        elif labels == [region]:
            wheres = [f"{region_rng},{xl_rowcol_to_cell(r, 0)},{year_rng},{y}"]
        else:
            wheres = [f'{region_rng},"{g}",{year_rng},{y}' for g in labels]
        for j, c in enumerate(cols[2:], start=2):
            rng = _col_range(SHEET_CAPACITY_CELLS, cells.metric_col[c.key], cells.cell_first,
                             cells.cell_last)
            ws.write_formula(r, j, "=" + "+".join(f"SUMIFS({rng},{w})" for w in wheres),
                             fmts.cell("formula", c.num_format), float(rec[c.key]))
    last = first + len(wide) - 1
    ws.freeze_panes(first, 2)
    ws.autofilter(header, 0, last, len(cols) - 1)
    _define_block(wb, "capacity_table", SHEET_CAPACITY, header, 0, last, len(cols) - 1)
    _setup_print(ws, header)
    if world_rows:
        w0, w1 = min(world_rows.values()), max(world_rows.values())
        ws.print_area(0, 0, w1, len(cols) - 1)
        chart = wb.add_chart({"type": "line"})
        for metric, colour in (("shiftable_load", STATE_COLOURS["grid_managed"]),
                               ("v2g_export_power", STATE_COLOURS["v2g"])):
            j = next(i for i, c in enumerate(cols) if c.key == metric)
            chart.add_series({"name": f"{metric} [GW]",
                              "categories": [SHEET_CAPACITY, w0, 1, w1, 1],
                              "values": [SHEET_CAPACITY, w0, j, w1, j],
                              "line": {"color": colour, "width": 2.25}})
        chart.set_title({"name": "World: power at the evening peak [GW] (live)",
                         "name_font": {"size": 11}})
        chart.set_y_axis({"name": "GW", "num_format": "#,##0",
                          "major_gridlines": {"visible": True, "line": {"color": "#E0E0E0"}}})
        chart.set_x_axis({"name": "year", "interval_unit": 10, "interval_tick": 10})
        chart.set_legend({"position": "bottom"})
        chart.set_size({"width": 640, "height": 340})
        ws.insert_chart(3, len(cols) + 1, chart)
    cells.summary_first, cells.summary_last = first, last
    cells.summary_col = {c.key: j for j, c in enumerate(cols)}
    cells.world_rows = world_rows
    return cells
