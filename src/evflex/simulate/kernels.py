"""Compiled kernels (numba): best responses (sessions and classes), cut bounds, the
observation of unmanaged charging and availability, and the split of class schedules.

Every kernel works on sessions laid out as ``arrival`` (step), ``length`` (steps) and
``start`` (offset of the session's first slot in the flat slot arrays), on a periodic
horizon of ``n_steps`` steps: slot ``k`` of session ``i`` is step
``(arrival[i] + k) % n_steps``. Energies are watt-hours per step [Wh]; the aggregate
``load`` is the energy drawn in each step [Wh], background included.

The best response of one vehicle to the load of all the others is the solution of

    minimise  sum_t (others_t + x_t)^2
    s.t.      lo_t <= x_t <= hi_t,   sum_t x_t = energy,
              sum over export slots of -x_t <= export_max            (V2G only)

whose solution is ``x_t = clip(level - others_t, lo_t, hi_t)`` for one water ``level``
(valley filling; with ``lo_t < 0`` the same level drains the highest steps). The level
is found exactly by walking the sorted breakpoints of the piecewise-linear sum.

Gauss-Seidel sweeps of best responses minimise ``sum_t load_t^2`` over the fleet's
schedules; no sweep raises the peak of ``load`` (each best response minimises the
maximum over its own window). The minimiser of ``sum_t load_t^2`` is also a minimiser of
the peak (Fujishige 1980: a lexicographically optimal base of a polymatroid minimises
every separable convex function of the same shape, hence also the maximum).

References
----------
Fujishige, S. (1980). Lexicographically optimal base of a polymatroid with respect to a
weight vector. Mathematics of Operations Research 5(2), 186-196.
Gan, L., Topcu, U., Low, S. H. (2013). Optimal decentralized protocol for electric
vehicle charging. IEEE Transactions on Power Systems 28(2), 940-951.
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: Phases of a V2G session's slots: charge before the peak block, export in it, charge
#: after it (every slot of a session without V2G is ``CHARGE``).
PRE, EXPORT, CHARGE = 0, 1, 2


@njit(cache=True, nogil=True)
def water_level(others: np.ndarray, lo: np.ndarray, hi: np.ndarray, n: int,
                target: float, keys: np.ndarray, slope: np.ndarray) -> float:  # pragma: no cover
    """The level ``L`` with ``sum_j clip(L - others_j, lo_j, hi_j) = target`` (first ``n``).

    ``keys`` and ``slope`` are work buffers of length >= ``n``. ``target`` outside
    ``[sum lo, sum hi]`` is clamped to the nearest end.
    """
    total_lo = 0.0
    k = 0
    width = hi[0] - lo[0] if n > 0 else 0.0
    uniform = True
    for j in range(n):
        total_lo += lo[j]
        if hi[j] - lo[j] != width:
            uniform = False
        if hi[j] > lo[j]:
            keys[k] = others[j] + lo[j]
            slope[k] = others[j] + hi[j]
            k += 1
    if k == 0:
        return 0.0
    keys[:k].sort()
    if uniform:
        # the upper breakpoints: the lower ones shifted by the width
        return _level_from_sorted(keys, keys, width, k, total_lo, target)
    slope[:k].sort()
    return _level_from_sorted(keys, slope, 0.0, k, total_lo, target)


@njit(cache=True, nogil=True)
def _level_from_sorted(starts: np.ndarray, ends: np.ndarray, shift: float, n: int,
                       total_lo: float, target: float) -> float:  # pragma: no cover
    """:func:`water_level` from its sorted lower (slope +1) and upper (slope -1, each
    ``ends[q] + shift``) breakpoints, the first ``n`` of each: one merge of the two."""
    value = total_lo
    prev = starts[0]
    if target <= value:
        return prev
    p = 0  # next lower breakpoint
    q = 0  # next upper breakpoint
    s = 0.0
    while q < n:
        if p < n and starts[p] <= ends[q] + shift:
            b = starts[p]
            ds = 1.0
            p += 1
        else:
            b = ends[q] + shift
            ds = -1.0
            q += 1
        nxt = value + s * (b - prev)
        if nxt >= target and s > 0.0:
            return prev + (target - value) / s
        value = nxt
        prev = b
        s += ds
    return prev


@njit(cache=True, nogil=True)
def _region(others: np.ndarray, lo: np.ndarray, hi: np.ndarray, phase: np.ndarray, m: int,
            first: int, last: int, target: float, x: np.ndarray, so: np.ndarray,
            sl: np.ndarray, sh: np.ndarray, keys: np.ndarray,
            slope: np.ndarray) -> float:  # pragma: no cover
    """Fill the slots whose phase is in ``first..last`` with ``target``; their level."""
    k = 0
    for j in range(m):
        if first <= phase[j] <= last:
            so[k] = others[j]
            sl[k] = lo[j]
            sh[k] = hi[j]
            k += 1
    level = water_level(so, sl, sh, k, target, keys, slope)
    for j in range(m):
        if first <= phase[j] <= last:
            x[j] = min(max(level - others[j], lo[j]), hi[j])
    return level


@njit(cache=True, nogil=True)
def _sums(x: np.ndarray, phase: np.ndarray, m: int) -> tuple[float, float, float]:
    """(pre, pre + export, all) sums of a session's schedule."""
    pre = 0.0
    before = 0.0
    total = 0.0
    for j in range(m):
        total += x[j]
        if phase[j] <= EXPORT:
            before += x[j]
            if phase[j] == PRE:
                pre += x[j]
    return pre, before, total



