"""Benchmark: vehicle simulation throughput [vehicle-steps/s] and peak memory.

    python benchmarks/bench_simulate.py [--vehicles 20000] [--days 7]

Reported against a named baseline measured in the same run:

- ``baseline_python_loop``: the unmanaged strategy computed one vehicle and one step at a
  time in Python (what a per-agent simulator does), on a subset of the same sessions.

Peers measured on a 2-core machine (issue 3): emobpy about 720 vehicle-steps/s, SpiceEV
about 61,000; they are listed for orientation, not run here.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np

from evflex.simulate.archetypes import parse_mix, sample_sessions, shipped_archetypes
from evflex.simulate.run import SimulationConfig, simulate
from evflex.simulate.strategies import session_slots, unmanaged


def baseline_python_loop(sessions, n_sessions: int) -> np.ndarray:  # type: ignore[no-untyped-def]
    load = np.zeros(sessions.n_steps)
    for i in range(n_sessions):
        remaining = float(sessions.energy_wh[i])
        cap = float(sessions.slot_wh[i])
        for k in range(int(sessions.departure[i] - sessions.arrival[i])):
            if remaining <= 0:
                break
            e = min(cap, remaining)
            load[(sessions.arrival[i] + k) % sessions.n_steps] += e
            remaining -= e
    return load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--vehicles", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=7)
    args = parser.parse_args()
    steps_per_day = 96
    arch = shipped_archetypes()
    mix = parse_mix(None, arch)

    s = sample_sessions(2000, args.days, 15, 1, mix, arch)
    slots = session_slots(s)
    n_base = 300
    t0 = time.perf_counter()
    baseline_python_loop(s, n_base)
    t_base = time.perf_counter() - t0
    base_rate = n_base / args.days * args.days * steps_per_day / t_base

    rows = []
    t0 = time.perf_counter()
    unmanaged(s, slots)
    t_un = time.perf_counter() - t0
    rows.append(("unmanaged kernel (2,000 vehicles)", 2000 * args.days * steps_per_day / t_un))

    for strategies, label in ((("unmanaged",), "simulate: unmanaged + bands"),
                              (("unmanaged", "managed"), "simulate: + min-peak managed"),
                              (("unmanaged", "managed", "v2g"), "simulate: + V2G")):
        n = args.vehicles if "v2g" not in strategies else max(1000, args.vehicles // 10)
        tracemalloc.start()
        t0 = time.perf_counter()
        simulate(SimulationConfig(vehicles=n, days=args.days, strategies=strategies,
                                  keep_sessions=False))
        elapsed = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rows.append((f"{label} ({n:,} vehicles, peak {peak / 2**20:,.0f} MiB)",
                     n * args.days * steps_per_day / elapsed))

    print(f"{'case':<66} {'vehicle-steps/s':>16} {'x baseline':>11}")
    print(f"{'baseline_python_loop (unmanaged, 300 vehicles)':<66} {base_rate:>16,.0f} "
          f"{1.0:>11.1f}")
    for label, rate in rows:
        print(f"{label:<66} {rate:>16,.0f} {rate / base_rate:>11.1f}")
    print("\npeers on 2 cores (issue 3, not run here): emobpy ~720, SpiceEV ~61,000 "
          "vehicle-steps/s")


if __name__ == "__main__":
    main()
