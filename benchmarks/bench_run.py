"""Benchmark: one base run in-process (4 regions, 2010-2100, all vintages).

Target: under 50 ms after import. Run on demand:

    python benchmarks/bench_run.py [--repeat 30]

Times are medians over repeats. Because the machine is shared, the run is also reported
as a ratio against a named baseline measured in the same process:

- ``baseline_cell_loop``: the EV stock by vintage of the same scenario computed the way a
  spreadsheet does it, one cell (region, segment, vintage, year) at a time in Python.
  It computes one table of the dozens the engine computes.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

from evflex.checks import run_checks
from evflex.model import run
from evflex.scenario import load_scenario

TARGET_MS = 50.0


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def baseline_cell_loop(ev_sales: np.ndarray, surv_age: np.ndarray) -> np.ndarray:
    """EV stock[r, s, t] = sum over vintages v <= t of sales[r, s, v] * S(t - v), cell by cell."""
    n_r, n_s, n_t = ev_sales.shape
    n_age = surv_age.shape[-1]
    out = np.zeros_like(ev_sales)
    for r in range(n_r):
        for s in range(n_s):
            for t in range(n_t):
                total = 0.0
                for v in range(t + 1):
                    if t - v < n_age:
                        total += float(ev_sales[r, s, v]) * float(surv_age[r, s, t - v])
                out[r, s, t] = total
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()

    scenario = load_scenario("base")
    results = run(scenario)
    ev_sales = results.data["ev_sales_pt"].sum("powertrain").values
    from evflex.fleet.survival import survival_by_age
    surv_age = survival_by_age(results.data["param_survival_mean_life"].values[..., 0],
                               results.data["param_survival_shape"].values[..., 0],
                               scenario.options.survival_max_age)

    rows = {
        "engine run (load excluded)": median_ms(lambda: run(scenario), args.repeat),
        "engine run + frames + checks": median_ms(
            lambda: run_checks(r := run(scenario)) is not None and r.frames(), args.repeat),
        "load scenario + engine run": median_ms(
            lambda: run(load_scenario("base")), max(5, args.repeat // 3)),
        "baseline_cell_loop (EV stock only)": median_ms(
            lambda: baseline_cell_loop(ev_sales, surv_age), max(5, args.repeat // 3)),
    }
    base = rows["baseline_cell_loop (EV stock only)"]
    print(f"{'case':<40} {'median ms':>10} {'x baseline':>11}")
    for name, ms in rows.items():
        print(f"{name:<40} {ms:>10.2f} {ms / base:>11.3f}")
    engine = rows["engine run (load excluded)"]
    verdict = "meets" if engine < TARGET_MS else "MISSES"
    print(f"\nbase run: {engine:.1f} ms — {verdict} the {TARGET_MS:.0f} ms target "
          f"({len(scenario.regions)} regions, {scenario.years.start}-{scenario.years.end}, "
          f"all vintages)")


if __name__ == "__main__":
    main()
