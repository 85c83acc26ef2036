"""Per-vehicle weekly profiles from simulated charging sessions, for energy-system models.

An energy-system model such as PyPSA-Eur represents a node's electric cars as one
aggregated battery: a charger link limited by the share of cars plugged in, a store
that must hold enough energy when cars leave, a driving load drawn from the store, and
a V2G link. This module turns the sessions of :mod:`evflex.simulate` into the per-vehicle
profiles those components need, over one week of hourly steps (hour 0 is Monday 00:00,
as the simulation's day 0 is a weekday):

================================  =========  ==================================================
profile                           unit       definition
================================  =========  ==================================================
``plugged_share``                 fraction   vehicles plugged in at the hour / vehicles
``plugged_power_share``           fraction   charger power of plugged vehicles / all chargers
``unmanaged_kw``                  kW/veh     battery-side charging at full power from plug-in
``driving_kw``                    kW/veh     energy each trip uses, spread over the time away
``floor_export_kwh``              kWh/veh    least energy above the reserve a vehicle that may
                                             export must hold at the end of the hour
``floor_charge_kwh``              kWh/veh    the same for a vehicle that only charges (it
                                             charges as late as possible, never discharges)
================================  =========  ==================================================

The store's level is the energy above the mobility reserve. A vehicle leaves with its
target state of charge (``target x battery``); its next trip uses the energy of its next
session (so it arrives at ``target x battery - energy``, as the simulation samples it).
While plugged in, a vehicle that may export can go down to its reserve as long as it can
charge back to its target at full power before it leaves; one that cannot export holds
at least its as-late-as-possible charging trajectory. While away it holds what is left
after the trip so far. Summed over vehicles these floors are the aggregate store's
``e_min``; the simulation's unmanaged schedule always lies above them.

Vehicles are split into two groups by archetype: ``eligible`` (a charger of their own
where they park: the simulation's ``v2g_eligible`` archetypes, from which managed and
V2G vehicles are drawn first) and ``other``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evflex.paths import FloatArray
from evflex.simulate.archetypes import Sessions
from evflex.simulate.strategies import as_late_as_possible, session_slots, unmanaged

HOURS_PER_WEEK = 168
DAYS_PER_WEEK = 7
GROUPS = ("eligible", "other")
#: Weekly profiles of :class:`GroupProfiles` (arrays of :data:`HOURS_PER_WEEK`).
PROFILES = ("plugged_share", "plugged_power_share", "unmanaged_kw", "driving_kw",
            "floor_export_kwh", "floor_charge_kwh")


class ProfileInputError(ValueError):
    """Sessions that cannot give weekly profiles (wrong step, no whole weeks, empty)."""


@dataclass(frozen=True)
class GroupProfiles:
    """Weekly per-vehicle profiles and constants of one group of simulated vehicles.

    Arrays have :data:`HOURS_PER_WEEK` values (see the module table for units).
    ``vehicles`` [vehicles] simulated in the group; ``charger_kw`` [kW] mean charger
    power; ``export_kw`` [kW] mean export rating; ``window_kwh`` [kWh/vehicle] mean
    energy between the mobility reserve and the departure target (the SoC window);
    ``reserve_kwh`` and ``battery_kwh`` [kWh/vehicle] means; ``daily_energy_kwh``
    [kWh/vehicle/day] mean battery-side charging energy.
    """

    vehicles: int
    charger_kw: float
    export_kw: float
    window_kwh: float
    reserve_kwh: float
    battery_kwh: float
    daily_energy_kwh: float
    plugged_share: FloatArray
    plugged_power_share: FloatArray
    unmanaged_kw: FloatArray
    driving_kw: FloatArray
    floor_export_kwh: FloatArray
    floor_charge_kwh: FloatArray


def _fold_week(values: FloatArray, n_steps: int) -> FloatArray:
    """Mean over the simulated weeks of an hourly series [same unit]."""
    return np.asarray(values, dtype=float).reshape(n_steps // HOURS_PER_WEEK,
                                                   HOURS_PER_WEEK).mean(axis=0)


def check_sessions(sessions: Sessions) -> None:
    """Raise :class:`ProfileInputError` unless the sessions are hourly whole weeks."""
    if sessions.step_minutes != 60:
        raise ProfileInputError(f"simulation step: not hourly (got {sessions.step_minutes} "
                                "min, expected 60 min)")
    if sessions.n_steps % HOURS_PER_WEEK:
        raise ProfileInputError(f"simulation days: not whole weeks (got "
                                f"{sessions.n_steps // 24} days, expected a multiple of 7)")
    if len(sessions) == 0:
        raise ProfileInputError("simulation: no sessions (expected at least one vehicle)")


def _end_of_step_levels(sessions: Sessions) -> dict[str, np.ndarray]:
    """Per-step sums over the vehicles of the floors and the driving energy [kWh]."""
    h = sessions.n_steps
    slots = session_slots(sessions)
    rows = slots.row
    window = (sessions.arrival_kwh + sessions.energy_kwh - sessions.reserve_kwh)
    cap = sessions.slot_wh.astype(float) / 1000.0  # kWh a charger delivers in one step
    # plugged in: export floor = back to the window at full power by departure
    to_go = (slots.length[rows] - 1 - slots.offset).astype(float)
    floor_export = np.maximum(window[rows] - cap[rows] * to_go, 0.0)
    alap = as_late_as_possible(sessions, slots) / 1000.0
    cum = np.cumsum(alap)
    cum_alap = cum - np.repeat(cum[slots.start] - alap[slots.start], slots.length)
    floor_charge = window[rows] - sessions.energy_kwh[rows] + cum_alap
    sums = {
        "floor_export": np.bincount(slots.col, weights=floor_export, minlength=h),
        "floor_charge": np.bincount(slots.col, weights=floor_charge, minlength=h),
    }
    # away: from a session's departure to the same vehicle's next arrival (wrapping),
    # using the next session's energy uniformly over the steps away
    n = len(sessions)
    order = np.lexsort((sessions.arrival, sessions.vehicle))
    veh = sessions.vehicle[order]
    nxt = np.roll(order, -1)
    first_of_vehicle = np.r_[0, np.flatnonzero(np.diff(veh)) + 1]
    last_of_vehicle = np.r_[first_of_vehicle[1:] - 1, n - 1]
    nxt[last_of_vehicle] = order[first_of_vehicle]
    wraps = np.zeros(n, dtype=bool)
    wraps[last_of_vehicle] = True
    next_arrival = sessions.arrival[nxt] + np.where(wraps, h, 0)
    depart = sessions.departure[order]
    away = np.maximum(next_arrival - depart, 0)
    trip_kwh = sessions.energy_kwh[nxt]
    n_away = np.maximum(away, 1)
    a_row = np.repeat(np.arange(n), n_away)
    a_start = np.cumsum(n_away) - n_away
    a_off = np.arange(a_row.size) - np.repeat(a_start, n_away)
    a_col = (depart[a_row] + a_off) % h
    used = trip_kwh[a_row] * (a_off + 1) / n_away[a_row]
    level = window[order][a_row] - used
    real = away[a_row] > 0  # a zero-length trip takes its energy in the departure step
    sums["driving"] = np.bincount(a_col, weights=trip_kwh[a_row] / n_away[a_row], minlength=h)
    sums["away_level"] = np.bincount(a_col[real], weights=level[real], minlength=h)
    return sums


def group_profiles(sessions: Sessions, mask: np.ndarray,
                   vehicles: int | None = None) -> GroupProfiles:
    """Weekly per-vehicle profiles of the vehicles whose sessions ``mask`` selects.

    ``mask`` is a boolean per session; a vehicle's sessions must all be in or all out.
    ``vehicles``: how many vehicles the group has, counting those that did not plug in
    during the simulated days (default: the vehicles with a session). Shares and
    per-vehicle profiles are per vehicle of the group; the ratings, battery and SoC
    window are means over the vehicles with a session.
    """
    check_sessions(sessions)
    sub = _subset(sessions, mask)
    h = sub.n_steps
    seen = int(np.unique(sub.vehicle).size)
    n = seen if vehicles is None else int(vehicles)
    if seen == 0 or n < seen:
        raise ProfileInputError(f"simulation: vehicles in the group (got {n} for {seen} with "
                                "sessions, expected at least one and at least those)")
    first = np.unique(sub.vehicle, return_index=True)[1]
    slots = session_slots(sub)
    un = unmanaged(sub, slots) / 1000.0  # kWh per slot, one-hour steps: kW
    plugged = np.bincount(slots.col, minlength=h).astype(float)
    plugged_kw = np.bincount(slots.col, weights=sub.max_kw[slots.row], minlength=h)
    levels = _end_of_step_levels(sub)
    days = h / 24.0
    window = sub.arrival_kwh + sub.energy_kwh - sub.reserve_kwh
    return GroupProfiles(
        vehicles=n,
        charger_kw=float(sub.max_kw[first].mean()),
        export_kw=float(sub.export_kw[first].mean()),
        window_kwh=float(window[first].mean()),
        reserve_kwh=float(sub.reserve_kwh[first].mean()),
        battery_kwh=float(sub.battery_kwh[first].mean()),
        daily_energy_kwh=float(sub.energy_kwh.sum() / n / days),
        plugged_share=_fold_week(plugged / n, h),
        plugged_power_share=_fold_week(plugged_kw / (n * float(sub.max_kw[first].mean())), h),
        unmanaged_kw=_fold_week(np.bincount(slots.col, weights=un, minlength=h) / n, h),
        driving_kw=_fold_week(levels["driving"] / n, h),
        floor_export_kwh=_fold_week((levels["floor_export"] + levels["away_level"]) / n, h),
        floor_charge_kwh=_fold_week((levels["floor_charge"] + levels["away_level"]) / n, h),
    )


def _subset(s: Sessions, mask: np.ndarray) -> Sessions:
    keep = np.asarray(mask, dtype=bool)
    cols = {k: getattr(s, k)[keep] for k in (
        "vehicle", "archetype", "day", "arrival", "departure", "energy_kwh", "max_kw",
        "export_kw", "battery_kwh", "reserve_kwh", "arrival_kwh", "v2g_eligible")}
    return Sessions(names=s.names, step_minutes=s.step_minutes, n_steps=s.n_steps, **cols)


def fleet_groups(sessions: Sessions,
                 vehicles: dict[str, int] | None = None) -> dict[str, GroupProfiles | None]:
    """Profiles of the ``eligible`` and ``other`` groups (``None`` for an empty group).

    ``vehicles``: each group's number of vehicles, counting those without a session
    (default: those with one).
    """
    check_sessions(sessions)
    out: dict[str, GroupProfiles | None] = {}
    for group, mask in (("eligible", sessions.v2g_eligible),
                        ("other", ~sessions.v2g_eligible)):
        count = None if vehicles is None else vehicles.get(group, 0)
        out[group] = (group_profiles(sessions, mask, count) if mask.any() else None)
    return out
