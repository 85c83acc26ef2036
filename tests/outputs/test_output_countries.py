"""A country run's workbook: blocks and the World by default, countries on request, live.

``evflex run countries`` has ~46 regions; its workbook holds one live row per group of
countries that share their blocks (EU27, Europe outside the EU27, North America, ...)
unless ``--workbook-regions`` (or ``write_workbook(regions=...)``) gives countries rows
of their own. The groups' inputs are weighted so that their formulas give the sum of
their members: LibreOffice recalculates a copy whose cached results were set to 0, and
every capacity figure the workbook shows (blocks, World, the countries asked for) must
equal the run's own table to 1e-9, every check status and every live verdict too. The
default must stay a readable size: smaller than a third of the all-countries workbook,
and printed within the print test's page budgets.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from output_helpers import (
    assert_values_match,
    convert,
    read_block,
    require_tool,
    zero_cached_results,
)
from test_output_print import MAX_PAGES, MAX_PAGES_PER_SHEET, _overlapping_words, _pages

from evflex.outputs.workbook import write_workbook
from evflex.pipeline import Run, run

RTOL = 1e-9
ASKED = ["GB", "DE", "US"]


@pytest.fixture(scope="module")
def country_run() -> Run:
    return run("countries")


@pytest.fixture(scope="module")
def books(tmp_path_factory: pytest.TempPathFactory, country_run: Run) -> dict[str, Path]:
    work = tmp_path_factory.mktemp("countries")
    out = {}
    for name, regions in (("default", None), ("asked", ASKED)):
        path = work / f"{name}.xlsx"
        write_workbook(path, country_run.results, country_run.tables, regions=regions)
        out[name] = path
    return out


@pytest.fixture(scope="module")
def recalculated(tmp_path_factory: pytest.TempPathFactory, books: dict[str, Path]
                 ) -> dict[str, Path]:
    require_tool("soffice")
    work = tmp_path_factory.mktemp("recalc")
    zeroed = {}
    for name, path in books.items():
        zeroed[name] = work / f"zeroed_{name}.xlsx"
        assert zero_cached_results(path, zeroed[name]) > 10000
    out = convert(list(zeroed.values()), work / "out")
    return dict(zip(zeroed, out, strict=True))


def _capacity(path: Path) -> pd.DataFrame:
    wide = read_block(path, "capacity_table")
    long = wide.melt(id_vars=["region", "year"], var_name="metric")
    long["metric"] = long["metric"].str.split(" ").str[0]
    return long


@pytest.mark.parametrize("name", ["default", "asked"])
def test_country_workbook_recalculates_to_the_run(name: str, country_run: Run,
                                                  recalculated: dict[str, Path]) -> None:
    got = _capacity(recalculated[name])
    blocks = list(country_run.results.blocks)
    own = ASKED if name == "asked" else []
    shown = set(got["region"])
    assert {*blocks, "World", *own} <= shown
    # no other country: the rest of the World is in the blocks (and OtherCountries, a
    # region outside every block)
    assert shown - {*blocks, "World", *own} == {"OtherCountries"}
    want = country_run.tables["capacity"]
    merged = got.merge(want, on=["region", "year", "metric"], suffixes=("_wb", ""),
                       validate="one_to_one")
    assert len(merged) == len(got) > 1000
    assert_values_match(merged, RTOL)
    statuses = read_block(recalculated[name], "checks_table").set_index("check")["status"]
    pd.testing.assert_series_equal(statuses, country_run.checks.set_index("check")["status"],
                                   check_names=False)
    ws = openpyxl.load_workbook(recalculated[name], data_only=True)["Scorecard"]
    rows = list(ws.iter_rows(values_only=True))
    at = next(i for i, r in enumerate(rows) if r[0] == "verdict (live)")
    pathways = [p for p in rows[at - 1][1:] if p is not None]
    live = dict(zip(pathways, rows[at][1:len(pathways) + 1], strict=True))
    want_verdicts = country_run.judgement["scorecard"].set_index("pathway")["verdict"]
    assert live == want_verdicts.to_dict()


def test_groups_keep_their_members_inputs_where_they_agree(books: dict[str, Path],
                                                          country_run: Run) -> None:
    """A group's input where its members share one value is that value, exactly (the
    export rating is one number in the countries scenario); where they differ, the
    group's weighted value lies between its members' values."""
    frame = read_block(books["default"], "capacity_cells")
    export = frame[next(c for c in frame.columns if c.startswith("export_power_kw"))]
    ds = country_run.results.data
    assert set(export) == set(np.unique(ds["param_export_power_kw"].values))
    filters = read_block(books["default"], "filter_table")
    col = next(c for c in filters.columns if str(c).startswith("export_permitted"))
    eu = filters[(filters["region"] == "EU27") & (filters["year"] == 2030)]
    members = country_run.results.blocks["EU27"]
    values = ds["param_export_permitted"].sel(region=members, year=2030)
    assert float(values.min()) < float(values.max()), "EU27 countries differ in 2030"
    assert float(values.min()) <= float(eu[col].iloc[0]) <= float(values.max())


def test_asked_countries_add_rows(books: dict[str, Path]) -> None:
    sizes = {name: path.stat().st_size for name, path in books.items()}
    assert sizes["default"] < sizes["asked"], sizes
    rows = {name: len(read_block(path, "filter_table")) for name, path in books.items()}
    # GB, DE and US leave their groups (EU27 and North America keep a rest, Europe's
    # non-EU27 group too): three more rows per segment and year
    years = len(read_block(books["default"], "world_states"))
    assert rows["asked"] - rows["default"] == 3 * years


@pytest.mark.slow
def test_default_workbook_is_a_readable_size(tmp_path: Path, country_run: Run,
                                             books: dict[str, Path]) -> None:
    every = tmp_path / "all.xlsx"
    write_workbook(every, country_run.results, country_run.tables,
                   regions=list(country_run.scenario.regions))
    sizes = {name: path.stat().st_size for name, path in {**books, "all": every}.items()}
    assert sizes["default"] < sizes["asked"] < sizes["all"]
    assert sizes["default"] < sizes["all"] / 3, sizes


def test_default_workbook_prints_within_the_budget(tmp_path: Path,
                                                   books: dict[str, Path]) -> None:
    require_tool("soffice")
    require_tool("pdftotext")
    (pdf,) = convert([books["default"]], tmp_path, to="pdf")
    pages = _pages(pdf)
    sheets = openpyxl.load_workbook(books["default"], read_only=True).sheetnames
    per_sheet: dict[str, int] = {}
    for footer, _, _ in pages:
        sheet = next((s for s in sheets if f"evflex · {s} page" in footer), None)
        assert sheet is not None, footer
        per_sheet[sheet] = per_sheet.get(sheet, 0) + 1
    assert set(per_sheet) == set(sheets)
    assert len(pages) <= MAX_PAGES, per_sheet
    assert max(per_sheet.values()) <= MAX_PAGES_PER_SHEET, per_sheet
    assert _overlapping_words(pdf) == []  # every row tall enough for its wrapped text


# ------------------------------------------------------------------ the report


def test_report_region_menu_is_sorted_by_name_and_a_block_shows_its_sum(
        country_run: Run) -> None:
    from evflex.outputs.report import report_context

    context = report_context(country_run.results, country_run.tables)
    labels = [b["label"] for b in context["region_menu"]]
    blocks = list(country_run.results.blocks)
    assert labels[:1 + len(blocks)] == ["World", *blocks]
    countries = labels[1 + len(blocks):]
    assert countries == sorted(countries, key=str.casefold)
    assert "United Kingdom (GB)" in countries and "Germany (DE)" in countries
    fig = context["figures"]["states_vehicles"]
    assert "updatemenus" not in fig["layout"]  # one select drives both charts

    def shown(label: str) -> np.ndarray:
        button = context["region_menu"][labels.index(label)]
        traces = [t for t, v in zip(fig["data"], button["args"][0]["visible"], strict=True)
                  if v]
        assert len(traces) == 5
        return np.array([t["y"] for t in traces], dtype=float)

    members = country_run.results.blocks["EU27"]
    by_label = {b["id"]: b["label"] for b in context["region_filter"]}
    total = sum(shown(by_label[m]) for m in members)
    np.testing.assert_allclose(shown("EU27"), total, rtol=1e-9)
    eu = next(r for r in context["region_filter"] if r["id"] == "EU27")
    assert eu["members"] == members


def test_report_history_chart_is_history_csv_with_disputed_figures_open(
        country_run: Run) -> None:
    from evflex.outputs.report import report_context

    context = report_context(country_run.results, country_run.tables)
    fig = context["figures"]["history"]
    history = country_run.tables["history"]
    assert [t["meta"] for t in fig["data"][::2]] == context["region_ids"]
    assert len(context["region_ids"]) == len(context["region_menu"])
    for line, points in zip(fig["data"][::2], fig["data"][1::2], strict=True):
        rows = history[history["region"] == line["meta"]].sort_values("year")
        np.testing.assert_allclose(np.array(line["y"], dtype=float),
                                   rows["ev_stock_compared"].where(
                                       rows["ev_stock_compared"] > 0), rtol=1e-9)
        np.testing.assert_allclose(np.array(points["y"], dtype=float),
                                   rows["iea_ev_stock"].where(rows["iea_ev_stock"] > 0),
                                   rtol=1e-9)
        disputed = rows["iea_note"].fillna("").str.contains("disputed").to_numpy()
        assert [m == "circle-open" for m in points["marker"]["symbol"]] == disputed.tolist()
    tr = next(t for t in fig["data"][1::2] if t["meta"] == "TR")
    assert "circle-open" in tr["marker"]["symbol"]
    assert [t["visible"] for t in fig["data"]][:2] == [True, True]  # the World first
    assert not any(t["visible"] for t in fig["data"][2:])


def test_report_region_select_moves_both_charts_and_filters_assumptions(
        tmp_path: Path, country_run: Run) -> None:
    from test_output_report import CHROMIUM, CHROMIUM_ARGS

    from evflex.outputs.report import write_report

    require_tool(CHROMIUM)
    from playwright.sync_api import sync_playwright

    path = tmp_path / "report.html"
    write_report(path, country_run.results, country_run.tables)
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 900})
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(path.resolve().as_uri(), wait_until="load")
            page.wait_for_function("document.getElementById('chart-states_vehicles').data",
                                   timeout=30_000)
            page.select_option("#states-region", label="United Kingdom (GB)")
            titles = page.evaluate("""() => ['chart-states_share', 'chart-states_vehicles',
                'chart-history'].map(id => document.getElementById(id).layout.title.text)""")
            history = page.evaluate("""() => document.getElementById('chart-history').data
                .filter(t => t.visible === true).map(t => [t.meta, t.y.length])""")
            page.select_option("#assumption-region", "GB")
            count = page.locator("#assumption-count").text_content()
            kept = page.evaluate("""() => Array.from(document.querySelectorAll(
                '#assumption-table tbody tr')).filter(r => r.style.display !== 'none')
                .map(r => r.cells[2].textContent)""")
        finally:
            browser.close()
    assert errors == []
    assert all(t.endswith("(United Kingdom (GB))") for t in titles), titles
    assert [meta for meta, _ in history] == ["GB", "GB"] and all(n >= 15 for _, n in history)
    assumptions = country_run.tables["assumptions"]
    used = assumptions["used_by"].astype(str).str.split(",").map(
        lambda xs: {x.replace("(inherited)", "").strip() for x in xs})
    want = int((used.map(lambda s: "GB" in s) | (assumptions["applies_to"] == "GB")).sum())
    assert count == f"{want} of {len(assumptions)} rows"
    assert len(kept) == want and all("GB" in k for k in kept)


# ------------------------------------------------------------------ the command line


def test_regions_selection_makes_a_workbook_of_those_countries(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from evflex.cli import app

    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["run", "countries", "--regions", "GB,DE", "--out",
                                      str(out), "--quiet", "--no-report", "--no-parquet",
                                      "--allow-failed-checks"])
    assert result.exit_code == 0, result.output
    shown = set(read_block(out / "workbook.xlsx", "capacity_table")["region"])
    assert shown == set(pd.read_csv(out / "capacity.csv")["region"]) \
        == {"GB", "DE", "EU27", "Europe", "World"}
    labels = set(read_block(out / "workbook.xlsx", "filter_table")["region"])
    assert {"GB", "DE", "EU27 (rest)", "Europe (rest)"} <= labels


@pytest.mark.parametrize(("args", "message"), [
    (["--workbook-regions", "XX"], "--workbook-regions: unknown region 'XX'"),
    (["--workbook-regions", ","], "--workbook-regions: no region given"),
    (["--regions", "GB", "--workbook-regions", "DE"],
     "--workbook-regions: 'DE' is not among --regions"),
])
def test_bad_workbook_regions_is_one_line(tmp_path: Path, args: list[str],
                                          message: str) -> None:
    from typer.testing import CliRunner

    from evflex.cli import app

    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["run", "countries", "--out", str(out), *args])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(message), result.output
    assert not out.exists()


# ------------------------------------------------------------------ an edited country row


def test_an_edited_country_row_moves_the_blocks_as_evflex_run(tmp_path: Path,
                                                             country_run: Run) -> None:
    """An analyst gives GB its own rows, halves GB's ``v2g_enrolled`` in the workbook and
    LibreOffice recalculates; the same change written as a GB override of the scenario
    and run by the pipeline must give every capacity figure shown (GB, Europe, the other
    blocks, the World) to 1e-9, and the same check statuses."""
    require_tool("soffice")
    from evflex.scenario.load import parse, read_raw, resolve_path

    book = tmp_path / "gb.xlsx"
    write_workbook(book, country_run.results, country_run.tables, regions=["GB"])
    wb = openpyxl.load_workbook(book)
    ws = wb["Filters & Funnel"]
    header = {str(c.value).split(" [")[0]: c.column for c in ws[6] if c.value is not None}
    edited = 0
    for row in range(7, ws.max_row + 1):
        if ws.cell(row, 1).value == "GB":
            cell = ws.cell(row, header["v2g_enrolled"])
            cell.value = cell.value * 0.5
            edited += 1
    assert edited == len(country_run.scenario.years_axis)
    wb.save(tmp_path / "edited.xlsx")
    (recalculated,) = convert([tmp_path / "edited.xlsx"], tmp_path / "out")

    raw = read_raw(resolve_path("countries"))
    spec = raw["parameters"]["v2g_enrolled"]
    assert "GB" not in spec.get("overrides", {})
    curve = {**spec["scurve"], "start": spec["scurve"]["start"] * 0.5,
             "end": spec["scurve"]["end"] * 0.5,
             "anchor": {**spec["scurve"]["anchor"],
                        "value": spec["scurve"]["anchor"]["value"] * 0.5}}
    spec.setdefault("overrides", {})["GB"] = {"scurve": curve, "source": "test: halved"}
    changed = run(parse(raw, "countries, GB enrolment halved"))

    got = _capacity(recalculated)
    assert "GB" in set(got["region"])
    want = changed.tables["capacity"]
    merged = got.merge(want, on=["region", "year", "metric"], suffixes=("_wb", ""),
                       validate="one_to_one")
    assert len(merged) == len(got)
    assert_values_match(merged, RTOL)
    before = country_run.tables["capacity"].set_index(["region", "year", "metric"])["value"]
    moved = merged.set_index(["region", "year", "metric"])["value"]
    key = ("GB", 2100, "v2g_export_power")
    assert moved[key] < 0.6 * before[key], "the edit moves GB's V2G export"
    statuses = read_block(recalculated, "checks_table").set_index("check")["status"]
    pd.testing.assert_series_equal(statuses, changed.checks.set_index("check")["status"],
                                   check_names=False)
