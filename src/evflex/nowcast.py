"""Now-cast per country: the run's present against the evidence of the same country.

The evidence ledger (:mod:`evflex.judgement.evidence`) holds dated observations with the
country they describe (``country``, ISO 3166-1 alpha-2). Those whose indicator measures a
modelled quantity (``evflex/data/nowcast_map.csv``: vehicles in a state, a state's share
of the EV stock, the smart-capable share of the EV stock) are set against the run's value
for that country, segment and year: a *lower bound* (an observed programme is part of the
country's total) passes when the model is at least the observation; an *estimate* passes
within a stated factor. Observations the map does not cover are left out; those the run
cannot judge (a country outside the run's ``--regions`` selection, ``EU`` or ``WORLD``, a
segment or year it does not model) are listed as ``not judged``, with why. This is a
table of tests against data the model did not read, reported beside the checks (country
parameters sourced from a row say so in ``assumptions.csv``; such a row is then a
calibration, not a test, and is marked).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from evflex.model import ALL_SEGMENTS, Results

#: Status of a ledger row the now-cast lists without setting it against the run.
NOT_JUDGED = "not judged"
COLUMNS = ["region", "indicator", "pathway", "segment", "date", "observed", "unit",
           "quantity", "modelled", "ratio", "relation", "limit", "status", "reason"]


@cache
def nowcast_map() -> pd.DataFrame:
    """The shipped map of ledger indicators to modelled quantities."""
    with resources.files("evflex.data").joinpath("nowcast_map.csv").open(
            "r", encoding="utf-8") as fh:
        return pd.read_csv(fh, comment="#", dtype={"factor": float})


def modelled(results: Results, quantity: str, region: str, segment: str,
             year: int) -> float:
    """The run's value of a now-cast quantity in one region, segment and year."""
    agg = results.aggregated.sel(region=region, segment=segment, year=year)
    kind, _, state = quantity.partition(":")
    if kind == "state":
        return float(agg["states"].sel(state=state))
    if kind == "state_share":
        return float(agg["state_share"].sel(state=state))
    if kind == "smart_capable_share":
        ds = results.data.sel(region=region, year=year)
        smart = ds["smart_capable_stock"] if segment == ALL_SEGMENTS else \
            ds["smart_capable_stock"].sel(segment=segment)
        ev = ds["ev_stock_pt"].sum("powertrain")
        ev = ev if segment == ALL_SEGMENTS else ev.sel(segment=segment)
        total = float(ev.sum())
        return float(smart.sum()) / total if total > 0 else 0.0
    raise ValueError(f"nowcast map: unknown quantity {quantity!r} (expected state:STATE, "
                     "state_share:STATE or smart_capable_share)")


def nowcast_table(results: Results, ledger: pd.DataFrame,
                  regions: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per ledger observation of a modelled quantity (``nowcast_map.csv``).

    An observation is judged (status ``pass`` or ``fail``) in its country when that
    country is a region of the run, among ``regions`` (the run's selection, ``evflex run
    --regions``; ``None``: every region), and its segment and year are modelled; any
    other is listed with status ``not judged`` and why (e.g. "not judged: region not in
    this run"), its modelled value and ratio left empty.
    """
    rules: dict[tuple[str, str], dict[Any, Any]] = {
        (str(r["indicator"]), str(r["pathway"])): r
        for r in nowcast_map().to_dict(orient="records")}
    sc = results.scenario
    segments: dict[str, str] = {str(seg.iea_mode): name for name, seg in sc.segments.items()}
    years = set(sc.years_axis)
    selected = set(sc.regions if regions is None else regions)
    rows = []
    for obs in ledger.to_dict(orient="records"):
        indicator, pathway = str(obs["indicator"]), str(obs["pathway"])
        rule = rules.get((indicator, pathway)) or rules.get((indicator.split("/", 1)[0],
                                                            pathway))
        if rule is None:
            continue
        country = str(obs.get("country", ""))
        segment = (ALL_SEGMENTS if obs["segment"] == "all"
                   else segments.get(str(obs["segment"])))
        date = pd.Timestamp(str(obs["date"]))
        row = {"region": country, "indicator": indicator, "pathway": pathway,
               "segment": segment or str(obs["segment"]), "date": date.date().isoformat(),
               "observed": float(obs["value"]), "unit": obs["unit"],
               "quantity": rule["quantity"], "relation": rule["relation"]}
        if country not in sc.regions:
            why = f"{country} is not a country region of this scenario"
        elif country not in selected:
            why = "region not in this run (evflex run --regions)"
        elif segment is None:
            why = f"segment {obs['segment']!r} not modelled in this scenario"
        elif date.year not in years:
            why = f"{date.year} is outside the run's years"
        else:
            why = ""
        if why or segment is None:
            rows.append({**row, "modelled": np.nan, "ratio": np.nan, "limit": "",
                         "status": NOT_JUDGED, "reason": f"{NOT_JUDGED}: {why}"})
            continue
        value = modelled(results, str(rule["quantity"]), country, segment, date.year)
        observed = row["observed"]
        ratio = value / observed if observed else float("nan")
        if rule["relation"] == "lower_bound":
            passed, limit = value >= observed, "modelled >= observed"
        else:
            factor = float(rule["factor"])
            passed = bool(np.isfinite(ratio) and 1 / factor <= ratio <= factor)
            limit = f"modelled / observed within {1 / factor:.2g}-{factor:g}"
        rows.append({**row, "modelled": value, "ratio": ratio, "limit": limit,
                     "status": "pass" if passed else "fail", "reason": rule["reason"]})
    return pd.DataFrame(rows, columns=COLUMNS)
