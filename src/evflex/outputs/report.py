"""The run as one self-contained HTML report, ``report.html``, that opens offline.

>>> from evflex.model import run
>>> from evflex.outputs.report import write_report
>>> write_report("report.html", run("base"), {})                  # doctest: +SKIP

The page holds the executive summary (key figures, the judgement's summary and
scorecard), interactive charts (exclusive states, the energy funnel, capacity, the
hourly profiles of a simulated fleet, the comparator stack), the denominator checks, the
update triggers, the decision implications, and the scenario's assumptions with their
sources. plotly.js is inlined once from the installed ``plotly`` package: the file loads
nothing from the network. Each figure's data sits in the page as JSON
(``<script type="application/json" class="figure">``), built from the same tables as the
CSV files, the PNG charts and the workbook, with the same colour for each state
(:data:`evflex.outputs.style.STATE_COLOURS`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd

from evflex import __version__
from evflex.capacity import METRICS
from evflex.model import ALL_SEGMENTS, WORLD, Results
from evflex.outputs.content import (
    JUDGEMENT_SECTIONS,
    VERDICT_FILLS,
    complete_tables,
    key_figures,
    log_axis_note,
    region_choices,
    region_label,
    sources_table,
    write_atomically,
)
from evflex.outputs.style import DELIVERABLE_COLOUR, FUNNEL_COLOUR, STATE_COLOURS, STATE_LABELS
from evflex.states import STATES

#: Capacity metric shown first in the capacity chart.
DEFAULT_CAPACITY_METRIC = "v2g_export_power"
#: Colours of regions in the capacity chart (Paul Tol's muted scheme: none is a state's).
REGION_COLOURS = ("#332288", "#CC6677", "#DDCC77", "#117733", "#88CCEE", "#882255",
                  "#44AA99", "#999933", "#AA4499")
#: Colours of the comparator options not tied to a state.
OPTION_COLOURS = ("#CC79A7", "#D55E00", "#F0E442", "#999999", "#000000", "#882255")
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"
PLOT_CONFIG = {"displaylogo": False, "responsive": True,
               "modeBarButtonsToRemove": ["select2d", "lasso2d"]}


def _plotly_js() -> str:
    """The text of the installed plotly.min.js (no network, no CDN)."""
    from plotly.offline import get_plotlyjs

    js = get_plotlyjs()
    return js.replace("</script", "<\\/script")


def _clean(values: Any) -> list[Any]:
    """A JSON-ready list: floats as they are, NaN and inf as null."""
    out: list[Any] = []
    for v in np.asarray(values, dtype=object).tolist():
        if isinstance(v, float) and not math.isfinite(v):
            out.append(None)
        elif isinstance(v, np.generic):
            out.append(v.item())
        else:
            out.append(v)
    return out


def _layout(title: str, **kw: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "title": {"text": title, "x": 0.01, "xanchor": "left", "font": {"size": 15}},
        "font": {"family": FONT, "size": 12},
        "margin": {"l": 70, "r": 20, "t": 50, "b": 50},
        "hovermode": "x unified",
        "legend": {"orientation": "h", "y": -0.18},
        "plot_bgcolor": "#FFFFFF",
        "paper_bgcolor": "#FFFFFF",
    }
    for axis in ("xaxis", "yaxis"):
        layout[axis] = {"gridcolor": "#E5E5E5", "zeroline": False, "linecolor": "#999999",
                        "showline": True}
    for key, value in kw.items():
        if isinstance(value, dict) and isinstance(layout.get(key), dict):
            layout[key] = {**layout[key], **value}
        else:
            layout[key] = value
    return layout


def _world(states: pd.DataFrame) -> pd.DataFrame:
    return states[(states["region"] == WORLD) & (states["segment"] == ALL_SEGMENTS)]


def shown_regions(states: pd.DataFrame, regions: Sequence[str]) -> list[str]:
    """The regions the states charts and the region select show, in order: the World,
    then ``regions`` that have rows in ``states``."""
    return [r for r in dict.fromkeys([WORLD, *regions]) if r in set(states["region"])]


def states_figures(states: pd.DataFrame,
                   regions: Sequence[str] = (WORLD,)) -> dict[str, dict[str, Any]]:
    """Stacked areas of the exclusive states, shares and vehicles, World first.

    With more than one of ``regions`` (a country run: the blocks, then the regions by
    name), a menu on each chart picks the region shown, labelled by its name; the World is
    shown first. The report keeps the two charts' menus on the same region.
    """
    shown = shown_regions(states, regions)
    everyone = states[states["segment"] == ALL_SEGMENTS]
    figs = {}
    for key, column, title, axis in (
            ("states_share", "share", "Exclusive states, share of the EV stock",
             {"title": {"text": "share of the EV stock"}, "tickformat": ".0%",
              "range": [0, 1]}),
            ("states_vehicles", "vehicles", "Exclusive states, vehicles",
             {"title": {"text": "EVs in stock [vehicles]"}, "exponentformat": "B"})):
        fmt = ".1%" if key == "states_share" else ",.0f"
        data = []
        for region in shown:
            table = everyone[everyone["region"] == region].pivot(
                index="year", columns="state", values=column)
            years = [int(y) for y in table.index]
            data += [{"type": "scatter", "mode": "lines", "stackgroup": f"states {region}",
                      "name": STATE_LABELS[s], "meta": s, "x": years,
                      "y": _clean(table[s].to_numpy()), "visible": region == WORLD,
                      "showlegend": region == WORLD,
                      "line": {"width": 0.5, "color": STATE_COLOURS[s]},
                      "fillcolor": STATE_COLOURS[s],
                      "hovertemplate": f"%{{y:{fmt}}}<extra>{STATE_LABELS[s]} · {region}"
                                       "</extra>"}
                     for s in STATES]
        layout = _layout(f"{title} ({WORLD})", yaxis=axis, xaxis={"title": {"text": "year"}},
                         legend={"orientation": "h", "y": -0.2, "traceorder": "reversed"},
                         margin={"l": 70, "r": 20, "t": 50, "b": 100})
        if len(shown) > 1:
            n = len(STATES)
            layout["updatemenus"] = [{
                "buttons": [{"label": region_label(region), "method": "update",
                             "args": [{"visible": [i // n == k for i in range(len(data))],
                                       "showlegend": [i // n == k for i in range(len(data))]},
                                      {"title.text": f"{title} ({region_label(region)})"}]}
                            for k, region in enumerate(shown)],
                "direction": "down", "x": 1.0, "xanchor": "right", "y": 1.16,
                "yanchor": "top", "active": 0, "showactive": True}]
            layout["margin"]["t"] = 80
        figs[key] = {"data": data, "layout": layout}
    return figs


def history_figure(history: pd.DataFrame, regions: Sequence[str]) -> dict[str, Any]:
    """A country run's EV car stock against the IEA's, 2010-2024, one region at a time
    (``history.csv``): the modelled stock of the powertrains the IEA reports (a line) and
    the IEA's figures (markers; open where national statistics contradict them), on a
    log scale so that the early years' relative errors show. Two traces per region,
    ``meta`` the region id; the World shown first."""
    data = []
    for region in regions:
        rows = history[history["region"] == region].sort_values("year")
        years = [int(y) for y in rows["year"]]
        iea = rows["iea_ev_stock"].where(rows["iea_ev_stock"] > 0)
        notes = rows["iea_note"].fillna("").astype(str)
        label = region_label(region)
        data += [
            {"type": "scatter", "mode": "lines", "name": "modelled (powertrains the IEA reports)",
             "meta": region, "x": years,
             "y": _clean(rows["ev_stock_compared"].where(rows["ev_stock_compared"] > 0)
                         .to_numpy()),
             "visible": region == WORLD, "showlegend": region == WORLD,
             "line": {"width": 2, "color": FUNNEL_COLOUR},
             "hovertemplate": f"%{{y:,.0f}}<extra>modelled · {label}</extra>"},
            {"type": "scatter", "mode": "markers", "name": "IEA Global EV Data 2025",
             "meta": region, "x": years, "y": _clean(iea.to_numpy()),
             "text": [n or "as published" for n in notes],
             "visible": region == WORLD, "showlegend": region == WORLD,
             "marker": {"size": 8, "color": DELIVERABLE_COLOUR,
                        "symbol": ["circle-open" if "disputed" in n else "circle"
                                   for n in notes]},
             "hovertemplate": f"%{{y:,.0f}} (%{{text}})<extra>IEA · {label}</extra>"}]
    layout = _layout(f"EV car stock against the IEA ({WORLD})",
                     yaxis={"title": {"text": "EV car stock [vehicles, log scale]"},
                            "type": "log", "exponentformat": "B"},
                     xaxis={"title": {"text": "year"}},
                     legend={"orientation": "h", "y": -0.2},
                     margin={"l": 70, "r": 20, "t": 50, "b": 90})
    return {"data": data, "layout": layout}


def funnel_figure(funnel_energy: pd.DataFrame) -> dict[str, Any]:
    """The energy funnel, as funnel.png: naive battery to what the peak can count on."""
    year, region = int(funnel_energy["year"].iloc[0]), str(funnel_energy["region"].iloc[0])
    stages = funnel_energy["stage"].tolist()
    colours = [DELIVERABLE_COLOUR if s == "deliverable" else FUNNEL_COLOUR for s in stages]
    power = _clean(funnel_energy["power_gw"].to_numpy(dtype=float))
    text = []
    for e, v, p in zip(funnel_energy["energy_gwh"], funnel_energy["vehicles"], power,
                       strict=True):
        text.append(f"{e:,.1f} GWh · {v / 1e6:,.2f} M EVs" if p is None
                    else f"{e:,.1f} GWh · {p:,.1f} GW at the peak")
    data = [{"type": "bar", "orientation": "h", "name": "energy [GWh]",
             "y": funnel_energy["label"].tolist(),
             "x": _clean(funnel_energy["energy_gwh"].to_numpy(dtype=float)),
             "customdata": [[v, p] for v, p in zip(_clean(funnel_energy["vehicles"]), power,
                                                  strict=True)],
             "meta": stages, "marker": {"color": colours}, "text": text,
             "textposition": "outside", "cliponaxis": False,
             "hovertemplate": "%{y}<br>%{x:,.1f} GWh<br>%{customdata[0]:,.0f} vehicles"
                              "<extra></extra>"}]
    return {"data": data, "layout": _layout(
        f"From the naive battery to what the peak can count on ({region}, {year})",
        xaxis={"type": "log", "title": {"text": "battery energy [GWh], log scale"},
               "dtick": 1, "tickformat": ",.0f"},
        yaxis={"autorange": "reversed", "automargin": True},
        margin={"l": 200, "r": 170, "t": 50, "b": 80}, hovermode="closest",
        showlegend=False, height=460,
        annotations=[{"text": log_axis_note(funnel_energy), "showarrow": False,
                      "xref": "paper", "yref": "paper", "x": 0, "y": -0.2,
                      "xanchor": "left", "yanchor": "top",
                      "font": {"size": 11, "color": "#444"}}])}


def capacity_figure(capacity: pd.DataFrame, regions: Sequence[str]) -> dict[str, Any]:
    """Capacity by region (stacked; the stack is the World) with a menu of metrics."""
    data, buttons = [], []
    metrics = [m for m in METRICS if m in set(capacity["metric"])]
    for metric in metrics:
        rows = capacity[capacity["metric"] == metric]
        for k, region in enumerate(regions):
            r = rows[rows["region"] == region].sort_values("year")
            data.append({"type": "scatter", "mode": "lines", "stackgroup": metric,
                         "name": region, "meta": [metric, region],
                         "x": [int(y) for y in r["year"]], "y": _clean(r["value"].to_numpy()),
                         "visible": metric == DEFAULT_CAPACITY_METRIC,
                         "line": {"width": 0.5, "color": REGION_COLOURS[k % len(REGION_COLOURS)]},
                         "hovertemplate": f"%{{y:,.3~f}} {METRICS[metric]}<extra>{region}</extra>"})
    n = len(regions)
    for i, metric in enumerate(metrics):
        visible = [i * n <= j < (i + 1) * n for j in range(len(data))]
        buttons.append({"label": f"{metric} [{METRICS[metric]}]", "method": "update",
                        "args": [{"visible": visible},
                                 {"yaxis.title.text": f"{metric} [{METRICS[metric]}]"}]})
    default = metrics.index(DEFAULT_CAPACITY_METRIC) if DEFAULT_CAPACITY_METRIC in metrics else 0
    for j, trace in enumerate(data):
        trace["visible"] = default * n <= j < (default + 1) * n
    unit = METRICS[metrics[default]] if metrics else ""
    return {"data": data, "layout": _layout(
        "Grid capacity by region (stacked: the total is the World)",
        yaxis={"title": {"text": f"{metrics[default]} [{unit}]" if metrics else ""}},
        xaxis={"title": {"text": "year"}},
        updatemenus=[{"buttons": buttons, "direction": "down", "x": 1.0, "xanchor": "right",
                      "y": 1.16, "yanchor": "top", "active": default, "showactive": True}],
        margin={"l": 70, "r": 20, "t": 80, "b": 50})}


def _capacity_stack(results: Results, tables: Mapping[str, pd.DataFrame]) -> list[str]:
    """Regions stacked in the capacity chart so that the stack is the World.

    A country run stacks its continental blocks and the regions outside them (not 42
    countries); a block-level run its regions.
    """
    from evflex.regions import hierarchy

    regions = list(results.scenario.regions)
    if not results.blocks:
        return regions
    partition = dict(zip(hierarchy().blocks["block"], hierarchy().blocks["partition"],
                         strict=True))
    continents = [b for b in results.blocks if partition.get(b) == "continent"]
    inside = {m for b in continents for m in results.blocks[b]}
    stack = [*continents, *(r for r in regions if r not in inside)]
    present = set(tables["capacity"]["region"])
    return [r for r in stack if r in present]


HOURLY_SERIES = (("unmanaged_kw", "unmanaged charging", "#D55E00"),
                 ("managed_kw", "managed charging", STATE_COLOURS["grid_managed"]),
                 ("v2g_kw", "managed charging with V2G", STATE_COLOURS["v2g"]))


def hourly_figure(hourly: pd.DataFrame) -> dict[str, Any] | None:
    """System load with each strategy's charging added, from a vehicle simulation (a
    per-region simulation: the first region and segment's binding week)."""
    if "base_kw" not in hourly.columns or not len(hourly):
        return None
    keys = [k for k in ("region", "segment") if k in hourly.columns]
    where = ""
    if keys:  # a per-region simulation: the first region and segment
        first = hourly[keys].iloc[0]
        hourly = hourly[(hourly[keys] == first).all(axis=1)]
        season = f", {hourly['season'].iloc[0]} week" if "season" in hourly else ""
        where = f" ({' '.join(map(str, first))}{season})"
    hours = hourly["hour"].to_numpy(dtype=float)
    dt = float((hours[1] - hours[0]) % 24) if len(hours) > 1 else 1.0
    step = hourly["step"].to_numpy(dtype=float) if "step" in hourly else np.arange(len(hours))
    x = _clean(step * (dt or 1.0))
    base = hourly["base_kw"].to_numpy(dtype=float)
    data = [{"type": "scatter", "mode": "lines", "name": "system (base) load", "meta": "base_kw",
             "x": x, "y": _clean(base), "line": {"color": "#333333", "width": 1.5}}]
    for column, label, colour in HOURLY_SERIES:
        if column in hourly.columns and hourly[column].notna().any():
            data.append({"type": "scatter", "mode": "lines", "name": f"load with {label}",
                         "meta": column, "x": x,
                         "y": _clean(base + hourly[column].to_numpy(dtype=float)),
                         "line": {"color": colour, "width": 1.5}})
    return {"data": data, "layout": _layout(
        f"Simulated fleet{where}: system load with unmanaged, managed and V2G charging",
        yaxis={"title": {"text": "load [kW]"}, "tickformat": ",.0f"},
        xaxis={"title": {"text": "hours since the start of the simulation [h]"},
               "dtick": 24})}


