"""Exact min-peak managed charging of a whole fleet, through classes of sessions.

Sessions with the same window (arrival step, length), the same charger limit ``c``
[Wh per step] and the same number of full steps their energy needs,
``q = ceil(E / c)``, form a *class*. A class of ``k`` sessions with total energy
``E_sum`` behaves exactly like one session with charger limit ``k c`` and energy
``E_sum``:

- the sum of the sessions' feasible schedules (each ``0 <= x_t <= c``,
  ``sum_t x_t = E_i``, every ``E_i`` in ``((q - 1) c, q c]``) is the class's
  ``{0 <= y_t <= k c, sum_t y_t = E_sum}``: both are base polytopes of polymatroids whose
  rank functions, ``sum_i min(E_i, c |S|)`` and ``min(E_sum, k c |S|)``, agree for
  every ``|S|`` (for ``|S| < q`` both are ``k c |S|``, for ``|S| >= q`` both are
  ``E_sum``);
- so every cut of the min-peak flow problem, and its optimum, is the same on classes
  as on sessions, and every class schedule splits into session schedules
  (:func:`split_class_schedule`).

The classes grow more slowly than the fleet (ElaadNL behaviour, 7 days x 15 min:
72,000 classes for 79,000 sessions at 20,000 cars, 310,000 for 396,000 at 100,000), and
only one number per class slot is kept, so the exact fleet optimum with its proof
costs one pass over the sessions to count classes, a few sweeps of valley filling of
the classes with their cut bounds (:func:`min_peak_classes`), and a pass to split it
back.

Splitting: with ``r_i = E_i - (q - 1) c`` in ``(0, c]`` and ``R = sum r_i``, session
``i`` gets ``x_it = c phi_t + r_i psi_t`` for two class profiles with
``phi_t, psi_t >= 0``, ``phi_t + psi_t <= 1`` (so ``0 <= x_it <= c``),
``sum phi = q - 1`` and ``sum psi = 1`` (so ``sum_t x_it = E_i``) and
``k c phi_t + R psi_t = y_t`` (so the sessions add up to the class). On that line
``phi_t`` ranges over ``[max(0, (y_t - R) / (k c - R)), y_t / (k c)]``; the lower ends
sum to at most ``q - 1`` (a convex function of ``y`` is largest at a vertex of the
class's polytope) and the upper ends to at least ``q - 1``, so one interpolation
``phi = lo + theta (hi - lo)`` meets the sum.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import pandas as pd

from evflex.paths import FloatArray
from evflex.simulate import kernels
from evflex.simulate.archetypes import Sessions

#: A class's key: its window, charger limit and full steps, and a group of the caller's
#: (e.g. whether its sessions take part in V2G: finer classes stay exact)
KEYS = ["arrival", "length", "cap_wh", "q", "group"]
#: Valley filling of the classes (:func:`min_peak_classes`): at most this many sweeps
#: before the maximum-flow method takes over, stopping as soon as the peak is within
#: PROOF_RTOL of a proven lower bound (numerical settings, not data: at 10,000 to
#: 100,000 cars x 7 days the bound is met after 2 sweeps, to below 1e-15, with the
#: shipped base load; with a base load of 0.2 kW per car, where the fleet's own load
#: dominates, after 26 to 58 sweeps, which at 100,000 cars is 7.5 s against 19.7 s for
#: 16 sweeps and the flow; the rounding of a flow in whole flow units leaves about 1e-9).
PROOF_SWEEPS = 64
PROOF_RTOL = 1e-9
#: Class slots per call of a compiled kernel, so that long sweeps report progress
#: (about 0.03 s each on a 2-core machine; a setting, not data).
BATCH_SLOTS = 1_000_000
#: Sweeps and cut-bound passes expected per proof (for the estimate of the time left
#: only: 2 and 1 to 2 at 10,000 to 100,000 cars with the shipped base load).
EXPECTED_SWEEPS = 2
BOUND_PASSES = 2


@dataclass(frozen=True)
class SessionClasses:
    """Classes of sessions on a periodic horizon of ``n_steps`` steps.

    Per class: ``arrival`` step (``0 .. n_steps - 1``), ``length`` [steps], ``cap_wh``
    (one session's charger limit [Wh per step]), ``q`` (full steps its energy needs),
    ``count`` (sessions) and ``energy_wh`` (their total energy [Wh]).
    """

    table: pd.DataFrame
    n_steps: int

    def __len__(self) -> int:
        return len(self.table)

    @property
    def slot_count(self) -> int:
        return int(self.table["length"].sum())

    @property
    def batch_count(self) -> int:
        """Batches of :data:`BATCH_SLOTS` slots a sweep of these classes takes (about)."""
        return -(-self.slot_count // BATCH_SLOTS)


def session_keys(sessions: Sessions, group: np.ndarray | None = None) -> pd.DataFrame:
    """Each session's class key columns and its energy [Wh] (sessions needing energy)."""
    energy = sessions.energy_wh
    cap = sessions.slot_wh
    q = -(-energy // np.maximum(cap, 1))
    return pd.DataFrame({
        "arrival": (sessions.arrival % sessions.n_steps).astype(np.int64),
        "length": (sessions.departure - sessions.arrival).astype(np.int64),
        "cap_wh": cap.astype(np.int64), "q": q.astype(np.int64),
        "group": np.zeros(len(sessions), np.int8) if group is None
        else np.asarray(group, dtype=np.int8),
        "energy_wh": energy.astype(np.int64)})


def count_classes(sessions: Sessions, group: np.ndarray | None = None) -> SessionClasses:
    """The classes of ``sessions`` (sessions without energy to take are left out), by
    ``group`` too when given (one small integer per session)."""
    keys = session_keys(sessions, group)
    keys = keys[keys["energy_wh"] > 0]
    table = (keys.groupby(KEYS, sort=True)["energy_wh"].agg(["size", "sum"])
             .rename(columns={"size": "count", "sum": "energy_wh"}).reset_index())
    return SessionClasses(table=table, n_steps=sessions.n_steps)


def merge_classes(parts: list[SessionClasses]) -> SessionClasses:
    """Classes of the union of disjoint groups of sessions (e.g. chunks of a fleet)."""
    if not parts:
        raise ValueError("no classes to merge")
    table = (pd.concat([p.table for p in parts], ignore_index=True)
             .groupby(KEYS, sort=True)[["count", "energy_wh"]].sum().reset_index())
    return SessionClasses(table=table, n_steps=parts[0].n_steps)


@dataclass(frozen=True)
class ClassShares:
    """What a class schedule gives each of its sessions (module docstring): the class
    schedule ``wh`` [Wh per slot], class ``j``'s slots from ``start[j]``, and each
    class's interpolation ``theta`` (``phi`` and ``psi`` follow slot by slot)."""

    classes: SessionClasses
    wh: FloatArray
    start: np.ndarray
    theta: FloatArray
    #: the classes' keys, to find a session's class (its lookup table is built once)
    keys: pd.MultiIndex


def class_shares(classes: SessionClasses, class_wh: FloatArray,
                 class_start: np.ndarray) -> ClassShares:
    """The split of the classes' schedule ``class_wh`` [Wh per slot] (computed once for
    the fleet; :func:`split_class_schedule` then splits any group of its sessions). It
    keeps ``class_wh`` (not a copy) and one number per class."""
    t = classes.table
    wh = np.asarray(class_wh, dtype=float)
    start = np.asarray(class_start, dtype=np.int64)
    theta = np.empty(len(t))
    kernels.class_theta(t["length"].to_numpy(np.int64), start, t["count"].to_numpy(float),
                        t["cap_wh"].to_numpy(float), t["q"].to_numpy(float),
                        t["energy_wh"].to_numpy(float), wh, theta)
    return ClassShares(classes=classes, wh=wh, start=start, theta=theta,
                       keys=pd.MultiIndex.from_frame(t[KEYS]))


def split_class_schedule(shares: ClassShares, sessions: Sessions, session_start: np.ndarray,
                         group: np.ndarray | None = None) -> FloatArray:
    """Per-slot energies [Wh] of ``sessions`` from their classes' schedules.

    ``shares`` splits the classes' schedule (:func:`class_shares`); ``session_start``
    is each session's first slot in the result (the layout of
    :func:`evflex.simulate.strategies.session_slots`). The sessions here may be a subset
    of their classes (one chunk of the fleet): each session's share depends only on its
    own energy, so chunks split independently and add up to the class schedule over the
    whole fleet. ``group``: the sessions' groups, as counted.
    """
    t = shares.classes.table
    keys = session_keys(sessions, group)
    sess = np.flatnonzero(keys["energy_wh"].to_numpy() > 0)
    keys = keys.iloc[sess]
    cls = shares.keys.get_indexer(pd.MultiIndex.from_frame(keys[KEYS]))
    if np.any(cls < 0):
        raise ValueError("a session's class is missing from the classes")
    n_out = int(session_start[-1] + sessions.departure[-1] - sessions.arrival[-1]) \
        if len(sessions) else 0
    out = np.zeros(n_out)
    kernels.split_slots(cls.astype(np.int64), sess.astype(np.int64),
                        keys["energy_wh"].to_numpy(float),
                        np.asarray(session_start, dtype=np.int64), shares.start,
                        t["length"].to_numpy(np.int64), t["count"].to_numpy(float),
                        t["cap_wh"].to_numpy(float), t["q"].to_numpy(float),
                        t["energy_wh"].to_numpy(float), shares.theta, shares.wh, out)
    return out


@dataclass(frozen=True)
class ClassMinPeak:
    """The exact min-peak schedule of classes, with its proof.

    ``wh``: each class's energy per slot [Wh], class ``j``'s from ``start[j]``;
    ``load_wh``: the classes' total per step [Wh]; ``level_wh``: peak of background +
    fleet [Wh/step]; ``lower_wh``: proven lower bound on any schedule's peak;
    ``sweeps``: valley-filling sweeps done; ``flows``: maximum flows solved (0 when the
    sweeps met the bound).
    """

    wh: FloatArray
    start: np.ndarray
    load_wh: FloatArray
    level_wh: float
    lower_wh: float
    flows: int
    sweeps: int = 0


class _ClassArrays:
    """The classes' arrays for the compiled kernels, cut into batches of about
    :data:`BATCH_SLOTS` slots; each batch done calls ``step()``."""

    def __init__(self, classes: SessionClasses, mine: np.ndarray | None = None,
                 start: np.ndarray | None = None):
        t = classes.table
        keep = slice(None) if mine is None else mine
        self.h = classes.n_steps
        full_length = t["length"].to_numpy(np.int64)
        self.length = full_length[keep]
        self.arrival = t["arrival"].to_numpy(np.int64)[keep]
        self.start = (np.cumsum(full_length) - full_length if start is None
                      else np.asarray(start, dtype=np.int64))[keep]
        self.cap = (t["cap_wh"] * t["count"]).to_numpy(float)[keep]
        self.need = t["energy_wh"].to_numpy(float)[keep]
        # sweep order: tightest first (the share of its window's room a class needs);
        # the loose classes then fill the valleys the tight ones leave, and the sweeps
        # meet the bound in 2 sweeps instead of 8 to 16 in table order (measured
        # at 10,000 and 100,000 cars x 7 days)
        order = np.argsort(-self.need / np.maximum(self.cap * self.length, 1.0),
                           kind="stable")
        self.length, self.arrival, self.start, self.cap, self.need = (
            x[order] for x in (self.length, self.arrival, self.start, self.cap, self.need))
        ends = np.cumsum(self.length)
        edges = [0, *np.searchsorted(ends, np.arange(BATCH_SLOTS, ends[-1] if ends.size
                                                     else 0, BATCH_SLOTS),
                                     side="right").tolist(), self.length.size]
        self.batches = [(a, b) for a, b in pairwise(edges) if b > a]
        self.step: Callable[[], None] = lambda: None

    def sweep(self, wh: FloatArray, total: FloatArray) -> None:
        """One Gauss-Seidel sweep of valley filling, in place on ``wh`` and ``total``."""
        for a, b in self.batches:
            kernels.fill_sweeps(self.arrival[a:b], self.length[a:b], self.start[a:b],
                                self.cap[a:b], self.need[a:b], wh, total, self.h, 1)
            self.step()

    def nested_bound(self, total: FloatArray, background: FloatArray) -> float:
        """The best cut bound over the sets of the steps of highest ``total``."""
        order = np.argsort(-total, kind="stable")
        pos = np.empty(self.h, np.int64)
        pos[order] = np.arange(self.h)
        rise = np.zeros(self.h)
        for a, b in self.batches:
            kernels.cut_rises(self.arrival[a:b], self.length[a:b], self.cap[a:b],
                              self.need[a:b], pos, self.h, rise)
            self.step()
        bounds = (np.cumsum(background[order]) + np.cumsum(rise)) / np.arange(1, self.h + 1)
        return float(bounds.max())


def min_peak_classes(classes: SessionClasses, background_wh: np.ndarray,
                     max_sweeps: int = PROOF_SWEEPS,
                     progress: Callable[[int, int], None] | None = None) -> ClassMinPeak:
    """Exact min-peak managed charging of every session of ``classes`` together.

    Gauss-Seidel valley filling of the classes (each class's best response to the load
    of the others, :func:`evflex.simulate.kernels.fill_sweeps`) converges to the
    flattest load, whose highest level set is the critical set of the minimum cut
    (Fujishige 1980). After a sweep the steps sorted by load give nested candidate sets
    whose cut bounds (:func:`evflex.simulate.kernels.cut_rises`) are proven lower
    bounds on any schedule's peak; the sweeps stop once the schedule's peak is within
    :data:`PROOF_RTOL` of the best bound: that schedule is optimal, with its proof. If
    ``max_sweeps`` sweeps do not get there, the exact maximum-flow method
    (:func:`evflex.simulate.strategies.exact_min_peak`) starts from the best bound and
    its schedule is kept (optimal peak, not flattened below it).
    ``progress(done, total)`` is called after each batch of classes of a sweep or a
    bound (``total`` an estimate).
    """
    from evflex.simulate.strategies import Slots, exact_min_peak

    c = _ClassArrays(classes)
    h = c.h
    table_length = classes.table["length"].to_numpy(np.int64)
    layout = np.cumsum(table_length) - table_length  # class j's slots from layout[j]
    units = 0
    planned = len(c.batches) * (min(max_sweeps, EXPECTED_SWEEPS) + BOUND_PASSES)

    def step() -> None:
        nonlocal units
        units += 1
        if progress is not None:
            progress(units, max(units, planned))

    c.step = step
    background = np.asarray(background_wh, dtype=float)
    wh = np.zeros(int(table_length.sum()))
    total = background.copy()
    lower = float(background.max())
    done = 0
    flows = 0

    def proven() -> bool:
        """The schedule (any sweep's: each delivers every class's energy) meets the bound."""
        return done > 0 and bool(total.max() <= lower + PROOF_RTOL * abs(lower))

    rising = True  # the last bound computed raised the best one
    peak = np.inf
    bounded = 0    # sweeps done when the last bound was computed
    while len(c.batches) and done < max_sweeps and not proven():
        c.sweep(wh, total)
        done += 1
        drop, peak = peak - total.max(), float(total.max())
        if not proven() and (rising or (drop < 0.5 * (peak - lower)
                                        and done >= 2 * bounded)):
            # the bound settles within a few sweeps (the top level sets stop changing)
            # while the peak converges to it, each sweep closing most of the gap; a
            # new bound only when the last one rose or, at doubling intervals, when the
            # peak stopped closing in
            bound = c.nested_bound(total, background)
            rising = bound > lower * (1 + 1e-12)
            lower = max(lower, bound)
            bounded = done
    if len(c.batches) and not proven():
        t = classes.table        # in table order: the slots' layout
        length = t["length"].to_numpy(np.int64)
        arrival = t["arrival"].to_numpy(np.int64)
        row = np.repeat(np.arange(length.size), length)
        offset = np.arange(row.size) - np.repeat(layout, length)
        slots = Slots(row=row, col=(arrival[row] + offset) % h, offset=offset, start=layout,
                      length=length)
        wh, _, lower, _, flows = exact_min_peak(
            arrival, slots, t["energy_wh"].to_numpy(np.int64),
            (t["cap_wh"] * t["count"]).to_numpy(np.int64), background, h, lower_start=lower)
        total = background + np.bincount(slots.col, weights=wh, minlength=h)
        del slots, row, offset
    if progress is not None:
        progress(units, units)
    return ClassMinPeak(wh=wh, start=layout, load_wh=total - background,
                        level_wh=float(total.max()), lower_wh=lower, flows=flows, sweeps=done)


def fill_group(classes: SessionClasses, class_wh: FloatArray, class_start: np.ndarray,
               group: int, load_wh: FloatArray, max_sweeps: int, peak_rtol: float,
               step: Callable[[], None] | None = None) -> int:
    """Valley filling of the classes of ``group`` against the rest of ``load_wh``
    (background and every session, [Wh per step]), in place on ``class_wh`` and
    ``load_wh``; the other classes keep their schedules and shares. Stops after
    ``max_sweeps`` sweeps or when a sweep lowers the peak by less than ``peak_rtol`` of
    it; returns the sweeps done. ``step()`` is called after each batch of classes."""
    c = _ClassArrays(classes, (classes.table["group"] == group).to_numpy(), class_start)
    if step is not None:
        c.step = step
    done = 0
    while done < max_sweeps:
        before = float(load_wh.max())
        c.sweep(class_wh, load_wh)
        done += 1
        if before - float(load_wh.max()) <= peak_rtol * abs(before):
            break
    return done
