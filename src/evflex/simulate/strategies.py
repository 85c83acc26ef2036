"""Charging strategies on a periodic horizon: unmanaged, min-peak managed, and V2G.

All energies are whole watt-hours, so every vehicle gets exactly its energy.

- :func:`unmanaged`: charge from plug-in at full power until the energy is in.
- :func:`min_peak`: valley filling of the aggregate against a base load — the schedule
  whose peak of ``base + fleet load`` is the least possible, within each vehicle's
  window, power limit and energy. Bisection on the peak level ``L``; each level is
  tested exactly as a maximum flow (source → session [its energy] → step [its charger
  limit] → sink [``L - base``]): the level is feasible iff the flow carries every
  session's energy (max-flow/min-cut). The result is the LP optimum to the bisection
  tolerance (tests compare with HiGHS).
- :func:`v2g`: V2G-eligible vehicles discharge during the daily peak block, down to no
  less than their mobility reserve, then recharge what they exported plus their own
  need after the block, before departure, again by min-peak filling; their state of
  charge never exceeds the departure target, never falls below the reserve.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_array
from scipy.sparse.csgraph import maximum_flow

from evflex.paths import FloatArray
from evflex.simulate.archetypes import Sessions

INT32_MAX = np.iinfo(np.int32).max


@dataclass(frozen=True)
class Slots:
    """Every (session, step) pair a session is plugged in: ``row`` session, ``col`` step."""

    row: np.ndarray
    col: np.ndarray      # step index on the periodic horizon
    offset: np.ndarray   # steps since the session's arrival


def session_slots(sessions: Sessions) -> Slots:
    lengths = (sessions.departure - sessions.arrival).astype(np.int64)
    row = np.repeat(np.arange(len(sessions)), lengths)
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    offset = np.arange(row.size) - starts
    col = (sessions.arrival[row] + offset) % sessions.n_steps
    return Slots(row=row, col=col, offset=offset)


def to_kw(wh_per_slot: np.ndarray, sessions: Sessions) -> FloatArray:
    """Energy per step [Wh] → mean power over the step [kW]."""
    return wh_per_slot / (1000.0 * sessions.dt_h)


def aggregate(slots: Slots, wh: np.ndarray, n_steps: int) -> FloatArray:
    """Fleet energy per step [Wh] from per-slot energies."""
    return np.bincount(slots.col, weights=wh, minlength=n_steps).astype(float)


def unmanaged(sessions: Sessions, slots: Slots) -> np.ndarray:
    """Per-slot energy [Wh] when charging at full power from plug-in."""
    cap = sessions.slot_wh[slots.row]
    remaining = sessions.energy_wh[slots.row] - slots.offset * cap
    return np.clip(remaining, 0, cap)


def as_late_as_possible(sessions: Sessions, slots: Slots) -> np.ndarray:
    """Per-slot energy [Wh] when charging at full power just before departure."""
    cap = sessions.slot_wh[slots.row]
    from_end = (sessions.departure - sessions.arrival)[slots.row] - 1 - slots.offset
    remaining = sessions.energy_wh[slots.row] - from_end * cap
    return np.clip(remaining, 0, cap)


@dataclass(frozen=True)
class MinPeak:
    wh: np.ndarray        # per-slot energy [Wh]
    level_kw: float       # the peak level reached [kW]
    lower_kw: float       # the largest level shown infeasible (or the base peak) [kW]
    iterations: int


def min_peak(sessions: Sessions, slots: Slots, base_kw: FloatArray,
             energy_wh: np.ndarray | None = None, allowed: np.ndarray | None = None,
             rtol: float = 1e-5, smooth_sweeps: int = 0) -> MinPeak:
    """Min-peak schedule of the sessions against ``base_kw`` (one value per step).

    ``energy_wh`` replaces the sessions' energies; ``allowed`` masks the slots a session
    may charge in (default all). With ``smooth_sweeps`` the schedule is then flattened
    (valley filling) by :func:`smooth` without raising its peak. Raises ``ValueError``
    if the energies cannot be met.
    """
    n, h = len(sessions), sessions.n_steps
    need = sessions.energy_wh if energy_wh is None else np.asarray(energy_wh, dtype=np.int64)
    mask = np.ones(slots.row.size, bool) if allowed is None else allowed
    rows, cols = slots.row[mask], slots.col[mask]
    cap = sessions.slot_wh[rows]
    if np.any(np.bincount(rows, weights=cap, minlength=n) < need):
        raise ValueError("a session needs more energy than its window and charger allow")
    dt_wh = 1000.0 * sessions.dt_h
    base = np.asarray(base_kw, dtype=float)
    total = int(need.sum())
    src, sink = 0, n + h + 1
    heads = np.concatenate([np.zeros(n, np.int64), rows + 1, n + 1 + np.arange(h)])
    tails = np.concatenate([np.arange(1, n + 1), cols + n + 1, np.full(h, sink)])
    fixed = np.concatenate([need, cap]).astype(np.int64)

    def flow_at(level: float) -> tuple[int, object]:
        room = np.floor(np.clip((level - base) * dt_wh, 0, INT32_MAX)).astype(np.int64)
        graph = csr_array((np.concatenate([fixed, room]).astype(np.int32), (heads, tails)),
                          shape=(sink + 1, sink + 1))
        result = maximum_flow(graph, src, sink)
        return int(result.flow_value), result

    lo = float(base.max())
    if total == 0:
        return MinPeak(np.zeros(slots.row.size), lo, lo, 0)
    un = aggregate(Slots(rows, cols, slots.offset[mask]),
                   np.clip(need[rows] - _offsets_within(rows) * cap, 0, cap), h)
    hi = float((base + un / dt_wh).max()) + 1e-3
    value, best = flow_at(hi)
    while value < total:  # the unmanaged order is feasible; only rounding can bite
        hi = hi * 1.01 + 1.0
        value, best = flow_at(hi)
    iterations = 0
    while hi - lo > rtol * max(hi, 1e-9):
        mid = 0.5 * (lo + hi)
        value, result = flow_at(mid)
        iterations += 1
        if value == total:
            hi, best = mid, result
        else:
            lo = mid
    flow = best.flow  # type: ignore[attr-defined]
    wh = np.zeros(slots.row.size)
    wh[mask] = np.asarray(flow[rows + 1, cols + n + 1]).ravel()
    if smooth_sweeps:
        wh = smooth(sessions, slots, base * dt_wh, wh, need, mask, sweeps=smooth_sweeps)
    return MinPeak(wh=wh, level_kw=hi, lower_kw=lo, iterations=iterations)


def water_fill(slots_row: np.ndarray, level_of_others: np.ndarray, cap: np.ndarray,
               need: np.ndarray, n: int, iterations: int = 50) -> np.ndarray:
    """Each session's own valley filling against the load of the others [Wh per slot].

    For session ``i`` finds the water level ``w_i`` with
    ``sum_t clip(w_i - others_t, 0, cap_i) = need_i`` (bisection, vectorised over
    sessions), then rescales to the exact energy.
    """
    lo = np.full(n, np.inf)
    np.minimum.at(lo, slots_row, level_of_others)
    hi = np.full(n, -np.inf)
    np.maximum.at(hi, slots_row, level_of_others + cap)
    lo = np.where(np.isfinite(lo), lo, 0.0)
    hi = np.where(np.isfinite(hi), hi, 0.0)
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        got = np.bincount(slots_row, np.clip(mid[slots_row] - level_of_others, 0, cap), n)
        short = got < need
        lo = np.where(short, mid, lo)
        hi = np.where(short, hi, mid)
    x = np.clip(hi[slots_row] - level_of_others, 0, cap)
    total = np.bincount(slots_row, x, n)
    scale = np.where(total > 0, need / np.where(total > 0, total, 1.0), 0.0)
    return x * scale[slots_row]


def smooth(sessions: Sessions, slots: Slots, base_wh: np.ndarray, wh: np.ndarray,
           need: np.ndarray, allowed: np.ndarray, sweeps: int = 30) -> np.ndarray:
    """Flatten a min-peak schedule without raising its peak (valley filling).

    Jacobi sweeps: every session moves toward its own water-filling against the others'
    load; a step is taken only if the peak of base + fleet does not rise (a convex
    combination of feasible schedules stays feasible: windows, limits and energies hold).
    """
    n, h = len(sessions), sessions.n_steps
    rows, cols = slots.row[allowed], slots.col[allowed]
    cap = sessions.slot_wh[rows].astype(float)
    x = wh[allowed].astype(float)
    total = base_wh + np.bincount(cols, x, h)
    peak = total.max()
    energy = float((total**2).sum())
    step = 0.5
    for _ in range(sweeps):
        others = total[cols] - x
        target = water_fill(rows, others, cap, need.astype(float), n)
        trial = (1 - step) * x + step * target
        new_total = base_wh + np.bincount(cols, trial, h)
        new_energy = float((new_total**2).sum())
        if new_total.max() <= peak * (1 + 1e-12) + 1e-9 and new_energy < energy:
            x, total, energy = trial, new_total, new_energy
            step = min(0.5, step * 1.5)
        else:
            step *= 0.5
            if step < 1e-4:
                break
    out = np.zeros(slots.row.size)
    out[allowed] = x
    return out


def _offsets_within(rows: np.ndarray) -> np.ndarray:
    """Rank of each slot within its session, for slots sorted by session."""
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
    lengths = np.diff(np.r_[starts, rows.size])
    return np.arange(rows.size) - np.repeat(starts, lengths)


def peak_block(base_kw: FloatArray, steps_per_day: int, block_steps: int) -> np.ndarray:
    """Mask of the daily block of ``block_steps`` steps with the highest mean base load."""
    days = base_kw.size // steps_per_day
    daily = base_kw.reshape(days, steps_per_day).mean(axis=0)
    ext = np.concatenate([daily, daily[: block_steps - 1]])
    window = np.convolve(ext, np.ones(block_steps), mode="valid")[:steps_per_day]
    start = int(np.argmax(window))
    one_day = np.zeros(steps_per_day, bool)
    one_day[(start + np.arange(block_steps)) % steps_per_day] = True
    return np.tile(one_day, days)


@dataclass(frozen=True)
class V2G:
    charge_wh: np.ndarray      # per-slot charging energy [Wh]
    discharge_wh: np.ndarray   # per-slot exported energy [Wh]
    exported_wh: np.ndarray    # per-session exported energy [Wh]
    export_fraction: float     # share of the possible export used (minimises the net peak)
    schedule: MinPeak


def _v2g_plan(sessions: Sessions, slots: Slots, peak: np.ndarray) -> tuple[
        np.ndarray, np.ndarray, np.ndarray]:
    """Per session: steps it may export in, the most it may export, where it may recharge."""
    n = len(sessions)
    eligible = (sessions.v2g_eligible & (sessions.export_kw > 0))[slots.row]
    dis_slot = peak[slots.col] & eligible
    last_dis = np.full(n, -1)
    np.maximum.at(last_dis, slots.row[dis_slot], slots.offset[dis_slot])
    n_dis = np.bincount(slots.row[dis_slot], minlength=n)
    after = slots.offset > last_dis[slots.row]
    cap = sessions.slot_wh
    recharge_room = np.bincount(slots.row[after], weights=cap[slots.row[after]],
                                minlength=n).astype(np.int64)
    export_slot_wh = np.floor(sessions.export_kw * 1000.0 * sessions.dt_h).astype(np.int64)
    above_reserve = np.floor((sessions.arrival_kwh - sessions.reserve_kwh) * 1000.0)
    most = np.minimum.reduce([above_reserve.astype(np.int64), export_slot_wh * n_dis,
                              np.maximum(recharge_room - sessions.energy_wh, 0)])
    most = np.where(n_dis > 0, np.maximum(most, 0), 0)
    return dis_slot, most, after


def _spread(exported: np.ndarray, dis_slot: np.ndarray, slots: Slots) -> np.ndarray:
    """Whole-Wh export per slot: equal parts over the session's export steps."""
    n_dis = np.bincount(slots.row[dis_slot], minlength=exported.size)
    share = exported // np.maximum(n_dis, 1)
    extra = exported - share * n_dis  # the remainder goes to the first export steps
    rank = np.zeros(slots.row.size, np.int64)
    rank[dis_slot] = _offsets_within(slots.row[dis_slot])
    per = share[slots.row] + (rank < extra[slots.row])
    return np.where(dis_slot, per, 0)


