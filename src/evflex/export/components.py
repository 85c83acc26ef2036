"""The EV components an energy-system model needs, per region and year, from one run.

Inputs are the run's counts by exclusive state and its charger and export ratings, by
(region, segment, year), and the per-vehicle weekly profiles of each segment's simulated
vehicles (:mod:`evflex.export.fleet_profiles`). The fleet is split as the funnel says,
not by one share:

- the **managed envelope** (``v2g + v2h_v2b + grid_managed``) gets a charger link, an
  aggregated battery (store) and a driving load on the battery, so a model can move its
  charging; its ``v2g`` part also gets a V2G link back to the grid;
- the rest (``smart_only + outside``) is a fixed load with the unmanaged charging shape.

Managed and V2G vehicles are drawn first from the simulated archetypes with a charger of
their own where they park (group ``eligible``), then from the others; each group brings
its own profiles, so the total EV energy is the same however the fleet is split.

Units: power [MW], energy [MWh], shares [fraction]; the time series are one week of
hourly values (hour 0 = Monday 00:00).

=============================  =======  ==================================================
node field                     unit     definition
=============================  =======  ==================================================
``ev_stock``                   veh      EVs in the region and year (all segments)
``managed_envelope``           veh      v2g + v2h_v2b + grid_managed
``v2g_vehicles``               veh      v2g state
``charger_p_nom_all``          MW       EV stock x charger power
``charger_p_nom``              MW       managed envelope x charger power (the link)
``charger_efficiency``         1        grid to battery
``store_e_nom``                MWh      managed envelope x SoC window (target - reserve)
``v2g_p_nom``                  MW       v2g vehicles x export power
``v2g_efficiency``             1        battery to grid
``annual_energy``              MWh/a    grid-side charging energy of all EVs in a year
``managed_annual_energy``      MWh/a    of the managed envelope
``bev_dsm_availability``       1        managed envelope / EV stock
``v2g_share``                  1        v2g vehicles / EV stock
=============================  =======  ==================================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from evflex.export.fleet_profiles import HOURS_PER_WEEK, GroupProfiles
from evflex.paths import FloatArray

KW_PER_MW = 1000.0
HOURS_PER_YEAR = 8760.0
DAYS_PER_YEAR = 365.0
MANAGED_STATES = ("v2g", "v2h_v2b", "grid_managed")
OTHER_STATES = ("smart_only", "outside")

#: Node fields and their units, in output order.
NODE_FIELDS: dict[str, str] = {
    "ev_stock": "vehicles",
    "managed_envelope": "vehicles",
    "v2g_vehicles": "vehicles",
    "charger_p_nom_all": "MW",
    "charger_p_nom": "MW",
    "charger_efficiency": "fraction",
    "store_e_nom": "MWh",
    "v2g_p_nom": "MW",
    "v2g_efficiency": "fraction",
    "annual_energy": "MWh/year",
    "managed_annual_energy": "MWh/year",
    "bev_dsm_availability": "fraction",
    "v2g_share": "fraction",
}
#: Hourly series and their units, in output order.
SERIES: dict[str, str] = {
    "charger_p_max_pu": "per unit of charger_p_nom",
    "v2g_p_max_pu": "per unit of v2g_p_nom",
    "store_e_min_pu": "per unit of store_e_nom",
    "driving_load": "MW",
    "unmanaged_load": "MW",
    "all_unmanaged_load": "MW",
}


class ExportInputError(ValueError):
    """Bad input to an export; the message names the field, the value and what was expected."""


@dataclass(frozen=True)
class Efficiencies:
    """Charger (grid to battery) and V2G (battery to grid) efficiencies [fraction]."""

    charge: float
    discharge: float


@dataclass(frozen=True)
class SegmentFleet:
    """One segment's vehicles in a region and year [vehicles], ratings [kW]."""

    states: Mapping[str, float]
    charger_kw: float
    export_kw: float


