"""History from the shipped IEA Global EV Data 2025 extract, by model region.

The extract is stored by IEA region name; :func:`iea_extract` relabels it by the model's
region ids (``evflex/data/regions.csv``) and adds the rest-of-block regions as residuals
(:func:`evflex.regions.residual_history`): ``RestOfWorld`` is World minus China, Europe
and USA, ``OtherCountries`` World minus every listed country, and so on, so that every
block and the World are sums of the model's regions by construction (the IEA's own "Rest
of the world" is a small residual of unlisted countries and is not used).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache, lru_cache, wraps
from typing import Any

import numpy as np
import pandas as pd

from evflex.iea import iea_raw
from evflex.paths import FloatArray

POWERTRAINS = ("bev", "phev")
SOURCE = "IEA (2025), Global EV Data 2025 (Global EV Outlook 2025), CC BY 4.0"


def _by_value(fn: Callable[..., FloatArray]) -> Callable[..., FloatArray]:
    """``fn`` of a parameter name and lists (regions, segments, years, modes), cached by
    their values: every engine run of a scenario reads the same history cells (the
    explorer runs one per request). Each call gets its own copy to change."""

    @lru_cache(maxsize=64)
    def cached(*args: Any) -> FloatArray:
        out = fn(*(a if isinstance(a, str) else list(a) for a in args))
        out.flags.writeable = False
        return out

    @wraps(fn)
    def call(*args: Any) -> FloatArray:
        return cached(*(a if isinstance(a, str) else tuple(a) for a in args)).copy()

    return call


@cache
def read_disputes() -> pd.DataFrame:
    """IEA car stock figures that national statistics contradict and no national count
    replaces (``evflex/data/iea_disputes.csv``): region (model id), powertrain,
    year_from, year_to, source, source_year. Neither the first reported stock nor the
    trade calibration takes them as data points."""
    from importlib import resources

    with resources.files("evflex.data").joinpath("iea_disputes.csv").open(
            "r", encoding="utf-8") as fh:
        return pd.read_csv(fh, comment="#")


def disputed(regions: list[str], years: list[int]) -> FloatArray:
    """Where the IEA's car stock is disputed (:func:`read_disputes`): a boolean array of
    shape (region, powertrain, year)."""
    mask = np.zeros((len(regions), len(POWERTRAINS), len(years)), dtype=bool)
    span = np.asarray(years)
    for row in read_disputes().to_dict("records"):
        if row["region"] in regions:
            mask[regions.index(row["region"]), POWERTRAINS.index(row["powertrain"])] |= (
                (span >= row["year_from"]) & (span <= row["year_to"]))
    return mask


@cache
def iea_extract() -> pd.DataFrame:
    """EV sales and stock counts by model region id (countries, blocks, residuals) and by
    the IEA aggregates World and EU27: region, segment, parameter, powertrain, year,
    value, unit."""
    from evflex.regions import hierarchy, residual_history

    raw = iea_raw()
    by_id = residual_history(raw, hierarchy())
    totals = raw[raw["region"].isin(["World", "EU27"])
                 & raw["parameter"].isin(["ev_sales", "ev_stock"])]
    return pd.concat([by_id, totals[by_id.columns]], ignore_index=True)


@_by_value
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


def _implied_by_name(count: str, share: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``count / share`` by IEA name, and its largest error from the IEA's rounding.

    Index (segment, year), one column per IEA name. ``count`` is ``ev_sales`` or
    ``ev_stock`` (BEV + PHEV, each rounded), ``share`` the matching EV share; only years
    where both exist and are positive. The error is ``ratio x (err(count) / count +
    err(share) / share)`` with each published number off by at most half a unit of its
    second significant figure (:func:`evflex.regions.rounding_error`).
    """
    from evflex.regions import rounding_error

    raw = iea_raw()
    rows = raw[(raw["parameter"] == count) & raw["powertrain"].isin(POWERTRAINS)].copy()
    rows["err"] = rounding_error(rows["value"])
    grouped = rows.groupby(["region", "segment", "year"])
    num, num_err = grouped["value"].sum(), grouped["err"].sum()
    den_rows = raw[raw["parameter"] == share].set_index(["region", "segment", "year"])["value"]
    den = den_rows[den_rows > 0]
    ratio = (num / den).dropna()
    ratio = ratio[ratio > 0]
    err = ratio * (num_err.reindex(ratio.index) / num.reindex(ratio.index)
                   + rounding_error(den).reindex(ratio.index) / den.reindex(ratio.index))
    return ratio.unstack("region"), err.unstack("region")


