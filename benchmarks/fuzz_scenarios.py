"""Fuzz the scenario validator and the run path; report tracebacks, hangs, violations.

    python benchmarks/fuzz_scenarios.py --files 10000 --valid 10000 [--workers 2] [--seed 16]

Two campaigns (generators in ``tests/fuzz/fuzz_generators.py``):

- ``--files N``: N fuzzed scenario files (mutated scenarios, damaged text, hostile YAML)
  through ``load_scenario``. Each must give a scenario or a ``ScenarioError``; anything
  else is a *traceback*, more than ``--timeout`` seconds a *hang*.
- ``--valid N``: N scenarios drawn inside every documented bound. Those ``validate``
  accepts go through the run path (engine, checks, energy funnel, judgement with the
  shipped ledger); an exception is a *crash*, a non-finite output or a failed invariant
  check (accounting identities, physical bounds) a *violation*. Draws that ``validate``
  refuses (e.g. a vehicle stock too small for the IEA EV history) are counted, not run.

Exit status 1 if any traceback, hang, crash or violation was found (target: 0).
Timings are of this machine and load; the per-item times are printed for comparison
with a baseline run of the shipped base scenario in the same process.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "fuzz"))


class Hang(Exception):
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise Hang


def file_batch(args: tuple[int, int, int, float]) -> dict[str, Any]:
    """Fuzzed files ``start .. start + count`` of the campaign seeded ``seed``."""
    import numpy as np
    from fuzz_generators import base_raw, fuzz_file

    from evflex.scenario import ScenarioError, load_scenario
    from evflex.scenario.load import resolve_path

    start, count, seed, timeout = args
    raw, text = base_raw(), resolve_path("base").read_bytes()
    out: Counter[str] = Counter()
    examples: list[str] = []
    signal.signal(signal.SIGALRM, _alarm)
    with tempfile.TemporaryDirectory(prefix="evflex-fuzz-") as folder:
        path = Path(folder) / "fuzzed.yaml"
        for i in range(start, start + count):
            rng = np.random.default_rng([seed, i])
            path.write_bytes(fuzz_file(rng, raw, text))
            signal.setitimer(signal.ITIMER_REAL, timeout)
            try:
                load_scenario(path)
                out["valid"] += 1
            except ScenarioError:
                out["rejected"] += 1
            except Hang:
                out["hang"] += 1
                examples.append(f"file {i}: hang")
            except Exception as exc:  # counting exactly these
                out["traceback"] += 1
                examples.append(f"file {i}: {type(exc).__name__}: {exc}"[:300])
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
    return {"counts": out, "examples": examples}


def valid_batch(args: tuple[int, int, int, float]) -> dict[str, Any]:
    """Random valid scenarios ``start .. start + count`` through the run path."""
    import numpy as np
    from fuzz_generators import base_raw, full_run, random_valid_raw

    from evflex.judgement import load_evidence
    from evflex.scenario import ScenarioError
    from evflex.scenario.load import parse

    start, count, seed, timeout = args
    raw, ledger = base_raw(), load_evidence()
    out: Counter[str] = Counter()
    examples: list[str] = []
    signal.signal(signal.SIGALRM, _alarm)
    for i in range(start, start + count):
        rng = np.random.default_rng([seed, 1, i])
        try:
            scenario = parse(random_valid_raw(rng, raw))
        except ScenarioError as exc:
            out["refused_by_validate"] += 1
            out[f"refused: {exc.problems[0].problem[:60]}"] += 1
            continue
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            problems = full_run(scenario, ledger)
        except Hang:
            out["hang"] += 1
            examples.append(f"scenario {i}: hang")
            continue
        except Exception as exc:  # counting exactly these
            out["crash"] += 1
            examples.append(f"scenario {i}: {type(exc).__name__}: {exc}\n"
                            + "".join(traceback.format_exc(limit=-3))[-600:])
            continue
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        out["ran"] += 1
        if problems:
            out["violation"] += 1
            examples.append(f"scenario {i}: {problems[0]}"[:300])
    return {"counts": out, "examples": examples}


def campaign(fn: Any, n: int, seed: int, workers: int, timeout: float) -> dict[str, Any]:
    batch = 50
    jobs = [(s, min(batch, n - s), seed, timeout) for s in range(0, n, batch)]
    counts: Counter[str] = Counter()
    examples: list[str] = []
    start = time.perf_counter()
    if workers > 1:
        with mp.get_context("fork").Pool(workers) as pool:
            results = pool.imap_unordered(fn, jobs)
            for r in results:
                counts.update(r["counts"])
                examples += r["examples"]
    else:
        for job in jobs:
            r = fn(job)
            counts.update(r["counts"])
            examples += r["examples"]
    return {"counts": counts, "examples": examples, "seconds": time.perf_counter() - start}


def baseline_ms() -> float:
    """One full run of the shipped base scenario in this process [ms] (the baseline)."""
    from fuzz_generators import full_run

    from evflex.judgement import load_evidence
    from evflex.scenario import load_scenario

    scenario, ledger = load_scenario("base"), load_evidence()
    full_run(scenario, ledger)
    start = time.perf_counter()
    full_run(scenario, ledger)
    return (time.perf_counter() - start) * 1e3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--valid", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="seconds after which one item counts as a hang")
    args = parser.parse_args()
    bad = 0
    base = baseline_ms()
    print(f"baseline: one full run of base {base:.0f} ms")
    if args.files:
        r = campaign(file_batch, args.files, args.seed, args.workers, args.timeout)
        c = r["counts"]
        print(f"files: {args.files} fuzzed in {r['seconds']:.0f} s "
              f"({1e3 * r['seconds'] / args.files:.1f} ms each): {c['valid']} valid, "
              f"{c['rejected']} rejected with problems, {c['traceback']} tracebacks, "
              f"{c['hang']} hangs")
        bad += c["traceback"] + c["hang"]
        for line in r["examples"][:10]:
            print("  " + line)
    if args.valid:
        r = campaign(valid_batch, args.valid, args.seed, args.workers, args.timeout)
        c = r["counts"]
        ran = max(c["ran"], 1)
        print(f"valid: {args.valid} drawn in {r['seconds']:.0f} s: {c['ran']} ran to the end "
              f"({1e3 * r['seconds'] / ran:.0f} ms each, {r['seconds'] / ran * 1e3 / base:.2f}x "
              f"baseline), {c['refused_by_validate']} refused by validate, {c['crash']} "
              f"crashes, {c['hang']} hangs, {c['violation']} invariant violations")
        for key, value in sorted(c.items(), key=lambda kv: -kv[1]):
            if key.startswith("refused: "):
                print(f"  {value:6d} {key}")
        bad += c["crash"] + c["hang"] + c["violation"]
        for line in r["examples"][:10]:
            print("  " + line)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
