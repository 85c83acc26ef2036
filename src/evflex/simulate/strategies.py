"""Charging strategies on a periodic horizon: unmanaged, min-peak managed, and V2G.

Energies are watt-hours per step [Wh]; loads are the energy drawn in a step [Wh], which
:func:`to_kw` turns into mean power [kW]. A session's energy is whole watt-hours and its
charger delivers ``slot_wh`` (whole Wh) per step, so every vehicle gets exactly its energy.

- :func:`unmanaged`: charge from plug-in at full power until the energy is in.
- :func:`min_peak`: valley filling of the fleet against a background load. Two exact
  steps, then a flattening:

  1. the least peak level ``L*`` by Dinkelbach's method on the parametric minimum cut.
     A level ``L`` is feasible iff the maximum flow source → session [its energy] →
     step [its charger limit] → sink [``L - background``] carries every session's
     energy. If it does not, the steps on the source side of the minimum cut, ``U``,
     prove the lower bound :func:`cut_bound` ``(U) > L`` (see below), which is the next
     level tried. Levels rise monotonically and stop, in a few flows, at a feasible
     level equal to a proven lower bound: the optimum of the min-peak linear programme.
  2. the flow at ``L*`` is a schedule with that peak.
  3. Gauss-Seidel best responses (:mod:`evflex.simulate.kernels`) flatten the load
     below the peak (valley filling) without ever raising it.

  The cut bound: in any schedule, the steps ``U`` receive at least
  ``sum_i max(0, E_i - c_i |W_i \\ U|)`` (what session ``i`` cannot place outside
  ``U``), so ``L >= (background(U) + that) / |U|`` (max-flow min-cut: the optimum is the
  largest such bound over all ``U``).
- :func:`v2g`: V2G-eligible sessions whose window holds the daily peak block may
  charge before the block (up to their departure target), discharge in the block (at
  most their export rating, never below their mobility reserve) and charge after it
  what they need plus what they exported, before departure. Their state of charge rises
  before the block, falls in it and rises after it, so it stays between the reserve and
  the departure target. The net fleet load is flattened by the same best responses,
  which converge to the least net peak over these schedules (tests compare with HiGHS).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields, replace

import numpy as np
from scipy.sparse import csr_array
from scipy.sparse.csgraph import breadth_first_order, maximum_flow

from evflex.paths import FloatArray
from evflex.simulate import kernels
from evflex.simulate.archetypes import Sessions

#: Largest capacity of one edge [flow units] in a maximum flow (scipy's capacities are
#: int32; the flow's total may exceed it).
FLOW_UNITS_MAX = 2**31 - 1
#: Gauss-Seidel sweeps: at most this many, stopping when no step's load moves by more
#: than :data:`SWEEP_RTOL` of the peak in a sweep, or (V2G) when a sweep lowers the peak
#: by less than :data:`PEAK_RTOL` of it (numerical settings, not data; 64 lets the
#: classes' valley filling prove the min-peak optimum where the fleet's own load
#: dominates, which takes up to about 60 sweeps, see :mod:`evflex.simulate.classes`).
MAX_SWEEPS = 64
SWEEP_RTOL = 1e-6
PEAK_RTOL = 1e-5


@dataclass(frozen=True)
class Slots:
    """Every (session, step) pair a session is plugged in, in session order.

    ``row`` session, ``col`` step on the periodic horizon, ``offset`` steps since the
    session's arrival; ``start`` is each session's first slot, ``length`` its slots.
    """

    row: np.ndarray
    col: np.ndarray
    offset: np.ndarray
    start: np.ndarray
    length: np.ndarray

    @property
    def size(self) -> int:
        return int(self.row.size)


def take(sessions: Sessions, which: np.ndarray) -> Sessions:
    """The sessions ``which`` (a boolean mask or indices) of ``sessions``."""
    n = len(sessions)
    return replace(sessions, **{
        f.name: getattr(sessions, f.name)[which] for f in fields(sessions)
        if isinstance(getattr(sessions, f.name), np.ndarray)
        and getattr(sessions, f.name).shape == (n,)})


def session_slots(sessions: Sessions) -> Slots:
    length = (sessions.departure - sessions.arrival).astype(np.int64)
    row = np.repeat(np.arange(len(sessions)), length)
    start = np.cumsum(length) - length
    offset = np.arange(row.size) - np.repeat(start, length)
    col = (sessions.arrival[row] + offset) % sessions.n_steps
    return Slots(row=row, col=col, offset=offset, start=start, length=length)


def to_kw(wh_per_step: np.ndarray, sessions: Sessions) -> FloatArray:
    """Energy per step [Wh] → mean power over the step [kW]."""
    return np.asarray(wh_per_step, dtype=float) / (1000.0 * sessions.dt_h)


def aggregate(slots: Slots, wh: np.ndarray, n_steps: int) -> FloatArray:
    """Fleet energy per step [Wh] from per-slot energies."""
    return np.bincount(slots.col, weights=wh, minlength=n_steps).astype(float)


def per_session(slots: Slots, wh: np.ndarray, n: int) -> FloatArray:
    """Energy per session [Wh] from per-slot energies."""
    return np.bincount(slots.row, weights=wh, minlength=n).astype(float)


def unmanaged(sessions: Sessions, slots: Slots) -> FloatArray:
    """Per-slot energy [Wh] when charging at full power from plug-in."""
    return kernels.charge_at_plug_in(slots.length, slots.start,
                                     sessions.slot_wh.astype(float),
                                     sessions.energy_wh.astype(float), slots.size)


def as_late_as_possible(sessions: Sessions, slots: Slots) -> FloatArray:
    """Per-slot energy [Wh] when charging at full power just before departure."""
    cap = sessions.slot_wh[slots.row]
    from_end = slots.length[slots.row] - 1 - slots.offset
    return np.clip(sessions.energy_wh[slots.row] - from_end * cap, 0, cap).astype(float)


def cut_bound(slots: Slots, cap_wh: np.ndarray, need_wh: np.ndarray,
              background_wh: np.ndarray, steps: np.ndarray) -> float:
    """Lower bound on the peak [Wh per step] from the steps ``steps`` (a boolean mask).

    ``(background(U) + sum_i max(0, E_i - cap_i * |W_i \\ U|)) / |U|``; the
    minimum peak is the largest of these over all sets ``U`` (max-flow min-cut).
    """
    if not steps.any():
        return -np.inf
    outside = ~steps[slots.col]
    room_outside = np.bincount(slots.row[outside], weights=cap_wh[slots.row[outside]],
                               minlength=need_wh.size)
    forced = np.maximum(need_wh - room_outside, 0.0).sum()
    return float((background_wh[steps].sum() + forced) / steps.sum())


@dataclass(frozen=True)
class MinPeak:
    """A min-peak schedule and its proof of optimality."""

    wh: FloatArray          # per-slot energy [Wh]
    level_wh: float         # peak of background + fleet at the flow solution [Wh/step]
    lower_wh: float         # proven lower bound on any schedule's peak [Wh/step]
    critical: np.ndarray    # steps of the cut that proves ``lower_wh`` (boolean)
    flows: int              # maximum flows solved
    sweeps: int             # Gauss-Seidel sweeps of the flattening


class _FlowGraph:
    """source → session → step → sink, in CSR with the sink capacities last per row."""

    def __init__(self, slots: Slots, need: np.ndarray, cap: np.ndarray, n: int, h: int):
        self.n, self.h = n, h
        self.source, self.sink = 0, n + h + 1
        heads = np.concatenate([np.zeros(n, np.int64), slots.row + 1, n + 1 + np.arange(h)])
        tails = np.concatenate([np.arange(1, n + 1), slots.col + n + 1,
                                np.full(h, self.sink)])
        # edges are already sorted by head (source, sessions in slot order, steps)
        self.data = np.concatenate([need, cap, np.zeros(h)]).astype(np.int32)
        self.indices = tails.astype(np.int32)
        counts = np.bincount(heads, minlength=n + h + 2)
        self.indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
        self.sink_edges = np.arange(self.data.size - h, self.data.size)
        self.shape = (n + h + 2, n + h + 2)

    def solve(self, room: np.ndarray) -> tuple[int, csr_array]:
        self.data[self.sink_edges] = room
        graph = csr_array((self.data, self.indices, self.indptr), shape=self.shape)
        result = maximum_flow(graph, self.source, self.sink, method="dinic")
        self._graph = graph
        return int(result.flow_value), result.flow

    def source_side_steps(self, flow: csr_array) -> np.ndarray:
        """Steps reachable from the source in the residual graph of ``flow``."""
        residual = (self._graph - flow).tocsr()
        residual.data = (residual.data > 0).astype(np.int8)
        residual.eliminate_zeros()
        reached = breadth_first_order(residual, self.source, directed=True,
                                      return_predecessors=False)
        side = np.zeros(self.shape[0], bool)
        side[reached] = True
        return side[self.n + 1: self.n + 1 + self.h]


def min_peak(sessions: Sessions, slots: Slots, background_wh: np.ndarray,
             flatten: bool = False, max_sweeps: int = MAX_SWEEPS) -> MinPeak:
    """Min-peak schedule of the sessions against ``background_wh`` [Wh per step].

    See the module docstring: Dinkelbach on the parametric minimum cut (exact level and
    its proof); with ``flatten``, Gauss-Seidel flattening below that level (it never
    changes the peak, only the load below it).
    """
    wh, level_wh, lower, critical, flows = exact_min_peak(
        sessions.arrival.astype(np.int64), slots, sessions.energy_wh.astype(np.int64),
        sessions.slot_wh.astype(np.int64), background_wh, sessions.n_steps)
    done = 0
    if flatten and slots.size:
        load = np.asarray(background_wh, dtype=float) + aggregate(slots, wh, sessions.n_steps)
        done = _flatten(sessions, slots, wh, load, max_sweeps)
    return MinPeak(wh=wh, level_wh=level_wh, lower_wh=lower, critical=critical, flows=flows,
                   sweeps=done)


def exact_min_peak(arrival: np.ndarray, slots: Slots, need: np.ndarray, cap: np.ndarray,
                   background_wh: np.ndarray, n_steps: int, lower_start: float = -np.inf
                   ) -> tuple[FloatArray, float, float, np.ndarray, int]:
    """The exact min-peak schedule of rows (sessions or classes of sessions).

    Row ``i`` arrives at step ``arrival[i]``, needs ``need[i]`` [Wh] and takes at most
    ``cap[i]`` [Wh] per step in its slots. Returns the per-slot energies [Wh], the peak
    of background + rows [Wh/step], the proven lower bound [Wh/step], the steps of the
    cut that proves it, and the number of maximum flows solved. ``lower_start``: a
    lower bound already proven (Dinkelbach's levels start there).
    """
    n, h = need.size, n_steps
    background = np.asarray(background_wh, dtype=float)
    if np.any(cap * slots.length < need):
        raise ValueError("a session needs more energy than its window and charger allow")
    total = int(need.sum())
    all_steps = np.ones(h, bool)
    lower = max(float(background.max()), lower_start,
                cut_bound(slots, cap.astype(float), need.astype(float), background,
                          all_steps))
    if total == 0:
        return np.zeros(slots.size), float(background.max()), lower, np.zeros(h, bool), 0
    # flow units: the finest power of two of a Wh for which every edge's capacity fits
    # scipy's int32 (a step's room never needs to exceed what its slots can take)
    step_in = np.bincount(slots.col, weights=cap[slots.row].astype(float), minlength=h)
    largest = max(float(need.max()), float(step_in.max()), 1.0)
    unit = 2.0 ** max(-30.0, float(np.ceil(np.log2(largest / FLOW_UNITS_MAX))))
    while largest / unit > FLOW_UNITS_MAX:
        unit *= 2.0
    need_u = np.minimum(np.ceil(need / unit), np.floor(cap / unit) * slots.length
                        ).astype(np.int64)
    cap_u = np.floor(cap / unit).astype(np.int64)
    room_max = np.minimum(np.ceil(step_in / unit), FLOW_UNITS_MAX)
    graph = _FlowGraph(slots, need_u, cap_u[slots.row], n, h)
    total_u = int(need_u.sum())
    level = lower
    critical = np.zeros(h, bool)
    flows = 0
    while True:
        room = np.floor(np.clip((level - background) / unit, 0, room_max))
        value, flow = graph.solve(room.astype(np.int32))
        flows += 1
        if value >= total_u:
            break
        side = graph.source_side_steps(flow)
        bound = cut_bound(slots, cap.astype(float), need.astype(float), background, side)
        if bound > lower:
            lower, critical = bound, side
        # the next level: the cut's bound or, when rounding the rooms down to whole
        # units kept it infeasible, one unit more (at most one unit per step is lost)
        level = bound if bound > level else level + unit
    wh = _slot_flows(flow, arrival, slots, n, h) * unit
    # exact energies (coarse units deliver a little more; scale each row down)
    got = per_session(slots, wh, n)
    wh *= np.divide(need, got, out=np.zeros(n), where=got > 0)[slots.row]
    np.minimum(wh, cap[slots.row], out=wh)
    level_wh = float((background + aggregate(slots, wh, h)).max())
    return wh, level_wh, lower, critical, flows


def _slot_flows(flow: csr_array, arrival: np.ndarray, slots: Slots, n: int,
                h: int) -> FloatArray:
    """Per-slot flow (row → step edges) from a flow matrix."""
    coo = flow.tocoo()
    keep = (coo.row >= 1) & (coo.row <= n) & (coo.col > n) & (coo.data > 0)
    session = coo.row[keep] - 1
    step = coo.col[keep] - n - 1
    where = slots.start[session] + (step - arrival[session]) % h
    out = np.zeros(slots.size)
    out[where] = coo.data[keep]
    return out


def _flatten(sessions: Sessions, slots: Slots, wh: np.ndarray, load: np.ndarray,
             max_sweeps: int, plan: V2GPlan | None = None,
             which: np.ndarray | None = None, peak_rtol: float = 0.0,
             step: Callable[[], None] | None = None) -> int:
    """Gauss-Seidel best responses of sessions ``which`` (default all), in place on
    ``wh`` and ``load``; with ``step``, one sweep per compiled call, each followed by
    ``step()`` (the same sweeps)."""
    n = len(sessions)
    if which is None:
        which = np.arange(n)
    if plan is None:
        plan = V2GPlan(lo=np.zeros(slots.size), hi=sessions.slot_wh[slots.row].astype(float),
                       phase=np.full(slots.size, kernels.CHARGE, np.int8),
                       export_max=np.zeros(n), pre_max=np.zeros(n), active=np.zeros(n, bool))
    arrival, energy = sessions.arrival.astype(np.int64), sessions.energy_wh.astype(float)
    which = np.asarray(which, dtype=np.int64)
    done = 0
    while done < max_sweeps:
        count, stopped = kernels.sweeps(arrival, slots.length, slots.start, plan.lo, plan.hi,
                                        plan.phase, energy, plan.export_max, plan.pre_max,
                                        wh, load, sessions.n_steps,
                                        1 if step else max_sweeps - done, SWEEP_RTOL, which,
                                        peak_rtol)
        done += int(count)
        if step is not None:
            step()
        if stopped:
            break
    return done


def valley_fill(sessions: Sessions, slots: Slots, background_wh: np.ndarray,
                max_sweeps: int = MAX_SWEEPS) -> tuple[FloatArray, int]:
    """Managed charging by best responses alone, from greedy sequential filling.

    Returns the per-slot energies [Wh] and the sweeps done. Converges to the same
    flattest load as :func:`min_peak`, without its proof; used where no flow is wanted.
    """
    wh = np.zeros(slots.size)
    load = np.asarray(background_wh, dtype=float).copy()
    done = _flatten(sessions, slots, wh, load, max_sweeps)
    return wh, done


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
class V2GPlan:
    """Per slot: bounds of the energy per step [Wh] (negative: export) and the phase
    (:data:`kernels.PRE`, ``EXPORT``, ``CHARGE``); per session: the most it may export
    net of what it charged before the block [Wh], the most it may charge before the
    block [Wh], and whether it takes part."""

    lo: FloatArray
    hi: FloatArray
    phase: np.ndarray
    export_max: FloatArray
    pre_max: FloatArray
    active: np.ndarray


@dataclass(frozen=True)
class V2GSessions:
    """Per session: the offsets of its first peak-block step (its length when none) and
    of the first step after that run of block steps, its export per step [Wh], the most
    it may export [Wh], and whether it takes part (see :func:`v2g_plan`)."""

    first: np.ndarray
    end: np.ndarray
    export_slot_wh: FloatArray
    export_max: FloatArray
    active: np.ndarray


def v2g_sessions(sessions: Sessions, block: np.ndarray) -> V2GSessions:
    """Which sessions take part in V2G and how much they may export (no slot arrays)."""
    length = (sessions.departure - sessions.arrival).astype(np.int64)
    first, end = kernels.block_run(sessions.arrival.astype(np.int64), length, block,
                                   sessions.n_steps)
    cap = sessions.slot_wh.astype(float)
    export_slot_wh = np.floor(sessions.export_kw * 1000.0 * sessions.dt_h)
    above_reserve = np.floor((sessions.arrival_kwh - sessions.reserve_kwh) * 1000.0)
    recharge_room = cap * (length - end)
    need = sessions.energy_wh.astype(float)
    active = (sessions.v2g_eligible & (export_slot_wh > 0) & (first < length)
              & (above_reserve > 0) & (recharge_room >= need))
    n_export = np.where(active, end - np.minimum(first, end), 0)
    export_max = np.minimum.reduce([above_reserve, recharge_room - need,
                                    export_slot_wh * n_export])
    active &= export_max > 0
    return V2GSessions(first=first, end=end, export_slot_wh=export_slot_wh,
                       export_max=np.where(active, export_max, 0.0), active=active)


def v2g_plan(sessions: Sessions, slots: Slots, block: np.ndarray) -> V2GPlan:
    """Where each session may charge and export; see the module docstring.

    A V2G-eligible session with an export rating takes part if its window holds steps of
    the peak block, it arrives above its reserve, and after the block it can still take
    its energy. It may charge before the block (at most its energy: its state of charge
    stays below its departure target), export in the first run of block steps of its
    window (never below its reserve, counting what it charged before), and charge after
    it what it needs plus what it exported. Other sessions charge anywhere in their
    window.
    """
    v = v2g_sessions(sessions, block)
    cap = sessions.slot_wh.astype(float)
    active, first, end = v.active, v.first, v.end
    off, row = slots.offset, slots.row
    exporting = active[row] & (off >= first[row]) & (off < end[row])
    before = active[row] & (off < first[row])
    lo = np.where(exporting, -v.export_slot_wh[row], 0.0)
    hi = np.where(exporting, 0.0, cap[row])
    phase = np.full(slots.size, kernels.CHARGE, np.int8)
    phase[before] = kernels.PRE
    phase[exporting] = kernels.EXPORT
    pre_max = np.where(active, sessions.energy_wh.astype(float), 0.0)
    return V2GPlan(lo=lo, hi=hi, phase=phase, export_max=v.export_max, pre_max=pre_max,
                   active=active)


@dataclass(frozen=True)
class V2G:
    wh: FloatArray          # per-slot net energy [Wh] (negative: export)
    plan: V2GPlan
    sweeps: int
    exports: bool           # False: the managed schedule was kept (lower peak)

    @property
    def charge_wh(self) -> FloatArray:
        return np.maximum(self.wh, 0.0)

    @property
    def discharge_wh(self) -> FloatArray:
        return np.maximum(-self.wh, 0.0)


def v2g(sessions: Sessions, slots: Slots, background_wh: np.ndarray, block: np.ndarray,
        max_sweeps: int = MAX_SWEEPS, start_wh: np.ndarray | None = None,
        movers: str = "all", peak_rtol: float = 0.0,
        step: Callable[[], None] | None = None) -> V2G:
    """V2G schedule against ``background_wh`` [Wh per step]: flattest net load.

    Starts from ``start_wh`` (a managed schedule of the same sessions, e.g. from
    :func:`min_peak`) or from greedy sequential filling, then Gauss-Seidel best
    responses: of every session (``movers="all"``), or only of the sessions that take
    part in V2G (``movers="v2g"``; the others keep ``start_wh``, which is then
    required); with ``peak_rtol`` they stop once a sweep lowers the net peak by less
    than that share of it (``step()`` after each sweep). The plan gives up charging in
    the block, so where the fleet's own load dominates it can end above the managed
    schedule; then the managed schedule is kept (no export): an aggregator never
    exports to make the peak worse.
    """
    plan = v2g_plan(sessions, slots, block)
    background = np.asarray(background_wh, dtype=float)
    if start_wh is None:
        if movers != "all":
            raise ValueError("movers='v2g' needs a starting schedule")
        managed, _ = valley_fill(sessions, slots, background, max_sweeps)
    else:
        managed = np.asarray(start_wh, dtype=float)
    which = np.arange(len(sessions)) if movers == "all" else np.flatnonzero(plan.active)
    wh = np.clip(managed, plan.lo, plan.hi)  # a start within the plan's bounds
    load = background + aggregate(slots, wh, sessions.n_steps)
    done = _flatten(sessions, slots, wh, load, max_sweeps, plan, which, peak_rtol, step)
    if load.max() > (background + aggregate(slots, managed, sessions.n_steps)).max():
        return V2G(wh=managed.copy(), plan=plan, sweeps=done, exports=False)
    return V2G(wh=wh, plan=plan, sweeps=done, exports=True)


def state_of_charge(sessions: Sessions, slots: Slots, wh: np.ndarray) -> FloatArray:
    """State of charge [kWh] at the end of each slot, from per-slot energies [Wh]."""
    cum = np.cumsum(wh)
    before = np.repeat(cum[slots.start] - wh[slots.start], slots.length)
    return sessions.arrival_kwh[slots.row] + (cum - before) / 1000.0
