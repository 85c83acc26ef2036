"""Facts of a run for the decision implications and the executive summary.

Every fact is computed from the run's tables, the scorecard, the comparator stack, the
triggers and the evidence; the texts that use them hold no number of their own.

Years: ``now`` is the latest evidence year (capped to the run), ``mid`` is 2050 (or the
run's middle year if 2050 is outside it) and ``end`` the run's last year. Facts named
``X_now``, ``X_mid`` and ``X_end`` exist for each.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import xarray as xr

from evflex.filters import CONDITIONAL_FILTERS
from evflex.judgement.evidence import PATHWAYS, measure_of

MID_YEAR = 2050
#: Funnel steps after the capable stock whose losses the implications name.
DOWNSTREAM_STEPS = CONDITIONAL_FILTERS


def _total(da: xr.DataArray, *keep: str) -> xr.DataArray:
    """Sum over every dimension but ``keep`` (the run's totals over regions, segments...)."""
    return da.sum([d for d in da.dims if d not in keep])


def _run_state_shares(results: Any, year: int) -> dict[str, float]:
    counts = _total(results.data["states"], "state", "year").sel(year=year)
    total = float(counts.sum())
    return {str(s): (float(v) / total if total > 0 else 0.0)
            for s, v in zip(counts["state"].values, counts.values, strict=True)}


def _run_capacity(results: Any, year: int) -> dict[str, float]:
    ds = results.data
    return {str(name).removeprefix("capacity_"): float(_total(ds[name], "year").sel(year=year))
            for name in ds.data_vars if str(name).startswith("capacity_")}


def _run_fleet(results: Any, year: int) -> dict[str, float]:
    ds = results.data
    ev_stock = float(_total(ds["ev_stock_pt"], "year").sel(year=year))
    stock = float(_total(ds["stock"], "year").sel(year=year))
    sales = float(_total(ds["sales"], "year").sel(year=year))
    ev_sales = float(_total(ds["ev_sales_pt"], "year").sel(year=year))
    return {"ev_stock": ev_stock, "stock": stock,
            "ev_stock_share": ev_stock / stock if stock > 0 else math.nan,
            "ev_sales_share": ev_sales / sales if sales > 0 else math.nan}


def _funnel(results: Any, year: int) -> dict[str, float]:
    funnel = _total(results.data["funnel"], "step", "year").sel(year=year)
    out = {str(s): float(v) for s, v in zip(funnel["step"].values, funnel.values, strict=True)}
    return out


def _years(results: Any, evidence: pd.DataFrame) -> dict[str, int]:
    years = sorted(int(y) for y in results.data["year"].values)
    first, last = years[0], years[-1]
    latest = int(evidence["date"].max().year) if not evidence.empty else first
    now = min(max(latest, first), last)
    mid = MID_YEAR if first <= MID_YEAR <= last else years[len(years) // 2]
    return {"now": now, "mid": mid, "end": last}


def compute_facts(results: Any, evidence: pd.DataFrame, scorecard: pd.DataFrame,
                  comparators: pd.DataFrame, triggers: pd.DataFrame) -> dict[str, Any]:
    """All facts the implications and the summary may use (names documented inline).

    ``results`` is the model :class:`~evflex.model.Results`: its dataset is read by named
    dimensions and summed over regions and segments (the run's totals).
    """
    f: dict[str, Any] = {}
    years = _years(results, evidence)
    for label, year in years.items():
        f[f"{label}_year"] = year
        shares = _run_state_shares(results, year)
        for state, share in shares.items():
            f[f"share_{state}_{label}"] = share
        f[f"share_envelope_{label}"] = sum(shares.get(s, 0.0)
                                           for s in ("v2g", "v2h_v2b", "grid_managed"))
        f[f"share_flexible_{label}"] = 1.0 - shares.get("outside", 0.0)
        cap = _run_capacity(results, year)
        f[f"naive_twh_{label}"] = cap.get("naive_battery", math.nan)
        f[f"shiftable_load_gw_{label}"] = cap.get("shiftable_load", math.nan)
        f[f"shiftable_energy_gwh_{label}"] = cap.get("shiftable_energy", math.nan)
        f[f"v2g_export_gw_{label}"] = cap.get("v2g_export_power", math.nan)
        f[f"v2g_export_gwh_{label}"] = cap.get("v2g_export_energy", math.nan)
        naive_gwh = cap.get("naive_battery", math.nan) * 1000.0
        f[f"deliverable_fraction_{label}"] = (cap.get("v2g_export_energy", math.nan) / naive_gwh
                                              if naive_gwh > 0 else math.nan)
        fleet = _run_fleet(results, year)
        f[f"ev_stock_m_{label}"] = fleet.get("ev_stock", math.nan) / 1e6
        f[f"ev_stock_share_{label}"] = fleet.get("ev_stock_share", math.nan)
        f[f"ev_sales_share_{label}"] = fleet.get("ev_sales_share", math.nan)
        funnel = _funnel(results, year)
        ev = funnel.get("ev_stock", math.nan)
        f[f"capable_share_{label}"] = (funnel.get("v2g_capable", math.nan) / ev
                                       if ev and ev > 0 else math.nan)
        drops = []
        prev = funnel.get("v2g_capable", math.nan)
        for step in DOWNSTREAM_STEPS:
            cur = funnel.get(step, math.nan)
            drops.append((prev - cur, step))
            prev = cur
        drops = [d for d in drops if not math.isnan(d[0])]
        f[f"largest_filter_{label}"] = (max(drops)[1].replace("_", " ") if drops else "none")
    # verdicts
    for rec in scorecard.to_dict("records"):
        f[f"verdict_{rec['pathway']}"] = str(rec["verdict"])
    for p in PATHWAYS:
        f.setdefault(f"verdict_{p}", "not judged")
    # comparators: survivors per (service, region); costs as medians over regions
    for label, year in years.items():
        rows = comparators[comparators["year"] == year] if not comparators.empty else comparators
        won = rows[(rows["option"] == "V2G") & rows["survives"].astype(bool)] \
            if not rows.empty else rows
        regions = int(rows["region"].nunique()) if not rows.empty else 0
        parts = [f"{service} ({len(grp['region'].unique())} of {regions} regions)"
                 for service, grp in won.groupby("service", sort=False)]
        f[f"v2g_survives_any_{label}"] = bool(parts)
        f[f"v2g_survives_services_{label}"] = ", ".join(parts) or "no service"
        f[f"comparator_year_{label}"] = year if not rows.empty else "none"
        f[f"comparator_test_{label}"] = str(rows["test"].iloc[0]) if not rows.empty else "none"
        peak = rows[rows["service"] == "peak capacity"] if not rows.empty else rows
        medians = (peak.groupby("option")[["net_cost", "effective_cost"]].median()
                   .dropna(subset=["net_cost"]).sort_values(["net_cost", "effective_cost"])
                   if not peak.empty else pd.DataFrame(columns=["net_cost"]))
        median = medians["net_cost"]
        if not median.empty:
            f[f"cheapest_peak_{label}"] = str(median.index[0])
            f[f"cheapest_peak_cost_{label}"] = float(median.iloc[0])
            f[f"v2g_peak_cost_{label}"] = float(median.get("V2G", math.nan))
            f[f"v2g_peak_rank_{label}"] = (list(median.index).index("V2G") + 1
                                          if "V2G" in median.index else 0)
            f[f"managed_peak_cost_{label}"] = float(median.get("managed charging", math.nan))
            f[f"peak_options_{label}"] = len(median)
        else:
            f[f"cheapest_peak_{label}"] = "none"
            for k in ("cheapest_peak_cost", "v2g_peak_cost", "managed_peak_cost"):
                f[f"{k}_{label}"] = math.nan
            f[f"v2g_peak_rank_{label}"] = 0
            f[f"peak_options_{label}"] = 0
    # triggers
    fired = triggers[triggers["fired"].astype(bool)] if not triggers.empty else triggers
    f["fired_count"] = len(fired)
    f["trigger_count"] = len(triggers)
    f["fired_list"] = ", ".join(f"{t} ({p}: {m})" for t, p, m in zip(
        fired["trigger"], fired["parameter"], fired["proposed_change"], strict=True)) or "none"
    observed = triggers.dropna(subset=["latest_value"]) if not triggers.empty else triggers
    unfired = observed[~observed["fired"].astype(bool)] if not observed.empty else observed
    if not unfired.empty:
        gap = (unfired["latest_value"] / unfired["threshold"]).where(
            unfired["direction"] == "above", unfired["threshold"] / unfired["latest_value"])
        closest = unfired.assign(_gap=gap.astype(float)).sort_values("_gap").iloc[-1]
        f["closest_trigger"] = str(closest["trigger"])
        f["closest_value"] = float(closest["latest_value"])
        f["closest_threshold"] = float(closest["threshold"])
        f["closest_indicator"] = str(closest["indicator"])
    else:
        f["closest_trigger"], f["closest_indicator"] = "none", "none"
        f["closest_value"] = f["closest_threshold"] = math.nan
    f["unobserved_triggers"] = int(triggers["latest_value"].isna().sum()) if not triggers.empty \
        else 0
    # evidence
    f["evidence_rows"] = len(evidence)
    f["evidence_latest"] = (f"{evidence['date'].max():%Y-%m-%d}" if not evidence.empty
                            else "none")
    f["evidence_sources"] = int(evidence["source"].nunique()) if not evidence.empty else 0
    prices = evidence[(evidence["indicator"].map(measure_of) == "charger_price")
                      & (evidence["unit"] == "USD")] if not evidence.empty else evidence
    bidir = prices[prices["pathway"].isin(["v2g", "v2h_v2b"])]
    oneway = prices[prices["pathway"] == "smart_charging"]
    f["bidirectional_price_usd"] = (float(bidir.sort_values("date")["value"].iloc[-1])
                                    if not bidir.empty else math.nan)
    f["oneway_price_usd"] = (float(oneway.sort_values("date")["value"].iloc[-1])
                             if not oneway.empty else math.nan)
    f["price_ratio"] = (f["bidirectional_price_usd"] / f["oneway_price_usd"]
                        if f["oneway_price_usd"] and f["oneway_price_usd"] > 0 else math.nan)
    return f
