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
