"""Shared helpers: small sampled instances and the min-peak linear programme (HiGHS)."""

from __future__ import annotations

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import coo_array

from evflex.simulate.archetypes import Sessions, parse_mix, sample_sessions, shipped_archetypes
from evflex.simulate.run import read_base_load
from evflex.simulate.strategies import Slots, V2GPlan

ARCH = shipped_archetypes()


def sessions(n: int, days: int, seed: int, step: int = 60, segment: str = "cars") -> Sessions:
    return sample_sessions(n, days, step, seed, parse_mix(None, ARCH, segment), ARCH)


def background_wh(s: Sessions, scale: float = 1.0) -> np.ndarray:
    """The shipped base-load shape for the fleet of ``s`` [Wh per step]."""
    spd = 1440 // s.step_minutes
    hours = (np.arange(s.n_steps) % spd) * s.step_minutes // 60
    vehicles = int(s.vehicle.max()) + 1 if len(s) else 1
    return read_base_load()[hours] * 1.23 * scale * vehicles * 1000.0 * s.dt_h


def lp_min_peak(s: Sessions, slots: Slots, background: np.ndarray,
                plan: V2GPlan | None = None) -> float:
    """Least peak [Wh per step] of background + fleet, by HiGHS (interior point).

    Variables: energy per slot [Wh] and the peak z. Minimise z subject to
    background_t + sum of slots at t <= z, each session's slots summing to its energy,
    each slot within [0, charger] (or the V2G plan's bounds, with each session's export
    at most its ``export_max``).
    """
    m, h, n = slots.size, s.n_steps, len(s)
    c = np.zeros(m + 1)
    c[-1] = 1.0
    a_eq = coo_array((np.ones(m), (slots.row, np.arange(m))), shape=(n, m + 1))
    rows = [slots.col, np.arange(h)]
    cols = [np.arange(m), np.full(h, m)]
    vals = [np.ones(m), -np.ones(h)]
    b_ub = [-background]
    if plan is None:
        lo, hi = np.zeros(m), s.slot_wh[slots.row].astype(float)
    else:
        # V2G: (A) pre + export >= -export_max, (B) pre <= pre_max, per session
        lo, hi = plan.lo, plan.hi
        before = np.flatnonzero(plan.phase <= 1)
        pre = np.flatnonzero(plan.phase == 0)
        rows += [h + slots.row[before], h + n + slots.row[pre]]
        cols += [before, pre]
        vals += [-np.ones(before.size), np.ones(pre.size)]
        b_ub += [plan.export_max, np.where(plan.active, plan.pre_max, 1e15)]
    n_ub = h + (2 * n if plan is not None else 0)
    a_ub = coo_array((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                     shape=(n_ub, m + 1))
    bounds = np.column_stack([np.r_[lo, -np.inf], np.r_[hi, np.inf]])
    res = linprog(c, A_ub=a_ub.tocsr(), b_ub=np.concatenate(b_ub), A_eq=a_eq.tocsr(),
                  b_eq=s.energy_wh.astype(float), bounds=bounds, method="highs-ipm")
    assert res.status == 0, res.message
    return float(res.fun)
