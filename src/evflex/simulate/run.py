"""Simulate a fleet's charging days in chunks of vehicles and reduce them.

Memory stays flat as the fleet grows: each chunk's sessions are sampled (the same
sessions whatever the chunking, see :mod:`evflex.simulate.archetypes`), scheduled and
reduced to per-step sums (profiles, availability, bands), then dropped. What is kept
between chunks is one load profile per chunk and strategy (``n_steps`` numbers).

The managed schedule is the exact min-peak schedule of the whole fleet whatever the
chunking: the first pass counts the fleet's classes of sessions
(:mod:`evflex.simulate.classes`), whose valley filling with nested cut bounds gives the
optimum and its proof (``managed_gap`` in the summary is the distance to the proven
bound, rounding only). V2G starts from it, chunk by chunk: each chunk's sessions that
take part get their share of their classes' schedules and re-optimise against the base
load and every other vehicle's current load, then the sessions that do not, as classes
of the whole fleet, fill the valleys (block coordinate descent; no step raises the
peak). Kept between chunks: one load profile per chunk, the classes and one number per
class slot.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import ClassVar, TypeVar

import numpy as np
import pandas as pd

from evflex.capacity import Availability
from evflex.paths import FloatArray
from evflex.simulate import kernels
from evflex.simulate.archetypes import (
    BLOCK,
    MINUTES_PER_DAY,
    ArchetypeSet,
    Sessions,
    SimulationInputError,
    _vehicle_archetypes,
    load_archetypes,
    parse_mix,
    parse_step,
    sample_sessions,
)
from evflex.simulate.classes import (
    BOUND_PASSES,
    EXPECTED_SWEEPS,
    PROOF_SWEEPS,
    SessionClasses,
    class_shares,
    count_classes,
    fill_group,
    merge_classes,
    min_peak_classes,
    split_class_schedule,
)
from evflex.simulate.strategies import (
    MAX_SWEEPS,
    PEAK_RTOL,
    Slots,
    aggregate,
    peak_block,
    session_slots,
    take,
    v2g,
    v2g_sessions,
)

#: Average household load per simulated vehicle [kW]: US EIA (2023), 10,791 kWh per
#: household in 2022, one vehicle per household. Override with ``base_kw_per_vehicle``.
BASE_KW_PER_VEHICLE = 1.23
#: Duration of the evening peak block in which V2G vehicles export [h] (assumption, as
#: ``peak_duration_h`` in the base scenario).
PEAK_HOURS = 4.0
T = TypeVar("T")
STRATEGIES = ("unmanaged", "managed", "v2g")
#: Chunks' classes merged into one table every this many chunks (memory; a setting).
MERGE_EVERY = 10
#: Bounds of the inputs (assumption: far above any use; they keep runs finite in time and
#: memory): vehicles [-], base load [kW per vehicle], passes and sweeps [-].
MAX_VEHICLES = 1_000_000
MAX_BASE_KW_PER_VEHICLE = 1000.0
MAX_PASSES = 50
MAX_SWEEPS_ALLOWED = 10_000
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
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError,
            UnicodeDecodeError) as exc:
        raise SimulationInputError("base_load", f"cannot read (got {str(path)!r}: {exc}, "
                                   "expected a CSV file with columns hour,load_pu)") from None
    if list(table.columns) != ["hour", "load_pu"]:
        raise SimulationInputError("base_load", f"columns (got {list(table.columns)}, "
                                   "expected ['hour', 'load_pu'])")
    if sorted(table["hour"].tolist()) != list(range(24)):
        raise SimulationInputError("base_load", f"hour (got {table['hour'].tolist()}, "
                                   "expected each of 0-23 once)")
    values = pd.to_numeric(table.sort_values("hour")["load_pu"], errors="coerce").to_numpy()
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise SimulationInputError("base_load", f"load_pu (got {values.tolist()}, expected "
                                   "24 positive numbers)")
    return np.asarray(values / values.mean(), dtype=float)


@dataclass(frozen=True)
class SimulationConfig:
    """What to simulate. Units: ``base_kw_per_vehicle`` [kW], ``peak_hours`` [h]."""

    vehicles: int = 1000
    days: int = 7
    step_minutes: int = 15
    seed: int = 1
    segment: str = "cars"
    mix: dict[str, float] | None = None
    base_load_pu: FloatArray | None = None
    base_kw_per_vehicle: float = BASE_KW_PER_VEHICLE
    peak_hours: float = PEAK_HOURS
    chunk_vehicles: int = 20 * BLOCK
    strategies: tuple[str, ...] = STRATEGIES
    keep_sessions: bool = True
    #: V2G passes of block coordinate descent over the chunks
    passes: int = 1
    #: Gauss-Seidel sweeps per chunk schedule (at most)
    sweeps: int = MAX_SWEEPS

    def check(self) -> None:
        """Raise :class:`SimulationInputError` naming the first bad field."""
        if not 1 <= self.vehicles <= MAX_VEHICLES:
            raise SimulationInputError("vehicles", f"out of range (got {self.vehicles}, "
                                       f"expected 1 to {MAX_VEHICLES:,})")
        if not 0 <= self.seed < 2**64:
            raise SimulationInputError("seed", f"out of range (got {self.seed}, expected "
                                       "0 to 2**64 - 1)")
        for name, value, top in (("base_kw_per_vehicle", self.base_kw_per_vehicle,
                                  MAX_BASE_KW_PER_VEHICLE), ("peak_hours", self.peak_hours,
                                                             24.0)):
            if not (math.isfinite(value) and 0 < value <= top):
                raise SimulationInputError(name, f"out of range (got {value}, expected a "
                                           f"number > 0 and <= {top:g})")
        if not 1 <= self.passes <= MAX_PASSES:
            raise SimulationInputError("passes", f"out of range (got {self.passes}, "
                                       f"expected 1 to {MAX_PASSES})")
        if not 0 <= self.sweeps <= MAX_SWEEPS_ALLOWED:
            raise SimulationInputError("sweeps", f"out of range (got {self.sweeps}, "
                                       f"expected 0 to {MAX_SWEEPS_ALLOWED})")
        if not 1 <= self.days <= 366:
            raise SimulationInputError("days", f"out of range (got {self.days}, expected "
                                       "1 to 366)")
        if not (1 <= self.step_minutes <= 60 and MINUTES_PER_DAY % self.step_minutes == 0):
            raise SimulationInputError("step", f"unsupported step (got {self.step_minutes} "
                                       "min, expected 1 to 60 minutes dividing 1440)")
        if not BLOCK <= self.chunk_vehicles <= MAX_VEHICLES or self.chunk_vehicles % BLOCK:
            raise SimulationInputError("chunk_vehicles", f"not a whole number of blocks (got "
                                       f"{self.chunk_vehicles}, expected a multiple of "
                                       f"{BLOCK})")
        if not self.base_kw_per_vehicle > 0:
            raise SimulationInputError("base_kw_per_vehicle", f"not positive (got "
                                       f"{self.base_kw_per_vehicle}, expected > 0)")
        unknown = set(self.strategies) - set(STRATEGIES)
        if unknown or "unmanaged" not in self.strategies:
            raise SimulationInputError("strategies", f"(got {list(self.strategies)}, expected "
                                       "'unmanaged' plus any of 'managed', 'v2g')")
        spd = MINUTES_PER_DAY // self.step_minutes
        if not 1 <= round(self.peak_hours * spd / 24) <= spd:
            raise SimulationInputError("peak_hours", f"out of range (got {self.peak_hours}, "
                                       "expected a duration between one step and 24 h)")
        if self.passes < 1:
            raise SimulationInputError("passes", f"too few (got {self.passes}, "
                                       "expected >= 1)")
        if self.sweeps < 0:
            raise SimulationInputError("sweeps", f"negative (got {self.sweeps}, "
                                       "expected >= 0)")


@dataclass
class SimulationResult:
    """Per-step profiles and availability of the whole simulated fleet, and a summary.

    ``profile``: ``step, hour, base_kw, unmanaged_kw, managed_kw, v2g_kw`` [kW]; the
    strategies' columns are the fleet's own load, negative when it exports.
    ``availability``: per step, plug-in shares, plugged-in power [kW], export capacity
    [kW], the energy bands [kWh], state of charge and headroom of the plugged-in
    V2G-eligible vehicles, the unmanaged charging share.
    """

    config: SimulationConfig
    profile: pd.DataFrame
    availability: pd.DataFrame
    summary: dict[str, float]
    sessions: pd.DataFrame | None = None
    names: tuple[str, ...] = field(default_factory=tuple)

    def to_availability(self) -> Availability:
        """The engine's availability seam, from this simulation."""
        return availability_from_simulation(self)


