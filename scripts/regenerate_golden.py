"""Regenerate the golden outputs of the small reference scenario.

Run after an intended change to the engine, review the diff of
``tests/golden/expected/`` in git, and commit it with the change that caused it:

    python scripts/regenerate_golden.py

The golden test (``tests/core/test_golden.py``) runs the same scenario and compares
every table to these files (numbers to a relative 1e-9).
"""

from __future__ import annotations

from pathlib import Path

from evflex.checks import run_checks
from evflex.model import run

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "tests" / "golden" / "reference.yaml"
EXPECTED = ROOT / "tests" / "golden" / "expected"
TABLES = ("states", "fleet", "funnel", "capacity")


def golden_tables() -> dict:
    """The tables the golden test compares, computed by the engine now."""
    results = run(SCENARIO)
    tables = {name: df for name, df in results.frames().items() if name in TABLES}
    tables["checks"] = run_checks(results)[["check", "status"]]
    return tables


def main() -> None:
    EXPECTED.mkdir(parents=True, exist_ok=True)
    for name, df in golden_tables().items():
        path = EXPECTED / f"{name}.csv"
        df.to_csv(path, index=False, float_format="%.17g")
        print(f"wrote {path.relative_to(ROOT)} ({len(df)} rows)")


if __name__ == "__main__":
    main()
