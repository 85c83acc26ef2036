"""Benchmark: what a user waits for at the command line, against ``python -c pass``.

Run on demand:

    python benchmarks/bench_cli.py [--repeat 5]

Each row is the median wall time of ``repeat`` fresh processes (start-up included, as a
user sees it), printed beside the baseline measured in the same run:

- ``baseline``: ``python -c pass``, the interpreter's own start-up on this machine;
- ``import evflex.cli``: the CLI module (``python -X importtime`` gives the detail);
- ``evflex --help`` and ``evflex --version``: goal under 0.3 s wall on an idle machine,
  i.e. a small multiple of the baseline (no engine, pandas or xarray imported);
- ``evflex run`` (tables and charts only; then with the workbook and the report): the
  main job on the shipped ``base`` scenario, written to a temporary folder.

The script also prints the heaviest imports of ``evflex.cli`` (from ``-X importtime``),
so a regression names its cause.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

PY = sys.executable
EVFLEX = [PY, "-m", "evflex.cli"]


def median_s(cmd: list[str], repeat: int) -> float:
    """Median wall time [s] of ``repeat`` runs of ``cmd`` (one warm-up run first)."""
    subprocess.run(cmd, check=True, capture_output=True)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def heaviest_imports(module: str, top: int = 8) -> list[tuple[str, float]]:
    """The ``top`` imports of ``module`` by cumulative time [ms] (``-X importtime``)."""
    proc = subprocess.run([PY, "-X", "importtime", "-c", f"import {module}"],
                          capture_output=True, text=True, check=True)
    rows = []
    for line in proc.stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \|(\s*)(\S+)", line)
        if match:
            rows.append((match.group(3), int(match.group(1)) / 1e3))
    return sorted(rows, key=lambda r: -r[1])[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    out = tempfile.mkdtemp(prefix="evflex-bench-cli-")
    try:
        baseline = median_s([PY, "-c", "pass"], args.repeat)
        rows = [
            ("import evflex.cli", [PY, "-c", "import evflex.cli"]),
            ("evflex --help", [*EVFLEX, "--help"]),
            ("evflex --version", [*EVFLEX, "--version"]),
            ("evflex run (tables, charts)", [*EVFLEX, "run", "--out", os.path.join(out, "a"),
                                             "--quiet", "--no-workbook", "--no-report"]),
            ("evflex run (all outputs)", [*EVFLEX, "run", "--out", os.path.join(out, "b"),
                                          "--quiet"]),
        ]
        print(f"{'command':32s} {'wall [s]':>9s} {'× baseline':>11s}")
        print(f"{'baseline: python -c pass':32s} {baseline:9.3f} {1.0:11.1f}")
        for label, cmd in rows:
            repeat = args.repeat if "run" not in label else max(1, args.repeat // 2)
            t = median_s(cmd, repeat)
            print(f"{label:32s} {t:9.3f} {t / baseline:11.1f}")
        print("\nheaviest imports of evflex.cli (cumulative ms):")
        for name, ms in heaviest_imports("evflex.cli"):
            print(f"  {name:40s} {ms:8.1f}")
    finally:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
