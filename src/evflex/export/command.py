"""``evflex export``: feed energy-system models (``pypsa``) and write the run as NetCDF.

A thin edge: it parses options, calls :mod:`evflex.export.bundle` and writes with the
atomic writer of :mod:`evflex.outputs.tables` (files are staged beside the output and
moved in all together, so a failed export changes nothing). Bad input prints one line
naming the option and exits 1.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

if TYPE_CHECKING:
    from evflex.scenario import Scenario

console = Console()
err_console = Console(stderr=True)

export_app = typer.Typer(help="Export the run for energy-system models (PyPSA) and as NetCDF.",
                         no_args_is_help=True)

ScenarioArg = Annotated[str | None, typer.Argument(
    help="A shipped scenario name (see `evflex scenarios`) or a YAML file; default: base.")]
#: Domain field of an error → the option that set it.
FLAGS = {"years:": "--years:", "regions:": "--regions:", "simulation days:": "--sim-days:",
         "--vehicles:": "--sim-vehicles:", "--days:": "--sim-days:"}


def _fail(message: str) -> typer.Exit:
    for field, flag in FLAGS.items():
        if message.startswith(field):
            message = flag + message[len(field):]
            break
    err_console.print(message, markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(1)


def _load(scenario: str | None) -> Scenario:
    from evflex.scenario import ScenarioError, load_scenario

    try:
        return load_scenario(scenario)
    except ScenarioError as exc:
        raise _fail(f"{exc.source}: {exc.problems[0]}") from None


@export_app.command("pypsa")
def pypsa_command(
    scenario: ScenarioArg = None,
    years: Annotated[str | None, typer.Option(
        "--years", help="Comma-separated years inside the run; default 2030,2040,2050.")
    ] = None,
    regions: Annotated[str | None, typer.Option(
        "--regions", help="Comma-separated regions of the run; default all.")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path(
        "out/pypsa"),
    netcdf: Annotated[bool, typer.Option(
        "--netcdf/--no-netcdf", help="Also write a PyPSA network per year (needs the "
        "'pypsa' extra).")] = True,
    full_year: Annotated[bool, typer.Option(
        "--full-year", help="Networks over every hour of their year (the simulated week "
        "repeated by day of the week) instead of one week.")] = False,
    compare_: Annotated[bool, typer.Option(
        "--compare", help="Solve a toy system (HiGHS) with the fleet unmanaged, as "
        "filtered, and with PyPSA-Eur's 0.5 share; write compare.csv and compare.png.")
    ] = False,
    compare_year: Annotated[int | None, typer.Option(
        "--compare-year", help="Year of --compare; default the last of --years.")] = None,
    sim_vehicles: Annotated[int, typer.Option(
        "--sim-vehicles", help="Vehicles simulated per segment.")] = 2000,
    sim_days: Annotated[int, typer.Option(
        "--sim-days", help="Days simulated (whole weeks).")] = 7,
    sim_seed: Annotated[int, typer.Option("--sim-seed", help="Seed of the simulation.")] = 1,
) -> None:
    """Write EV components per region and year for PyPSA: CSV, a PyPSA-Eur overlay, NetCDF.

    Charger links (all EVs, managed envelope) with hourly availability, a DSM store
    sized from the managed envelope's SoC window with its departure floor, a V2G link
    from the v2g state, the EV charging demand, all from the run and its simulation.
    """
    from evflex.export.bundle import (
        build_export,
        export_files,
        export_tables_for_files,
        parse_regions,
        parse_years,
    )
    from evflex.export.components import ExportInputError
    from evflex.outputs.tables import write_run

    sc = _load(scenario)
    try:
        year_list = parse_years(years, sc)
        region_list = parse_regions(regions, sc)
        if compare_year is not None and compare_year not in year_list:
            raise ExportInputError(f"--compare-year: not among the exported years (got "
                                   f"{compare_year}, expected one of {year_list})")
        if sim_vehicles < 1:
            raise ExportInputError(f"--sim-vehicles: too few (got {sim_vehicles}, "
                                   "expected >= 1)")
        bundle = build_export(sc, year_list, region_list, sim_vehicles, sim_days, sim_seed)
        cyear = (compare_year if compare_year is not None else year_list[-1]) \
            if compare_ else None
        files = export_files(bundle, netcdf=netcdf, compare_year=cyear, full_year=full_year)
        tables = export_tables_for_files(bundle)
    except ExportInputError as exc:
        raise _fail(str(exc)) from None
    try:
        written = write_run(out, tables, files, parquet=False)
    except OSError as exc:
        raise _fail(f"--out: cannot write (got {str(out)!r}: {exc.strerror or exc}, "
                    "expected a writable folder)") from None
    console.print(f"Wrote {len(written)} files to {out} ({len(region_list)} regions x "
                  f"{len(year_list)} years; availability from the "
                  f"{bundle.results.data.attrs['availability_source']})", highlight=False,
                  soft_wrap=True)


@export_app.command("netcdf")
def netcdf_command(
    scenario: ScenarioArg = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="NetCDF file to write.")] = Path(
        "out/run.nc"),
    simulate: Annotated[bool, typer.Option(
        "--simulate", help="Take availability from an hourly vehicle simulation of each "
        "segment instead of the scenario.")] = False,
    sim_vehicles: Annotated[int, typer.Option(
        "--sim-vehicles", help="Vehicles simulated per segment.")] = 2000,
    sim_days: Annotated[int, typer.Option("--sim-days", help="Days simulated.")] = 7,
    sim_seed: Annotated[int, typer.Option("--sim-seed", help="Seed of the simulation.")] = 1,
) -> None:
    """Write the run's dataset as NetCDF with CF units and long names on every variable."""
    from evflex.export.cf import write_netcdf
    from evflex.export.components import ExportInputError
    from evflex.pipeline import run as run_pipeline

    sc = _load(scenario)
    availability = None
    if simulate:
        from evflex.export.simulation import simulate_segments

        try:
            sim = simulate_segments(list(sc.segments), sim_vehicles, sim_days, sim_seed)
        except ExportInputError as exc:
            raise _fail(str(exc)) from None
        availability = sim.seam(list(sc.segments))
    results = run_pipeline(sc, availability=availability, judgement=False).results
    target = Path(out)
    if target.is_dir():
        raise _fail(f"--out: a folder (got {str(out)!r}, expected a file name such as "
                    "run.nc)")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".evflex-", suffix=".nc", dir=target.parent)
        os.close(fd)
        try:
            write_netcdf(results.data, tmp)
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OSError as exc:
        raise _fail(f"--out: cannot write (got {str(out)!r}: {exc.strerror or exc}, "
                    "expected a writable file path)") from None
    console.print(f"Wrote {target} ({len(results.data.data_vars)} variables, CF units and "
                  "long names)", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add ``export pypsa`` and ``export netcdf`` to the ``evflex`` app."""
    app.add_typer(export_app, name="export")
