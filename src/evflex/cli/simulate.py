"""``evflex simulate``: sample charging days, schedule them three ways, write the results.

The command is the plain function :func:`simulate`; the CLI registers it with
``app.command("simulate")(simulate)`` (or :func:`register`). It holds no model logic:
it parses options into a :class:`evflex.simulate.run.SimulationConfig`, runs
:func:`evflex.simulate.run.simulate` with a progress bar, and writes

- ``sessions.csv``: ``vehicle, archetype, arrival_step, departure_step, energy_kwh,
  max_kw, battery_kwh, reserve_kwh`` (``--no-sessions`` to skip);
- ``profile.csv``: ``step, hour, base_kw, unmanaged_kw, managed_kw, v2g_kw`` [kW];
- ``availability.csv``: plug-in shares, plugged-in power, energy bands, state of charge
  and headroom at each step;
- ``summary.csv`` (``metric, value``) and ``summary.json``: peaks, avoided peaks, the
  managed peak's proven lower bound and gap, the availability figures at the peak;
- ``profile.png``: the chart of the profiles and the plug-in share.

Bad input prints one line ``field: problem (got X, expected Y)`` and exits 1.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from evflex.simulate.archetypes import BLOCK, SimulationInputError, load_archetypes
from evflex.simulate.run import (
    BASE_KW_PER_VEHICLE,
    PEAK_HOURS,
    STRATEGIES,
    SimulationResult,
    parse_config,
)
from evflex.simulate.run import simulate as run_simulation
from evflex.simulate.seasons import YearResult
from evflex.simulate.strategies import MAX_SWEEPS

console = Console()
err_console = Console(stderr=True)

#: Summary figures printed on the console, in order.
SHOWN = ("base_peak_kw", "peak_unmanaged_kw", "peak_managed_kw", "managed_lower_bound_kw",
         "peak_v2g_kw", "avoided_peak_managed_vs_unmanaged_kw",
         "avoided_peak_v2g_vs_managed_kw", "plug_in_share_at_peak_v2g_eligible",
         "soc_at_peak", "mobility_reserve_soc", "headroom_at_peak_kwh",
         "charging_coincidence_at_peak")


def profile_chart(result: SimulationResult, path: Path) -> None:
    """Base load plus each strategy's fleet load, and the plug-in share, over the horizon."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p, a = result.profile, result.availability
    hours = p["step"] * result.config.step_minutes / 60.0
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(11, 6.5), sharex=True,
                                   gridspec_kw={"height_ratios": [3, 1]},
                                   constrained_layout=True)
    ax1.plot(hours, p["base_kw"] / 1e3, color="#555555", lw=1.2, label="base load")
    styles = {"unmanaged_kw": ("#D55E00", "base + unmanaged"),
              "managed_kw": ("#009E73", "base + managed (min-peak)"),
              "v2g_kw": ("#0072B2", "base + V2G")}
    for col, (colour, label) in styles.items():
        if p[col].notna().all():
            ax1.plot(hours, (p["base_kw"] + p[col]) / 1e3, color=colour, lw=1.2, label=label)
    ax1.fill_between(hours, 0, 1, where=a["in_peak_block"].to_numpy(),
                     transform=ax1.get_xaxis_transform(), color="#E69F00", alpha=0.12,
                     label="peak block (V2G export)")
    ax1.set_ylabel("load [MW]")
    ax1.legend(loc="upper left", fontsize=8, ncol=3)
    ax1.grid(alpha=0.3)
    c = result.config
    ax1.set_title(f"{c.vehicles:,} vehicles ({c.segment}), {c.days} days, "
                  f"{c.step_minutes}-min steps, seed {c.seed}")
    ax2.plot(hours, a["plug_in_share"], color="#0072B2", lw=1.0, label="plugged in (all)")
    ax2.plot(hours, a["charging_share_unmanaged"], color="#D55E00", lw=1.0,
             label="charging if unmanaged")
    ax2.set_ylim(0, 1)
    ax2.set_ylabel("share of vehicles")
    ax2.set_xlabel("hour of the simulated period [h]")
    ax2.legend(loc="upper left", fontsize=8, ncol=2)
    ax2.grid(alpha=0.3)
    fig.savefig(path, dpi=110)
    plt.close(fig)


