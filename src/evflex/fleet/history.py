"""History from the shipped IEA Global EV Data 2025 extract.

``RestOfWorld`` is World minus China, Europe and USA, so World is the sum of the model's
regions by construction (the IEA's own "Rest of the world" is a small residual of
unlisted countries and is not used).
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import numpy as np
import pandas as pd

from evflex.paths import FloatArray

EXTRACT = "iea_gev2025_extract.csv"
POWERTRAINS = ("bev", "phev")
SOURCE = "IEA (2025), Global EV Data 2025 (Global EV Outlook 2025), CC BY 4.0"


@cache
def iea_extract() -> pd.DataFrame:
    """The shipped extract: region, segment, parameter, powertrain, year, value, unit."""
    with resources.files("evflex.data").joinpath(EXTRACT).open("r", encoding="utf-8") as fh:
        table = pd.read_csv(fh, comment="#")
    rest = _rest_of_world(table)
    return pd.concat([table, rest], ignore_index=True)


def _rest_of_world(table: pd.DataFrame) -> pd.DataFrame:
    counts = table[table["parameter"].isin(["ev_sales", "ev_stock"])]
    keys = ["segment", "parameter", "powertrain", "year"]
    wide = counts.pivot_table(index=keys, columns="region", values="value", aggfunc="sum")
    wide = wide.reindex(columns=["World", "China", "Europe", "USA"]).fillna(0.0)
    rest = (wide["World"] - wide["China"] - wide["Europe"] - wide["USA"]).clip(lower=0.0)
    out = rest.rename("value").reset_index()
    out["region"] = "RestOfWorld"
    out["unit"] = np.where(out["parameter"] == "ev_sales", "vehicles/year", "vehicles")
    return out[table.columns]


def ev_series(parameter: str, regions: list[str], segments: list[str], years: list[int],
              iea_modes: list[str]) -> FloatArray:
    """IEA ``ev_sales`` or ``ev_stock`` by (region, segment, powertrain, year) [vehicles].

    Years or cells without IEA data are 0.
    """
    table = iea_extract()
    sub = table[(table["parameter"] == parameter) & table["powertrain"].isin(POWERTRAINS)]
    out = np.zeros((len(regions), len(segments), len(POWERTRAINS), len(years)))
    year_index = {y: k for k, y in enumerate(years)}
    region_index = {r: i for i, r in enumerate(regions)}
    pt_index = {p: k for k, p in enumerate(POWERTRAINS)}
    for j, mode in enumerate(iea_modes):
        rows = sub[(sub["segment"] == mode) & sub["region"].isin(regions)
                   & sub["year"].isin(years)]
        i = rows["region"].map(region_index).to_numpy(dtype=int)
        k = rows["powertrain"].map(pt_index).to_numpy(dtype=int)
        t = rows["year"].map(year_index).to_numpy(dtype=int)
        out[i, j, k, t] = rows["value"].to_numpy(dtype=float)
    return out


def _implied_total_sales(table: pd.DataFrame) -> pd.DataFrame:
    """Total sales implied by the IEA: EV sales (BEV + PHEV) / EV sales share [vehicles/year].

    One row per listed IEA region, segment and year where both numbers exist and are
    positive; ``RestOfWorld`` is World minus the listed regions in the years all of them
    have a value (and stays out where the residual is not positive).
    """
    sales = (table[(table["parameter"] == "ev_sales") & table["powertrain"].isin(POWERTRAINS)]
             .groupby(["region", "segment", "year"])["value"].sum())
    share = (table[table["parameter"] == "ev_sales_share"]
             .set_index(["region", "segment", "year"])["value"])
    ratio = (sales / share[share > 0]).dropna()
    total: pd.DataFrame = ratio[ratio > 0].rename("value").reset_index()
    wide = total.pivot_table(index=["segment", "year"], columns="region", values="value")
    listed = [r for r in ("China", "Europe", "USA") if r in wide.columns]
    if "World" in wide.columns and len(listed) == 3:
        residual = wide["World"] - wide[listed].sum(axis=1, min_count=3)
        rest: pd.DataFrame = residual[residual > 0].rename("value").reset_index()
        rest["region"] = "RestOfWorld"
        total = pd.concat([total, rest[list(total.columns)]], ignore_index=True)
    return total


def total_sales_history(regions: list[str], segments: list[str], years: list[int],
                        iea_modes: list[str]) -> FloatArray:
    """Total new-vehicle sales implied by the IEA, shape (region, segment, year) [vehicles/year].

    ``EV sales / EV sales share`` per IEA region and mode; NaN where the IEA gives no
    share (see :func:`evflex.fleet.sales.fill_history` for the gaps).
    """
    total = _implied_total_sales(iea_extract_raw())
    out = np.full((len(regions), len(segments), len(years)), np.nan)
    year_index = {y: k for k, y in enumerate(years)}
    for i, region in enumerate(regions):
        for j, mode in enumerate(iea_modes):
            rows = total[(total["region"] == region) & (total["segment"] == mode)
                         & total["year"].isin(years)]
            t = rows["year"].map(year_index).to_numpy(dtype=int)
            out[i, j, t] = rows["value"].to_numpy(dtype=float)
    return out


@cache
def iea_extract_raw() -> pd.DataFrame:
    """The shipped extract as published (no ``RestOfWorld`` rows added)."""
    with resources.files("evflex.data").joinpath(EXTRACT).open("r", encoding="utf-8") as fh:
        return pd.read_csv(fh, comment="#")


def implied_vehicle_stock(regions: list[str], segments: list[str], years: list[int],
                          iea_modes: list[str]) -> FloatArray:
    """Total vehicle stock implied by the IEA: EV stock / EV stock share [vehicles].

    Shape (region, segment, year); NaN where the IEA gives no stock share. ``RestOfWorld``
    is World minus the listed regions. The engine never reads it: it is test data for the
    stock the model builds from sales and survival.
    """
    table = iea_extract_raw()
    stock = (table[(table["parameter"] == "ev_stock") & table["powertrain"].isin(POWERTRAINS)]
             .groupby(["region", "segment", "year"])["value"].sum())
    share = (table[table["parameter"] == "ev_stock_share"]
             .set_index(["region", "segment", "year"])["value"])
    implied: pd.DataFrame = (stock / share[share > 0]).dropna().rename("value").reset_index()
    wide = implied.pivot_table(index=["segment", "year"], columns="region", values="value")
    if {"World", "China", "Europe", "USA"} <= set(wide.columns):
        residual = wide["World"] - wide[["China", "Europe", "USA"]].sum(axis=1, min_count=3)
        rest: pd.DataFrame = residual.dropna().rename("value").reset_index()
        rest["region"] = "RestOfWorld"
        implied = pd.concat([implied, rest[list(implied.columns)]], ignore_index=True)
    out = np.full((len(regions), len(segments), len(years)), np.nan)
    year_index = {y: k for k, y in enumerate(years)}
    for i, region in enumerate(regions):
        for j, mode in enumerate(iea_modes):
            rows = implied[(implied["region"] == region) & (implied["segment"] == mode)
                           & implied["year"].isin(years)]
            out[i, j, rows["year"].map(year_index).to_numpy(dtype=int)] = (
                rows["value"].to_numpy(dtype=float))
    return out