def availability_from_simulation(result: SimulationResult) -> Availability:
    """:class:`evflex.capacity.Availability` whose figures come from ``result``.

    - ``plug_in_share_at_peak``: share of V2G-eligible vehicles plugged in at the system
      peak step (the step of highest base load), averaged over the simulated days;
    - ``soc_at_peak``: their mean state of charge then, charging as late as possible
      (what they surely have while still leaving with their energy);
    - ``mobility_reserve_soc``: their mean reserve as a share of their battery;
    - ``charging_coincidence_at_peak``: share of all vehicles that would be charging at
      the peak step if unmanaged.
    """
    s = result.summary
    c = result.config
    return Availability(
        plug_in_share_at_peak=s["plug_in_share_at_peak_v2g_eligible"],
        soc_at_peak=s["soc_at_peak"],
        mobility_reserve_soc=s["mobility_reserve_soc"],
        charging_coincidence_at_peak=s["charging_coincidence_at_peak"],
        source=(f"simulation: {c.vehicles} vehicles x {c.days} days, "
                f"{c.step_minutes}-min steps, seed {c.seed}, segment {c.segment}"),
    )


class _Fleet:
    """The fixed frame of one simulation: base load, peak block, chunks."""

    def __init__(self, config: SimulationConfig, archetypes: ArchetypeSet):
        self.config = config
        self.archetypes = archetypes
        self.mix = parse_mix(config.mix, archetypes, config.segment)
        self.spd = MINUTES_PER_DAY // config.step_minutes
        self.h = config.days * self.spd
        self.dt_h = config.step_minutes / 60.0
        self.wh_per_kw = 1000.0 * self.dt_h
        pu = config.base_load_pu if config.base_load_pu is not None else read_base_load()
        hour = (np.arange(self.h) % self.spd) * config.step_minutes // 60
        self.base_kw = pu[hour] * config.base_kw_per_vehicle * config.vehicles
        self.base_wh = self.base_kw * self.wh_per_kw
        self.block = peak_block(self.base_kw, self.spd,
                                max(1, round(config.peak_hours * self.spd / 24)))
        self.peak_step = int(np.argmax(self.base_kw))
        self.starts = list(range(0, config.vehicles, config.chunk_vehicles))

    def eligible_vehicles(self, k: int) -> float:
        """V2G-eligible vehicles of chunk ``k``."""
        n = min(self.config.chunk_vehicles, self.config.vehicles - self.starts[k])
        kinds = _vehicle_archetypes(self.starts[k], n, self.mix, tuple(self.mix))
        flags = np.array([self.archetypes.archetypes[a].v2g_eligible for a in self.mix])
        return float(flags[kinds].sum())

    def sessions(self, k: int) -> Sessions:
        first = self.starts[k]
        n = min(self.config.chunk_vehicles, self.config.vehicles - first)
        return sample_sessions(n, self.config.days, self.config.step_minutes,
                               self.config.seed, self.mix, self.archetypes,
                               first_vehicle=first)

    def chunk(self, k: int) -> tuple[Sessions, Slots]:
        s = self.sessions(k)
        return s, session_slots(s)


