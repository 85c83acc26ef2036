"""Benchmark: `evflex export pypsa base` for 3 years x 4 regions, end to end.

Target: under 10 s on an idle machine, including the Python start, imports (PyPSA takes
seconds to import) and the three NetCDF networks. Run on demand:

    python benchmarks/bench_export.py [--repeat 3]

The machine is shared, so besides wall time the benchmark reports the CPU time of the
child process (user + system, which other agents' load does not inflate) and the ratio
to a baseline measured the same way in the same run: ``evflex scenarios``, the smallest
command (Python start and the CLI's imports, nothing else).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

TARGET_S = 10.0


def timed(args: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "evflex.cli", *args], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    repeat = parser.parse_args().repeat
    with tempfile.TemporaryDirectory() as tmp:
        export = [timed(["export", "pypsa", "base", "--years", "2030,2040,2050",
                         "--out", tmp]) for _ in range(repeat)]
        base = [timed(["scenarios"]) for _ in range(repeat)]
    wall = statistics.median(w for w, _ in export)
    cpu = statistics.median(c for _, c in export)
    base_cpu = statistics.median(c for _, c in base)
    print(f"export pypsa base, 3 years x 4 regions: wall {wall:.1f} s, CPU {cpu:.1f} s "
          f"(target {TARGET_S:.0f} s); baseline `evflex scenarios` CPU {base_cpu:.1f} s; "
          f"ratio {cpu / base_cpu:.1f}x; load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
