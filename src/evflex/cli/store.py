"""``evflex runs list|show|export|check`` and ``evflex diff``.

The store is ``--store PATH``, else ``$EVFLEX_STORE``, else
``$XDG_DATA_HOME/evflex/runs.duckdb`` (``~/.local/share/evflex/runs.duckdb``). Runs get
there with ``evflex run --store PATH``.

Exit codes: 0 success; 1 bad input (unknown run, scenario, option value, a store that
cannot be used, an output folder that cannot be written). Errors are one line on
stderr, never a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from evflex.store.db import RunInfo, RunStore, StoreError, default_store_path

console = Console()
err_console = Console(stderr=True)

EXIT_BAD_INPUT = 1
SUMMARY_YEARS = (2025, 2030, 2050, 2100)

StoreOpt = Annotated[Path | None, typer.Option(
    "--store", help="The run store (DuckDB file); default $EVFLEX_STORE, else "
    "~/.local/share/evflex/runs.duckdb.", show_default=False)]
RunArg = Annotated[str, typer.Argument(
    help="A run id, a unique prefix of one (4+ characters), latest or latest~N.")]


def _f(value: Any) -> float:
    """A table cell as a float."""
    return float(value)


def _fail(line: str, code: int = EXIT_BAD_INPUT) -> typer.Exit:
    err_console.print(line, markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _store(path: Path | None) -> RunStore:
    return RunStore(path if path is not None else default_store_path())


# --------------------------------------------------------------------------- runs

runs_app = typer.Typer(help="Browse the runs kept in the run store (evflex run --store).",
                       no_args_is_help=True, add_completion=False,
                       pretty_exceptions_enable=False)


def _fmt_share(value: float | None) -> str:
    return "–" if value is None or pd.isna(value) else f"{100 * value:.1f}"


@runs_app.command("list")
def list_runs(
    store: StoreOpt = None,
    scenario: Annotated[str | None, typer.Option(
        "--scenario", help="Only runs of this scenario name.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1,
                                       help="Newest runs shown.")] = 50,
) -> None:
    """List stored runs, newest first, with the World V2G share and export power in 2050."""
    st = _store(store)
    try:
        runs = st.runs(scenario=scenario, limit=limit)
        keys = st.world_2050(list(runs["run_id"])).set_index("run_id")
    except StoreError as exc:
        raise _fail(str(exc)) from None
    table = Table(title=f"Runs in {escape(str(st.path))}", title_justify="left")
    table.add_column("run id", no_wrap=True)
    table.add_column("time (UTC)", no_wrap=True)
    table.add_column("scenario")
    table.add_column("hash", no_wrap=True)
    table.add_column("checks", justify="right", no_wrap=True)
    table.add_column("V2G 2050 [% of EVs]", justify="right")
    table.add_column("V2G export 2050 [GW]", justify="right")
    for r in runs.to_dict("records"):
        share = _f(keys.loc[r["run_id"], "v2g_share"])
        power = _f(keys.loc[r["run_id"], "v2g_export_power"])
        checks = ("–" if pd.isna(r["checks_total"])
                  else f"{int(r['checks_passed'])}/{int(r['checks_total'])}")
        table.add_row(str(r["run_id"]), f"{r['created_at']:%Y-%m-%d %H:%M}",
                      escape(f"{r['scenario_name']} v{r['scenario_version']}"),
                      str(r["scenario_hash"])[:8], checks,
                      _fmt_share(share), "–" if pd.isna(power) else f"{power:,.1f}")
    console.print(table)
    if runs.empty:
        console.print("No runs yet: record one with `evflex run --store PATH`.",
                      highlight=False)


def _meta_table(info: RunInfo, path: Path) -> Table:
    table = Table(show_header=False, title=f"Run {info.run_id}", title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    rows = [
        ("store", str(path)),
        ("time (UTC)", f"{info.created_at:%Y-%m-%d %H:%M:%S}"),
        ("scenario", f"{info.scenario_name} v{info.scenario_version}"),
        ("scenario hash", info.scenario_hash),
        ("scenario file", info.scenario_source or "(not from a file)"),
        ("scenario stored", "yes" if info.scenario_yaml else "no"),
        ("evflex", info.evflex_version),
        ("availability", info.availability_source),
        ("checks", "–" if info.checks_total is None
         else f"{info.checks_passed}/{info.checks_total} pass"),
        ("tables", ", ".join(f"{k} ({v:,} rows)" for k, v in info.tables.items())),
    ]
    for k, v in rows:
        table.add_row(k, escape(v))
    return table


def _outputs_table(tables: dict[str, pd.DataFrame], title: str) -> Table | None:
    from evflex.capacity import METRICS
    from evflex.outputs.style import STATE_LABELS
    from evflex.states import STATES

    if not {"states", "fleet", "capacity"} <= set(tables):
        return None
    states, fleet, cap = tables["states"], tables["fleet"], tables["capacity"]
    years = [y for y in SUMMARY_YEARS if (fleet["year"] == y).any()]
    world_fleet = fleet[(fleet["region"] == "World") & (fleet["segment"] == "all")]
    ev = world_fleet.set_index("year")["ev_stock"]
    shares = states[(states["region"] == "World") & (states["segment"] == "all")].pivot(
        index="state", columns="year", values="share")
    world_cap = cap[cap["region"] == "World"].pivot(index="metric", columns="year",
                                                    values="value")
    table = Table(title=title, title_justify="left")
    table.add_column("")
    for y in years:
        table.add_column(str(y), justify="right")
    table.add_row(escape("EV stock [million]"), *[f"{ev[y] / 1e6:,.1f}" for y in years])
    for s in STATES:
        table.add_row(escape(f"{STATE_LABELS[s]} [% of EVs]"),
                      *[f"{100 * _f(shares.loc[s, y]):.1f}" for y in years])
    for m, unit in METRICS.items():
        if m in world_cap.index:
            scale, shown = (1e-6, "million vehicles") if unit == "vehicles" else (1.0, unit)
            table.add_row(escape(f"{m} [{shown}]"),
                          *[f"{_f(world_cap.loc[m, y]) * scale:,.1f}" for y in years])
    return table


@runs_app.command("show")
def show_run(
    run: RunArg,
    store: StoreOpt = None,
    show_scenario: Annotated[bool, typer.Option(
        "--scenario", help="Also print the stored scenario (merged YAML).")] = False,
) -> None:
    """Metadata and key World outputs of one stored run, and any failed check."""
    st = _store(store)
    try:
        info = st.info(run)
        wanted = [t for t in ("states", "fleet", "capacity", "checks") if t in info.tables]
        tables = st.tables(info.run_id, wanted)
    except StoreError as exc:
        raise _fail(str(exc)) from None
    console.print(_meta_table(info, st.path))
    outputs = _outputs_table(tables, f"World · {info.scenario_name} v{info.scenario_version}")
    if outputs is not None:
        console.print(outputs)
    checks = tables.get("checks")
    if checks is not None:
        for r in checks[checks["status"] != "pass"].itertuples():
            console.print(f"check {r.status}: {r.check} (value {r.value:.6g}, limit "
                          f"{r.limit}): {r.detail}", markup=False, highlight=False)
    if show_scenario and info.scenario_yaml:
        console.print(info.scenario_yaml, markup=False, highlight=False)


@runs_app.command("export")
def export_run(
    run: RunArg,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
    store: StoreOpt = None,
    parquet: Annotated[bool, typer.Option(
        "--parquet/--no-parquet", help="Also write Parquet copies of the tables.")] = True,
) -> None:
    """Write a stored run back to the files `evflex run` writes (CSV, charts, scenario)."""
    from evflex.outputs.charts import funnel_chart, states_chart
    from evflex.outputs.tables import write_run

    st = _store(store)
    try:
        info = st.info(run)
        tables = st.tables(info.run_id)
    except StoreError as exc:
        raise _fail(str(exc)) from None
    title = f"{info.scenario_name} v{info.scenario_version}"
    extra = {"run.json": lambda p: p.write_text(json.dumps(_run_json(info), indent=2) + "\n",
                                                encoding="utf-8")}
    if info.scenario_yaml:
        text = info.scenario_yaml
        extra["scenario.yaml"] = lambda p: p.write_text(text, encoding="utf-8")
    if "states" in tables:
        states = tables["states"]
        extra["states.png"] = lambda p: states_chart(states, p, title)
    if "energy_funnel" in tables and len(tables["energy_funnel"]):
        funnel = tables["energy_funnel"]
        extra["funnel.png"] = lambda p: funnel_chart(funnel, p)
    try:
        written = write_run(out, tables, extra, parquet=parquet)
    except OSError as exc:
        raise _fail(f"--out: cannot write the run (got {str(out)!r}: "
                    f"{exc.strerror or exc}, expected a writable folder)") from None
    console.print(f"Exported run {info.run_id} ({title}): {len(written)} files to {out}",
                  highlight=False)


def _run_json(info: RunInfo) -> dict[str, object]:
    return {"run_id": info.run_id, "created_at_utc": info.created_at.isoformat() + "Z",
            "scenario": info.scenario_name, "version": info.scenario_version,
            "scenario_hash": info.scenario_hash, "scenario_source": info.scenario_source,
            "evflex_version": info.evflex_version,
            "availability_source": info.availability_source,
            "availability": info.availability, "checks_passed": info.checks_passed,
            "checks_total": info.checks_total, "tables": info.tables}


@runs_app.command("check")
def check_store(store: StoreOpt = None) -> None:
    """Check that every stored run is whole (each table has the rows it was written with)."""
    st = _store(store)
    try:
        problems = st.check()
        n = len(st.runs())
        version = st.schema_version()
    except StoreError as exc:
        raise _fail(str(exc)) from None
    if problems:
        for p in problems:
            err_console.print(p, markup=False, highlight=False)
        raise typer.Exit(EXIT_BAD_INPUT)
    console.print(f"{st.path}: {n} run(s), schema version {version}, all whole",
                  highlight=False)


# --------------------------------------------------------------------------- diff

def _label(row: Any) -> str:
    unit = str(row["unit"])
    shown = "" if unit.startswith("fraction") or unit == "vehicles" else f" [{unit}]"
    return f"{row['label']}{shown}"


def _signed(value: float, unit: str) -> str:
    if value == 0:
        return "0"
    if unit.startswith("fraction"):
        return f"{100 * value:+.2f} pp"
    if unit == "vehicles":
        return f"{value / 1e6:+,.2f} M"
    return f"{value:+,.3g}" if abs(value) < 100 else f"{value:+,.0f}"


def _plain(value: float, unit: str) -> str:
    if unit.startswith("fraction"):
        return f"{100 * value:.2f} %"
    if unit == "vehicles":
        return f"{value / 1e6:,.2f} M"
    return f"{value:,.3g}" if abs(value) < 100 else f"{value:,.0f}"


def _print_diff(d: object, chart_year: int) -> None:
    from evflex.store.diff import Diff

    assert isinstance(d, Diff)
    console.print(f"[bold]A[/bold] {escape(d.a.label)}\n[bold]B[/bold] {escape(d.b.label)}")
    read = d.changes[d.changes["player"] != ""]
    if len(read):
        ch = Table(title="Assumptions that changed", title_justify="left")
        for col in ("assumption", "applies to", "A", "B", "attributed to"):
            ch.add_column(col, overflow="fold")
        for r in read.itertuples():
            ch.add_row(escape(str(r.item)), escape(str(r.applies_to)), escape(str(r.a)),
                       escape(str(r.b)), escape(str(r.player)))
        console.print(ch)
    rest = d.changes[d.changes["player"] == ""]
    if len(rest):
        what = ", ".join(dict.fromkeys(rest["what"]))
        console.print(f"{len(rest)} other change(s) that the engine does not read ({what}): "
                      "see changes.csv", highlight=False)
    out = Table(title="Key outputs, World", title_justify="left")
    out.add_column("output")
    for y in d.years:
        out.add_column(f"{y}: A → B", justify="right")
    for _name, rows in d.outputs.groupby("output", sort=False):
        first = rows.iloc[0]
        cells = [f"{_plain(r['value_a'], r['unit'])} → {_plain(r['value_b'], r['unit'])}"
                 + (f" ({_signed(r['change'], r['unit'])})" if r["change"] != 0 else "")
                 for r in rows.to_dict("records")]
        unit = str(first["unit"])
        shown = ("" if unit.startswith("fraction") or unit == "vehicles" else f" [{unit}]")
        out.add_row(escape(f"{first['label']}{shown}"), *cells)
    console.print(out)
    if d.players:
        at = d.attribution[d.attribution["year"] == chart_year]
        how = (f"exact over {d.evaluations} coalitions" if d.method == "exact" else
               f"sampled: {d.permutations} orders, seed {d.seed}, {d.evaluations} coalitions")
        t = Table(title=f"Attribution of the change in {chart_year} (Shapley, {how})",
                  title_justify="left")
        moved = [(rows.iloc[0], rows.set_index("group")["attribution"])
                 for _name, rows in at.groupby("output", sort=False)
                 if rows.iloc[0]["total_change"] != 0]
        # The terminal's width now (a module-level console keeps the width it saw first).
        wide = 32 + 13 * (len(d.players) + 1) <= Console().width
        if wide:  # one row per output, one column per changed assumption
            t.add_column("output")
            for p in d.players:
                t.add_column(escape(p), justify="right", overflow="fold")
            t.add_column("total", justify="right")
            for first, by in moved:
                t.add_row(escape(_label(first)),
                          *[_signed(_f(by[p]), str(first["unit"])) for p in d.players],
                          _signed(_f(first["total_change"]), str(first["unit"])))
        else:  # many assumptions: one row each, a few key outputs as columns
            from evflex.store.charts import DEFAULT_PANELS

            panels = [(f, by) for f, by in moved if f["output"] in DEFAULT_PANELS]
            t.add_column("assumption", no_wrap=True)
            for first, _ in panels:
                t.add_column(escape(_label(first)), justify="right", overflow="fold")
            for p in d.players:
                t.add_row(escape(p), *[_signed(_f(by[p]), str(f["unit"])) for f, by in panels])
            t.add_row("[bold]total[/bold]", *[_signed(_f(f["total_change"]), str(f["unit"]))
                                              for f, _ in panels])
            t.caption = "every output in diff.csv"
        console.print(t)
    else:
        console.print("No change that the engine reads: nothing to attribute.")
    changed = d.verdicts[d.verdicts["changed"]]
    if len(changed):
        v = Table(title="Verdicts that changed", title_justify="left")
        for col in ("kind", "item", "A", "B"):
            v.add_column(col)
        for row in changed.to_dict("records"):
            v.add_row(str(row["kind"]), escape(str(row["item"])), escape(str(row["a"])),
                      escape(str(row["b"])))
        console.print(v)
    else:
        console.print(f"Verdicts: none of {len(d.verdicts)} changed.", highlight=False)
    cards = d.verdicts[(d.verdicts["kind"] == "scorecard") & ~d.verdicts["changed"]]
    if len(cards):
        console.print("Scorecard, the same on both sides (each side judged): " + ", ".join(
            f"{r['item']} {r['a']}" for r in cards.to_dict("records")), highlight=False)
    for side, gap in d.reproduced.items():
        if gap is not None and gap > 1e-9:
            err_console.print(f"note: re-running {side.upper()} from its stored scenario "
                              f"differs from the stored outputs by up to {gap:.2%} (another "
                              "evflex version?); the attribution uses the re-run",
                              highlight=False)


def diff_command(
    a: Annotated[str, typer.Argument(help="A: a run id (or latest~N), a scenario file or a "
                                          "shipped scenario name.")],
    b: Annotated[str, typer.Argument(help="B: the same kinds as A.")],
    store: StoreOpt = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("diff"),
    year: Annotated[list[int] | None, typer.Option(
        "--year", "-y", help="Years of the key outputs (repeat; default 2030, 2050, 2100).",
        show_default=False)] = None,
    by: Annotated[str, typer.Option(
        "--by", help="Attribute to each changed 'parameter' (and section), or to each "
        "'group' of the parameter registry.")] = "parameter",
    exact_max: Annotated[int, typer.Option(
        "--exact-max", min=1, max=16,
        help="Exact Shapley values up to this many changed assumptions, sampled beyond.")] = 8,
    permutations: Annotated[int, typer.Option(
        "--permutations", min=2, help="Orders sampled beyond --exact-max.")] = 128,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the sampled orders.")] = 1,
    chart_year: Annotated[int | None, typer.Option(
        "--chart-year", help="Year of the waterfall chart and the console attribution "
        "(default: the last --year).", show_default=False)] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No console tables.")] = False,
) -> None:
    """Compare two runs or scenarios: what changed, and which assumption moved each output.

    Writes diff.csv (output, year, group, attribution, total_change, ...), changes.csv,
    outputs.csv, verdicts.csv, diff.json and waterfall.png into --out.
    """
    from evflex.outputs.tables import write_run
    from evflex.store.charts import waterfall_chart
    from evflex.store.diff import DiffError, diff

    if by not in ("parameter", "group"):
        raise _fail(f"--by: unknown grouping (got {by!r}, expected 'parameter' or 'group')")
    grouping: Literal["parameter", "group"] = "group" if by == "group" else "parameter"
    try:
        d = diff(a, b, _store(store), years=year, by=grouping, exact_max=exact_max,
                 permutations=permutations, seed=seed)
    except (DiffError, StoreError) as exc:
        raise _fail(str(exc)) from None
    cy = chart_year if chart_year is not None else d.years[-1]
    if cy not in d.years:
        raise _fail(f"--chart-year: not one of the diff's years (got {cy}, expected one of "
                    f"{', '.join(map(str, d.years))})")
    tables = {"diff": d.attribution, "changes": d.changes, "outputs": d.outputs,
              "verdicts": d.verdicts}
    label_a = f"A: {d.a.scenario.name} v{d.a.scenario.version}"
    label_b = f"B: {d.b.scenario.name} v{d.b.scenario.version}"
    summary = d.summary()
    extra = {"diff.json": lambda p: p.write_text(json.dumps(summary, indent=2) + "\n",
                                                 encoding="utf-8")}
    if d.players:
        extra["waterfall.png"] = lambda p: waterfall_chart(d.attribution, p, cy, label_a,
                                                           label_b)
    try:
        written = write_run(out, tables, extra, parquet=False)
    except OSError as exc:
        raise _fail(f"--out: cannot write the diff (got {str(out)!r}: "
                    f"{exc.strerror or exc}, expected a writable folder)") from None
    if not quiet:
        _print_diff(d, cy)
    console.print(f"Wrote {len(written)} files to {out}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``runs`` and ``diff`` to the evflex command line."""
    app.add_typer(runs_app, name="runs")
    app.command("diff")(diff_command)
