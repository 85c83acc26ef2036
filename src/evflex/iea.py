"""The shipped extract of the IEA Global EV Data 2025, as stored (by IEA region name).

The lowest layer of the data: :mod:`evflex.regions` checks its hierarchy against the
names here, and :mod:`evflex.fleet.history` relabels the extract by model region.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import pandas as pd

#: The extract's file in ``evflex/data`` (made by ``scripts/extract_iea.py``).
EXTRACT = "iea_gev2025_extract.csv"


@cache
def iea_raw() -> pd.DataFrame:
    """The shipped extract as stored: region (IEA name), segment, parameter, powertrain,
    year, value, unit."""
    with resources.files("evflex.data").joinpath(EXTRACT).open("r", encoding="utf-8") as fh:
        return pd.read_csv(fh, comment="#")


__all__ = ["EXTRACT", "iea_raw"]