@njit(cache=True, nogil=True)
def _respond(i: int, arrival: np.ndarray, length: np.ndarray, start: np.ndarray,
             lo: np.ndarray, hi: np.ndarray, phase: np.ndarray, energy: np.ndarray,
             export_max: np.ndarray, pre_max: np.ndarray, x: np.ndarray, load: np.ndarray,
             n_steps: int, others: np.ndarray, blo: np.ndarray, bhi: np.ndarray,
             bph: np.ndarray, bx: np.ndarray, so: np.ndarray, sl: np.ndarray,
             sh: np.ndarray, keys: np.ndarray, slope: np.ndarray) -> None:  # pragma: no cover
    """Replace session ``i``'s schedule by its best response to the others' load.

    A V2G session's slots are in three phases: ``PRE`` (charge, before the peak block),
    ``EXPORT`` (discharge, in the block), ``CHARGE`` (after it). Its state of charge
    stays within [reserve, target] iff (A) pre + export >= -export_max and (B)
    pre <= pre_max. The best response tries the active sets {}, {A}, {B}, {A, B} in turn
    and keeps the first whose levels satisfy the optimality conditions (Karush-Kuhn-
    Tucker: the export level is not below the charging level when A binds; the pre
    level is not above the later level when B binds).
    """
    m = length[i]
    s0 = start[i]
    a = arrival[i]
    e = energy[i]
    for k in range(m):
        t = (a + k) % n_steps
        load[t] -= x[s0 + k]
        others[k] = load[t]
        blo[k] = lo[s0 + k]
        bhi[k] = hi[s0 + k]
        bph[k] = phase[s0 + k]
    _region(others, blo, bhi, bph, m, PRE, CHARGE, e, bx, so, sl, sh, keys, slope)
    xa = export_max[i]
    if xa > 0.0:
        eb = pre_max[i]
        tol = 1e-9 * (abs(e) + xa + 1.0)
        pre, before, _ = _sums(bx, bph, m)
        if before < -xa - tol or pre > eb + tol:
            # A binds
            l12 = _region(others, blo, bhi, bph, m, PRE, EXPORT, -xa, bx, so, sl, sh, keys,
                          slope)
            l3 = _region(others, blo, bhi, bph, m, CHARGE, CHARGE, e + xa, bx, so, sl, sh,
                         keys, slope)
            pre, before, _ = _sums(bx, bph, m)
            if not (l12 >= l3 - tol and pre <= eb + tol):
                # B binds
                l1 = _region(others, blo, bhi, bph, m, PRE, PRE, eb, bx, so, sl, sh, keys,
                             slope)
                l23 = _region(others, blo, bhi, bph, m, EXPORT, CHARGE, e - eb, bx, so, sl,
                              sh, keys, slope)
                pre, before, _ = _sums(bx, bph, m)
                if not (l23 >= l1 - tol and before >= -xa - tol):
                    # both bind
                    _region(others, blo, bhi, bph, m, EXPORT, EXPORT, -xa - eb, bx, so, sl,
                            sh, keys, slope)
                    _region(others, blo, bhi, bph, m, CHARGE, CHARGE, e + xa, bx, so, sl,
                            sh, keys, slope)
                    _, _, total = _sums(bx, bph, m)
                    if abs(total - e) > tol:
                        # not reachable: fall back to A alone (exact energy)
                        _region(others, blo, bhi, bph, m, PRE, EXPORT, -xa, bx, so, sl, sh,
                                keys, slope)
                        _region(others, blo, bhi, bph, m, CHARGE, CHARGE, e + xa, bx, so,
                                sl, sh, keys, slope)
    for k in range(m):
        x[s0 + k] = bx[k]
        load[(a + k) % n_steps] += bx[k]