def option_colours(options: Sequence[str]) -> dict[str, str]:
    """One distinct colour per comparator option: the state's colour for the option that
    is that state (V2G, V2H/V2B, managed charging), the palette in turn for the others."""
    out: dict[str, str] = {}
    tied = (("v2g", "v2g"), ("v2h", "v2h_v2b"), ("v2b", "v2h_v2b"), ("managed", "grid_managed"))
    for option in options:
        o = option.lower()
        state = next((st for key, st in tied if key in o), None)
        if state is not None and STATE_COLOURS[state] not in out.values():
            out[option] = STATE_COLOURS[state]
    palette = iter(dict.fromkeys(c for c in (*OPTION_COLOURS, *REGION_COLOURS)
                                 if c not in out.values() and c not in STATE_COLOURS.values()))
    for option in options:
        if option not in out:
            out[option] = next(palette, "#777777")
    return out


def _cost_axis(currency: str, year: Any) -> str:
    """Title of a cost axis: currency, what a kW-year is, and the year of the costs."""
    when = f", {year} costs" if year is not None else ""
    return f"{currency} per delivered kW-year{when}"


def comparators_figure(comparators: pd.DataFrame) -> dict[str, Any] | None:
    """Effective cost per kW-year of each option for each service, a menu of years."""
    need = {"service", "option", "effective_cost"}
    if not need <= set(comparators.columns) or not len(comparators):
        return None
    years = sorted(comparators["year"].unique()) if "year" in comparators else [None]
    options = [str(o) for o in dict.fromkeys(comparators["option"])]
    colours = option_colours(options)
    unit = str(comparators["unit"].iloc[0]) if "unit" in comparators else "USD/kW-year"
    currency = unit.split("/", 1)[0]
    data, buttons = [], []
    for i, year in enumerate(years):
        rows = comparators if year is None else comparators[comparators["year"] == year]
        if "region" in rows.columns:  # one bar per option: the median over regions, segments
            rows = rows.groupby(["service", "option"], as_index=False, sort=False)[
                "effective_cost"].median()
        services = list(dict.fromkeys(rows["service"]))
        for option in options:
            r = rows[rows["option"] == option].set_index("service")
            data.append({"type": "bar", "name": str(option), "meta": [_jsonable(year), option],
                         "x": services,
                         "y": _clean([r["effective_cost"].get(s, np.nan) for s in services]),
                         "marker": {"color": colours[option]},
                         "visible": i == len(years) - 1, "legendgroup": str(option),
                         "hovertemplate": f"%{{x}}: %{{y:,.1f}} {currency} per delivered "
                                          f"kW-year<extra>{option}</extra>"})
    n = len(options)
    for i, year in enumerate(years):
        visible = [i * n <= j < (i + 1) * n for j in range(len(data))]
        buttons.append({"label": str(year), "method": "update",
                        "args": [{"visible": visible},
                                 {"yaxis.title.text": _cost_axis(currency, year)}]})
    median = " (median over regions)" if "region" in comparators.columns else ""
    layout = _layout(f"Comparator stack: effective cost per delivered kW-year ({currency}, "
                     f"nominal, not inflation-adjusted), derated for availability{median}",
                     yaxis={"title": {"text": _cost_axis(currency, years[-1])}},
                     barmode="group", hovermode="closest",
                     margin={"l": 70, "r": 20, "t": 80, "b": 80})
    if len(years) > 1:
        layout["updatemenus"] = [{"buttons": buttons, "direction": "down", "x": 1.0,
                                  "xanchor": "right", "y": 1.16, "yanchor": "top",
                                  "active": len(years) - 1}]
    return {"data": data, "layout": layout}


