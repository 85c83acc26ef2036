"""Simulate a fleet's charging days in chunks of vehicles and reduce them.

Memory stays flat as the fleet grows: each chunk's sessions are sampled, scheduled and
reduced to per-step sums (profiles, availability, bands), then dropped. The managed and
V2G schedules of a chunk are filled against the base load plus the load of the chunks
before it (sequential valley filling). Within a chunk each schedule is the exact
min-peak schedule; across chunks the result is reported with a lower bound on the
fleet-wide optimum (``managed_lower_bound_kw``), so the gap is visible.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from evflex.capacity import Availability
from evflex.paths import FloatArray
from evflex.simulate.archetypes import (
    BLOCK,
    MINUTES_PER_DAY,
    ArchetypeSet,
    Sessions,
    SimulationInputError,
    load_archetypes,
    parse_mix,
    parse_step,
    sample_sessions,
)
from evflex.simulate.strategies import (
    Slots,
    aggregate,
    as_late_as_possible,
    min_peak,
    peak_block,
    session_slots,
    unmanaged,
    v2g,
)

#: Average household load per simulated vehicle [kW]: US EIA (2023), 10,791 kWh per
#: household in 2022, one vehicle per household. Override with ``base_kw_per_vehicle``.
BASE_KW_PER_VEHICLE = 1.23
#: Duration of the evening peak block in which V2G vehicles export [h] (assumption, as
#: ``peak_duration_h`` in the base scenario).
PEAK_HOURS = 4.0
SESSION_COLUMNS = ["vehicle", "archetype", "arrival_step", "departure_step", "energy_kwh",
                   "max_kw", "battery_kwh", "reserve_kwh"]


def read_base_load(path: Path | None = None) -> FloatArray:
    """24 hourly values of the base load, rescaled to mean 1 [per unit]."""
    try:
        if path is None:
            ref = resources.files("evflex.data").joinpath("simulate/base_load_example.csv")
            with ref.open("r") as fh:
                table = pd.read_csv(fh, comment="#")
        else:
            table = pd.read_csv(path, comment="#")
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise SimulationInputError(f"--base-load: cannot read (got {str(path)!r}: {exc}, "
                                   "expected a CSV file with columns hour,load_pu)") from None
    if list(table.columns) != ["hour", "load_pu"]:
        raise SimulationInputError(f"--base-load: columns (got {list(table.columns)}, "
                                   "expected ['hour', 'load_pu'])")
    if sorted(table["hour"].tolist()) != list(range(24)):
        raise SimulationInputError(f"--base-load: hour (got {table['hour'].tolist()}, "
                                   "expected each of 0-23 once)")
    values = pd.to_numeric(table.sort_values("hour")["load_pu"], errors="coerce").to_numpy()
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise SimulationInputError(f"--base-load: load_pu (got {values.tolist()}, expected "
                                   "24 positive numbers)")
    return values / values.mean()


@dataclass(frozen=True)
class SimulationConfig:
    vehicles: int = 1000
    days: int = 7
    step_minutes: int = 15
    seed: int = 1
    segment: str = "cars"
    mix: dict[str, float] | None = None
    base_load_pu: FloatArray | None = None
    base_kw_per_vehicle: float = BASE_KW_PER_VEHICLE
    peak_hours: float = PEAK_HOURS
    chunk_vehicles: int = 5 * BLOCK
    strategies: tuple[str, ...] = ("unmanaged", "managed", "v2g")
    keep_sessions: bool = True
    smooth_sweeps: int = 30

    def check(self) -> None:
        if self.vehicles < 1:
            raise SimulationInputError(f"--vehicles: too few (got {self.vehicles}, "
                                       "expected >= 1)")
        if not 1 <= self.days <= 366:
            raise SimulationInputError(f"--days: out of range (got {self.days}, expected "
                                       "1 to 366)")
        if self.chunk_vehicles < BLOCK or self.chunk_vehicles % BLOCK:
            raise SimulationInputError(f"--chunk-vehicles: (got {self.chunk_vehicles}, "
                                       f"expected a multiple of {BLOCK})")
        if self.base_kw_per_vehicle <= 0:
            raise SimulationInputError(f"--base-kw-per-vehicle: (got "
                                       f"{self.base_kw_per_vehicle}, expected > 0)")
        unknown = set(self.strategies) - {"unmanaged", "managed", "v2g"}
        if unknown or "unmanaged" not in self.strategies:
            raise SimulationInputError(f"strategies: (got {list(self.strategies)}, expected "
                                       "'unmanaged' plus any of 'managed', 'v2g')")
        spd = MINUTES_PER_DAY // self.step_minutes
        if not 1 <= round(self.peak_hours * spd / 24) <= spd:
            raise SimulationInputError(f"--peak-hours: (got {self.peak_hours}, expected "
                                       "a duration between one step and 24 h)")


@dataclass
class SimulationResult:
    """Per-step profiles and availability of the whole simulated fleet, and a summary."""

    config: SimulationConfig
    profile: pd.DataFrame
    availability: pd.DataFrame
    summary: dict[str, float]
    sessions: pd.DataFrame | None = None
    names: tuple[str, ...] = field(default_factory=tuple)

    def to_availability(self) -> Availability:
        """The engine's availability seam, from this simulation."""
        s = self.summary
        c = self.config
        return Availability(
            plug_in_share_at_peak=s["plug_in_share_at_peak_v2g_eligible"],
            soc_at_peak=s["soc_at_peak"],
            mobility_reserve_soc=s["mobility_reserve_soc"],
            charging_coincidence_at_peak=s["charging_coincidence_at_peak"],
            source=(f"simulation: {c.vehicles} vehicles x {c.days} days, "
                    f"{c.step_minutes}-min steps, seed {c.seed}, segment {c.segment}"),
        )


