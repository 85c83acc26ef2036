"""Regions and blocks: which regions the model runs, and which sums it reports.

Two shipped files describe the geography (``evflex/data/regions.csv`` and
``evflex/data/blocks.csv``):

- a **region** is what the engine computes: a country (ISO 3166-1 alpha-2 code, e.g.
  ``GB``), a rest-of-block region (``RestOfEU27``, ``RestOfEurope``, ``OtherCountries``)
  or one of the four regions of the block-level ``base`` scenario (``China``, ``Europe``,
  ``USA``, ``RestOfWorld``). Each belongs to one *resolution* (``countries`` or
  ``blocks``), and each resolution covers the World once;
- a **block** is a named sum of regions (``EU27``, ``Europe``, ``North America``,
  ``Asia Pacific``, ...). Blocks are grouped in *partitions* (``union``: EU27;
  ``continent``: Europe, North America, ...); a region is in at most one block of each
  partition. The World is the sum of all regions of a run and is not listed.

A rest-of-block region's history is a residual: the IEA total of its block minus every
other region of the same resolution in that block, so that the block, and the World, are
exact sums of the model's regions. A residual that comes out negative beyond the IEA's
rounding means the block's members do not sum to its total: :func:`residual_history`
raises :class:`RegionError` naming the block.

Every problem is a :class:`RegionError` with a one-line message naming the region or
block, what was found and what was expected.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache, cached_property
from importlib import resources

import numpy as np
import pandas as pd

WORLD = "World"
RESOLUTIONS = ("blocks", "countries")
#: Significant figures the IEA publishes: a residual may be negative by at most the sum of
#: the rounding of the block's total and of every member subtracted from it.
SIGNIFICANT_FIGURES = 2


class RegionError(ValueError):
    """A problem with regions or blocks, in one line naming it."""


@dataclass(frozen=True)
class RegionRow:
    """One row of ``regions.csv``, typed."""

    region: str
    name: str
    resolution: str
    history: str
    blocks: tuple[str, ...]


def _rows(regions: pd.DataFrame) -> list[RegionRow]:
    return [RegionRow(str(r), str(n), str(res), str(h),
                      tuple(bs) if isinstance(bs, tuple)
                      else tuple(b.strip() for b in str(bs).split(";") if b.strip()))
            for r, n, res, h, bs in zip(regions["region"], regions["name"],
                                        regions["resolution"], regions["history"],
                                        regions["blocks"], strict=True)]


@dataclass(frozen=True, eq=False)
class Hierarchy:
    """The validated region and block tables.

    ``regions``: one row per region (``region, name, resolution, history, blocks,
    source``), ``blocks`` a tuple per row; ``blocks``: one row per block (``block,
    partition, description, source``), in reporting order.
    """

    regions: pd.DataFrame
    blocks: pd.DataFrame

    @cached_property
    def region_ids(self) -> list[str]:
        return list(self.regions["region"])

    @cached_property
    def block_names(self) -> list[str]:
        return list(self.blocks["block"])

    @cached_property
    def _names(self) -> dict[str, str]:
        return dict(zip(self.regions["region"], self.regions["name"], strict=True))

    @cached_property
    def _members(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {b: [] for b in self.block_names}
        for region, blocks in zip(self.regions["region"], self.regions["blocks"], strict=True):
            for block in blocks:
                out[block].append(region)
        return out

    @cached_property
    def _blocks_of(self) -> dict[str, tuple[str, ...]]:
        order = {b: (len(self._members[b]), i) for i, b in enumerate(self.block_names)}
        return {region: tuple(sorted(blocks, key=order.__getitem__))
                for region, blocks in zip(self.regions["region"], self.regions["blocks"],
                                          strict=True)}

    def resolution(self, name: str) -> list[str]:
        """Region ids of one resolution (``countries`` or ``blocks``), in file order."""
        if name not in RESOLUTIONS:
            raise RegionError(f"resolution: unknown resolution {name!r} "
                              f"(expected one of {', '.join(RESOLUTIONS)})")
        return list(self.regions.loc[self.regions["resolution"] == name, "region"])

    def blocks_of(self, region: str) -> tuple[str, ...]:
        """The blocks a region belongs to, innermost (smallest) first."""
        return self._blocks_of.get(region, ())

    def members(self, block: str, regions: Iterable[str] | None = None) -> list[str]:
        """Regions in ``block`` (all, or those of ``regions``), in hierarchy order."""
        inside = self._members.get(block, [])
        if regions is None:
            return list(inside)
        keep = set(regions)
        return [r for r in inside if r in keep]

    def name_of(self, region: str) -> str:
        """The region's IEA name (or description); the id itself if it is not listed."""
        return self._names.get(region, region)

    @cache  # noqa: B019  (one shipped instance, a handful of regions)
    def override_keys(self, region: str, segment: str) -> tuple[str, ...]:
        """Scenario override keys that may apply to a (region, segment) cell, first wins.

        The region's own id, then its IEA name (so ``China`` of the block-level base
        applies to ``CN``), then its blocks innermost first (so ``Europe`` applies to
        ``GB``), each with the segment before without; then the segment alone.
        """
        keys: list[str] = []
        for where in (region, self.name_of(region), *self.blocks_of(region)):
            for key in (f"{where}/{segment}", where):
                if key not in keys:
                    keys.append(key)
        keys.append(segment)
        return tuple(keys)

    def aggregates(self, regions: Sequence[str]) -> dict[str, list[str]]:
        """Blocks every member of which is among ``regions``, with those members.

        A block is reported only when the run contains all of it, so a block total is
        never a partial sum; a region that is itself named like a block (``Europe`` of the
        block-level scenario) is a region, not an aggregate.
        """
        present = set(regions)
        out = {}
        for block in self.block_names:
            if block in present:
                continue
            members = self.members(block)
            if members and all(m in present for m in members):
                out[block] = members
        return out

    def resolve(self, wanted: Iterable[str], regions: Sequence[str]) -> list[str]:
        """Region ids for a selection of region ids, IEA names or block names.

        A block stands for its members. The result keeps the order of ``regions``.
        Raises :class:`RegionError` for a name that is neither a region of ``regions``
        nor a block of them.
        """
        available = list(regions)
        by_name = {self.name_of(r).lower(): r for r in available}
        by_id = {r.lower(): r for r in available}
        chosen: set[str] = set()
        for raw in wanted:
            item = raw.strip()
            if not item:
                continue
            key = item.lower()
            if key in by_id:
                chosen.add(by_id[key])
            elif key in by_name:
                chosen.add(by_name[key])
            elif key in {b.lower() for b in self.block_names}:
                block = next(b for b in self.block_names if b.lower() == key)
                members = self.members(block, available)
                if not members:
                    raise RegionError(f"regions: block {block!r} has no region in this "
                                      "scenario (expected a block of its regions)")
                chosen.update(members)
            else:
                sample = ", ".join(available[:6])
                raise RegionError(f"regions: unknown region {item!r} (expected a region of "
                                  f"the scenario such as {sample}, or a block such as "
                                  f"{', '.join(self.block_names[:3])})")
        return [r for r in available if r in chosen]