@contextmanager
def simulation_progress(console: Console, disable: bool = False
                        ) -> Iterator[Callable[[int, int], None]]:
    """A progress bar with elapsed and remaining time; yields ``report(done, total)``."""
    with Progress(TextColumn("simulating"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("steps of work"), TimeElapsedColumn(), TextColumn("left"),
                  TimeRemainingColumn(), console=console, transient=True,
                  disable=disable) as bar:
        task = bar.add_task("simulation", total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


#: Simulation fields (:mod:`evflex.errors`) whose option is not ``--field``.
OPTIONS = {"archetypes": "SCENARIO", "chunk_vehicles": "--chunk-size"}


def _fail(message: str) -> typer.Exit:
    err_console.print(message, markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(1)


def simulate(
    scenario: Annotated[str | None, typer.Argument(
        help="Archetypes YAML file (the format of evflex/data/simulate/archetypes.yaml); "
             "default: the shipped archetypes.")] = None,
    vehicles: Annotated[int, typer.Option("--vehicles", help="Vehicles to simulate.")] = 1000,
    days: Annotated[int, typer.Option("--days", help="Days (a periodic horizon).")] = 7,
    step: Annotated[str, typer.Option("--step", help="Step: 1-60 min, e.g. 15min, 1h.")
                    ] = "15min",
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("sim"),
    seed: Annotated[int, typer.Option("--seed", help="Seed of the one generator.")] = 1,
    base_load: Annotated[Path | None, typer.Option(
        "--base-load", help="CSV hour,load_pu (24 rows); default: the shipped example.")
    ] = None,
    chunk_size: Annotated[int, typer.Option(
        "--chunk-size", "--chunk-vehicles",
        help=f"Vehicles per chunk (a multiple of {BLOCK}); memory grows with it.")
    ] = 20 * BLOCK,
    segment: Annotated[str, typer.Option("--segment", help="cars, vans or buses.")] = "cars",
    mix: Annotated[str | None, typer.Option(
        "--mix", help="Archetype shares, e.g. commuter_home=0.8,no_home_charger=0.2.")
    ] = None,
    base_kw_per_vehicle: Annotated[float, typer.Option(
        "--base-kw-per-vehicle", help="Base load per simulated vehicle [kW].")
    ] = BASE_KW_PER_VEHICLE,
    peak_hours: Annotated[float, typer.Option(
        "--peak-hours", help="Length of the daily peak block for V2G export [h].")
    ] = PEAK_HOURS,
    strategies: Annotated[str, typer.Option(
        "--strategies", help="Comma list: unmanaged (always), managed, v2g.")
    ] = ",".join(STRATEGIES),
    passes: Annotated[int, typer.Option(
        "--passes", help="V2G passes over the chunks optimising the whole fleet's load.")] = 1,
    sweeps: Annotated[int, typer.Option(
        "--sweeps", help="Most best-response sweeps per chunk schedule.")] = MAX_SWEEPS,
    sessions: Annotated[bool, typer.Option(
        "--sessions/--no-sessions", help="Write sessions.csv (one row per session).")
    ] = True,
    region: Annotated[str | None, typer.Option(
        "--region", help="Simulate a year: four representative weeks (one per season) in "
        "this region's climate (Europe, USA, DE, ..., a station of climate.csv, or none); "
        "writes seasons.csv and seasons.png, the other tables are the binding week's, no "
        "sessions.csv.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No console table.")] = False,
) -> None:
    """Simulate vehicles' charging days: unmanaged, min-peak managed and V2G profiles."""
    from evflex.outputs.tables import write_run

    staging = Path(tempfile.mkdtemp(prefix=".evflex-sim-"))
    try:
        try:
            archetypes = None
            if scenario is not None:
                archetypes = load_archetypes(Path(scenario))
            config = parse_config(vehicles, days, step, seed, segment, mix, base_load,
                                  base_kw_per_vehicle, chunk_size, peak_hours, strategies,
                                  passes, sweeps, keep_sessions=False, archetypes=archetypes)
            sessions_csv = staging / "sessions.csv" if sessions and region is None else None
            year = None
            with simulation_progress(err_console, disable=quiet) as report:
                if region is not None:
                    from evflex.simulate.seasons import climate_and_load, simulate_year

                    station, load = climate_and_load(region)
                    year = simulate_year(config, archetypes or load_archetypes(), station,
                                         progress=report, load=load)
                    result = year.binding_result
                else:
                    result = run_simulation(config, archetypes, progress=report,
                                            sessions_csv=sessions_csv)
        except SimulationInputError as exc:
            raise _fail(exc.as_option(OPTIONS)) from None

        summary = pd.DataFrame({"metric": list(result.summary),
                                "value": [float(v) for v in result.summary.values()]})
        tables = {"profile": result.profile, "availability": result.availability,
                  "summary": summary}
        extra = {
            "summary.json": lambda p: p.write_text(json.dumps(
                {k: float(v) for k, v in result.summary.items()}, indent=2)),
            "profile.png": lambda p: profile_chart(result, p),
        }
        if sessions_csv is not None:
            extra["sessions.csv"] = lambda p: shutil.move(sessions_csv, p)
        if year is not None:
            from evflex.simulate.seasons import seasons_chart

            seasons = year.seasons.assign(region=region,
                                          binding=year.seasons["season"] == year.binding)
            tables["seasons"] = seasons
            extra["seasons.png"] = lambda p: seasons_chart(seasons, p)
        try:
            written = write_run(out, tables, extra, parquet=False)
        except OSError as exc:
            raise _fail(f"--out: cannot write results (got {str(out)!r}: "
                        f"{exc.strerror or exc}, expected a writable folder)") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if not quiet:
        table = Table("metric", "value", title="Simulation summary")
        for key in SHOWN:
            if key in result.summary:
                table.add_row(key, f"{result.summary[key]:,.3f}")
        console.print(table)
        if year is not None:
            console.print(_seasons_table(year))
    console.print(f"Wrote {len(written)} files to {out}", highlight=False)


def _fmt(key: str, value: float) -> str:
    return f"{value:,.0f}" if key.endswith("_kw") else f"{value:,.3f}"


def _seasons_table(year: YearResult) -> Table:
    """Availability at the peak per season and as annual weighted means."""
    shown = {"plug_in_share_at_peak_v2g_eligible": "V2G plugged", "soc_at_peak": "SoC",
             "headroom_at_peak_kwh": "headroom kWh",
             "charging_coincidence_at_peak": "coincidence",
             "peak_unmanaged_kw": "peak unmanaged kW"}
    table = Table("season", "weight", "°C", *shown.values(),
                  title=f"Year in four weeks (binding: {year.binding})")
    for row in year.seasons.itertuples():
        table.add_row(f"{row.season}{'*' if row.season == year.binding else ''}",
                      f"{row.weight:.3f}", f"{row.temp_c:.1f}",
                      *(_fmt(k, getattr(row, k)) for k in shown))
    table.add_row("annual", "1.000", "", *(_fmt(k, year.annual[k]) for k in shown))
    return table


#: The earlier name of :func:`simulate`.
simulate_command = simulate


def register(app: typer.Typer) -> None:
    """Add ``simulate`` to ``app``."""
    app.command("simulate")(simulate)