def simulate(config: SimulationConfig, archetypes: ArchetypeSet | None = None,
             progress: Callable[[int, int], None] | None = None) -> SimulationResult:
    """Simulate the fleet of ``config``; ``progress(done, total)`` is called per chunk."""
    config.check()
    arch = archetypes or load_archetypes()
    mix = parse_mix(config.mix, arch, config.segment)
    spd = MINUTES_PER_DAY // config.step_minutes
    h = config.days * spd
    dt_wh = 1000.0 * config.step_minutes / 60.0
    pu = config.base_load_pu if config.base_load_pu is not None else read_base_load()
    step_hours = (np.arange(h) % spd) * config.step_minutes / 60.0
    base = pu[np.floor(step_hours).astype(int)] * config.base_kw_per_vehicle * config.vehicles
    peak = peak_block(base, spd, max(1, round(config.peak_hours * spd / 24)))
    system_peak_step = int(np.argmax(base))

    sums = {k: np.zeros(h) for k in (
        "unmanaged", "managed", "v2g", "plugged", "plugged_v2g", "plugged_kw", "asap", "alap",
        "charging_unmanaged", "export_kw_plugged")}
    at_peak = {"soc_kwh": 0.0, "battery_kwh": 0.0, "reserve_kwh": 0.0, "n": 0.0,
               "headroom_kwh": 0.0}
    totals = {"energy_kwh": 0.0, "exported_kwh": 0.0, "v2g_eligible_vehicles": 0.0,
              "sessions": 0.0}
    session_tables = []
    starts = list(range(0, config.vehicles, config.chunk_vehicles))
    for k, first in enumerate(starts):
        n = min(config.chunk_vehicles, config.vehicles - first)
        s = sample_sessions(n, config.days, config.step_minutes, config.seed, mix, arch,
                            first_vehicle=first)
        slots = session_slots(s)
        un = unmanaged(s, slots)
        sums["unmanaged"] += aggregate(slots, un, h)
        unwrapped = s.arrival[slots.row] + slots.offset < h
        for key, wh in (("asap", un), ("alap", as_late_as_possible(s, slots))):
            sums[key] += np.bincount(slots.col[unwrapped], weights=wh[unwrapped], minlength=h)
        sums["plugged"] += np.bincount(slots.col, minlength=h)
        elig = s.v2g_eligible[slots.row]
        sums["plugged_v2g"] += np.bincount(slots.col[elig], minlength=h)
        sums["plugged_kw"] += np.bincount(slots.col, weights=s.max_kw[slots.row], minlength=h)
        sums["export_kw_plugged"] += np.bincount(
            slots.col[elig], weights=s.export_kw[slots.row][elig], minlength=h)
        sums["charging_unmanaged"] += np.bincount(slots.col[un > 0], minlength=h)
        _state_at_peak(s, slots, un, system_peak_step, at_peak)
        if "managed" in config.strategies:
            mp = min_peak(s, slots, base + sums["managed"] / dt_wh,
                          smooth_sweeps=config.smooth_sweeps)
            sums["managed"] += aggregate(slots, mp.wh, h)
        if "v2g" in config.strategies:
            res = v2g(s, slots, base + sums["v2g"] / dt_wh, peak,
                      smooth_sweeps=config.smooth_sweeps)
            sums["v2g"] += aggregate(slots, res.charge_wh - res.discharge_wh, h)
            totals["exported_kwh"] += float(res.exported_wh.sum()) / 1000.0
        totals["energy_kwh"] += float(s.energy_wh.sum()) / 1000.0
        totals["v2g_eligible_vehicles"] += float(s.v2g_eligible.sum()) / config.days
        totals["sessions"] += len(s)
        if config.keep_sessions:
            session_tables.append(_sessions_frame(s))
        if progress is not None:
            progress(k + 1, len(starts))

    return _reduce(config, mix, base, peak, system_peak_step, sums, at_peak, totals,
                   pd.concat(session_tables, ignore_index=True) if session_tables else None,
                   tuple(mix))


