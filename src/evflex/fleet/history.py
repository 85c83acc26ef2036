"""History from the shipped IEA Global EV Data 2025 extract, by model region.

The extract is stored by IEA region name; :func:`iea_extract` relabels it by the model's
region ids (``evflex/data/regions.csv``) and adds the rest-of-block regions as residuals
(:func:`evflex.regions.residual_history`): ``RestOfWorld`` is World minus China, Europe
and USA, ``OtherCountries`` World minus every listed country, and so on, so that every
block and the World are sums of the model's regions by construction (the IEA's own "Rest
of the world" is a small residual of unlisted countries and is not used).
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
def iea_raw() -> pd.DataFrame:
    """The shipped extract as stored: region (IEA name), segment, parameter, powertrain,
    year, value, unit."""
    with resources.files("evflex.data").joinpath(EXTRACT).open("r", encoding="utf-8") as fh:
        return pd.read_csv(fh, comment="#")


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