@cache
def implied_totals(count: str, share: str) -> pd.DataFrame:
    """All-powertrain totals implied by the IEA (``count / share``) by model region id.

    Index (segment, year); one column per region of the hierarchy and per IEA name
    (World, EU27, Europe, ...). A region with its own IEA series takes it; a rest-of-block
    region is its block's total minus the other regions of its resolution in the block,
    where all of them are known and the remainder is positive (NaN elsewhere).
    """
    return _implied_with_rounding(count, share)[0]


@cache
def implied_rounding(count: str, share: str) -> pd.DataFrame:
    """Largest error of :func:`implied_totals` from the IEA's rounding [same unit].

    A residual region adds the errors of its block total and of every region taken off.
    """
    return _implied_with_rounding(count, share)[1]


@cache
def _implied_with_rounding(count: str, share: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    from evflex.regions import hierarchy

    by_name, err_by_name = _implied_by_name(count, share)
    hier = hierarchy()
    rows = hier.regions
    out: dict[str, pd.Series] = {str(name): by_name[name] for name in by_name.columns}
    err: dict[str, pd.Series] = {str(name): err_by_name[name] for name in by_name.columns}
    missing = pd.Series(np.nan, index=by_name.index)
    for region, name, history in zip(rows["region"], rows["name"], rows["history"],
                                     strict=True):
        if history == "iea":
            out[str(region)] = by_name[name] if name in by_name.columns else missing
            err[str(region)] = err_by_name[name] if name in by_name.columns else missing
    pending = [(str(r), str(res), str(h).split(":", 1)[1])
               for r, res, h in zip(rows["region"], rows["resolution"], rows["history"],
                                    strict=True) if str(h).startswith("residual:")]
    zero = missing.fillna(0.0)
    while pending:
        done = []
        for region, resolution, block in pending:
            others = [str(r) for r, res in zip(rows["region"], rows["resolution"], strict=True)
                      if res == resolution and r != region
                      and (block == "World" or block in hier.blocks_of(str(r)))]
            if any(o not in out for o in others):
                continue
            total = by_name[block] if block in by_name.columns else missing
            total_err = err_by_name[block] if block in by_name.columns else missing
            rest = total - sum((out[o] for o in others), zero)
            out[region] = rest.where(rest > 0)
            err[region] = (total_err + sum((err[o] for o in others), zero)).where(rest > 0)
            done.append((region, resolution, block))
        if not done:
            break  # the hierarchy's own validation reports circular residuals
        pending = [p for p in pending if p not in done]
    return pd.DataFrame(out), pd.DataFrame(err)


def _by_cell(table: pd.DataFrame, regions: list[str], iea_modes: list[str],
             years: list[int]) -> FloatArray:
    """``table`` (index segment, year; a column per region) as (region, mode, year).

    One selection per mode, not per cell: a country run has some 40 regions.
    """
    out = np.full((len(regions), len(iea_modes), len(years)), np.nan)
    wide = table.reindex(columns=regions)
    modes = set(table.index.get_level_values("segment"))
    for j, mode in enumerate(iea_modes):
        if mode in modes:
            out[:, j, :] = wide.xs(mode, level="segment").reindex(years).to_numpy(
                dtype=float).T
    return out


@_by_value
def total_sales_history(regions: list[str], segments: list[str], years: list[int],
                        iea_modes: list[str]) -> FloatArray:
    """Total new-vehicle sales implied by the IEA, shape (region, segment, year) [vehicles/year].

    EV sales / EV sales share per region and IEA mode (:func:`implied_totals`); NaN where
    the IEA gives no share (see :func:`evflex.fleet.sales.fill_history` for the gaps).
    """
    return _by_cell(implied_totals("ev_sales", "ev_sales_share"), regions, iea_modes, years)


@_by_value
def implied_vehicle_stock(regions: list[str], segments: list[str], years: list[int],
                          iea_modes: list[str]) -> FloatArray:
    """Total vehicle stock implied by the IEA: EV stock / EV stock share [vehicles].

    Shape (region, segment, year); ``regions`` may hold IEA names of aggregates (World,
    EU27, Europe). NaN where the IEA gives no stock share. The engine never reads it: it
    is test data for the stock the model builds from sales and survival.
    """
    return _by_cell(implied_totals("ev_stock", "ev_stock_share"), regions, iea_modes, years)


@_by_value
def implied_vehicle_stock_rounding(regions: list[str], segments: list[str], years: list[int],
                                   iea_modes: list[str]) -> FloatArray:
    """Largest error of :func:`implied_vehicle_stock` from the IEA's rounding [vehicles]."""
    return _by_cell(implied_rounding("ev_stock", "ev_stock_share"), regions, iea_modes, years)