def _state_at_peak(s: Sessions, slots: Slots, un: np.ndarray, step: int,
                   acc: dict[str, float]) -> None:
    """Unmanaged state of charge of the V2G-eligible vehicles plugged in at ``step``."""
    # energy delivered within each session before each of its slots (slots are in order)
    cum = np.cumsum(un) - un
    first = np.r_[0, np.flatnonzero(np.diff(slots.row)) + 1]
    cum -= np.repeat(cum[first], np.diff(np.r_[first, slots.row.size]))
    here = (slots.col == step) & s.v2g_eligible[slots.row]
    rows = slots.row[here]
    soc = s.arrival_kwh[rows] + cum[here] / 1000.0
    acc["soc_kwh"] += float(soc.sum())
    acc["battery_kwh"] += float(s.battery_kwh[rows].sum())
    acc["reserve_kwh"] += float(s.reserve_kwh[rows].sum())
    acc["headroom_kwh"] += float((soc - s.reserve_kwh[rows]).sum())
    acc["n"] += float(rows.size)


def _sessions_frame(s: Sessions) -> pd.DataFrame:
    return pd.DataFrame({
        "vehicle": s.vehicle, "archetype": np.asarray(s.names)[s.archetype],
        "arrival_step": s.arrival, "departure_step": s.departure,
        "energy_kwh": s.energy_kwh, "max_kw": s.max_kw, "battery_kwh": s.battery_kwh,
        "reserve_kwh": s.reserve_kwh})


