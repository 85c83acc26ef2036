"""Benchmark: vehicle simulation throughput [vehicle-steps/s], peak memory, and the exact
min-peak schedule against the linear programme solved by HiGHS.

    python benchmarks/bench_simulate.py [--vehicles 20000] [--days 7] [--lp-vehicles 10000]

A vehicle-step is one vehicle over one step of the horizon (15 min), plugged in or not,
as the peers count them. Measured in the same run:

- ``baseline_python_loop``: the unmanaged simulation with state of charge, one vehicle
  and one step at a time in Python (what a per-agent simulator does), on a subset of
  the same sessions;
- ``simulate_unmanaged`` (compiled, numba): the same loop, every vehicle, with state of
  charge, plug-in count and load per step;
- the whole ``evflex.simulate.run.simulate`` with one, two and three strategies, with
  peak memory (tracemalloc);
- min-peak managed charging of ``--lp-vehicles`` vehicles over one day: the exact
  schedule with its proof (:func:`evflex.simulate.strategies.min_peak`, flow only and
  with the valley-filling sweeps) against ``scipy.optimize.linprog(method="highs-ipm")``
  on the same sessions, with both peaks (base load 0.6 kW per vehicle, so that the
  fleet sets the peak).

Peers measured on a 2-core machine (issue 3), listed for orientation, not run here:
emobpy about 720 vehicle-steps/s, SpiceEV about 61,000, EV2Gym 48,000-94,000
charger-steps/s, acnportal with EDF 16,000-50,000 EVSE-steps/s.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import coo_array

from evflex.simulate import kernels
from evflex.simulate.archetypes import Sessions, parse_mix, sample_sessions, shipped_archetypes
from evflex.simulate.run import SimulationConfig, read_base_load, simulate
from evflex.simulate.strategies import Slots, aggregate, min_peak, session_slots

STEP_MINUTES = 15
STEPS_PER_DAY = 1440 // STEP_MINUTES


def baseline_python_loop(s: Sessions, n_vehicles: int, days: int) -> np.ndarray:
    """Unmanaged charging with state of charge, vehicle by vehicle, step by step."""
    load = np.zeros(s.n_steps)
    for v in range(n_vehicles):
        for d in range(days):
            i = v * days + d
            soc = float(s.arrival_kwh[i]) * 1000.0
            remaining = float(s.energy_wh[i])
            cap = float(s.slot_wh[i])
            for k in range(int(s.departure[i] - s.arrival[i])):
                e = min(cap, remaining) if remaining > 0 else 0.0
                remaining -= e
                soc += e
                load[(s.arrival[i] + k) % s.n_steps] += e
    return load


def compiled_loop(s: Sessions, n_vehicles: int, days: int) -> np.ndarray:
    load = np.zeros(s.n_steps)
    kernels.simulate_unmanaged(np.arange(n_vehicles) * days, days, s.arrival.astype(np.int64),
                               (s.departure - s.arrival).astype(np.int64),
                               s.slot_wh.astype(float), s.energy_wh.astype(float),
                               s.arrival_kwh * 1000.0, s.n_steps, load, np.zeros(s.n_steps),
                               np.zeros(s.n_steps))
    return load


def lp_peak(s: Sessions, slots: Slots, background: np.ndarray) -> float:
    m, h, n = slots.size, s.n_steps, len(s)
    c = np.zeros(m + 1)
    c[-1] = 1.0
    a_eq = coo_array((np.ones(m), (slots.row, np.arange(m))), shape=(n, m + 1))
    a_ub = coo_array((np.r_[np.ones(m), -np.ones(h)],
                      (np.r_[slots.col, np.arange(h)], np.r_[np.arange(m), np.full(h, m)])),
                     shape=(h, m + 1))
    bounds = np.column_stack([np.r_[np.zeros(m), -np.inf],
                              np.r_[s.slot_wh[slots.row].astype(float), np.inf]])
    res = linprog(c, A_ub=a_ub.tocsr(), b_ub=-background, A_eq=a_eq.tocsr(),
                  b_eq=s.energy_wh.astype(float), bounds=bounds, method="highs-ipm")
    if res.status != 0:
        raise RuntimeError(res.message)
    return float(res.fun)


def timed(fn, repeat: int = 3) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vehicles", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--lp-vehicles", type=int, default=10_000)
    args = parser.parse_args()
    arch = shipped_archetypes()
    mix = parse_mix(None, arch)
    steps = args.days * STEPS_PER_DAY

    s = sample_sessions(args.vehicles, args.days, STEP_MINUTES, 1, mix, arch)
    compiled_loop(s, 10, args.days)  # compile (or load the cache) outside the timing
    n_base = 300
    t_base, ref = timed(lambda: baseline_python_loop(s, n_base, args.days), repeat=1)
    base_rate = n_base * steps / t_base
    t_fast, small = timed(lambda: compiled_loop(s, n_base, args.days))
    assert np.allclose(small, ref), "the compiled loop differs from the Python baseline"
    t_all, _ = timed(lambda: compiled_loop(s, args.vehicles, args.days))

    rows = [(f"baseline_python_loop (unmanaged + SoC, {n_base} vehicles)", base_rate, ""),
            (f"simulate_unmanaged, compiled ({n_base} vehicles)", n_base * steps / t_fast, ""),
            (f"simulate_unmanaged, compiled ({args.vehicles:,} vehicles)",
             args.vehicles * steps / t_all, "")]
    for strategies, label in ((("unmanaged",), "simulate: unmanaged + bands + SoC"),
                              (("unmanaged", "managed"), "simulate: + exact min-peak"),
                              (("unmanaged", "managed", "v2g"), "simulate: + V2G")):
        n = args.vehicles // (1 if len(strategies) == 1 else 2)
        tracemalloc.start()
        t0 = time.perf_counter()
        simulate(SimulationConfig(vehicles=n, days=args.days, strategies=strategies,
                                  keep_sessions=False))
        elapsed = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rows.append((f"{label} ({n:,} vehicles)", n * args.days * STEPS_PER_DAY / elapsed,
                     f"peak {peak / 2**20:,.0f} MiB"))

    print(f"{'case':<58} {'vehicle-steps/s':>16} {'x baseline':>11}  note")
    for label, rate, note in rows:
        print(f"{label:<58} {rate:>16,.0f} {rate / base_rate:>11.1f}  {note}")

    # the exact min-peak schedule against HiGHS, one day of --lp-vehicles vehicles
    n = args.lp_vehicles
    s1 = sample_sessions(n, 1, STEP_MINUTES, 2, mix, arch)
    slots = session_slots(s1)
    hours = np.arange(STEPS_PER_DAY) * STEP_MINUTES // 60
    # half the shipped base load per vehicle, so that the fleet, not the base, sets the peak
    background = read_base_load()[hours] * 0.6 * n * 1000.0 * s1.dt_h
    t_flow, exact = timed(lambda: min_peak(s1, slots, background, flatten=False))
    t_full, full = timed(lambda: min_peak(s1, slots, background))
    t0 = time.perf_counter()
    optimum = lp_peak(s1, slots, background)
    t_lp = time.perf_counter() - t0
    kw = 1.0 / (1000.0 * s1.dt_h)
    peak = float((background + aggregate(slots, full.wh, s1.n_steps)).max())  # type: ignore[attr-defined]
    print(f"\nmin-peak, {n:,} vehicles x 1 day ({slots.size:,} plugged vehicle-steps):")
    print(f"  HiGHS (linprog highs-ipm)        {t_lp:8.3f} s   peak {optimum * kw:,.3f} kW")
    print(f"  evflex min_peak, flow + proof    {t_flow:8.3f} s   peak "
          f"{exact.level_wh * kw:,.3f} kW   lower bound {exact.lower_wh * kw:,.3f} kW"  # type: ignore[attr-defined]
          f"   {t_lp / t_flow:,.0f}x faster")
    print(f"  evflex min_peak, + valley fill   {t_full:8.3f} s   peak {peak * kw:,.3f} kW"
          f"   {t_lp / t_full:,.0f}x faster   relative to HiGHS {peak / optimum - 1:+.2e}")
    print("\npeers on 2 cores (issue 3, not run here): emobpy ~720, SpiceEV ~61,000 "
          "vehicle-steps/s; acnportal EDF 16,000-50,000 EVSE-steps/s")


if __name__ == "__main__":
    main()
