"""Rows of the workbook's live chain: every region of a block-level run; for a country
run, the countries asked for and, for the rest, one row per group of regions that share
their blocks.

A country run has ~46 regions: one live row per region, segment and year makes a
workbook of several megabytes that no one reads. By default its live chain (Filters &
Funnel → States → Capacity by Cell → Check Measures) holds one row per *group*: the
regions that belong to the same blocks (EU27; Europe outside the EU27; North America;
...), so that every block, and the World, is a sum of rows. Countries asked for get rows
of their own and leave their group (``EU27 (rest)``).

A group's stocks, funnel steps, states and capacities are the sums of its members. Its
inputs are its members' inputs weighted by the population each one applies to (a filter
share by the funnel step before it, the grid-managed enrolment by the pool, the plug-in
share by the V2G vehicles, ...), so that the group's formulas give exactly the sum of its
members' engine values. Editing a group's input moves the group as if its members
shared the group's values: where they differ in a later share, that is an approximation
of making the same edit in each member (a country row is exact). Two
inputs of the V2G export are effective values where the members differ in what limits
their export (the rating or the battery): the peak duration is the group's energy per
unit of power, and the mean battery of its V2G-capable stock gives its members' summed
export energy.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr

from evflex.capacity import AVAILABILITY_FIELDS, KW_PER_GW, KWH_PER_GWH, METRICS
from evflex.filters import FUNNEL_STEPS
from evflex.model import WORLD, Results
from evflex.regions import hierarchy

ORDER = ("region", "segment", "year")
#: Engine variables of a cell that are counts or capacities: a group holds their sum.
SUMMED = ("ev_stock_pt", "capable_stock", "smart_capable_stock", "stock", "funnel", "states",
          *(f"capacity_{m}" for m in METRICS))


@dataclass(frozen=True)
class Group:
    """One row label of the live chain and the model regions it sums."""

    label: str
    members: tuple[str, ...]


def workbook_groups(results: Results, regions: Sequence[str] | None) -> list[Group]:
    """The live chain's rows: ``regions`` on their own, the rest grouped by their blocks.

    ``regions=None``: every region of a block-level run (it has no blocks), none of a
    country run (its blocks and the World only). Groups are in run order.
    """
    run_regions = [str(r) for r in results.scenario.regions]
    blocks = results.blocks
    if regions is None:
        regions = [] if blocks else run_regions
    own = set(regions)
    hier = hierarchy()
    atoms: dict[tuple[str, ...], list[str]] = {}
    for region in run_regions:
        if region not in own:
            key = tuple(b for b in hier.blocks_of(region) if b in blocks)
            atoms.setdefault(key, []).append(region)
    groups: dict[str, Group] = {}
    for region in run_regions:
        if region in own:
            groups[region] = Group(region, (region,))
            continue
        key = next(k for k, members in atoms.items() if region in members)
        members = atoms[key]
        if members[0] != region:
            continue
        label = _label(key, members, blocks, set(run_regions) | set(groups))
        groups[label] = Group(label, tuple(members))
    return list(groups.values())


def _label(key: tuple[str, ...], members: list[str], blocks: Mapping[str, list[str]],
           taken: set[str]) -> str:
    if len(members) == 1:
        return members[0]
    if not key:
        label = "others"
    elif set(members) == set(blocks[key[0]]):
        label = key[0]
    else:
        label = f"{key[0]} (rest)"
    if label in taken:
        label = " ∩ ".join(key) + " (rest)"
    return label


def display_regions(results: Results, groups: Sequence[Group],
                    table_regions: Sequence[str]) -> dict[str, list[str] | None]:
    """Regions the workbook's tables show, each with the group labels that sum to it
    (``None`` for the World: every row): the regions that have a row of their own and
    the aggregates, in the order of ``table_regions``."""
    own = {g.label for g in groups if g.members == (g.label,)}
    blocks = results.blocks
    out: dict[str, list[str] | None] = {}
    for region in table_regions:
        if region == WORLD:
            out[region] = None
        elif region in own:
            out[region] = [region]
        elif region in blocks:
            inside = set(blocks[region])
            out[region] = [g.label for g in groups if set(g.members) <= inside]
    return out


def hidden_keys(results: Results, groups: Sequence[Group]) -> set[str]:
    """Override keys (region ids and IEA names) of the regions without rows of their own:
    their assumptions are on screen, not in print."""
    hier = hierarchy()
    return {key for g in groups if len(g.members) > 1 for r in g.members
            for key in (r, hier.name_of(r))}


def rows_note(groups: Sequence[Group]) -> str | None:
    """What the live sheets' rows are, when some are groups of regions (else None)."""
    grouped = [g for g in groups if len(g.members) > 1]
    if not grouped:
        return None
    own = [g.label for g in groups if len(g.members) == 1]
    return (f"Live rows: {len(groups)} per segment and year, "
            + (f"{', '.join(own)} on their own and " if own else "")
            + f"{len(grouped)} groups of countries that share their blocks ("
            + "; ".join(f"{g.label}: {len(g.members)} regions" for g in grouped)
            + "). A group's stocks, states and capacities are its members' sums; its inputs "
            "are its members' weighted by the vehicles each applies to. An edit moves the "
            "group as if its members shared the group's values (exact for the run as "
            "written; for an edit, an approximation where members differ). evflex run "
            "--workbook-regions GB,DE gives countries rows of their own.")


