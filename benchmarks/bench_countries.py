"""Benchmark: the country-resolution run in-process, against the block-level run.

Target: the full country run (42 regions, 2010-2100, all vintages) under 100 ms after
import. Run on demand:

    python benchmarks/bench_countries.py [--repeat 30]

Times are medians over repeats; because the machine is shared, the country run is also
reported as a ratio against the block-level ``base`` run (4 regions) measured in the same
process, and against the time per region of that run (the engine is vectorised over
regions, so 10x the regions should cost far less than 10x the time).
"""

from __future__ import annotations

import argparse

from bench_run import median_ms  # the same timing rule as the base benchmark

from evflex.checks import run_checks
from evflex.model import run
from evflex.scenario import load_scenario

TARGET_MS = 100.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()

    base = load_scenario("base")
    countries = load_scenario("countries")
    rows = {
        "base run (4 regions)": median_ms(lambda: run(base), args.repeat),
        "countries run": median_ms(lambda: run(countries), args.repeat),
        "base run + frames + checks": median_ms(
            lambda: run_checks(r := run(base)) is not None and r.frames(),
            max(5, args.repeat // 3)),
        "countries run + frames + checks": median_ms(
            lambda: run_checks(r := run(countries)) is not None and r.frames(),
            max(5, args.repeat // 3)),
    }
    ref = rows["base run (4 regions)"]
    print(f"{'case':<36} {'median ms':>10} {'x base run':>11}")
    for name, ms in rows.items():
        print(f"{name:<36} {ms:>10.2f} {ms / ref:>11.2f}")
    ms = rows["countries run"]
    per_region = (ms / len(countries.regions)) / (ref / len(base.regions))
    verdict = "meets" if ms < TARGET_MS else "MISSES"
    print(f"\ncountries run: {ms:.1f} ms for {len(countries.regions)} regions — {verdict} the "
          f"{TARGET_MS:.0f} ms target; time per region {per_region:.2f}x the base run's")


if __name__ == "__main__":
    main()
