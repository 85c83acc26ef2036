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

The number of classes stops growing with the fleet (windows, charger limits and ``q``
take few values), so the exact fleet optimum with its proof costs one pass over the
sessions to count classes, one small flow problem, and a pass to split it back.

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

from dataclasses import dataclass

import numpy as np
import pandas as pd

from evflex.paths import FloatArray
from evflex.simulate import kernels
from evflex.simulate.archetypes import Sessions

KEYS = ["arrival", "length", "cap_wh", "q"]
#: The classes' flattening: at most this many sweeps, stopping earlier when no step's
#: load moves by more than FLATTEN_RTOL of the peak in a sweep (numerical settings: it
#: flattens the load below the exact peak, which it never changes; at 20,000 cars x 7
#: days the 100 highest steps stop moving after 4 sweeps while ties keep trading places).
FLATTEN_SWEEPS = 8
FLATTEN_RTOL = 1e-6


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


def session_keys(sessions: Sessions) -> pd.DataFrame:
    """Each session's class key columns and its energy [Wh] (sessions needing energy)."""
    energy = sessions.energy_wh
    cap = sessions.slot_wh
    q = -(-energy // np.maximum(cap, 1))
    return pd.DataFrame({
        "arrival": (sessions.arrival % sessions.n_steps).astype(np.int64),
        "length": (sessions.departure - sessions.arrival).astype(np.int64),
        "cap_wh": cap.astype(np.int64), "q": q.astype(np.int64),
        "energy_wh": energy.astype(np.int64)})


def count_classes(sessions: Sessions) -> SessionClasses:
    """The classes of ``sessions`` (sessions without energy to take are left out)."""
    keys = session_keys(sessions)
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


def split_class_schedule(classes: SessionClasses, class_wh: FloatArray,
                         class_start: np.ndarray, sessions: Sessions,
                         session_start: np.ndarray) -> FloatArray:
    """Per-slot energies [Wh] of ``sessions`` from their classes' schedules.

    ``class_wh`` holds each class's energy per slot [Wh], class ``j``'s slots from
    ``class_start[j]``; ``session_start`` is each session's first slot in the result
    (the layout of :func:`evflex.simulate.strategies.session_slots`). The sessions of a
    class here may be a subset of the class (one chunk of the fleet): each session's
    share depends only on its own energy, so chunks split independently and add up to
    the class schedule over the whole fleet.
    """
    t = classes.table
    k = t["count"].to_numpy(float)
    c = t["cap_wh"].to_numpy(float)
    q = t["q"].to_numpy(float)
    e = t["energy_wh"].to_numpy(float)
    length = t["length"].to_numpy()
    big_r = e - k * (q - 1.0) * c                     # sum of r_i, in (0, k c]
    kc = k * c
    row = np.repeat(np.arange(len(t)), length)
    y = np.asarray(class_wh, dtype=float)
    slack = kc - big_r
    degenerate = slack <= 1e-9 * kc                   # every r_i = c: equal shares
    safe = np.where(degenerate, 1.0, slack)
    lo = np.where(degenerate[row], 0.0, np.maximum(0.0, (y - big_r[row]) / safe[row]))
    hi = y / kc[row]
    sum_lo = np.bincount(row, weights=lo, minlength=len(t))
    sum_hi = np.bincount(row, weights=hi, minlength=len(t))
    width = sum_hi - sum_lo
    theta = np.clip(np.divide(q - 1.0 - sum_lo, width, out=np.zeros(len(t)),
                              where=width > 0), 0.0, 1.0)
    phi = lo + theta[row] * (hi - lo)
    phi = np.where(degenerate[row], hi * (q[row] - 1.0) / q[row], phi)
    psi = np.where(degenerate[row], hi / q[row], (y - kc[row] * phi) / big_r[row])
    psi = np.maximum(psi, 0.0)

    # each session's class and its slots
    keys = session_keys(sessions)
    keys["session"] = np.arange(len(keys))
    keys = keys[keys["energy_wh"] > 0]
    index = t[KEYS].reset_index().rename(columns={"index": "cls"})
    joined = keys.merge(index, on=KEYS, how="left", validate="many_to_one")
    if joined["cls"].isna().any():
        raise ValueError("a session's class is missing from the classes")
    cls = joined["cls"].to_numpy(np.int64)
    sess = joined["session"].to_numpy(np.int64)
    n_out = int(session_start[-1] + sessions.departure[-1] - sessions.arrival[-1]) \
        if len(sessions) else 0
    out = np.zeros(n_out)
    kernels.split_slots(cls, sess, joined["energy_wh"].to_numpy(float),
                        np.asarray(session_start, dtype=np.int64),
                        np.asarray(class_start, dtype=np.int64), length.astype(np.int64), c,
                        q, phi, psi, out)
    return out


@dataclass(frozen=True)
class ClassMinPeak:
    """The exact min-peak schedule of classes, with its proof.

    ``wh``: each class's energy per slot [Wh], class ``j``'s from ``start[j]``;
    ``load_wh``: the classes' total per step [Wh]; ``level_wh``: peak of background +
    fleet [Wh/step]; ``lower_wh``: proven lower bound on any schedule's peak.
    """

    wh: FloatArray
    start: np.ndarray
    load_wh: FloatArray
    level_wh: float
    lower_wh: float
    flows: int
    sweeps: int = 0


def min_peak_classes(classes: SessionClasses, background_wh: np.ndarray,
                     flatten: bool = True, max_sweeps: int | None = None) -> ClassMinPeak:
    """Exact min-peak managed charging of every session of ``classes`` together.

    With ``flatten``, Gauss-Seidel best responses of the classes then flatten the load
    below the peak (valley filling, :mod:`evflex.simulate.kernels`; they never raise
    it): on classes, not sessions, so a sweep costs what the classes' slots cost. The
    flattest schedule is a better start for V2G and a fairer managed profile.
    """
    from evflex.simulate.strategies import Slots, aggregate, exact_min_peak

    t = classes.table
    h = classes.n_steps
    length = t["length"].to_numpy(np.int64)
    arrival = t["arrival"].to_numpy(np.int64)
    row = np.repeat(np.arange(len(t)), length)
    start = np.cumsum(length) - length
    offset = np.arange(row.size) - np.repeat(start, length)
    slots = Slots(row=row, col=(arrival[row] + offset) % h, offset=offset, start=start,
                  length=length)
    cap = (t["cap_wh"] * t["count"]).to_numpy(np.int64)
    need = t["energy_wh"].to_numpy(np.int64)
    wh, level, lower, _, flows = exact_min_peak(arrival, slots, need, cap, background_wh, h)
    load = aggregate(slots, wh, h)
    done = 0
    if flatten and len(t):
        total = np.asarray(background_wh, dtype=float) + load
        k = len(t)
        done = int(kernels.sweeps(arrival, length, start, np.zeros(slots.size),
                                  cap[row].astype(float), np.full(slots.size, kernels.CHARGE,
                                                                  np.int8),
                                  need.astype(float), np.zeros(k), np.zeros(k), wh, total, h,
                                  FLATTEN_SWEEPS if max_sweeps is None else max_sweeps,
                                  FLATTEN_RTOL, np.arange(k), 0.0))
        load = aggregate(slots, wh, h)
        level = float((np.asarray(background_wh, dtype=float) + load).max())
    return ClassMinPeak(wh=wh, start=start, load_wh=load, level_wh=level, lower_wh=lower,
                        flows=flows, sweeps=done)