def is_identity(groups: Sequence[Group], regions: Sequence[str]) -> bool:
    """Every region is a row of its own, in run order."""
    return [g.members for g in groups] == [(r,) for r in regions] and \
        all(g.label == g.members[0] for g in groups)


def grouped_cells(results: Results, groups: Sequence[Group],
                  availability: Mapping[str, np.ndarray]
                  ) -> tuple[xr.Dataset, dict[str, np.ndarray]]:
    """The engine's cells summed into ``groups``, and the availability inputs per row.

    ``availability``: the run's availability per (region, segment, year) row, flat (as
    :func:`evflex.outputs.workbook.capacity.availability_inputs` gives it). Returns the
    dataset the live sheets read (region = group label) and the availability per group
    row; the run's own when every region is a row of its own.
    """
    ds = results.data
    regions = [str(r) for r in ds["region"].values]
    if is_identity(groups, regions):
        return ds, dict(availability)
    labels = [g.label for g in groups]
    matrix = np.zeros((len(groups), len(regions)))
    for i, group in enumerate(groups):
        for member in group.members:
            matrix[i, regions.index(member)] = 1.0
    m = xr.DataArray(matrix, dims=("group", "region"), coords={"region": regions})

    def total(da: xr.DataArray) -> xr.DataArray:
        out = xr.dot(m, da, dim="region").rename(group="region")
        return out.assign_coords(region=labels).transpose("region", ...)

    size = xr.DataArray([float(len(g.members)) for g in groups], dims="region",
                        coords={"region": labels})
    first = [g.members[0] for g in groups]

    def mean(da: xr.DataArray, weight: xr.DataArray) -> xr.DataArray:
        """Weighted by ``weight``; the plain mean where the group's weight is 0, and the
        members' common value where they share one (no round-off on shown inputs)."""
        w = weight.broadcast_like(da)
        den = total(w)
        value = xr.where(den > 0, total(da * w) / den.where(den > 0, 1.0), total(da) / size)
        common = da.sel(region=first).assign_coords(region=labels)
        return xr.where(_same(da, groups), common, value).transpose(*value.dims)

    shape = tuple(ds.sizes[d] for d in ORDER)
    coords = {d: ds[d].values for d in ORDER}
    avail = {k: xr.DataArray(np.asarray(v, dtype=float).reshape(shape), dims=ORDER,
                             coords=coords) for k, v in availability.items()}
    out = {name: total(ds[name]) for name in SUMMED}
    funnel, states = ds["funnel"], ds["states"]
    ev = ds["ev_stock_pt"].sum("powertrain")
    v2g, v2h = states.sel(state="v2g", drop=True), states.sel(state="v2h_v2b", drop=True)
    gm = states.sel(state="grid_managed", drop=True)
    for before, name in itertools.pairwise(FUNNEL_STEPS[1:]):
        out[f"param_{name}"] = mean(ds[f"param_{name}"], funnel.sel(step=before, drop=True))
    bidir = funnel.sel(step="bidirectional_charger", drop=True)
    smart = ds["smart_capable_stock"]
    pool = (xr.where(smart < ev, smart, ev) - v2g - v2h).clip(min=0.0)
    envelope = v2g + v2h + gm
    plugged = ds["capacity_v2g_plugged_at_peak"]
    out["param_v2h_v2b_use"] = mean(ds["param_v2h_v2b_use"], (bidir - v2g).clip(min=0.0))
    out["param_grid_managed_enrolment"] = mean(ds["param_grid_managed_enrolment"], pool)
    out["param_smart_charging_use"] = mean(ds["param_smart_charging_use"], pool - gm)
    charger, daily = ds["param_charger_power_kw"], ds["param_daily_energy_kwh"]
    out["param_charger_power_kw"] = mean(charger, envelope)
    out["param_daily_energy_kwh"] = mean(daily, envelope)
    out["param_shiftable_energy_share"] = mean(ds["param_shiftable_energy_share"],
                                               envelope * daily)
    out["param_battery_kwh_bev"] = mean(ds["param_battery_kwh_bev"], ev)
    group_avail = {
        "plug_in_share_at_peak": mean(avail["plug_in_share_at_peak"], v2g),
        "charging_coincidence_at_peak": mean(avail["charging_coincidence_at_peak"],
                                             envelope * charger),
        "soc_at_peak": mean(avail["soc_at_peak"], plugged),
        "mobility_reserve_soc": mean(avail["mobility_reserve_soc"], plugged),
    }
    export = mean(ds["param_export_power_kw"], plugged)
    out["param_export_power_kw"] = export
    # The V2G export per plugged vehicle: power p [kW] and energy e [kWh] of the group.
    g_plugged = out["capacity_v2g_plugged_at_peak"]
    some = g_plugged > 0
    safe = g_plugged.where(some, 1.0)
    p = out["capacity_v2g_export_power"] * KW_PER_GW / safe
    e = out["capacity_v2g_export_energy"] * KWH_PER_GWH / safe
    hours = mean(ds["param_peak_duration_h"], plugged)
    same = _same(ds["param_peak_duration_h"], groups)
    out["param_peak_duration_h"] = xr.where(~same & some & (p > 0), e / p.where(p > 0, 1.0),
                                            hours)
    # Usable energy per plugged vehicle: the members' mean where all are limited by the
    # export rating (then any larger battery gives the same export), else e.
    usable = xr.where(some & (p < export * (1 - 1e-12)), e, mean(ds["usable_kwh"], plugged))
    margin = (group_avail["soc_at_peak"] - group_avail["mobility_reserve_soc"]).clip(min=0.0)
    out["capable_kwh"] = xr.where(margin > 0, usable / margin.where(margin > 0, 1.0),
                                  mean(ds["capable_kwh"], plugged))
    out["usable_kwh"] = out["capable_kwh"] * margin
    cells = xr.Dataset({k: v.transpose("region", "segment", ..., "year")
                        for k, v in out.items()}, attrs=ds.attrs)
    flat = {k: np.asarray(v.transpose(*ORDER).values, dtype=float).reshape(-1)
            for k, v in group_avail.items()}
    return cells, {name: flat[name] for name in AVAILABILITY_FIELDS}


def _same(da: xr.DataArray, groups: Sequence[Group]) -> xr.DataArray:
    """Whether all members of each group share ``da``'s value (region = group label)."""
    parts = [da.sel(region=list(g.members)).max("region")
             == da.sel(region=list(g.members)).min("region") for g in groups]
    return xr.concat(parts, dim="region").assign_coords(region=[g.label for g in groups])