@njit(cache=True, nogil=True)
def sweeps(arrival: np.ndarray, length: np.ndarray, start: np.ndarray, lo: np.ndarray,
           hi: np.ndarray, phase: np.ndarray, energy: np.ndarray, export_max: np.ndarray,
           pre_max: np.ndarray, x: np.ndarray, load: np.ndarray, n_steps: int,
           max_sweeps: int, rtol: float, which: np.ndarray,
           peak_rtol: float = 0.0) -> tuple[int, bool]:  # pragma: no cover
    """Gauss-Seidel sweeps of the best responses of sessions ``which``, in place on ``x``
    and ``load`` (the other sessions keep their schedules).

    Stops after ``max_sweeps``, when no step's load moved by more than ``rtol`` of the
    largest load in a sweep, or (``peak_rtol > 0``) when a sweep lowered the peak by
    less than ``peak_rtol`` of it. Returns the number of sweeps done and whether it
    stopped on a criterion (not for ``max_sweeps``).
    """
    mmax = 1
    for i in which:
        mmax = max(mmax, length[i])
    others = np.empty(mmax)
    blo = np.empty(mmax)
    bhi = np.empty(mmax)
    bph = np.empty(mmax, dtype=np.int8)
    bx = np.empty(mmax)
    so = np.empty(mmax)
    sl = np.empty(mmax)
    sh = np.empty(mmax)
    keys = np.empty(2 * mmax)
    slope = np.empty(2 * mmax)
    before = load.copy()
    done = 0
    for _ in range(max_sweeps):
        for i in which:
            _respond(i, arrival, length, start, lo, hi, phase, energy, export_max, pre_max,
                     x, load, n_steps, others, blo, bhi, bph, bx, so, sl, sh, keys, slope)
        done += 1
        change = 0.0
        scale = 0.0
        old_peak = before[0]
        new_peak = load[0]
        for t in range(n_steps):
            change = max(change, abs(load[t] - before[t]))
            scale = max(scale, abs(load[t]))
            old_peak = max(old_peak, before[t])
            new_peak = max(new_peak, load[t])
            before[t] = load[t]
        if change <= rtol * scale:
            return done, True
        if peak_rtol > 0.0 and old_peak - new_peak <= peak_rtol * abs(new_peak):
            return done, True
    return done, False


@njit(cache=True, nogil=True)
def charge_at_plug_in(length: np.ndarray, start: np.ndarray, cap: np.ndarray,
                      energy: np.ndarray, n_slots: int) -> np.ndarray:  # pragma: no cover
    """Unmanaged: energy per slot [Wh] charging at full power from plug-in."""
    x = np.zeros(n_slots)
    for i in range(length.size):
        remaining = energy[i]
        s0 = start[i]
        for k in range(length[i]):
            if remaining <= 0.0:
                break
            e = min(cap[i], remaining)
            x[s0 + k] = e
            remaining -= e
    return x


#: Rows of the per-step sums filled by :func:`observe_sessions`.
(OBS_UNMANAGED, OBS_ASAP, OBS_ALAP, OBS_PLUGGED, OBS_PLUGGED_KW, OBS_CHARGING,
 OBS_PLUGGED_V2G, OBS_EXPORT_KW, OBS_SOC, OBS_SOC_UNMANAGED, OBS_BATTERY,
 OBS_HEADROOM) = range(12)
OBS_ROWS = 12


