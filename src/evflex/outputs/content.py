"""What a run's published outputs hold, shared by the workbook and the report.

The workbook (:mod:`evflex.outputs.workbook`) and the HTML report
(:mod:`evflex.outputs.report`) both show the run's key figures, its judgement sections and
its sources; both complete the tables they are given from the run and write their file
all or nothing. Those shared pieces live here, so neither writer reaches into the other.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evflex.capacity import METRICS
from evflex.glossary import SUMMARY_YEARS, WORLD
from evflex.model import Results
from evflex.outputs.style import STATE_LABELS
from evflex.scenario import parameter_table
from evflex.states import STATES

#: Judgement sections: sheet or section name, table key in ``tables``, contents line,
#: what it holds.
JUDGEMENT_SECTIONS: tuple[tuple[str, str, str, str], ...] = (
    ("Comparator Stack", "comparators", "where V2G survives against the alternatives",
     "Cost per derated kW-year of each option for each grid service, region and segment on "
     "a named cost test (total resource cost by default), net of the value stacked from "
     "compatible services, and which options survive: dispatched within the market's depth "
     "at no more than the service's avoided cost."),
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


#: Fill of each scorecard verdict.
VERDICT_FILLS = {"scaling": "#B7E1CD", "progressing": "#D9EAD3", "niche-valid": "#FFF2CC",
                 "stalled": "#F4CCCC", "activity-only": "#EAD1DC"}


def is_missing(value: Any) -> bool:
    """None, NaN, NaT or pd.NA (a scalar); never true for a string or a number."""
    if value is None:
        return True
    if isinstance(value, str | bool):
        return False
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def plain(value: Any) -> Any:
    """A value XlsxWriter writes natively (numpy scalars to Python ones)."""
    if isinstance(value, np.datetime64):
        value = pd.Timestamp(value)
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.to_pydatetime()
    if isinstance(value, np.generic):
        return value.item()
    return value


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
    df["year"] = df["year"].map(year_text)
    out = (df.groupby(["source", "kind"], sort=False)
           .agg(year=("year", join_unique), used_for=("used_for", list))
           .reset_index())
    out["used_for"] = [by_parameter(used) if kind == "parameter" else join_unique(used)
                       for used, kind in zip(out["used_for"], out["kind"], strict=True)]
    return out[["source", "year", "kind", "used_for"]]


def by_parameter(used: Iterable[str]) -> str:
    """Parameters and where they apply, one entry per parameter: ``a``, ``a (GB)`` and
    ``a (DE)`` read ``a (default, GB, DE)``."""
    where: dict[str, list[str]] = {}
    for entry in used:
        name, _, applies = entry.partition(" (")
        places = where.setdefault(name, [])
        place = applies[:-1] if applies else "default"
        if place not in places:
            places.append(place)
    return "; ".join(name if places == ["default"] else f"{name} ({', '.join(places)})"
                     for name, places in where.items())


def year_text(value: Any) -> str:
    value = plain(value)
    if is_missing(value) or value == "":
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime.datetime):
        return value.date().isoformat()
    return str(value)


def join_unique(values: Iterable[str]) -> str:
    seen: list[str] = []
    for v in values:
        if v and v not in seen:
            seen.append(v)
    return "; ".join(seen)


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


def log_axis_note(funnel: pd.DataFrame) -> str:
    """The warning a log-scaled funnel needs, with the one ratio a reader wants."""
    naive = float(funnel["energy_gwh"].iloc[0])
    last = float(funnel["energy_gwh"].iloc[-1])
    ratio = f" The last bar is {last / naive:.2%} of the first." if naive > 0 else ""
    return ("Log axis: a bar's length is not proportional to its energy (each labelled "
            "gridline is ten times the one before); read the labels." + ratio)


def region_label(region: str) -> str:
    """A region as a reader knows it: ``United Kingdom (GB)`` for a country, the id of a
    block, of the World and of a rest-of-block region."""
    from evflex.regions import hierarchy

    name = hierarchy().name_of(region)
    rows = hierarchy().regions
    iea = set(rows.loc[(rows["history"] == "iea") & (rows["resolution"] == "countries"),
                       "region"])
    return f"{name} ({region})" if region in iea and name != region else region


def region_choices(regions: Sequence[str], blocks: Sequence[str]) -> list[str]:
    """The World, then the blocks in their order, then the regions by their label."""
    rest = sorted((r for r in regions if r not in set(blocks) and r != WORLD),
                  key=lambda r: region_label(r).casefold())
    return [WORLD, *(b for b in blocks if b != WORLD), *rest]