def _jsonable(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


# ------------------------------------------------------------------------------ tables
def _cell(value: Any, column: str) -> str:
    if isinstance(value, np.datetime64):
        value = pd.Timestamp(value)
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or (not isinstance(value, str | bool | int | float | list | tuple)
                         and bool(pd.isna(value))):
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat() if value == value.normalize() else value.isoformat()
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value) if column in ("year", "rank") or abs(value) < 10_000 \
            else f"{value:,}"
    if isinstance(value, float):
        value += 0.0  # no "-0"
        if column == "year" and value.is_integer():
            return str(int(value))
        if "share" in column or column == "derate":
            return f"{value:.1%}"
        if value != 0 and abs(value) < 1e-3:
            return f"{value:.3e}"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:,.4g}"
    return str(value)


def html_table(df: pd.DataFrame, columns: Sequence[str] | None = None,
               headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A table for the template: headers and rows of display strings with cell classes."""
    cols = [c for c in (columns or list(df.columns)) if c in df.columns]
    rows = []
    for rec in df[cols].to_dict("records"):
        cells = []
        for c in cols:
            value = rec[c]
            cls = ""
            if c == "status":
                cls = f"status-{value}"
            elif c == "verdict":
                cls = "verdict"
            elif c in ("fired", "v2g_survives") and isinstance(value, bool | np.bool_):
                cls = "yes" if value else "no"
            text = _cell(value, str(c))
            if text and isinstance(value, int | float | np.number) \
                    and not isinstance(value, bool):
                cls = "num"
            cells.append({"text": text, "cls": cls,
                          "fill": VERDICT_FILLS.get(str(value), "") if c == "verdict" else ""})
        rows.append(cells)
    names = headers or {}
    return {"headers": [names.get(str(c), str(c)) for c in cols], "rows": rows}


def _key_figures_table(figures: pd.DataFrame) -> dict[str, Any]:
    years = [c for c in figures.columns if isinstance(c, int)]
    rows = []
    for rec in figures.to_dict("records"):
        unit = rec["unit"]
        cells = [{"text": rec["figure"], "cls": "", "fill": ""},
                 {"text": "% of EVs" if unit == "fraction" and isinstance(rec.get("state"), str)
                  else "%" if unit == "fraction" else "million" if unit == "vehicles"
                  else unit, "cls": "", "fill": ""}]
        for y in years:
            v = float(rec[y])
            text = (f"{100 * v:.1f}" if unit == "fraction" else f"{v / 1e6:,.1f}"
                    if unit == "vehicles" else f"{v:,.2f}")
            state = rec.get("state")
            fill = STATE_COLOURS.get(state, "") if isinstance(state, str) else ""
            cells.append({"text": text, "cls": "num", "fill": "", "swatch": fill})
        rows.append(cells)
    return {"headers": ["World, all segments", "unit", *map(str, years)], "rows": rows}


def report_context(results: Results, tables: Mapping[str, pd.DataFrame]) -> dict[str, Any]:
    """Everything the template shows: texts, tables and figures (plain JSON data)."""
    sc = results.scenario
    checks = tables["checks"]
    n_pass = int((checks["status"] == "pass").sum())
    figures: dict[str, dict[str, Any]] = {}
    picked = ([r for r in region_choices(sc.regions, list(results.blocks))
               if r in set(tables["states"]["region"])] if results.blocks else [])
    figures.update(states_figures(tables["states"], picked))
    # One select above both states charts (a Plotly menu of ~50 regions does not fit).
    region_menu = [{"label": b["label"], "args": b["args"]} for b in figures["states_share"]
                   ["layout"].pop("updatemenus", [{"buttons": []}])[0]["buttons"]]
    figures["states_vehicles"]["layout"].pop("updatemenus", None)
    region_ids = shown_regions(tables["states"], picked)
    if "history" in tables:  # a country run: its stock against the IEA's, same select
        figures["history"] = history_figure(tables["history"], region_ids)
    figures["funnel"] = funnel_figure(tables["energy_funnel"])
    figures["capacity"] = capacity_figure(tables["capacity"], _capacity_stack(results, tables))
    if "hourly" in tables:
        fig = hourly_figure(tables["hourly"])
        if fig is not None:
            figures["hourly"] = fig
    if "comparators" in tables:
        fig = comparators_figure(tables["comparators"])
        if fig is not None:
            figures["comparators"] = fig
    judgement = {}
    for sheet, key, short, about in JUDGEMENT_SECTIONS:
        df = tables.get(key)
        judgement[key] = {"title": sheet, "about": about, "short": short,
                          "table": html_table(df) if df is not None else None}
    summary = tables.get("summary")
    summary_lines = []
    if summary is not None:
        for rec in summary.to_dict("records"):
            # the written sentences; the section names are the table's keys, not prose
            values = [rec["text"]] if "text" in rec else list(rec.values())
            summary_lines.append([str(v) for v in values
                                  if not (isinstance(v, float) and math.isnan(v))])
    scorecard = tables.get("scorecard")
    verdicts = []
    if scorecard is not None and {"pathway", "verdict"} <= set(scorecard.columns):
        verdicts = [{"pathway": str(r["pathway"]), "verdict": str(r["verdict"]),
                     "fill": VERDICT_FILLS.get(str(r["verdict"]), "#FFFFFF")}
                    for r in scorecard.to_dict("records")]
    assumptions = tables["assumptions"].copy()
    assumptions["year"] = assumptions["year"].map(
        lambda v: "" if pd.isna(v) else str(int(v)) if float(v).is_integer() else str(v))
    funnel_energy = tables["energy_funnel"]
    return {
        "title": f"evflex · {sc.name} v{sc.version}",
        "scenario": sc, "description": " ".join(sc.description.split()),
        "version": __version__,
        "availability": str(results.data.attrs.get("availability_source", "scenario")),
        "checks_pass": n_pass, "checks_total": len(checks),
        "checks_failed": checks[checks["status"] == "fail"]["check"].tolist(),
        "key_figures": _key_figures_table(key_figures(results, tables["capacity"])),
        "summary_lines": summary_lines, "verdicts": verdicts,
        "figures": figures,
        "figures_json": {k: _script_json(v) for k, v in figures.items()},
        "funnel_year": int(funnel_energy["year"].iloc[0]),
        "funnel_table": html_table(funnel_energy, ["label", "vehicles", "energy_gwh",
                                                   "power_gw"],
                                   {"label": "stage", "vehicles": "vehicles",
                                    "energy_gwh": "energy [GWh]",
                                    "power_gw": "power at the peak [GW]"}),
        "checks": html_table(checks),
        "judgement": judgement,
        "has_hourly": "hourly" in figures,
        "assumptions": html_table(assumptions, ["parameter", "applies_to",
                                                *(["used_by"] if "used_by" in assumptions
                                                  else []), "unit", "path", "source", "year"],
                                  {"applies_to": "applies to", "used_by": "used by",
                                   "path": "value or path", "year": "source year"}),
        "region_menu": region_menu,
        "region_ids": region_ids if region_menu else [],
        "region_filter": [{"id": r, "label": region_label(r),
                           "members": results.blocks.get(r, [r])}
                          for r in picked if r != WORLD],
        "sources": html_table(sources_table(results, tables),
                              ["source", "year", "kind", "used_for"],
                              {"used_for": "used for"}),
        "plotly_js": _plotly_js(),
        "plot_config": json.dumps(PLOT_CONFIG),
    }


def _script_json(obj: Any) -> str:
    """JSON safe inside a <script> element."""
    text = json.dumps(obj, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("evflex.outputs", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def render_report(results: Results, tables: Mapping[str, pd.DataFrame]) -> str:
    """The report's HTML text."""
    full = complete_tables(results, tables)
    return _environment().get_template("report.html.j2").render(**report_context(results, full))


def write_report(path: str | Path, results: Results,
                 tables: Mapping[str, pd.DataFrame]) -> None:
    """Write the run as one self-contained HTML file at ``path`` (``report.html``).

    ``tables`` as for :func:`evflex.outputs.workbook.write_workbook`: missing engine
    tables are computed from ``results``; a missing judgement table gives a section that
    says so. Written through a temporary file, so an error leaves any earlier file as it
    was.
    """
    html = render_report(results, tables)
    def write(p: Path) -> None:
        p.write_text(html, encoding="utf-8")

    write_atomically(Path(path), write)