@njit(cache=True, nogil=True)
def observe_sessions(arrival: np.ndarray, length: np.ndarray, cap: np.ndarray,
                     energy: np.ndarray, max_kw: np.ndarray, export_kw: np.ndarray,
                     battery: np.ndarray, reserve: np.ndarray, arrival_kwh: np.ndarray,
                     eligible: np.ndarray, n_steps: int, peak_step: int, sums: np.ndarray,
                     at_peak: np.ndarray) -> None:  # pragma: no cover
    """Per-step sums of unmanaged charging and availability, one pass over the slots.

    Adds into ``sums`` (rows ``OBS_*``, ``n_steps`` columns): unmanaged energy [Wh]
    (charging at full power from plug-in), the same and as-late-as-possible energy for
    slots before the horizon wraps [Wh], vehicles plugged in, their charger power [kW],
    vehicles charging if unmanaged; for V2G-eligible vehicles: plugged in, export power
    [kW], state of charge at the start of the step [kWh] charging as late as possible
    and unmanaged, battery [kWh], headroom above the reserve [kWh]. ``at_peak`` adds the
    eligible vehicles' reserve and battery [kWh] plugged in at ``peak_step``.
    """
    for i in range(arrival.size):
        c = cap[i]
        e = energy[i]
        m = length[i]
        remaining = e
        soc_un = arrival_kwh[i]
        soc_alap = arrival_kwh[i]
        elig = eligible[i]
        for k in range(m):
            t = (arrival[i] + k) % n_steps
            un = min(c, remaining) if remaining > 0.0 else 0.0
            remaining -= un
            alap = min(max(e - (m - 1 - k) * c, 0.0), c)
            sums[OBS_UNMANAGED, t] += un
            if arrival[i] + k < n_steps:
                sums[OBS_ASAP, t] += un
                sums[OBS_ALAP, t] += alap
            sums[OBS_PLUGGED, t] += 1.0
            sums[OBS_PLUGGED_KW, t] += max_kw[i]
            if un > 0.0:
                sums[OBS_CHARGING, t] += 1.0
            if elig:
                sums[OBS_PLUGGED_V2G, t] += 1.0
                sums[OBS_EXPORT_KW, t] += export_kw[i]
                sums[OBS_SOC, t] += soc_alap
                sums[OBS_SOC_UNMANAGED, t] += soc_un
                sums[OBS_BATTERY, t] += battery[i]
                sums[OBS_HEADROOM, t] += max(soc_alap - reserve[i], 0.0)
                if t == peak_step:
                    at_peak[0] += reserve[i]
                    at_peak[1] += battery[i]
            soc_un += un / 1000.0
            soc_alap += alap / 1000.0


@njit(cache=True, nogil=True)
def v2g_margins(start: np.ndarray, length: np.ndarray, wh: np.ndarray,
                arrival_kwh: np.ndarray, reserve: np.ndarray) -> tuple[float, float, int]:
    """(exported energy [Wh], least state of charge above the reserve [kWh], sessions
    that export) of a schedule ``wh`` [Wh per slot]."""
    exported = 0.0
    margin = np.inf
    exporting = 0
    for i in range(start.size):
        soc = arrival_kwh[i]
        out = 0.0
        for k in range(length[i]):
            x = wh[start[i] + k]
            if x < 0.0:
                out -= x
            soc += x / 1000.0
            margin = min(margin, soc - reserve[i])
        exported += out
        if out > 0.0:
            exporting += 1
    return exported, margin, exporting


@njit(cache=True, nogil=True)
def _share(y: float, kc: float, big_r: float, q: float, theta: float) -> tuple[float, float]:
    """``(phi, psi)`` of a class slot carrying ``y`` [Wh] (:mod:`evflex.simulate.classes`):
    ``kc`` the class's limit per step, ``big_r`` the sum of its sessions' remainders."""
    slack = kc - big_r
    if slack <= 1e-9 * kc:
        # every r_i = c: equal shares
        return y / kc * (q - 1.0) / q, y / kc / q
    lo = max(0.0, (y - big_r) / slack)
    phi = lo + theta * (y / kc - lo)
    return phi, max((y - kc * phi) / big_r, 0.0)


@njit(cache=True, nogil=True)
def class_theta(length: np.ndarray, start: np.ndarray, count: np.ndarray, cap: np.ndarray,
                q: np.ndarray, energy: np.ndarray, y: np.ndarray,
                theta: np.ndarray) -> None:  # pragma: no cover
    """Each class's interpolation ``theta`` that makes ``sum phi = q - 1`` for the class
    schedule ``y`` [Wh per slot] (:mod:`evflex.simulate.classes`)."""
    for j in range(length.size):
        kc = count[j] * cap[j]
        big_r = energy[j] - count[j] * (q[j] - 1.0) * cap[j]   # sum of r_i, in (0, k c]
        slack = kc - big_r
        theta[j] = 0.0
        if slack <= 1e-9 * kc:
            continue
        sum_lo = 0.0
        sum_hi = 0.0
        for k in range(start[j], start[j] + length[j]):
            sum_lo += max(0.0, (y[k] - big_r) / slack)
            sum_hi += y[k] / kc
        width = sum_hi - sum_lo
        if width > 0.0:
            theta[j] = min(max((q[j] - 1.0 - sum_lo) / width, 0.0), 1.0)


