"""Benchmark: the run store and the diff's Shapley attribution.

Run on demand:

    python benchmarks/bench_store.py [--runs 10] [--players 8]

Reported, each as a ratio against a named baseline measured in the same run (the
machine is shared, so only the ratios are comparable between runs):

- ``record_run`` of a full base run (states, fleet, funnel, capacity, checks,
  energy_funnel, assumptions) into a DuckDB store, against the baseline
  ``baseline_write_csv``: writing the same tables as CSV files with
  :func:`evflex.outputs.tables.write_run` (what ``evflex run`` already does).
- reading a run back (all tables), against the same baseline.
- ``evflex diff base slow_v2g`` (5 changed parameters, 32 coalitions, exact) and a diff
  with ``--players`` changed parameters (2^players coalitions, exact), against the
  baseline ``baseline_coalition_loop``: the obvious way, one
  :func:`evflex.model.run` per coalition scenario (timed on the same coalitions).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from evflex.model import run
from evflex.outputs.tables import write_run
from evflex.pipeline import finish
from evflex.store import RunStore, record_run
from evflex.store.diff import Game, diff, resolve_side
from evflex.store.shapley import coalitions

#: Filters changed in the many-player diff (multiplied by 0.8 at their end value).
FILTERS = ("charging_access", "bidirectional_charger", "export_permitted", "v2g_enrolled",
           "warranty_covers", "v2g_active", "v2h_v2b_use", "grid_managed_enrolment",
           "smart_charging_use", "smart_capable_share")


def timed(fn: Callable[[], object], repeat: int) -> float:
    """Median wall time [s] of ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def many_player_scenario(folder: Path, players: int) -> Path:
    """base with the end values of ``players`` filters lowered by a fifth."""
    base = yaml.safe_load(resolve_side("base", None).scenario.model_dump_json())
    params = {}
    for name in FILTERS[:players]:
        spec = base["parameters"][name]
        if spec.get("scurve"):
            spec["scurve"]["end"] *= 0.8
        elif spec.get("value") is not None:
            spec["value"] *= 0.8
        else:
            spec["points"] = {k: v * 0.8 for k, v in spec["points"].items()}
        params[name] = {k: v for k, v in spec.items() if v is not None and k != "dist"}
    path = folder / "many.yaml"
    path.write_text(yaml.safe_dump({"extends": "base", "name": "many", "version": "1",
                                    "calibration": {"states": None}, "parameters": params}))
    return path


def baseline_coalition_loop(a: str, b: str, players: list[str]) -> None:
    """One full engine run per coalition, built and run one by one."""
    game = Game(resolve_side(a, None), resolve_side(b, None), players,
                [[("parameters", p)] for p in players], [2030, 2050, 2100])
    for coalition in coalitions(len(players)):
        sc, availability = game.scenario(coalition)
        results = run(sc, availability)
        for year in game.years:
            results.world_state_shares(year)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10, help="Runs written and read.")
    parser.add_argument("--players", type=int, default=8, choices=range(2, 11))
    args = parser.parse_args()

    results = run("base")
    tables = finish(results, funnel_year=2050, judgement=False).tables
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        store = folder / "runs.duckdb"
        n = iter(range(10**6))
        rows: dict[str, tuple[float, str]] = {}
        csv = timed(lambda: write_run(folder / f"csv{next(n)}", tables, parquet=False),
                    args.runs)
        rows["baseline_write_csv"] = (csv, "baseline_write_csv")
        rec = timed(lambda: record_run(store, results, tables, "base"), args.runs)
        rows["record_run (one run)"] = (rec, "baseline_write_csv")
        ids = list(RunStore(store).runs()["run_id"])
        it = iter(ids * 2)
        read = timed(lambda: RunStore(store).tables(next(it)), args.runs)
        rows["read a run back (all tables)"] = (read, "baseline_write_csv")
        size = store.stat().st_size / len(ids) / 1e6

        slow = ["bidirectional_share", "bidirectional_charger", "export_permitted",
                "v2g_enrolled", "warranty_covers"]
        loop5 = timed(lambda: baseline_coalition_loop("base", "slow_v2g", slow), 1)
        rows["baseline_coalition_loop (5 players)"] = (
            loop5, "baseline_coalition_loop (5 players)")
        d5 = timed(lambda: diff("base", "slow_v2g"), 3)
        rows["diff base slow_v2g (5 players, 32 runs)"] = (
            d5, "baseline_coalition_loop (5 players)")

        many = many_player_scenario(folder, args.players)
        players = list(FILTERS[: args.players])
        loop_n = timed(lambda: baseline_coalition_loop("base", str(many), players), 1)
        key_n = f"baseline_coalition_loop ({args.players} players)"
        rows[key_n] = (loop_n, key_n)
        dn = timed(lambda: diff("base", str(many)), 1)
        rows[f"diff ({args.players} players, {2**args.players} runs)"] = (dn, key_n)
        check = diff("base", str(many))
        sums = check.attribution.groupby(["output", "year"]).agg(
            s=("attribution", "sum"), t=("total_change", "first"), a=("value_a", "first"))
        gap = float(((sums.s - sums.t).abs() / sums.a.abs().clip(lower=1e-300)).max())

    print(f"{'case':<46} {'median s':>10} {'x baseline':>11}  baseline")
    for name, (sec, base) in rows.items():
        print(f"{name:<46} {sec:>10.4f} {sec / rows[base][0]:>11.3f}  {base}")
    print(f"\nstore size: {size:.2f} MB per base run; efficiency gap of the "
          f"{args.players}-player diff: {gap:.2e} (relative)")


if __name__ == "__main__":
    main()