def _reduce(config: SimulationConfig, mix: dict[str, float], base: FloatArray,
            peak: np.ndarray, peak_step: int, sums: dict[str, np.ndarray],
            at_peak: dict[str, float], totals: dict[str, float],
            sessions: pd.DataFrame | None, names: tuple[str, ...]) -> SimulationResult:
    dt_h = config.step_minutes / 60.0
    dt_wh = 1000.0 * dt_h
    h = base.size
    n_v2g = max(totals["v2g_eligible_vehicles"], 1e-12)
    profile = pd.DataFrame({
        "step": np.arange(h),
        "hour": (np.arange(h) * config.step_minutes / 60.0) % 24,
        "base_kw": base,
        "unmanaged_kw": sums["unmanaged"] / dt_wh,
        "managed_kw": sums["managed"] / dt_wh if "managed" in config.strategies else np.nan,
        "v2g_kw": sums["v2g"] / dt_wh if "v2g" in config.strategies else np.nan,
    })
    availability = pd.DataFrame({
        "step": np.arange(h),
        "hour": profile["hour"],
        "plug_in_share": sums["plugged"] / config.vehicles,
        "plug_in_share_v2g_eligible": sums["plugged_v2g"] / n_v2g,
        "plugged_power_kw": sums["plugged_kw"],
        "export_capacity_kw": sums["export_kw_plugged"],
        "energy_min_kwh": np.cumsum(sums["alap"]) / 1000.0,
        "energy_max_kwh": np.cumsum(sums["asap"]) / 1000.0,
        "charging_share_unmanaged": sums["charging_unmanaged"] / config.vehicles,
        "in_peak_block": peak,
    })
    n_peak = max(at_peak["n"], 1e-12)
    peaks = {k: float((base + profile[f"{k}_kw"]).max()) for k in ("unmanaged", "managed",
                                                                   "v2g")
             if k in config.strategies}
    summary: dict[str, float] = {
        "vehicles": config.vehicles, "days": config.days, "step_minutes": config.step_minutes,
        "seed": config.seed, "sessions": totals["sessions"],
        "energy_kwh": totals["energy_kwh"], "exported_kwh": totals["exported_kwh"],
        "base_peak_kw": float(base.max()),
        **{f"peak_{k}_kw": v for k, v in peaks.items()},
        "system_peak_hour": float(profile["hour"].iloc[peak_step]),
        "plug_in_share_at_peak": float(availability["plug_in_share"].iloc[peak_step]),
        "plug_in_share_at_peak_v2g_eligible":
            float(availability["plug_in_share_v2g_eligible"].iloc[peak_step]),
        "soc_at_peak": at_peak["soc_kwh"] / max(at_peak["battery_kwh"], 1e-12),
        "mobility_reserve_soc": at_peak["reserve_kwh"] / max(at_peak["battery_kwh"], 1e-12),
        "headroom_at_peak_kwh": at_peak["headroom_kwh"] / n_peak,
        "charging_coincidence_at_peak":
            float(availability["charging_share_unmanaged"].iloc[peak_step]),
        # no schedule can have a lower peak than the base alone, nor than the mean load
        "managed_lower_bound_kw": max(float(base.max()),
                                      float((base.sum() * dt_wh + totals["energy_kwh"] * 1000)
                                            / (h * dt_wh))),
    }
    if "managed" in peaks:
        summary["avoided_peak_managed_vs_unmanaged_kw"] = peaks["unmanaged"] - peaks["managed"]
    if "v2g" in peaks and "managed" in peaks:
        summary["avoided_peak_v2g_vs_managed_kw"] = peaks["managed"] - peaks["v2g"]
    return SimulationResult(config=config, profile=profile, availability=availability,
                            summary=summary, sessions=sessions, names=names)


def simulate_for_run(seed: int = 1, vehicles: int = 2000, days: int = 7,
                     segment: str = "cars") -> SimulationResult:
    """A quick simulation for ``evflex run --simulate`` (a few seconds)."""
    return simulate(SimulationConfig(vehicles=vehicles, days=days, seed=seed, segment=segment,
                                     strategies=("unmanaged", "managed"),
                                     keep_sessions=False))


def parse_config(vehicles: int, days: int, step: str, seed: int, segment: str,
                 mix: str | None, base_load: Path | None, base_kw_per_vehicle: float,
                 chunk_vehicles: int, peak_hours: float,
                 strategies: str) -> SimulationConfig:
    """A checked configuration from command-line values."""
    config = SimulationConfig(
        vehicles=vehicles, days=days, step_minutes=parse_step(step), seed=seed,
        segment=segment, mix=None if mix is None else parse_mix(mix, load_archetypes()),
        base_load_pu=read_base_load(base_load) if base_load is not None else None,
        base_kw_per_vehicle=base_kw_per_vehicle, chunk_vehicles=chunk_vehicles,
        peak_hours=peak_hours,
        strategies=tuple(x.strip() for x in strategies.split(",") if x.strip()))
    config.check()
    return config