@njit(cache=True, nogil=True)
def split_slots(cls: np.ndarray, sess: np.ndarray, energy: np.ndarray,
                session_start: np.ndarray, class_start: np.ndarray, length: np.ndarray,
                count: np.ndarray, cap: np.ndarray, q: np.ndarray, class_energy: np.ndarray,
                theta: np.ndarray, y: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover
    """Session ``sess[j]`` of class ``cls[j]`` gets ``c phi_t + r psi_t`` per slot [Wh],
    ``r = energy[j] - (q - 1) c`` (see :mod:`evflex.simulate.classes`)."""
    for j in range(cls.size):
        k = cls[j]
        kc = count[k] * cap[k]
        big_r = class_energy[k] - count[k] * (q[k] - 1.0) * cap[k]
        r = energy[j] - (q[k] - 1.0) * cap[k]
        s0 = session_start[sess[j]]
        c0 = class_start[k]
        for o in range(length[k]):
            phi, psi = _share(y[c0 + o], kc, big_r, q[k], theta[k])
            out[s0 + o] = cap[k] * phi + r * psi


@njit(cache=True, nogil=True)
def cut_rises(arrival: np.ndarray, length: np.ndarray, cap: np.ndarray, need: np.ndarray,
              pos: np.ndarray, n_steps: int, rise: np.ndarray) -> None:  # pragma: no cover
    r"""Add into ``rise[k]`` how much the rows' forced energy grows when the step at
    position ``k`` of an order of the steps (``pos[t]``: the position of step ``t``)
    joins the set of the steps before it.

    The forced energy of a set ``S`` is ``sum_i max(0, need_i - cap_i |W_i \ S|)``, so
    ``(background(S_k) + cumsum(rise)[k - 1]) / k`` is the cut bound of the first ``k``
    steps (:func:`evflex.simulate.strategies.cut_bound`). Row ``i``'s forced energy rises
    only when one of the last ``q_i`` of its steps (in the order) joins.
    """
    mmax = 1
    for i in range(arrival.size):
        mmax = max(mmax, length[i])
    buf = np.empty(mmax, np.int64)
    for i in range(arrival.size):
        m = length[i]
        c = cap[i]
        e = need[i]
        if e <= 0.0:
            continue
        for k in range(m):
            buf[k] = pos[(arrival[i] + k) % n_steps]
        steps = np.sort(buf[:m])
        # after the j-th of its steps joins (j = 1..m), m - j steps stay outside
        for j in range(m, 0, -1):
            outside = m - j
            now = e - c * outside
            if now <= 0.0:
                break
            rise[steps[j - 1]] += now - max(e - c * (outside + 1), 0.0)


@njit(cache=True, nogil=True)
def fill_sweeps(arrival: np.ndarray, length: np.ndarray, start: np.ndarray, cap: np.ndarray,
                need: np.ndarray, x: np.ndarray, load: np.ndarray, n_steps: int,
                n_sweeps: int) -> None:  # pragma: no cover
    """Gauss-Seidel valley filling of rows charging ``0 <= x <= cap[i]`` per slot, in
    place on ``x`` and ``load``: :func:`sweeps` without V2G phases or per-slot bounds
    (row ``i``'s best response is ``clip(level - others, 0, cap[i])``)."""
    mmax = 1
    for i in range(arrival.size):
        mmax = max(mmax, length[i])
    others = np.empty(mmax)
    starts = np.empty(mmax)
    for _ in range(n_sweeps):
        for i in range(arrival.size):
            m = length[i]
            c = cap[i]
            if m == 0 or c <= 0.0:
                continue
            s0 = start[i]
            t = arrival[i]
            for k in range(m):
                load[t] -= x[s0 + k]
                others[k] = load[t]
                t += 1
                if t == n_steps:
                    t = 0
            starts[:m] = others[:m]
            starts[:m].sort()
            level = _level_from_sorted(starts, starts, c, m, 0.0, need[i])
            t = arrival[i]
            for k in range(m):
                v = min(max(level - others[k], 0.0), c)
                x[s0 + k] = v
                load[t] += v
                t += 1
                if t == n_steps:
                    t = 0


@njit(cache=True, nogil=True)
def block_run(arrival: np.ndarray, length: np.ndarray, block: np.ndarray,
              n_steps: int) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover
    """Per session, the offset of its first step in ``block`` (its length when none) and
    of the first step after that run of block steps (its length when the run lasts to
    departure)."""
    n = arrival.size
    first = length.copy()
    end = length.copy()
    for i in range(n):
        t = arrival[i] % n_steps
        inside = False
        for k in range(length[i]):
            if block[t]:
                if not inside and first[i] == length[i]:
                    first[i] = k
                    inside = True
            elif inside:
                end[i] = k
                break
            t += 1
            if t == n_steps:
                t = 0
    return first, end
