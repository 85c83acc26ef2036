"""``evflex montecarlo``, ``evflex sensitivity`` and ``evflex solve``.

Exit codes: 0 success; 1 bad input (scenario, option value, scheduler address, output
folder); 4 (``solve``) a target cannot be reached within the bounds. Errors are one line
each on stderr, never a traceback.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
import yaml
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from evflex.errors import InputError
from evflex.scenario import Scenario, ScenarioError, load_scenario
from evflex.uncertainty.execute import Executor, SchedulerError

console = Console()
err_console = Console(stderr=True)

EXIT_BAD_INPUT = 1
EXIT_UNREACHABLE = 4
DEFAULT_SCENARIO = "uncertain"

ScenarioArg = Annotated[str | None, typer.Argument(
    help="A shipped scenario name or a YAML file with distributions ('dist'); "
         f"default: {DEFAULT_SCENARIO}.")]
SchedulerOpt = Annotated[str | None, typer.Option(
    "--scheduler", help="Address of a Dask distributed scheduler, e.g. tcp://127.0.0.1:8786 "
    "(default: run in this process).")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of the draws.")]
ParquetOpt = Annotated[bool, typer.Option("--parquet/--no-parquet",
                                          help="Also write Parquet copies of the tables.")]


#: Domain fields (see :mod:`evflex.errors`) → the options of these commands.
OPTIONS = {"replicas": "--simulate-replicas"}
#: Simulation fields → the options of `montecarlo --simulate-replicas`.
SIMULATION_OPTIONS = {"vehicles": "--simulate-vehicles", "days": "--simulate-days"}
#: Bounds of the options (assumption: far above any use; they keep a run finite in time
#: and memory). A million draws put the p05 of a share within about 0.0002 of its
#: limit (binomial standard error of a quantile's probability, sqrt(0.05 x 0.95 / 1e6)).
MAX_DRAWS = 1_000_000
MAX_CHUNK = 100_000
MAX_REPLICAS = 10_000
MAX_SAMPLES = 2**20


def _check_seed(seed: int) -> None:
    if not 0 <= seed < 2**64:
        raise _fail([f"--seed: out of range (got {seed}, expected 0 to 2**64 - 1)"])


def _fail(lines: list[str], code: int = EXIT_BAD_INPUT) -> typer.Exit:
    for line in lines:
        err_console.print(line, markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _load(scenario: str | None) -> Scenario:
    try:
        return load_scenario(scenario or DEFAULT_SCENARIO)
    except ScenarioError as exc:
        raise _fail([f"{exc.source}: {p}" for p in exc.problems]) from None


@contextmanager
def _progress(label: str, unit: str) -> Iterator[Callable[[int, int], None]]:
    columns = (TextColumn(f"[bold]{escape(label)}"), BarColumn(), MofNCompleteColumn(),
               TextColumn(unit), TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err_console, transient=True) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def _executor(scheduler: str | None) -> Executor:

    try:
        return Executor(scheduler)
    except SchedulerError as exc:
        raise _fail([exc.as_option(OPTIONS)]) from None


def _write(out: Path, tables: dict[str, pd.DataFrame],
           extra: dict[str, Callable[[Path], None]], parquet: bool) -> list[Path]:
    from evflex.outputs.tables import write_run

    try:
        return write_run(out, tables, extra, parquet=parquet)
    except OSError as exc:
        raise _fail([f"--out: cannot write results (got {str(out)!r}: {exc.strerror or exc}, "
                     "expected a writable folder)"]) from None


def montecarlo(
    scenario: ScenarioArg = None,
    draws: Annotated[int, typer.Option("--draws", "-n", help="Number of draws.")] = 1000,
    seed: SeedOpt = 1,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path(
        "out/montecarlo"),
    scheduler: SchedulerOpt = None,
    chunk_size: Annotated[int, typer.Option(
        "--chunk-size", help="Draws per chunk (rounded up to a multiple of 64); memory "
        "grows with it, not with --draws.")] = 512,
    parquet: ParquetOpt = True,
    simulate_replicas: Annotated[int, typer.Option(
        "--simulate-replicas", help="Take availability at the peak from this many vehicle "
        "simulation replicas (run on the same scheduler) instead of the scenario's "
        "availability parameters; 0: off.")] = 0,
    simulate_vehicles: Annotated[int, typer.Option(
        "--simulate-vehicles", help="Vehicles per simulation replica.")] = 2000,
    simulate_days: Annotated[int, typer.Option(
        "--simulate-days", help="Days per simulation replica.")] = 7,
) -> None:
    """Monte Carlo over the scenario's distributions: quantiles, fan charts, verdict odds.

    Writes states_quantiles.csv (region, year, state, p05..p95 of the share of the EV
    stock), states_vehicles_quantiles.csv, capacity_quantiles.csv,
    verdict_probabilities.csv, distributions.csv and fan charts (PNG). The same seed gives
    the same results whatever --chunk-size and wherever the chunks run.
    """
    from evflex.uncertainty.charts import (
        capacity_fan_chart,
        states_fan_chart,
        v2g_regions_fan_chart,
        verdict_chart,
    )
    from evflex.uncertainty.montecarlo import NoDistributions, run_montecarlo

    if not 2 <= draws <= MAX_DRAWS:
        raise _fail([f"--draws: out of range (got {draws}, expected 2 to {MAX_DRAWS:,})"])
    if not 1 <= chunk_size <= MAX_CHUNK:
        raise _fail([f"--chunk-size: out of range (got {chunk_size}, expected 1 to "
                     f"{MAX_CHUNK:,})"])
    if not 0 <= simulate_replicas <= MAX_REPLICAS:
        raise _fail([f"--simulate-replicas: out of range (got {simulate_replicas}, expected "
                     f"0 (off) to {MAX_REPLICAS:,})"])
    _check_seed(seed)
    sc = _load(scenario)
    start = time.perf_counter()
    replicas = None
    with _executor(scheduler) as executor:
        if simulate_replicas:
            from evflex.simulate.archetypes import SimulationInputError
            from evflex.simulate.run import SimulationConfig
            from evflex.uncertainty.simulation import simulate_replicas as run_replicas

            config = SimulationConfig(vehicles=simulate_vehicles, days=simulate_days,
                                      seed=seed, strategies=("unmanaged",),
                                      keep_sessions=False)
            try:
                with _progress("simulation replicas", "replicas") as update:
                    replicas = run_replicas(config, simulate_replicas, executor, update)
            except SimulationInputError as exc:
                raise _fail([exc.as_option(SIMULATION_OPTIONS)]) from None
        try:
            with _progress(f"montecarlo {sc.name}", "draws") as update:
                result = run_montecarlo(sc, draws, seed, chunk_size, executor, update,
                                        replicas)
        except NoDistributions as exc:
            raise _fail([str(exc)]) from None
        except InputError as exc:
            raise _fail([exc.as_option(OPTIONS)]) from None
    elapsed = time.perf_counter() - start
    regions = [*sc.regions, "World"]
    title = f"{sc.name} v{sc.version} · {draws:,} draws, seed {seed}"
    extra: dict[str, Callable[[Path], None]] = {
        "fan_states.png": lambda p: states_fan_chart(
            result.states_quantiles, result.base["state_share"], regions, p,
            f"Exclusive states, World: range over {title}"),
        "fan_v2g_regions.png": lambda p: v2g_regions_fan_chart(
            result.states_quantiles, result.base["state_share"], regions, p,
            f"Active V2G by region: range over {title}"),
        "fan_capacity.png": lambda p: capacity_fan_chart(
            result.capacity_quantiles, result.base["capacity"], regions, p,
            f"Grid capacity, World: range over {title}"),
    }
    if len(result.verdict_probabilities):
        extra["verdicts.png"] = lambda p: verdict_chart(result.verdict_probabilities, p)
    tables = result.tables()
    if replicas is not None:
        tables["simulation_replicas"] = replicas
    written = _write(out, tables, extra, parquet)

    table = Table(title=f"World · {escape(title)}")
    for col in ("", "year", "p05", "p50", "p95"):
        table.add_column(col, justify="right" if col else "left")
    q = result.states_quantiles
    for year in (2050, 2100):
        row = q[(q["region"] == "World") & (q["year"] == year) & (q["state"] == "v2g")]
        if len(row):
            r = row.iloc[0]
            table.add_row("V2G share of EV stock", str(year),
                          *[f"{100 * r[c]:.1f} %" for c in ("p05", "p50", "p95")])
    c = result.capacity_quantiles
    for metric, label in (("v2g_export_power", "V2G export at the peak [GW]"),
                          ("shiftable_load", "Managed load off the peak [GW]")):
        for year in (2050, 2100):
            row = c[(c["region"] == "World") & (c["year"] == year) & (c["metric"] == metric)]
            if len(row):
                r = row.iloc[0]
                table.add_row(escape(label), str(year),
                              *[f"{r[k]:,.0f}" for k in ("p05", "p50", "p95")])
    console.print(table)
    for note in result.notes:
        console.print(f"note: {note}", highlight=False, markup=False)
    console.print(f"{draws:,} draws in {elapsed:.1f} s ({draws / elapsed:,.0f} draws/s, "
                  f"{result.where}) · wrote {len(written)} files to {out}", highlight=False,
                  markup=False)


def sensitivity(
    scenario: ScenarioArg = None,
    samples: Annotated[int, typer.Option(
        "--samples", "-n", help="Base sample size N (a power of two); the model runs "
        "N x (inputs + 2) times.")] = 256,
    seed: SeedOpt = 1,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path(
        "out/sensitivity"),
    inputs: Annotated[list[str] | None, typer.Option(
        "--input", help="Only these distributions (repeatable), e.g. v2g_enrolled.end.")] = None,
    outputs: Annotated[list[str] | None, typer.Option(
        "--output", help="Outputs NAME[@REGION]:YEAR (repeatable); default: V2G share 2050 "
        "and 2100, V2G export GW and managed GW at the peak in 2050 and 2100.")] = None,
    scheduler: SchedulerOpt = None,
    parquet: ParquetOpt = True,
) -> None:
    """Sobol first-order and total indices (SALib) of the key outputs; sobol.csv, tornado.png."""
    from evflex.uncertainty.charts import tornado_chart
    from evflex.uncertainty.ensemble import Quantity
    from evflex.uncertainty.sensitivity import run_sensitivity

    if not 2 <= samples <= MAX_SAMPLES:
        raise _fail([f"--samples: out of range (got {samples}, expected 2 to "
                     f"{MAX_SAMPLES:,}, a power of two)"])
    _check_seed(seed)
    sc = _load(scenario)
    regions, years = [*sc.regions, "World"], sc.years_axis
    try:
        quantities = [Quantity.parse(o, regions, years) for o in outputs] if outputs else None
    except ValueError as exc:
        raise _fail([f"--output: {exc}"]) from None
    start = time.perf_counter()
    with _executor(scheduler) as executor:
        try:
            with _progress(f"sensitivity {sc.name}", "model runs") as update:
                result = run_sensitivity(sc, samples, seed, quantities, inputs, executor,
                                         update)
        except InputError as exc:
            raise _fail([exc.as_option(OPTIONS)]) from None
    elapsed = time.perf_counter() - start
    sobol = result.sobol
    title = (f"{sc.name} v{sc.version} · Sobol indices, N = {samples} "
             f"({result.rows:,} model runs), seed {seed}")
    _write(out, {"sobol": sobol},
           {"tornado.png": lambda p: tornado_chart(sobol, p, title=title)}, parquet)

    table = Table(title=escape(title))
    table.add_column("output")
    table.add_column("top inputs by total index ST (first order S1)")
    for output, rows in sobol.groupby("output", sort=False):
        top = rows.sort_values("ST", ascending=False).head(3)
        table.add_row(escape(str(output)), escape(", ".join(
            f"{r.input} {r.ST:.2f} ({r.S1:.2f})" for r in top.itertuples())))
    console.print(table)
    for note in result.notes:
        console.print(f"note: {note}", highlight=False, markup=False)
    console.print(f"{result.rows:,} model runs in {elapsed:.1f} s · wrote sobol.csv and "
                  f"tornado.png to {out}", highlight=False, markup=False)


def solve(
    scenario: Annotated[str | None, typer.Argument(
        help="A shipped scenario name or a YAML file; default: base.")] = None,
    targets: Annotated[list[str] | None, typer.Option(
        "--target", "-t", help="NAME[@REGION]:YEAR:VALUE (repeatable), e.g. v2g:2100:0.30 "
        "(a state's share of the EV stock) or v2g_export_power:2050:150 [GW].")] = None,
    levers: Annotated[list[str] | None, typer.Option(
        "--vary", help="Numbers the solver may move (repeatable), e.g. v2g_enrolled.end, "
        "bidirectional_charger.midpoint; default: S-curve end values of the capability "
        "and filter parameters.")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path(
        "out/solve"),
    parquet: ParquetOpt = True,
) -> None:
    """What must be true: filter values closest to the scenario that reach the targets.

    Writes solution.csv (levers: base, solved, change, bounds), targets.csv, funnel.csv
    (the implied V2G funnel, base and solved) and scenario_solved.yaml. Exits 4 when a
    target cannot be reached within the bounds, saying what range it can reach.
    """
    from evflex.uncertainty.solve import (
        SolveInputError,
        Target,
        funnel_comparison,
        run_solution,
    )
    from evflex.uncertainty.solve import solve as solve_targets

    sc = _load(scenario or "base")
    regions, years = [*sc.regions, "World"], sc.years_axis
    try:
        parsed = [Target.parse(t, regions, years) for t in targets or []]
        solution = solve_targets(sc, parsed, levers)
    except SolveInputError as exc:
        raise _fail([exc.as_option(OPTIONS)]) from None

    lever_table = solution.table()
    target_table = solution.targets_table()
    table = Table(title=escape(f"{sc.name} v{sc.version}: what must be true"))
    for col in ("lever", "base", "solved", "change", "bounds"):
        table.add_column(col, justify="left" if col in ("lever", "bounds") else "right")
    for lever, value, change, at_bound in zip(
            solution.levers, solution.values, lever_table["change"].to_numpy(dtype=float),
            lever_table["at_bound"].to_numpy(dtype=bool), strict=True):
        table.add_row(escape(lever.name), f"{lever.base:.4g}", f"{value:.4g}",
                      f"{100 * change:+.1f} %", escape(f"{lever.low:.4g}-{lever.high:.4g}"
                                                       + (" (at bound)" if at_bound else "")))
    if not solution.reached:
        _write(out, {"targets": target_table}, {}, parquet)
        raise _fail([f"target not reachable: {solution.message}",
                     f"wrote targets.csv (with the reachable ranges) to {out}"],
                    EXIT_UNREACHABLE)
    console.print(table)

    base_run, solved_run = run_solution(solution)
    year = parsed[0].quantity.year
    region = parsed[0].quantity.region
    funnel = funnel_comparison(base_run, solved_run, year, region)
    funnel_table = Table(title=escape(f"Implied V2G funnel, {region} {year}"))
    for col in ("step", "base [M]", "solved [M]", "base share", "solved share"):
        funnel_table.add_column(col, justify="left" if col == "step" else "right")
    columns = [funnel[c].to_numpy(dtype=float) for c in (
        "base_vehicles", "solved_vehicles", "base_share_of_previous", "solved_share_of_previous")]
    for step, b, v, bs, vs in zip(funnel["step"], *columns, strict=True):
        funnel_table.add_row(escape(str(step)), f"{b / 1e6:,.1f}", f"{v / 1e6:,.1f}",
                             f"{100 * bs:.1f} %", f"{100 * vs:.1f} %")
    console.print(funnel_table)
    solved = solution.solved_scenario
    dump = solved.model_dump(mode="json", exclude_none=True, exclude_defaults=False)

    def write_yaml(path: Path) -> None:
        header = (f"# {solved.description}\n# Levers and their base values: see "
                  "solution.csv. Run it with: evflex run scenario_solved.yaml\n")
        path.write_text(header + yaml.safe_dump(dump, sort_keys=False, allow_unicode=True,
                                                width=100), encoding="utf-8")

    _write(out, {"solution": lever_table, "targets": target_table, "funnel": funnel},
           {"scenario_solved.yaml": write_yaml}, parquet)
    for t, achieved in zip(solution.targets, solution.achieved, strict=True):
        console.print(f"{t.quantity.label}: wanted {t.value:.4g}, achieved {achieved:.4g} "
                      f"[{t.quantity.unit}]", highlight=False, markup=False)
    console.print(f"{solution.message} · wrote solution.csv, targets.csv, funnel.csv and "
                  f"scenario_solved.yaml to {out}", highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    """Add ``montecarlo``, ``sensitivity`` and ``solve`` to the ``evflex`` app."""
    app.command("montecarlo")(montecarlo)
    app.command("sensitivity")(sensitivity)
    app.command("solve")(solve)
