"""Benchmark: Monte Carlo of the full base scenario with its distributions.

Goal: 10,000 draws of the shipped ``uncertain`` scenario (the base scenario, 4 regions,
2010-2100, with its 34 distributions and 4 correlations) in under 10 s on this 2-core
machine. Run on demand:

    python benchmarks/bench_montecarlo.py [--draws 10000] [--chunk-size 512]
                                          [--baseline-draws 20] [--dask]

Reported: wall time, throughput (draws/s) and peak memory of the Monte Carlo, in-process
with one thread and with one thread per core (and, with ``--dask``, on a local
distributed cluster of 2 worker processes); the peak memory of the same run at a fifth
of the draws, to show that memory does not grow with the number of draws. Because the
machine is shared, each case is also given as a ratio against a named baseline measured
in the same run:

- ``baseline_per_draw_loop``: the obvious way, one ``evflex.model.run`` per draw on a
  scenario with the drawn numbers written in (same draws), timed on ``--baseline-draws``
  draws and extrapolated linearly to ``--draws``. It computes the full result of each
  draw, which the Monte Carlo then reduces to the same quantiles.

Peak memory is the peak of Python-traced allocations (``tracemalloc``; numpy reports its
buffers to it) during the run, in a separate pass from the timed one.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from collections.abc import Callable

from evflex.model import run
from evflex.scenario import load_scenario
from evflex.uncertainty.distributions import Space
from evflex.uncertainty.execute import Executor, chunks
from evflex.uncertainty.montecarlo import run_montecarlo
from evflex.uncertainty.solve import with_numbers

GOAL_S = 10.0


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def peak_mib(fn: Callable[[], object]) -> float:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--draws", type=int, default=10_000)
    parser.add_argument("--chunk-size", type=int, default=512)
    parser.add_argument("--baseline-draws", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dask", action="store_true",
                        help="also run on a local Dask cluster of 2 worker processes")
    args = parser.parse_args()

    scenario = load_scenario("uncertain")
    space = Space.from_scenario(scenario)
    n = args.draws
    run_montecarlo(scenario, 200, args.seed)  # warm-up: imports, caches

    # the baseline: one model run per draw, on the same draws
    [chunk] = chunks(args.seed, 0, args.baseline_draws, args.baseline_draws)
    values = chunk.draw(space)
    scenarios = [with_numbers(scenario, dict(zip(space.names, row, strict=True)))
                 for row in values]
    per_draw = timed(lambda: [run(s).world_state_shares(2100) for s in scenarios])
    baseline = per_draw / args.baseline_draws * n

    rows: dict[str, tuple[float, float | None]] = {}
    for label, threads in (("montecarlo in-process, 1 thread", 1),
                           ("montecarlo in-process, 1 thread per core", None)):
        seconds = timed(lambda threads=threads: run_montecarlo(
            scenario, n, args.seed, args.chunk_size, Executor(threads=threads)))
        rows[label] = (seconds, None)
    default = "montecarlo in-process, 1 thread per core"
    peak = peak_mib(lambda: run_montecarlo(scenario, n, args.seed, args.chunk_size))
    peak_small = peak_mib(lambda: run_montecarlo(scenario, max(n // 5, 2), args.seed,
                                                 args.chunk_size))
    rows[default] = (rows[default][0], peak)
    if args.dask:
        from distributed import Client, LocalCluster

        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            run_montecarlo(scenario, 200, args.seed, executor=Executor(client=client))
            seconds = timed(lambda: run_montecarlo(scenario, n, args.seed, args.chunk_size,
                                                   Executor(client=client)))
        rows["montecarlo on Dask, 2 worker processes"] = (seconds, None)
    rows[f"baseline_per_draw_loop (x{n:,} extrapolated)"] = (baseline, None)

    print(f"{len(space)} distributions, {len(scenario.uncertainty.correlations)} correlations, "
          f"{len(scenario.regions)} regions, {scenario.years.start}-{scenario.years.end}; "
          f"{n:,} draws, chunks of {args.chunk_size}")
    print(f"{'case':<48} {'seconds':>9} {'draws/s':>10} {'x baseline':>11} {'peak MiB':>9}")
    for name, (seconds, mib) in rows.items():
        mem = f"{mib:9.0f}" if mib is not None else f"{'':>9}"
        print(f"{name:<48} {seconds:9.2f} {n / seconds:10,.0f} {seconds / baseline:11.4f} {mem}")
    print(f"\npeak memory: {peak:.0f} MiB at {n:,} draws, {peak_small:.0f} MiB at "
          f"{max(n // 5, 2):,} draws (chunks of {args.chunk_size})")
    best = rows[default][0]
    verdict = "meets" if best < GOAL_S else "MISSES"
    print(f"{n:,} draws in {best:.1f} s — {verdict} the {GOAL_S:.0f} s goal; "
          f"{baseline / best:,.0f}x faster than one model run per draw")


if __name__ == "__main__":
    main()