def _read(filename: str) -> pd.DataFrame:
    with resources.files("evflex.data").joinpath(filename).open("r", encoding="utf-8") as fh:
        return pd.read_csv(fh, comment="#", dtype=str, keep_default_na=False)


def validate(regions: pd.DataFrame, blocks: pd.DataFrame,
             known_names: Iterable[str] | None = None) -> Hierarchy:
    """Check the two tables and return the :class:`Hierarchy`.

    Problems: a duplicate region or block, an unknown resolution, partition or block, a
    region in two blocks of the same partition, a history that is neither ``iea`` nor
    ``residual:BLOCK``, an IEA name not in the data (``known_names``), a resolution
    that has no region for the World's residual.
    """
    for col in ("region", "name", "resolution", "history", "blocks", "source"):
        if col not in regions.columns:
            raise RegionError(f"regions.csv: missing column {col!r}")
    for col in ("block", "partition", "description", "source"):
        if col not in blocks.columns:
            raise RegionError(f"blocks.csv: missing column {col!r}")
    dup = blocks["block"][blocks["block"].duplicated()]
    if not dup.empty:
        raise RegionError(f"blocks.csv: block {dup.iloc[0]!r} listed twice (expected once)")
    if WORLD in set(blocks["block"]):
        raise RegionError(f"blocks.csv: block {WORLD!r} is the sum of all regions "
                          "(expected it not to be listed)")
    partition = dict(zip(blocks["block"], blocks["partition"], strict=True))
    regions = regions.copy()
    regions["blocks"] = regions["blocks"].map(
        lambda s: tuple(b.strip() for b in str(s).split(";") if b.strip()))
    dup = regions["region"][regions["region"].duplicated()]
    if not dup.empty:
        raise RegionError(f"regions.csv: region {dup.iloc[0]!r} listed twice (expected once)")
    names = None if known_names is None else set(known_names)
    for row in _rows(regions):
        where = f"regions.csv: region {row.region!r}"
        if not str(row.region).strip():
            raise RegionError("regions.csv: empty region id (expected a code such as GB)")
        if row.resolution not in RESOLUTIONS:
            raise RegionError(f"{where}: unknown resolution {row.resolution!r} "
                              f"(expected one of {', '.join(RESOLUTIONS)})")
        seen: dict[str, str] = {}
        for block in row.blocks:
            if block not in partition:
                raise RegionError(f"{where}: unknown block {block!r} "
                                  f"(expected one of blocks.csv: {', '.join(partition)})")
            other = seen.get(partition[block])
            if other is not None:
                raise RegionError(f"{where}: in two blocks of partition "
                                  f"{partition[block]!r}, {other!r} and {block!r} "
                                  "(expected at most one)")
            seen[partition[block]] = block
        if row.history == "iea":
            if names is not None and row.name not in names:
                raise RegionError(f"{where}: IEA name {row.name!r} not in the IEA extract "
                                  "(expected a region of the IEA Global EV Data 2025)")
        elif row.history.startswith("residual:"):
            block = row.history.split(":", 1)[1]
            if block != WORLD and block not in row.blocks:
                raise RegionError(f"{where}: residual of {block!r}, a block it is not in "
                                  f"(expected one of {', '.join((*row.blocks, WORLD))})")
        else:
            raise RegionError(f"{where}: unknown history {row.history!r} "
                              "(expected 'iea' or 'residual:BLOCK')")
    for block in partition:
        resolutions = set(regions.loc[regions["blocks"].map(lambda bs, b=block: b in bs),
                                      "resolution"])
        if len(resolutions) > 1:
            raise RegionError(f"blocks.csv: block {block!r} mixes resolutions "
                              f"{sorted(resolutions)} (expected regions of one resolution)")
    return Hierarchy(regions.reset_index(drop=True), blocks.reset_index(drop=True))


