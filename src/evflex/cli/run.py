"""``evflex run``, ``evflex validate`` and ``evflex scenarios``: a thin edge over
:func:`evflex.pipeline.run`. The pipeline makes the run; this module maps its errors to
options, writes the files and prints the summary.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import numpy as np
import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from evflex.glossary import DEFAULT_FUNNEL_YEAR, SUMMARY_YEARS, WORLD
from evflex.scenario import ScenarioError, load_scenario, shipped_scenarios
from evflex.scenario.load import resolve_path

if TYPE_CHECKING:
    from evflex.model import Results

console = Console()
err_console = Console(stderr=True)

EXIT_BAD_INPUT = 1
EXIT_CHECKS_FAILED = 3


def _fail(lines: list[str], code: int = EXIT_BAD_INPUT) -> typer.Exit:
    for line in lines:
        err_console.print(line, markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(code)


ScenarioArg = Annotated[str | None, typer.Argument(
    help="A shipped scenario name (see `evflex scenarios`) or a YAML file; default: base.")]


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
    world = capacity[capacity["region"] == WORLD].set_index(["year", "metric"])["value"]
    for metric in ("naive_battery", "shiftable_load", "shiftable_energy", "v2g_export_power",
                   "v2g_export_energy"):
        table.add_row(escape(f"{metric} [{METRICS[metric]}]"),
                      *[f"{world[(y, metric)]:,.1f}" for y in years])
    return table


def run(
    scenario: ScenarioArg = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("out"),
    allow_failed_checks: Annotated[bool, typer.Option(
        "--allow-failed-checks", help="Exit 0 even if denominator checks fail.")] = False,
    funnel_year: Annotated[int, typer.Option(
        "--funnel-year", help="Year of the energy funnel chart (funnel.png).")
    ] = DEFAULT_FUNNEL_YEAR,
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
    regions: Annotated[str | None, typer.Option(
        "--regions", help="Write only these regions (comma-separated codes, names or "
        "blocks, e.g. GB,DE,FR or EU27) and the aggregates that contain them; the run and "
        "its checks still cover every region.")] = None,
    workbook_regions: Annotated[str | None, typer.Option(
        "--workbook-regions", help="Regions with live rows of their own in workbook.xlsx "
        "(codes, names or blocks, or 'all'). By default a country run's workbook holds its "
        "blocks and the World (and the --regions selection); a block-level run's, every "
        "region.")] = None,
) -> None:
    """Run the engine on a scenario and write states, fleet, funnel, capacity and checks."""
    from evflex.outputs.charts import funnel_chart, states_chart
    from evflex.outputs.tables import write_run
    from evflex.pipeline import PipelineError
    from evflex.pipeline import run as run_pipeline

    try:
        sc = load_scenario(scenario)
    except ScenarioError as exc:
        raise _fail([f"{exc.source}: {p}" for p in exc.problems]) from None
    from evflex.judgement import EvidenceError, load_evidence, summary_markdown

    try:
        ledger = load_evidence(extra=evidence, only=evidence_only)
    except EvidenceError as exc:
        raise _fail(str(exc).splitlines()) from None
    if funnel_year not in sc.years_axis:
        raise _fail([f"--funnel-year: outside the scenario's years (got {funnel_year}, "
                     f"expected {sc.years.start} to {sc.years.end})"])
    selected: list[str] | None = None
    if regions is not None:
        from evflex.regions import RegionError, hierarchy

        try:
            selected = hierarchy().resolve(regions.split(","), sc.regions)
        except RegionError as exc:
            raise _fail([f"--{exc}"]) from None
        if not selected:
            raise _fail(["--regions: no region given (got an empty list, expected codes "
                         "such as GB,DE,FR)"])

    in_workbook = selected
    if workbook_regions is not None:
        in_workbook = _workbook_regions(workbook_regions, list(sc.regions), selected)

    sim_config = None
    if simulate:
        try:
            from evflex.cli.simulate import err_console as sim_console
            from evflex.cli.simulate import simulation_progress
            from evflex.simulate.archetypes import SimulationInputError
            from evflex.simulate.run import SimulationConfig
        except ModuleNotFoundError as exc:
            raise _fail([_extra_line("run --simulate", exc)]) from None
        sim_config = SimulationConfig(vehicles=sim_vehicles, days=sim_days, seed=sim_seed,
                                      keep_sessions=False,
                                      strategies=("unmanaged", "managed", "v2g"))
        try:
            sim_config.check()
        except SimulationInputError as exc:
            raise _fail([exc.as_option({"vehicles": "--sim-vehicles", "days": "--sim-days",
                                         "seed": "--sim-seed"})]) from None
    if store is not None:
        try:
            from evflex.store import StoreError, record_run
        except ModuleNotFoundError as exc:
            raise _fail([_extra_line("run --store", exc)]) from None
    try:
        if sim_config is not None:
            try:
                with simulation_progress(sim_console) as report:
                    the_run = run_pipeline(sc, evidence=ledger, simulate=sim_config,
                                           funnel_year=funnel_year, regions=selected,
                                           progress=report)
            except SimulationInputError as exc:  # the scenario's inputs to the simulation
                raise _fail([f"scenario parameter {exc.field}: {exc.problem}"]) from None
        else:
            the_run = run_pipeline(sc, evidence=ledger, funnel_year=funnel_year,
                                   regions=selected)
    except (ScenarioError, PipelineError) as exc:
        raise _fail([str(exc)]) from None
    results, tables, judged = the_run.results, the_run.tables, the_run.judgement
    checks, availability = the_run.checks, the_run.availability
    title = f"{sc.name} v{sc.version}"
    extra = {
        "states.png": lambda p: states_chart(tables["states"], p, title),
        "funnel.png": lambda p: funnel_chart(the_run.energy_funnel, p),
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
                                                            availability=availability,
                                                            regions=in_workbook)
    if not no_report:
        from evflex.outputs.report import write_report

        extra["report.html"] = lambda p: write_report(p, results, tables)
    # The store first: a refused store must leave --out untouched.
    if store is not None:
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
        console.print(_summary_table(results, tables["capacity"]))
        verdicts = judged["scorecard"]
        console.print("Scorecard: " + ", ".join(
            f"{r.pathway} {r.verdict}" for r in verdicts.itertuples()), highlight=False)
        if "stale" in verdicts.columns:  # the evidence behind a verdict may be old
            for r in verdicts.itertuples():
                if str(r.stale) != "none":
                    err_console.print(f"note: {r.pathway} ({r.verdict}) rests on evidence "
                                      f"{r.stale}", highlight=False, soft_wrap=True)
    if availability is not None:
        def share(value: object) -> str:  # one figure, or the range over the regions
            v = np.asarray(value, dtype=float)
            return (f"{v.min():.1%}" if v.min() == v.max()
                    else f"{v.min():.1%}-{v.max():.1%}")

        per_region = (" (each region's: assumptions.csv)"
                      if np.asarray(availability.soc_at_peak).size > 1 else "")
        console.print(f"Availability from the {availability.source}: plugged in at the peak "
                      f"{share(availability.plug_in_share_at_peak)}, state of charge "
                      f"{share(availability.soc_at_peak)}, reserve "
                      f"{share(availability.mobility_reserve_soc)}, charging coincidence "
                      f"{share(availability.charging_coincidence_at_peak)}{per_region}",
                      highlight=False)
    n_pass = int((checks["status"] == "pass").sum())
    others = checks.loc[checks["status"] != "pass", "status"].value_counts()
    reported = "".join(f", {n} {status}" for status, n in others.items())
    console.print(f"Wrote {len(written)} files to {out} · checks: {n_pass}/{len(checks)} pass"
                  f"{reported}", highlight=False)
    for r in checks[checks["status"] == "missed"].itertuples():
        err_console.print(f"calibration target missed: {r.check} (value {r.value:.6g}, target "
                          f"{r.limit})", markup=False, highlight=False, soft_wrap=True)
    bad = the_run.failed_checks
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


def _workbook_regions(text: str, regions: list[str], selected: list[str] | None
                      ) -> list[str]:
    """The regions ``--workbook-regions`` names (``all``: every region, or every one of
    ``--regions``); they must be among ``--regions`` when that is given."""
    from evflex.regions import RegionError, hierarchy

    if text.strip().lower() == "all":
        return list(regions if selected is None else selected)
    try:
        chosen = hierarchy().resolve(text.split(","), regions)
    except RegionError as exc:
        raise _fail([f"--workbook-{exc}"]) from None
    if not chosen:
        raise _fail(["--workbook-regions: no region given (got an empty list, expected codes "
                     "such as GB,DE or 'all')"])
    outside = [r for r in chosen if selected is not None and r not in selected]
    if outside:
        raise _fail([f"--workbook-regions: {outside[0]!r} is not among --regions (expected "
                     f"some of {','.join(selected or [])})"])
    return chosen


def _extra_line(what: str, exc: ModuleNotFoundError) -> str:
    from evflex.cli import extra_hint, missing_extra

    extra = missing_extra(exc)
    if extra is None:
        raise exc
    return extra_hint(what, extra, exc.name)


def register(app: typer.Typer) -> None:
    """Add ``run``, ``validate`` and ``scenarios`` to ``app``."""
    app.command("run")(run)
    app.command("validate")(validate)
    app.command("scenarios")(scenarios)
