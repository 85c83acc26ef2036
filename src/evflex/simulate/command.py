"""``evflex simulate``: sample charging days, schedule them three ways, write the results."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from evflex.simulate.archetypes import BLOCK, SimulationInputError
from evflex.simulate.run import (
    BASE_KW_PER_VEHICLE,
    PEAK_HOURS,
    SESSION_COLUMNS,
    SimulationResult,
    parse_config,
    simulate,
)

console = Console()
err_console = Console(stderr=True)


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
    peak = a["in_peak_block"].to_numpy()
    ax1.fill_between(hours, 0, 1, where=peak, transform=ax1.get_xaxis_transform(),
                     color="#E69F00", alpha=0.12, label="peak block (V2G export)")
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
    ax2.set_xlabel("hour of the simulated period")
    ax2.legend(loc="upper left", fontsize=8, ncol=2)
    ax2.grid(alpha=0.3)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate_command)


def simulate_command(
    scenario: Annotated[str | None, typer.Argument(
        help="Scenario (reserved: the simulation takes its archetypes from "
             "evflex/data/simulate/archetypes.yaml).")] = None,
    vehicles: Annotated[int, typer.Option("--vehicles", help="Vehicles to simulate.")] = 1000,
    days: Annotated[int, typer.Option("--days", help="Days (periodic horizon).")] = 7,
    step: Annotated[str, typer.Option("--step", help="Step: 1-60 min, e.g. 15min, 1h.")] = "15min",
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("sim"),
    seed: Annotated[int, typer.Option("--seed", help="Seed of the one generator.")] = 1,
    segment: Annotated[str, typer.Option("--segment", help="cars, vans or buses.")] = "cars",
    mix: Annotated[str | None, typer.Option(
        "--mix", help="Archetype shares, e.g. commuter_home=0.8,no_home_charger=0.2.")] = None,
    base_load: Annotated[Path | None, typer.Option(
        "--base-load", help="CSV hour,load_pu (24 rows); default: the shipped example.")] = None,
    base_kw_per_vehicle: Annotated[float, typer.Option(
        "--base-kw-per-vehicle", help="Base load per simulated vehicle [kW].")
    ] = BASE_KW_PER_VEHICLE,
    peak_hours: Annotated[float, typer.Option(
        "--peak-hours", help="Length of the daily peak block for V2G export [h].")] = PEAK_HOURS,
    strategies: Annotated[str, typer.Option(
        "--strategies", help="Comma list: unmanaged (always), managed, v2g.")
    ] = "unmanaged,managed,v2g",
    chunk_vehicles: Annotated[int, typer.Option(
        "--chunk-vehicles", help=f"Vehicles per chunk (a multiple of {BLOCK}).")] = 5 * BLOCK,
    sessions: Annotated[bool, typer.Option(
        "--sessions/--no-sessions", help="Write sessions.csv (one row per session).")] = True,
) -> None:
    """Simulate vehicles' charging days: unmanaged, min-peak managed and V2G profiles."""
    from evflex.outputs.tables import write_run

    try:
        config = parse_config(vehicles, days, step, seed, segment, mix, base_load,
                              base_kw_per_vehicle, chunk_vehicles, peak_hours, strategies)
        config = type(config)(**{**config.__dict__, "keep_sessions": sessions})
        n_chunks = -(-vehicles // chunk_vehicles)
        with Progress(TextColumn("simulating"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("chunks"), TimeElapsedColumn(), console=err_console,
                      disable=n_chunks < 2, transient=True) as bar:
            task = bar.add_task("chunks", total=n_chunks)
            result = simulate(config, progress=lambda done, _: bar.update(task, completed=done))
    except SimulationInputError as exc:
        err_console.print(str(exc), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None

    summary = pd.DataFrame({"metric": list(result.summary),
                            "value": [float(v) for v in result.summary.values()]})
    tables = {"profile": result.profile, "availability": result.availability,
              "summary": summary}
    if result.sessions is not None:
        tables["sessions"] = result.sessions[SESSION_COLUMNS]
    try:
        write_run(out, tables, {"profile.png": lambda p: profile_chart(result, p)},
                  parquet=False)
    except OSError as exc:
        err_console.print(f"--out: cannot write results (got {str(out)!r}: "
                          f"{exc.strerror or exc}, expected a writable folder)",
                          markup=False, highlight=False)
        raise typer.Exit(1) from None
    table = Table("metric", "value", title="Simulation summary")
    for key in ("base_peak_kw", "peak_unmanaged_kw", "peak_managed_kw", "peak_v2g_kw",
                "avoided_peak_managed_vs_unmanaged_kw", "avoided_peak_v2g_vs_managed_kw",
                "plug_in_share_at_peak_v2g_eligible", "soc_at_peak", "mobility_reserve_soc",
                "charging_coincidence_at_peak"):
        if key in result.summary:
            table.add_row(key, f"{result.summary[key]:,.3f}")
    console.print(table)
    console.print(f"Wrote {len(tables) + 1} files to {out}", highlight=False)