@cache
def hierarchy() -> Hierarchy:
    """The shipped hierarchy, validated against the names of the shipped IEA extract."""
    from evflex.iea import iea_raw

    return validate(_read("regions.csv"), _read("blocks.csv"),
                    set(iea_raw()["region"]))


def rounding_error(values: pd.Series) -> pd.Series:
    """Largest error of values rounded to :data:`SIGNIFICANT_FIGURES` [same unit].

    Half a unit of the last published digit: 0.5 x 10^(floor(log10 x) - figures + 1).

    >>> rounding_error(pd.Series([18e6, 1340.0, 0.0])).tolist()
    [500000.0, 50.0, 0.0]
    """
    x = values.abs()
    exponent = np.floor(np.log10(x.where(x > 0, 1.0))) - SIGNIFICANT_FIGURES + 1
    return (0.5 * 10.0 ** exponent).where(x > 0, 0.0)


def residual_history(table: pd.DataFrame, hier: Hierarchy) -> pd.DataFrame:
    """IEA counts (``ev_sales``, ``ev_stock``) relabelled by region id, with residuals.

    ``table`` is the IEA extract (region = IEA name). Returns rows of the same columns
    for every region of ``hier`` (region = id): its own IEA series, or its block's IEA
    total minus the other regions of its resolution in that block. Raises
    :class:`RegionError` when a residual is negative beyond the IEA's rounding (the
    block's members exceed its total: the block does not sum).
    """
    counts = table[table["parameter"].isin(["ev_sales", "ev_stock"])
                   & table["powertrain"].isin(["bev", "phev"])]
    keys = ["segment", "parameter", "powertrain", "year"]
    wide = counts.pivot_table(index=keys, columns="region", values="value", aggfunc="sum")
    wide = wide.fillna(0.0)
    out: dict[str, pd.Series] = {}
    rounding: dict[str, pd.Series] = {}  # largest rounding error of each series [vehicles]
    rows = _rows(hier.regions)
    for row in rows:
        if row.history == "iea":
            out[row.region] = (wide[row.name] if row.name in wide.columns
                               else pd.Series(0.0, index=wide.index))
            rounding[row.region] = rounding_error(out[row.region])
    pending = [r for r in rows if r.history != "iea"]
    while pending:
        progress = False
        for row in list(pending):
            block = row.history.split(":", 1)[1]
            others = [r.region for r in rows if r.resolution == row.resolution
                      and r.region != row.region and (block == WORLD or block in r.blocks)]
            if any(o not in out for o in others):
                continue
            if block not in wide.columns:
                raise RegionError(f"region {row.region!r}: no IEA total for block "
                                  f"{block!r} (expected it in the IEA extract)")
            total = wide[block]
            rest = total - sum((out[o] for o in others), pd.Series(0.0, index=wide.index))
            limit = rounding_error(total) + sum((rounding[o] for o in others),
                                                pd.Series(0.0, index=wide.index))
            bad = rest < -limit - 1e-9
            if bad.any():
                seg, param, pt, year = bad[bad].index[0]
                raise RegionError(
                    f"block {block!r} does not sum: its members exceed the IEA total by "
                    f"{-rest[(seg, param, pt, year)]:.4g} ({param} {pt} {seg} {year}, total "
                    f"{total[(seg, param, pt, year)]:.4g}; expected at most IEA rounding)")
            out[row.region] = rest.clip(lower=0.0)
            rounding[row.region] = limit
            pending.remove(row)
            progress = True
        if not progress:
            raise RegionError("regions.csv: residual regions depend on each other "
                              f"({', '.join(r.region for r in pending)})")
    frame = pd.DataFrame(out)
    frame.columns.name = "region"
    stacked: pd.Series = frame.stack()  # type: ignore[assignment]
    long = stacked.rename("value").reset_index()
    long["unit"] = long["parameter"].map({"ev_sales": "vehicles/year", "ev_stock": "vehicles"})
    return long[["region", *keys, "value", "unit"]]