def node_components(fleets: Sequence[SegmentFleet],
                    groups: Sequence[Mapping[str, GroupProfiles | None]],
                    eff: Efficiencies) -> tuple[dict[str, float], dict[str, FloatArray]]:
    """Components of one node (region) in one year: static fields and hourly series.

    ``fleets[k]`` and ``groups[k]`` are the same segment: its counts and the profiles
    of its ``eligible`` and ``other`` simulated vehicles.
    """
    z = np.zeros(HOURS_PER_WEEK)
    acc = {k: 0.0 for k in NODE_FIELDS if k not in ("charger_efficiency", "v2g_efficiency")}
    charger_pu_num, v2g_pu_num = z.copy(), z.copy()
    floor, driving, unmanaged_rest, unmanaged_all = z.copy(), z.copy(), z.copy(), z.copy()
    window_mwh = 0.0
    for fleet, prof in zip(fleets, groups, strict=True):
        ev = float(sum(fleet.states.values()))
        envelope = float(sum(fleet.states[s] for s in MANAGED_STATES))
        v2g = float(fleet.states["v2g"])
        elig, other = prof["eligible"], prof["other"]
        n_elig = elig.vehicles if elig is not None else 0
        n_other = other.vehicles if other is not None else 0
        room = ev * n_elig / (n_elig + n_other)  # eligible vehicles in the stock
        env_e = envelope if other is None else min(envelope, room)
        env_o = envelope - env_e
        rest_e = room - env_e if other is not None else ev - envelope
        rest_o = ev - envelope - rest_e
        v2g_e = min(v2g, env_e)
        v2g_o = v2g - v2g_e
        acc["ev_stock"] += ev
        acc["managed_envelope"] += envelope
        acc["v2g_vehicles"] += v2g
        acc["charger_p_nom_all"] += ev * fleet.charger_kw / KW_PER_MW
        acc["charger_p_nom"] += envelope * fleet.charger_kw / KW_PER_MW
        acc["v2g_p_nom"] += v2g * fleet.export_kw / KW_PER_MW
        parts = ((env_e, v2g_e, rest_e, elig), (env_o, v2g_o, rest_o, other))
        for env, exporting, rest, g in parts:
            if g is None:
                continue
            charger_pu_num += env * fleet.charger_kw * g.plugged_power_share / KW_PER_MW
            window_mwh += env * g.window_kwh / KW_PER_MW
            driving += env * g.driving_kw / KW_PER_MW
            v2g_pu_num += exporting * fleet.export_kw * g.plugged_share / KW_PER_MW
            # exporting vehicles may go down to their reserve; the rest only charge
            floor += (exporting * g.floor_export_kwh
                      + (env - exporting) * g.floor_charge_kwh) / KW_PER_MW
            unmanaged_rest += rest * g.unmanaged_kw / KW_PER_MW / eff.charge
            unmanaged_all += (env + rest) * g.unmanaged_kw / KW_PER_MW / eff.charge
    acc["store_e_nom"] = window_mwh
    week_h = float(HOURS_PER_WEEK)
    acc["annual_energy"] = float(unmanaged_all.sum()) / week_h * HOURS_PER_YEAR
    acc["managed_annual_energy"] = (float(driving.sum()) / eff.charge / week_h
                                    * HOURS_PER_YEAR)
    ev_total = acc["ev_stock"]
    acc["bev_dsm_availability"] = acc["managed_envelope"] / ev_total if ev_total > 0 else 0.0
    acc["v2g_share"] = acc["v2g_vehicles"] / ev_total if ev_total > 0 else 0.0
    node = {k: (eff.charge if k == "charger_efficiency" else eff.discharge
                if k == "v2g_efficiency" else acc[k]) for k in NODE_FIELDS}
    series = {
        "charger_p_max_pu": _per_unit(charger_pu_num, acc["charger_p_nom"]),
        "v2g_p_max_pu": _per_unit(v2g_pu_num, acc["v2g_p_nom"]),
        "store_e_min_pu": np.clip(_per_unit(floor, window_mwh), 0.0, 1.0),
        "driving_load": driving,
        "unmanaged_load": unmanaged_rest,
        "all_unmanaged_load": unmanaged_all,
    }
    return node, series


def _per_unit(num: FloatArray, nom: float) -> FloatArray:
    return num / nom if nom > 0 else np.zeros_like(num)


def segment_fleets(data: xr.Dataset, region: str, year: int) -> list[SegmentFleet]:
    """The run's per-segment counts by state and ratings in one region and year."""
    ds = data.sel(region=region, year=year)
    out = []
    for segment in ds["segment"].values:
        d = ds.sel(segment=segment)
        states = {str(s): float(d["states"].sel(state=s)) for s in d["state"].values}
        out.append(SegmentFleet(states=states,
                                charger_kw=float(d["param_charger_power_kw"]),
                                export_kw=float(d["param_export_power_kw"])))
    return out


def export_tables(data: xr.Dataset, regions: Sequence[str], years: Sequence[int],
                  groups: Mapping[str, Mapping[str, GroupProfiles | None]],
                  eff: Efficiencies) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Node table (one row per region and year) and hourly series (long) of a run.

    ``groups`` maps each segment of ``data`` to its simulated groups.
    """
    missing = [str(s) for s in data["segment"].values if str(s) not in groups]
    if missing:
        raise ExportInputError(f"simulation: missing for segment {missing[0]!r} (expected "
                               f"a simulation of each segment, got {sorted(groups)})")
    seg_groups = [groups[str(s)] for s in data["segment"].values]
    nodes, series = [], []
    for year in years:
        for region in regions:
            node, ts = node_components(segment_fleets(data, region, year), seg_groups, eff)
            nodes.append({"region": region, "year": year, **node})
            frame = pd.DataFrame(ts)
            frame.insert(0, "hour", np.arange(HOURS_PER_WEEK))
            frame.insert(0, "year", year)
            frame.insert(0, "region", region)
            series.append(frame)
    return pd.DataFrame(nodes), pd.concat(series, ignore_index=True)
