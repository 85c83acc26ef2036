"""Benchmark: what users run, timed as they run it, with the three ratios of issue 18.

    python benchmarks/bench_simulate.py [--vehicles 100000] [--lp-vehicles 10000]
        [--memory-vehicles 1000000] [--days 7] [--repeat 1]

Every case runs in its own fresh Python process (no profiler, no tracemalloc), after a
tiny warm-up run in that process that loads the compiled kernels; the time is the wall
time of the public call, the memory is the process's peak resident set size (RSS, from
``resource.getrusage``), which includes the interpreter and its libraries.

1. **Throughput**: ``evflex.simulate.simulate`` with every strategy (unmanaged, exact
   min-peak managed, V2G) on ``--vehicles`` vehicles x ``--days`` days x 15 min, in
   vehicle-steps per second (one vehicle over one step, plugged in or not), against
   the goal of 10 M vehicle-steps/s; unmanaged alone for comparison; and the CLI
   ``evflex simulate`` end to end (process start to files written; its default is two
   V2G passes). Each simulate case also reports the longest time without a progress
   report (what a progress bar would show as silence) and the process's CPU time
   (wall time above it means the process waited for a core: the machine was busy).
2. **Against HiGHS**: the min-peak managed schedule of ``--lp-vehicles`` vehicles over
   the same ``--days`` (one chunk, the base load set so that the fleet makes the peak),
   evflex (:func:`evflex.simulate.classes.min_peak_classes` from the sessions, with
   the split back to sessions) against ``scipy.optimize.linprog(method="highs-ipm")``
   on the min-peak linear programme of the same sessions; the same ``--repeat`` runs
   on both sides, the best of each; both peaks and their relative difference.
3. **Memory**: peak RSS of every strategy at ``--memory-vehicles`` vehicles against
   the goal of 2 GB.

Numbers depend on the machine and on what else runs on it: the first lines printed say
which machine, and its load average.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

GOAL_STEPS_PER_S = 10e6
GOAL_HIGHS_RATIO = 100.0
GOAL_RSS_BYTES = 2e9

CHILD = textwrap.dedent("""
    import json, resource, sys, time
    case = json.loads(sys.argv[1])
    from evflex.simulate import SimulationConfig, simulate
    simulate(SimulationConfig(vehicles=100, days=1, keep_sessions=False))  # warm-up
    if case["kind"] == "simulate":
        config = SimulationConfig(vehicles=case["vehicles"], days=case["days"],
                                  strategies=tuple(case["strategies"]), keep_sessions=False)
        reports = []
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        result = simulate(config, progress=lambda done, total: reports.append(time.perf_counter()))
        elapsed = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
        marks = [t0, *reports, t0 + elapsed]
        extra = {k: float(v) for k, v in result.summary.items()
                 if k.startswith("peak_") or k == "managed_gap"}
        extra["silence_s"] = max(b - a for a, b in zip(marks[:-1], marks[1:]))
        extra["cpu_s"] = cpu
    else:
        import numpy as np
        from scipy.optimize import linprog
        from scipy.sparse import coo_array
        from evflex.simulate.archetypes import parse_mix, sample_sessions, shipped_archetypes
        from evflex.simulate.classes import (class_shares, count_classes, min_peak_classes,
                                            split_class_schedule)
        from evflex.simulate.run import read_base_load
        from evflex.simulate.strategies import aggregate, session_slots
        arch = shipped_archetypes()
        n, days = case["vehicles"], case["days"]
        s = sample_sessions(n, days, 15, 2, parse_mix(None, arch), arch)
        slots = session_slots(s)
        hours = (np.arange(s.n_steps) % 96) * 15 // 60
        # 0.6 kW of base load per vehicle: the fleet, not the base, sets the peak
        background = read_base_load()[hours] * 0.6 * n * 1000.0 * s.dt_h
        if case["kind"] == "evflex":
            def solve():
                classes = count_classes(s)
                exact = min_peak_classes(classes, background)
                wh = split_class_schedule(class_shares(classes, exact.wh, exact.start), s,
                                          slots.start)
                return float((background + aggregate(slots, wh, s.n_steps)).max())
        else:
            def solve():
                m, h, k = slots.size, s.n_steps, len(s)
                c = np.zeros(m + 1)
                c[-1] = 1.0
                a_eq = coo_array((np.ones(m), (slots.row, np.arange(m))), shape=(k, m + 1))
                a_ub = coo_array((np.r_[np.ones(m), -np.ones(h)],
                                  (np.r_[slots.col, np.arange(h)],
                                   np.r_[np.arange(m), np.full(h, m)])), shape=(h, m + 1))
                bounds = np.column_stack([np.r_[np.zeros(m), -np.inf],
                                          np.r_[s.slot_wh[slots.row].astype(float), np.inf]])
                res = linprog(c, A_ub=a_ub.tocsr(), b_ub=-background, A_eq=a_eq.tocsr(),
                              b_eq=s.energy_wh.astype(float), bounds=bounds,
                              method="highs-ipm")
                assert res.status == 0, res.message
                return float(res.fun)
        times, peak = [], 0.0
        for _ in range(case["repeat"]):
            t0 = time.perf_counter()
            peak = solve()
            times.append(time.perf_counter() - t0)
        elapsed = min(times)
        extra = {"peak_kw": peak / (1000.0 * s.dt_h), "plugged_steps": int(slots.size)}
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    print(json.dumps({"elapsed_s": elapsed, "rss_bytes": rss, **extra}))
""")


def run_child(case: dict) -> dict:  # type: ignore[type-arg]
    out = subprocess.run([sys.executable, "-c", CHILD, json.dumps(case)], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def run_cli(vehicles: int, days: int) -> tuple[float, float]:
    """Wall time [s] and peak RSS [bytes] of ``evflex simulate`` as a user runs it."""
    import time

    with tempfile.TemporaryDirectory() as tmp:
        exe = shutil.which("evflex")
        start = [exe] if exe else [sys.executable, "-c", "from evflex.cli import app; app()"]
        cmd = [*start, "simulate", "--vehicles", str(vehicles),
               "--days", str(days), "--no-sessions", "--quiet", "--out", str(Path(tmp) / "sim")]
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise RuntimeError(f"evflex simulate failed ({proc.returncode})")
    return elapsed, usage.ru_maxrss * 1024.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vehicles", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--lp-vehicles", type=int, default=10_000)
    parser.add_argument("--memory-vehicles", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    steps = args.days * 96
    load_before = os.getloadavg()[0]
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, load average {load_before:.1f} "
          "(other work on the machine slows every case)")

    def sim(vehicles: int, strategies: list[str]) -> dict:  # type: ignore[type-arg]
        return run_child({"kind": "simulate", "vehicles": vehicles, "days": args.days,
                          "strategies": strategies})

    n = args.vehicles
    rows = []
    un = sim(n, ["unmanaged"])
    rows.append(("simulate: unmanaged", n, un))
    full = sim(n, ["unmanaged", "managed", "v2g"])
    rows.append(("simulate: unmanaged + managed + V2G", n, full))
    print(f"\n{'case':<42} {'vehicles':>10} {'time [s]':>9} {'vehicle-steps/s':>16} "
          f"{'peak RSS':>10} {'longest silence':>16} {'CPU [s]':>8}")
    for label, vehicles, r in rows:
        print(f"{label:<42} {vehicles:>10,} {r['elapsed_s']:>9.2f} "
              f"{vehicles * steps / r['elapsed_s']:>16,.0f} {r['rss_bytes'] / 1e9:>8.2f} GB "
              f"{r['silence_s']:>14.2f} s {r['cpu_s']:>8.2f}")
    cli_s, cli_rss = run_cli(n, args.days)
    print(f"{'evflex simulate (CLI, every strategy)':<42} {n:>10,} {cli_s:>9.2f} "
          f"{n * steps / cli_s:>16,.0f} {cli_rss / 1e9:>8.2f} GB")

    lp = {"vehicles": args.lp_vehicles, "days": args.days, "repeat": args.repeat}
    ours = run_child({"kind": "evflex", **lp})
    highs = run_child({"kind": "highs", **lp})
    print(f"\nmin-peak managed, {args.lp_vehicles:,} vehicles x {args.days} days "
          f"({ours['plugged_steps']:,} plugged vehicle-steps), best of {args.repeat}:")
    print(f"  HiGHS (linprog highs-ipm)  {highs['elapsed_s']:9.2f} s   peak "
          f"{highs['peak_kw']:,.3f} kW")
    rel = ours["peak_kw"] / highs["peak_kw"] - 1
    print(f"  evflex exact min-peak      {ours['elapsed_s']:9.2f} s   peak "
          f"{ours['peak_kw']:,.3f} kW   relative to HiGHS {rel:+.2e}")

    mem = sim(args.memory_vehicles, ["unmanaged", "managed", "v2g"])
    print(f"\nmemory: every strategy at {args.memory_vehicles:,} vehicles x {args.days} days: "
          f"peak RSS {mem['rss_bytes'] / 1e9:.2f} GB in {mem['elapsed_s']:.1f} s "
          f"({args.memory_vehicles * steps / mem['elapsed_s']:,.0f} vehicle-steps/s, "
          f"managed gap to its proven bound {mem['managed_gap']:.1e}, longest silence "
          f"{mem['silence_s']:.2f} s)")

    rate = n * steps / full["elapsed_s"]
    print("\nratios (goal in brackets; above 1 meets it):")
    print(f"  1. managed + V2G throughput / 10 M vehicle-steps/s: {rate / GOAL_STEPS_PER_S:.3f}"
          f"  ({rate:,.0f} vehicle-steps/s at {n:,} vehicles; per CPU second of the "
          f"process {n * steps / full['cpu_s']:,.0f}, what an idle core would give)")
    ratio = highs["elapsed_s"] / ours["elapsed_s"]
    print(f"  2. HiGHS time / evflex time, same LP: {ratio:,.1f}x  (goal >= "
          f"{GOAL_HIGHS_RATIO:.0f}x: {ratio / GOAL_HIGHS_RATIO:.3f}); HiGHS "
          f"{highs['elapsed_s']:.2f} s, evflex {ours['elapsed_s']:.2f} s; peaks differ "
          f"by {abs(rel):.1e} (goal <= 1e-6)")
    print(f"  3. 2 GB / peak RSS at {args.memory_vehicles:,} vehicles: "
          f"{GOAL_RSS_BYTES / mem['rss_bytes']:.3f}  ({mem['rss_bytes'] / 1e9:.2f} GB)")
    print(f"load average now {os.getloadavg()[0]:.1f} (was {load_before:.1f} at the start)")


if __name__ == "__main__":
    main()
