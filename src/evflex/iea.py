"""The shipped extract of the IEA Global EV Data 2025 (by IEA region name), as published and
with its sourced corrections.

The lowest layer of the data: :mod:`evflex.regions` checks its hierarchy against the
names here, and :mod:`evflex.fleet.history` relabels the extract by model region.
:func:`iea_raw`, which every model path reads, applies ``iea_corrections.csv``: figures
that national statistics show wrong, each with its source (see that file);
:func:`iea_published` is the extract as the IEA published it.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import pandas as pd

#: The extract's file in ``evflex/data`` (made by ``scripts/extract_iea.py``).
EXTRACT = "iea_gev2025_extract.csv"
#: Sourced corrections of the extract, in ``evflex/data``.
CORRECTIONS = "iea_corrections.csv"
_KEY = ["region", "segment", "parameter", "powertrain", "year"]


def _read(name: str) -> pd.DataFrame:
    with resources.files("evflex.data").joinpath(name).open("r", encoding="utf-8") as fh:
        return pd.read_csv(fh, comment="#")


@cache
def iea_published() -> pd.DataFrame:
    """The shipped extract as published: region (IEA name), segment, parameter,
    powertrain, year, value, unit."""
    return _read(EXTRACT)


def iea_corrections() -> pd.DataFrame:
    """The sourced corrections (``iea_corrections.csv``)."""
    return _read(CORRECTIONS)


def apply_corrections(table: pd.DataFrame, corrections: pd.DataFrame) -> pd.DataFrame:
    """``table`` (as :func:`iea_published`) with ``corrections`` applied (see the module).

    Raises ``ValueError`` naming the row when a corrected cell is missing or its value is
    not the correction's ``iea_value`` (the extract changed under it).
    """
    out = table.copy()
    values = out["value"].to_numpy(dtype=float).copy()
    index = out.set_index(_KEY).index
    is_sales = (out["parameter"] == "ev_sales").to_numpy()
    is_share = (out["parameter"] == "ev_sales_share").to_numpy()

    def row_of(key: tuple[object, ...]) -> int:
        hits = (index == key).nonzero()[0]
        if len(hits) != 1:
            raise ValueError(f"iea_corrections.csv: no single cell {key} in the IEA extract")
        return int(hits[0])

    for fix in corrections.to_dict("records"):
        key = tuple(fix[k] for k in _KEY)
        published, value = float(fix["iea_value"]), float(fix["value"])
        if values[row_of(key)] != published:
            raise ValueError(f"iea_corrections.csv: {key} is {values[row_of(key)]:g} in the "
                             f"extract, expected iea_value {published:g}")
        delta = value - published
        for region in [key[0], *str(fix["aggregates"]).split(";")]:
            same = ((out["region"] == region) & (out["segment"] == key[1])
                    & (out["year"] == key[4])).to_numpy()
            old = float(values[same & is_sales].sum())
            values[row_of((region, *key[1:]))] += delta
            values[same & is_share] *= (old + delta) / old
    out["value"] = values
    return out


@cache
def iea_raw() -> pd.DataFrame:
    """The extract with the sourced corrections applied: region (IEA name), segment,
    parameter, powertrain, year, value, unit."""
    return apply_corrections(iea_published(), iea_corrections())


__all__ = ["CORRECTIONS", "EXTRACT", "apply_corrections", "iea_corrections", "iea_published",
           "iea_raw"]