def v2g(sessions: Sessions, slots: Slots, base_kw: FloatArray, peak: np.ndarray,
        rtol: float = 1e-2, smooth_sweeps: int = 0) -> V2G:
    """Discharge in the peak block, recharge after it; see the module docstring.

    Every exporting vehicle exports the same fraction of what it could (its energy above
    the reserve, its export rating over its peak steps, what it can put back before
    departure); the fraction is the one that minimises the net peak of base + fleet
    (golden-section search; each trial is an exact min-peak recharge).
    """
    dis_slot, most, after = _v2g_plan(sessions, slots, peak)
    base = np.asarray(base_kw, dtype=float)
    dt_wh = 1000.0 * sessions.dt_h

    def trial(fraction: float, level_rtol: float = 1e-4, sweeps: int = 0) -> tuple[float, V2G]:
        exported = np.floor(most * fraction).astype(np.int64)
        exporting = exported > 0
        discharge = _spread(exported, dis_slot & exporting[slots.row], slots)
        allowed = np.where(exporting[slots.row], after, True)
        dis_kw = aggregate(slots, discharge, sessions.n_steps) / dt_wh
        schedule = min_peak(sessions, slots, base - dis_kw, rtol=level_rtol,
                            energy_wh=sessions.energy_wh + exported, allowed=allowed,
                            smooth_sweeps=sweeps)
        net = base + aggregate(slots, schedule.wh - discharge, sessions.n_steps) / dt_wh
        return float(net.max()), V2G(schedule.wh, discharge, exported, fraction, schedule)

    golden = (np.sqrt(5.0) - 1.0) / 2.0
    lo, hi = 0.0, 1.0
    cache: dict[float, tuple[float, V2G]] = {}

    def f(x: float) -> tuple[float, V2G]:
        if x not in cache:
            cache[x] = trial(x)
        return cache[x]

    a, b = hi - golden * (hi - lo), lo + golden * (hi - lo)
    while hi - lo > rtol:
        if f(a)[0] <= f(b)[0]:
            hi, b = b, a
            a = hi - golden * (hi - lo)
        else:
            lo, a = a, b
            b = lo + golden * (hi - lo)
    best = min((0.0, lo, hi, 1.0), key=lambda x: f(x)[0])
    return trial(best, level_rtol=1e-5, sweeps=smooth_sweeps)[1]
