"""The ``evflex`` command line.

Exit codes: 0 success; 1 bad input (scenario, file, option value); 3 the run finished but
denominator checks failed (unless ``--allow-failed-checks``). Usage errors from the
parser itself exit 2. Errors are one line per problem, never a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from evflex import __version__
from evflex.scenario import ScenarioError, load_scenario, parameter_table, shipped_scenarios
from evflex.scenario.load import resolve_path

if TYPE_CHECKING:
    from evflex.model import Results

app = typer.Typer(
    name="evflex",
    help="How much of the EV fleet is really a grid resource, year by year to 2100.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)

EXIT_BAD_INPUT = 1
EXIT_CHECKS_FAILED = 3
SUMMARY_YEARS = (2025, 2030, 2050, 2100)


class InputError(Exception):
    """Bad input found by the CLI: printed as one line, exit 1."""


def _fail(lines: list[str], code: int = EXIT_BAD_INPUT) -> typer.Exit:
    for line in lines:
        err_console.print(line, markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _version(value: bool) -> None:
    if value:
        console.print(f"evflex {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """evflex: the EV fleet counted once by its highest active grid use case."""


ScenarioArg = Annotated[str | None, typer.Argument(
    help="A shipped scenario name (see `evflex scenarios`) or a YAML file; default: base.")]


@app.command()
def scenarios() -> None:
    """List the shipped scenarios."""
    table = Table("name", "version", "description", title="Shipped scenarios")
    for name, path in shipped_scenarios().items():
        try:
            sc = load_scenario(path)
            table.add_row(name, sc.version, sc.description)
        except ScenarioError as exc:  # pragma: no cover - shipped files are tested
            table.add_row(name, "?", f"invalid: {exc.problems[0]}")
    console.print(table)


@app.command()
def validate(
    files: Annotated[list[str], typer.Argument(help="Scenario YAML files or shipped names.")],
) -> None:
    """Validate scenario files: exit 0, or print one line per problem and exit 1."""
    bad = False
    for name in files:
        try:
            sc = load_scenario(name)
        except ScenarioError as exc:
            bad = True
            for problem in exc.problems:
                err_console.print(f"{exc.source}: {problem}", markup=False, highlight=False,
                                  soft_wrap=True)
        else:
            console.print(f"{resolve_path(name)}: ok ({sc.name} v{sc.version}, "
                          f"{len(sc.parameters)} parameters)", highlight=False, soft_wrap=True)
    if bad:
        raise typer.Exit(EXIT_BAD_INPUT)


def _summary_table(results: Results, capacity: pd.DataFrame) -> Table:
    """States and capacities of the World in the summary years, one column per year."""
    from evflex.capacity import METRICS
    from evflex.outputs.style import STATE_LABELS
    from evflex.states import STATES

    years = [y for y in SUMMARY_YEARS if y in results.scenario.years_axis]
    table = Table(title=f"World · {results.scenario.name} v{results.scenario.version}")
    table.add_column("")
    for year in years:
        table.add_column(str(year), justify="right")
    table.add_row(escape("EV stock [million]"),
                  *[f"{results.world('ev_stock', y) / 1e6:,.1f}" for y in years])
    shares = {y: results.world_state_shares(y) for y in years}
    for state in STATES:
        table.add_row(escape(f"{STATE_LABELS[state]} [% of EVs]"),
                      *[f"{100 * shares[y][state]:.1f}" for y in years])
    world = capacity[capacity["region"] == "World"].set_index(["year", "metric"])["value"]
    for metric in ("naive_battery", "shiftable_load", "shiftable_energy", "v2g_export_power",
                   "v2g_export_energy"):
        table.add_row(escape(f"{metric} [{METRICS[metric]}]"),
                      *[f"{world[(y, metric)]:,.1f}" for y in years])
    return table


@app.command()
def run(
    scenario: ScenarioArg = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("out"),
    allow_failed_checks: Annotated[bool, typer.Option(
        "--allow-failed-checks", help="Exit 0 even if denominator checks fail.")] = False,
    funnel_year: Annotated[int, typer.Option(
        "--funnel-year", help="Year of the energy funnel chart (funnel.png).")] = 2050,
    parquet: Annotated[bool, typer.Option(
        "--parquet/--no-parquet", help="Also write Parquet copies of the tables.")] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No console table.")] = False,
    simulate: Annotated[bool, typer.Option(
        "--simulate", help="Take availability at the peak, state of charge, reserve and "
        "coincidence from a vehicle simulation instead of the scenario.")] = False,
    sim_vehicles: Annotated[int, typer.Option(
        "--sim-vehicles", help="Vehicles simulated with --simulate.")] = 1000,
    sim_days: Annotated[int, typer.Option("--sim-days", help="Days simulated.")] = 7,
    sim_seed: Annotated[int, typer.Option("--sim-seed", help="Seed of the simulation.")] = 1,
    evidence: Annotated[Path | None, typer.Option(
        "--evidence", help="Add a ledger (CSV) to the shipped evidence.")] = None,
    evidence_only: Annotated[Path | None, typer.Option(
        "--evidence-only", help="Use only this ledger (CSV), not the shipped one.")] = None,
    apply_triggers: Annotated[bool, typer.Option(
        "--apply-triggers", help="Write scenario_revised.yaml: the scenario plus the moves "
        "of the triggers that fired.")] = False,
    store: Annotated[Path | None, typer.Option(
        "--store", help="Record the run in this DuckDB run store.")] = None,
    no_workbook: Annotated[bool, typer.Option(
        "--no-workbook", help="Do not write workbook.xlsx.")] = False,
    no_report: Annotated[bool, typer.Option("--no-report", help="Do not write report.html.")
                         ] = False,
) -> None:
    """Run the engine on a scenario and write states, fleet, funnel, capacity and checks."""
    from evflex.checks import failed, run_checks
    from evflex.model import run as run_model
    from evflex.outputs.charts import funnel_chart, states_chart
    from evflex.outputs.tables import energy_funnel, write_run

    try:
        sc = load_scenario(scenario)
    except ScenarioError as exc:
        raise _fail([f"{exc.source}: {p}" for p in exc.problems]) from None
    from evflex.judgement import EvidenceError, judge, load_evidence, summary_markdown

    try:
        ledger = load_evidence(extra=evidence, only=evidence_only)
    except EvidenceError as exc:
        raise _fail(str(exc).splitlines()) from None
    if funnel_year not in sc.years_axis:
        raise _fail([f"--funnel-year: outside the scenario's years (got {funnel_year}, "
                     f"expected {sc.years.start} to {sc.years.end})"])

    availability = None
    hourly = None
    if simulate:
        from evflex.simulate.archetypes import SimulationInputError
        from evflex.simulate.run import SimulationConfig
        from evflex.simulate.run import simulate as run_simulation

        try:
            sim = run_simulation(SimulationConfig(
                vehicles=sim_vehicles, days=sim_days, seed=sim_seed, keep_sessions=False,
                strategies=("unmanaged", "managed", "v2g")))
        except SimulationInputError as exc:
            raise _fail([str(exc).replace("--vehicles", "--sim-vehicles")
                         .replace("--days", "--sim-days")]) from None
        availability = sim.to_availability()
        hourly = sim.profile.merge(sim.availability, on=["step", "hour"])
    results = run_model(sc, availability)
    frames = results.frames()
    checks = run_checks(results)
    funnel_energy = energy_funnel(results, funnel_year)
    tables = {**frames, "checks": checks, "energy_funnel": funnel_energy,
              "assumptions": parameter_table(sc)}
    if hourly is not None:
        tables["hourly"] = hourly
    judged = judge(frames, ledger, sc)
    tables.update(judged)
    title = f"{sc.name} v{sc.version}"
    extra = {
        "states.png": lambda p: states_chart(frames["states"], p, title),
        "funnel.png": lambda p: funnel_chart(funnel_energy, p),
        "summary.md": lambda p: p.write_text(summary_markdown(judged), encoding="utf-8"),
    }
    if apply_triggers:
        from evflex.judgement import apply_triggers as revise

        fired = judged["triggers"][judged["triggers"]["fired"].astype(bool)]
        revised = revise(resolve_path(scenario), fired)
        extra["scenario_revised.yaml"] = lambda p: p.write_text(revised, encoding="utf-8")
    if not no_workbook:
        from evflex.outputs.workbook import write_workbook

        extra["workbook.xlsx"] = lambda p: write_workbook(p, results, tables,
                                                            availability=availability)
    if not no_report:
        from evflex.outputs.report import write_report

        extra["report.html"] = lambda p: write_report(p, results, tables)
    # The store first: a refused store must leave --out untouched.
    if store is not None:
        from evflex.store import StoreError, record_run

        try:
            run_id = record_run(store, results, tables, resolve_path(scenario),
                                availability=availability)
        except StoreError as exc:
            raise _fail([str(exc)]) from None
        console.print(f"Recorded run {run_id} in {store}", highlight=False)
    try:
        written = write_run(out, tables, extra, parquet=parquet)
    except OSError as exc:
        raise _fail([f"--out: cannot write results (got {str(out)!r}: {exc.strerror or exc}, "
                     "expected a writable folder)"]) from None

    if not quiet:
        console.print(_summary_table(results, frames["capacity"]))
        verdicts = judged["scorecard"]
        console.print("Scorecard: " + ", ".join(
            f"{r.pathway} {r.verdict}" for r in verdicts.itertuples()), highlight=False)
    if availability is not None:
        console.print(f"Availability from the {availability.source}: plugged in at the peak "
                      f"{availability.plug_in_share_at_peak:.1%}, state of charge "
                      f"{availability.soc_at_peak:.1%}, reserve "
                      f"{availability.mobility_reserve_soc:.1%}, charging coincidence "
                      f"{availability.charging_coincidence_at_peak:.1%}", highlight=False)
    n_pass = int((checks["status"] == "pass").sum())
    console.print(f"Wrote {len(written)} files to {out} · checks: {n_pass}/{len(checks)} pass",
                  highlight=False)
    bad = failed(checks)
    if len(bad):
        lines = [f"check failed: {r.check} (value {r.value:.6g}, limit {r.limit}): {r.detail}"
                 for r in bad.itertuples()]
        if allow_failed_checks:
            for line in lines:
                err_console.print(line, markup=False, highlight=False, soft_wrap=True)
            err_console.print("continuing: --allow-failed-checks", highlight=False)
        else:
            raise _fail([*lines, f"{len(bad)} check(s) failed; see {out / 'checks.csv'} "
                         "(use --allow-failed-checks to exit 0)"], EXIT_CHECKS_FAILED)


#: Modules that add commands to the app through a ``register(app)`` function.
COMMAND_MODULES = (
    "evflex.simulate.command",
    "evflex.uncertainty.command",
    "evflex.store.command",
    "evflex.web.command",
    "evflex.export.command",
)


def _register_commands() -> None:
    import importlib

    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            # Only a module that is not there (yet) is skipped; a module that is there but
            # fails to import is a bug and is raised.
            if exc.name is not None and name.startswith(exc.name):
                continue
            raise
        if hasattr(module, "register"):
            module.register(app)
        else:  # a module with a single command function named after its package
            command = name.split(".")[1]
            app.command(command)(getattr(module, command))


_register_commands()


if __name__ == "__main__":  # pragma: no cover
    app()