def simulate(config: SimulationConfig, archetypes: ArchetypeSet | None = None,
             progress: Callable[[int, int], None] | None = None,
             sessions_csv: Path | None = None) -> SimulationResult:
    """Simulate the fleet of ``config``.

    ``progress(done, total)`` is called after each unit of work (a chunk's pass, a batch
    of the classes' sweeps; ``total`` is an estimate, revised as the work goes). With
    ``sessions_csv`` the sessions are written there chunk by chunk (``SESSION_COLUMNS``)
    instead of kept in memory.
    """
    config.check()
    fleet = _Fleet(config, archetypes or load_archetypes())
    h, n_chunks = fleet.h, len(fleet.starts)
    managed = "managed" in config.strategies
    with_v2g = "v2g" in config.strategies
    v2g_passes = config.passes if with_v2g else 0
    budget = min(config.sweeps, PROOF_SWEEPS) if (managed or with_v2g) else 0
    work = _Work(progress)

    def plan(batches: int) -> None:
        """Units of work: a chunk's sampling and observation 4, merging the classes 1, a
        batch of classes 1 (:data:`BATCH_SLOTS` slots of a sweep or a bound), a chunk's
        V2G 4 to set up and 2 per sweep (4 sweeps expected), two sweeps of the classes
        outside V2G per pass (costs measured at 100,000 cars x 7 days on 2 cores; only
        the estimate of the time left depends on them)."""
        work.planned = (1 + n_chunks * (4 + 12 * v2g_passes)
                        + batches * (min(budget, EXPECTED_SWEEPS) + BOUND_PASSES
                                     + 2 * v2g_passes))

    acc = _Accumulator(h)
    session_tables: list[pd.DataFrame] = []
    class_parts: list[SessionClasses] = []
    if sessions_csv is not None:
        pd.DataFrame(columns=SESSION_COLUMNS).to_csv(sessions_csv, index=False)
    def sample(k: int) -> tuple[Sessions, SessionClasses | None]:
        s = fleet.sessions(k)
        if not (managed or with_v2g):
            return s, None
        return s, count_classes(s, v2g_sessions(s, fleet.block).active if with_v2g else None)

    # pass 1: unmanaged charging, availability, and the classes of sessions
    for k, (s, part) in enumerate(_ahead(sample, range(n_chunks))):
        acc.observe(s, fleet, k)
        table = _sessions_frame(s) if (config.keep_sessions or sessions_csv) else None
        if table is not None and sessions_csv is not None:
            table.to_csv(sessions_csv, mode="a", header=False, index=False)
        elif table is not None:
            session_tables.append(table)
        if part is not None:
            class_parts.append(part)
            if len(class_parts) == MERGE_EVERY:
                class_parts = [merge_classes(class_parts)]
            # the fleet's classes, guessed from the chunks so far (more than there are)
            plan(sum(p.batch_count for p in class_parts) * n_chunks // (k + 1))
        work.tick(4)
    total = {key: np.zeros(h) for key in ("managed", "v2g")}
    lower = -np.inf
    if managed or with_v2g:
        # the exact min-peak schedule of the whole fleet, on its classes of sessions
        classes = merge_classes(class_parts)
        del class_parts
        plan(classes.batch_count)
        work.tick()
        exact = min_peak_classes(classes, fleet.base_wh, max_sweeps=budget,
                                 progress=work.part())
        total["managed"] = exact.load_wh
        lower = exact.lower_wh
    if with_v2g:
        # V2G: block coordinate descent from the flattened managed schedule. Each chunk's
        # sessions that take part in V2G start from their share of their classes'
        # schedule and re-optimise against the base and every other vehicle; then the
        # sessions that do not, as classes of the whole fleet (exact: their classes are
        # counted apart), fill the valleys left; until a sweep lowers the net peak by
        # less than PEAK_RTOL of it
        net = total["managed"].copy()
        own = np.zeros((n_chunks, h))
        shares = class_shares(classes, exact.wh, exact.start)

        def prepare(k: int) -> tuple[Sessions, Slots, FloatArray]:
            """Chunk ``k``'s sessions that take part, their slots and their share."""
            s = fleet.sessions(k)
            s = take(s, v2g_sessions(s, fleet.block).active)
            slots = session_slots(s)
            return s, slots, split_class_schedule(shares, s, slots.start,
                                                  group=np.ones(len(s), np.int8))

        for p in range(v2g_passes):
            for k, (s, slots, start_wh) in enumerate(_ahead(prepare, range(n_chunks))):
                if p == 0:
                    own[k] = aggregate(slots, start_wh, h)
                background = fleet.base_wh + net - own[k]
                work.tick(4)
                res = v2g(s, slots, background, fleet.block, max_sweeps=config.sweeps,
                          start_wh=start_wh, peak_rtol=PEAK_RTOL,
                          step=lambda: work.tick(2))
                new = aggregate(slots, res.wh, h)
                net += new - own[k]
                own[k] = new
                if p == v2g_passes - 1:
                    acc.observe_v2g(s, slots, res.wh)
            load = fleet.base_wh + net
            fill_group(classes, exact.wh, exact.start, 0, load, config.sweeps, PEAK_RTOL,
                       step=work.tick)
            net = load - fleet.base_wh
        total["v2g"] = net
    work.finish()
    return _reduce(fleet, acc, total, lower,
                   pd.concat(session_tables, ignore_index=True) if session_tables else None)


def _ahead(fn: Callable[[int], T], items: Iterable[int]) -> Iterator[T]:
    """``fn(item)`` for each item in turn, the next one computed in a thread while the
    caller works on this one (the compiled kernels release the GIL, so sampling the
    next chunk overlaps them on a second core; the results are the same)."""
    todo = list(items)
    with ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(fn, todo[0]) if todo else None
        for i in range(len(todo)):
            assert future is not None
            result = future.result()
            future = pool.submit(fn, todo[i + 1]) if i + 1 < len(todo) else None
            yield result


class _Work:
    """Units of work done and planned, reported to ``progress(done, planned)``."""

    def __init__(self, progress: Callable[[int, int], None] | None):
        self.progress = progress
        self.done = 0
        self.planned = 1

    def tick(self, units: int = 1) -> None:
        self.done += units
        if self.progress is not None:
            self.progress(self.done, max(self.planned, self.done))

    def part(self) -> Callable[[int, int], None]:
        """A ``progress(done, total)`` for a part of the work planned in its own units."""
        first = self.done

        def report(done: int, _: int) -> None:
            self.tick(first + done - self.done)

        return report

    def finish(self) -> None:
        self.tick(max(0, self.planned - self.done))


class _Accumulator:
    """Per-step sums over chunks (availability, bands, state of charge at the peak)."""

    ROWS: ClassVar[dict[str, int]] = {
        "unmanaged": kernels.OBS_UNMANAGED, "asap": kernels.OBS_ASAP,
        "alap": kernels.OBS_ALAP, "plugged": kernels.OBS_PLUGGED,
        "plugged_kw": kernels.OBS_PLUGGED_KW, "charging_unmanaged": kernels.OBS_CHARGING,
        "plugged_v2g": kernels.OBS_PLUGGED_V2G, "export_kw_plugged": kernels.OBS_EXPORT_KW,
        "soc_kwh": kernels.OBS_SOC, "soc_unmanaged_kwh": kernels.OBS_SOC_UNMANAGED,
        "battery_kwh": kernels.OBS_BATTERY, "headroom_kwh": kernels.OBS_HEADROOM}

    def __init__(self, h: int):
        self.sums = {k: np.zeros(h) for k in self.ROWS}
        self.totals = {"energy_kwh": 0.0, "exported_kwh": 0.0, "v2g_eligible_vehicles": 0.0,
                       "sessions": 0.0, "reserve_kwh_at_peak": 0.0,
                       "battery_kwh_at_peak": 0.0, "v2g_active_sessions": 0.0,
                       "v2g_min_soc_margin_kwh": np.inf}

    def observe(self, s: Sessions, fleet: _Fleet, k: int) -> None:
        """Add the unmanaged charging and availability of chunk ``k``'s sessions ``s``."""
        block = np.zeros((kernels.OBS_ROWS, fleet.h))
        at_peak = np.zeros(2)
        kernels.observe_sessions(
            s.arrival.astype(np.int64), (s.departure - s.arrival).astype(np.int64),
            s.slot_wh.astype(float), s.energy_wh.astype(float), s.max_kw, s.export_kw,
            s.battery_kwh, s.reserve_kwh, s.arrival_kwh, s.v2g_eligible, fleet.h,
            fleet.peak_step, block, at_peak)
        for key, row in self.ROWS.items():
            self.sums[key] += block[row]
        self.totals["reserve_kwh_at_peak"] += float(at_peak[0])
        self.totals["battery_kwh_at_peak"] += float(at_peak[1])
        self.totals["energy_kwh"] += float(s.energy_wh.sum()) / 1000.0
        # vehicles, not sessions: a vehicle that skips days is still in the fleet
        self.totals["v2g_eligible_vehicles"] += fleet.eligible_vehicles(k)
        self.totals["sessions"] += len(s)

    def observe_v2g(self, s: Sessions, slots: Slots, wh: np.ndarray) -> None:
        """Add the exports and the least margin above the reserve of a V2G schedule."""
        exported, margin, exporting = kernels.v2g_margins(slots.start, slots.length, wh,
                                                          s.arrival_kwh, s.reserve_kwh)
        self.totals["exported_kwh"] += exported / 1000.0
        self.totals["v2g_active_sessions"] += float(exporting)
        self.totals["v2g_min_soc_margin_kwh"] = min(self.totals["v2g_min_soc_margin_kwh"],
                                                    margin)


def _sessions_frame(s: Sessions) -> pd.DataFrame:
    return pd.DataFrame({
        "vehicle": s.vehicle, "archetype": np.asarray(s.names)[s.archetype],
        "arrival_step": s.arrival, "departure_step": s.departure,
        "energy_kwh": s.energy_kwh, "max_kw": s.max_kw, "battery_kwh": s.battery_kwh,
        "reserve_kwh": s.reserve_kwh})


def _reduce(fleet: _Fleet, acc: _Accumulator, total: dict[str, np.ndarray], lower_wh: float,
            sessions: pd.DataFrame | None) -> SimulationResult:
    config = fleet.config
    sums, totals = acc.sums, acc.totals
    h, kw = fleet.h, 1.0 / fleet.wh_per_kw
    n_v2g = max(totals["v2g_eligible_vehicles"], 1e-12)
    steps = np.arange(h)
    profile = pd.DataFrame({
        "step": steps,
        "hour": (steps * config.step_minutes / 60.0) % 24,
        "base_kw": fleet.base_kw,
        "unmanaged_kw": sums["unmanaged"] * kw,
        "managed_kw": total["managed"] * kw if "managed" in config.strategies else np.nan,
        "v2g_kw": total["v2g"] * kw if "v2g" in config.strategies else np.nan,
    })
    plugged_v2g = np.maximum(sums["plugged_v2g"], 1e-12)
    availability = pd.DataFrame({
        "step": steps,
        "hour": profile["hour"],
        "plug_in_share": sums["plugged"] / config.vehicles,
        "plug_in_share_v2g_eligible": sums["plugged_v2g"] / n_v2g,
        "plugged_power_kw": sums["plugged_kw"],
        "export_capacity_kw": sums["export_kw_plugged"],
        "energy_min_kwh": np.cumsum(sums["alap"]) / 1000.0,
        "energy_max_kwh": np.cumsum(sums["asap"]) / 1000.0,
        "soc_v2g_eligible": np.where(sums["plugged_v2g"] > 0, sums["soc_kwh"]
                                     / np.maximum(sums["battery_kwh"], 1e-12), np.nan),
        "headroom_kwh": sums["headroom_kwh"],
        "headroom_kwh_per_vehicle": np.where(sums["plugged_v2g"] > 0,
                                             sums["headroom_kwh"] / plugged_v2g, np.nan),
        "charging_share_unmanaged": sums["charging_unmanaged"] / config.vehicles,
        "in_peak_block": fleet.block,
    })
    ps = fleet.peak_step
    battery_at_peak = max(float(sums["battery_kwh"][ps]), 1e-12)
    peaks = {k: float((fleet.base_kw + profile[f"{k}_kw"]).max()) for k in STRATEGIES
             if k in config.strategies}
    summary: dict[str, float] = {
        "vehicles": config.vehicles, "days": config.days, "step_minutes": config.step_minutes,
        "seed": config.seed, "sessions": totals["sessions"],
        "energy_kwh": totals["energy_kwh"], "exported_kwh": totals["exported_kwh"],
        "base_peak_kw": float(fleet.base_kw.max()),
        **{f"peak_{k}_kw": v for k, v in peaks.items()},
        "system_peak_hour": float(profile["hour"].iloc[ps]),
        "plug_in_share_at_peak": float(availability["plug_in_share"].iloc[ps]),
        "plug_in_share_at_peak_v2g_eligible":
            float(availability["plug_in_share_v2g_eligible"].iloc[ps]),
        "soc_at_peak": float(sums["soc_kwh"][ps] / battery_at_peak),
        "soc_at_peak_unmanaged": float(sums["soc_unmanaged_kwh"][ps] / battery_at_peak),
        "mobility_reserve_soc": totals["reserve_kwh_at_peak"] / battery_at_peak,
        "headroom_at_peak_kwh": float(sums["headroom_kwh"][ps] / max(plugged_v2g[ps], 1.0)),
        "charging_coincidence_at_peak":
            float(availability["charging_share_unmanaged"].iloc[ps]),
    }
    if "managed" in peaks:
        lower = max(float(lower_wh) * kw, float(fleet.base_kw.max()))
        summary["managed_lower_bound_kw"] = lower
        summary["managed_gap"] = (peaks["managed"] - lower) / lower
        summary["avoided_peak_managed_vs_unmanaged_kw"] = peaks["unmanaged"] - peaks["managed"]
    if "v2g" in peaks:
        summary["v2g_active_sessions"] = totals["v2g_active_sessions"]
        summary["v2g_min_soc_margin_kwh"] = totals["v2g_min_soc_margin_kwh"]
        if "managed" in peaks:
            summary["avoided_peak_v2g_vs_managed_kw"] = peaks["managed"] - peaks["v2g"]
    return SimulationResult(config=config, profile=profile, availability=availability,
                            summary=summary, sessions=sessions, names=tuple(fleet.mix))


def simulate_for_run(seed: int = 1, vehicles: int = 1000, days: int = 7,
                     segment: str = "cars") -> tuple[Availability, pd.DataFrame]:
    """The availability seam and the hourly profile for ``evflex run --simulate``.

    Runs every strategy on one chunk (exact managed peak); about a second with defaults.
    Returns the :class:`Availability` and the profile joined with the availability
    table (one row per step).
    """
    config = SimulationConfig(vehicles=vehicles, days=days, seed=seed, segment=segment,
                              keep_sessions=False,
                              chunk_vehicles=max(20 * BLOCK, -(-vehicles // BLOCK) * BLOCK))
    result = simulate(config)
    return result.to_availability(), result.profile.merge(result.availability,
                                                          on=["step", "hour"])


def parse_config(vehicles: int, days: int, step: str, seed: int, segment: str = "cars",
                 mix: str | None = None, base_load: Path | None = None,
                 base_kw_per_vehicle: float = BASE_KW_PER_VEHICLE,
                 chunk_vehicles: int = 20 * BLOCK, peak_hours: float = PEAK_HOURS,
                 strategies: str = ",".join(STRATEGIES), passes: int = 2,
                 sweeps: int = MAX_SWEEPS, keep_sessions: bool = True,
                 archetypes: ArchetypeSet | None = None) -> SimulationConfig:
    """A checked configuration from command-line values."""
    arch = archetypes or load_archetypes()
    config = SimulationConfig(
        vehicles=vehicles, days=days, step_minutes=parse_step(step), seed=seed,
        segment=segment, mix=None if mix is None else parse_mix(mix, arch),
        base_load_pu=read_base_load(base_load) if base_load is not None else None,
        base_kw_per_vehicle=base_kw_per_vehicle, chunk_vehicles=chunk_vehicles,
        peak_hours=peak_hours,
        strategies=tuple(x.strip() for x in strategies.split(",") if x.strip()),
        passes=passes, sweeps=sweeps, keep_sessions=keep_sessions)
    config.check()
    parse_mix(config.mix, arch, config.segment)  # the segment has a mix in these archetypes
    return config
