"""Small synthetic inputs for the judgement tests (schemas of the engine's tables)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import SimpleNamespace

import numpy as np
import pandas as pd
import xarray as xr

from evflex.judgement.evidence import COLUMNS

STATES = ("v2g", "v2h_v2b", "grid_managed", "smart_only", "outside")


def obs(indicator: str, pathway: str, region: str, date: str, value: float, unit: str,
        source: str = "test source", note: str = "", basis: str = "as_of"
        ) -> dict[str, object]:
    """One ledger row (source columns filled with a test citation)."""
    return {"indicator": indicator, "pathway": pathway, "region": region, "country": "WORLD",
            "segment": "all", "date": pd.Timestamp(date), "date_basis": basis,
            "value": float(value), "unit": unit, "publisher": source, "title": "test",
            "url": "https://example.org/", "published": date[:4],
            "retrieved": pd.Timestamp("2026-01-01"), "source_kind": "primary",
            "note": note, "source": source}


def ledger(rows: Iterable[Mapping[str, object]]) -> pd.DataFrame:
    cols = [*COLUMNS, "source"]
    df = pd.DataFrame(list(rows), columns=cols)
    df["date"] = pd.to_datetime(df["date"])
    df["retrieved"] = pd.to_datetime(df["retrieved"])
    df["value"] = df["value"].astype(float)
    return df


def states_frame(shares_by_year: Mapping[int, Mapping[str, float]], ev_stock: float = 1e8
                 ) -> pd.DataFrame:
    """World/all rows of the ``states`` table with the given shares."""
    rows = []
    for year, shares in shares_by_year.items():
        for s in STATES:
            share = float(shares.get(s, 0.0))
            rows.append({"region": "World", "segment": "all", "year": year, "state": s,
                         "vehicles": share * ev_stock, "share": share})
    return pd.DataFrame(rows)


def capacity_frame(values_by_year: Mapping[int, Mapping[str, float]]) -> pd.DataFrame:
    units = {"naive_battery": "TWh", "managed_envelope": "vehicles", "shiftable_load": "GW",
             "shiftable_energy": "GWh/day", "v2g_plugged_at_peak": "vehicles",
             "v2g_export_power": "GW", "v2g_export_energy": "GWh"}
    rows = [{"region": "World", "year": y, "metric": m, "value": float(v), "unit": units[m]}
            for y, vals in values_by_year.items() for m, v in vals.items()]
    return pd.DataFrame(rows)


def synthetic_run(year: int, shares: Mapping[str, float], ev_stock: float,
                  capacity: Mapping[str, float], params: Mapping[str, float]
                  ) -> SimpleNamespace:
    """A run-like object (``.data`` only) over two regions, one segment and one year:
    the given totals split 40/60 between the regions, parameters constant."""
    split = np.array([0.4, 0.6])
    coords = {"region": ["A", "B"], "segment": ["cars"], "year": [year],
              "state": list(STATES)}
    data = {}
    for metric, total in capacity.items():
        data[f"capacity_{metric}"] = (("region", "segment", "year"),
                                      (split * total)[:, None, None])
    counts = np.array([shares.get(s, 0.0) * ev_stock for s in STATES])
    data["states"] = (("region", "segment", "state", "year"),
                      split[:, None, None, None] * counts[None, None, :, None])
    for name, value in params.items():
        data[f"param_{name}"] = (("region", "segment", "year"), np.full((2, 1, 1), value))
    return SimpleNamespace(data=xr.Dataset(data, coords=coords))
