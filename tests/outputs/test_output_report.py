"""The HTML report: self-contained, the same data as the CSV tables and the workbook, the
same colours, and (in headless Chromium) every chart draws with no console error and no
request leaving the file."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from output_helpers import read_block, require_tool

from evflex.capacity import METRICS
from evflex.model import Results
from evflex.outputs.report import write_report
from evflex.outputs.style import DELIVERABLE_COLOUR, FUNNEL_COLOUR, STATE_COLOURS, STATE_LABELS
from evflex.outputs.tables import restore_formulas
from evflex.scenario import parameter_table
from evflex.states import STATES

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
FIGURE = re.compile(r'<script type="application/json" class="figure" '
                    r'data-target="chart-([a-z_]+)">(.*?)</script>', re.S)


def figures(path: Path) -> dict[str, dict[str, Any]]:
    """The figures embedded in a report, by key."""
    return {key: json.loads(text) for key, text in FIGURE.findall(path.read_text("utf-8"))}


@pytest.fixture(scope="module")
def html(run_dir: Path) -> str:
    return (run_dir / "report.html").read_text("utf-8")


def test_self_contained_plotly_inlined_once(html: str) -> None:
    import plotly

    assert html.count("* plotly.js v") == 1
    assert len(html) > 3_000_000, "plotly.js is in the file"
    assert plotly.offline.get_plotlyjs_version() in html
    # Outside the bundled library, no element loads anything from elsewhere.
    start = html.index("* plotly.js v")
    page = html[:start] + html[html.index("</script>", start):]
    assert len(page) < 1_000_000
    assert not re.search(r"<(script|link|img|iframe)\b[^>]*\b(src|href)=", page)
    assert not re.search(r"https?://", page)


def test_states_figures_equal_the_csv_and_the_workbook(run_dir: Path) -> None:
    figs = figures(run_dir / "report.html")
    states = pd.read_csv(run_dir / "states.csv")
    world = states[(states["region"] == "World") & (states["segment"] == "all")]
    workbook = read_block(run_dir / "workbook.xlsx", "world_states").set_index("year")
    for key, column, wb_suffix in (("states_share", "share", "share of EV stock"),
                                   ("states_vehicles", "vehicles", "vehicles")):
        traces = figs[key]["data"]
        assert [t["meta"] for t in traces] == list(STATES)
        for trace in traces:
            state = trace["meta"]
            want = world[world["state"] == state].set_index("year")[column]
            assert trace["x"] == [int(y) for y in want.index]
            np.testing.assert_allclose(trace["y"], want.to_numpy(), rtol=1e-12, atol=0)
            np.testing.assert_allclose(trace["y"],
                                       workbook.loc[trace["x"], f"{state} [{wb_suffix}]"],
                                       rtol=1e-12, atol=0)
            assert trace["line"]["color"] == trace["fillcolor"] == STATE_COLOURS[state]
            assert trace["name"] == STATE_LABELS[state]


def test_funnel_figure_equals_the_energy_funnel_csv(run_dir: Path) -> None:
    fig = figures(run_dir / "report.html")["funnel"]
    energy = pd.read_csv(run_dir / "energy_funnel.csv")
    (trace,) = fig["data"]
    assert trace["meta"] == energy["stage"].tolist()
    # labels like "+ export permitted" are written "'+ export permitted" (CSV injection)
    assert trace["y"] == restore_formulas(energy["label"]).tolist()
    np.testing.assert_allclose(trace["x"], energy["energy_gwh"], rtol=1e-12)
    np.testing.assert_allclose([c[0] for c in trace["customdata"]], energy["vehicles"],
                               rtol=1e-12)
    colours = trace["marker"]["color"]
    assert colours[-1] == DELIVERABLE_COLOUR and set(colours[:-1]) == {FUNNEL_COLOUR}
    assert fig["layout"]["xaxis"]["type"] == "log"
    assert str(int(energy["year"].iloc[0])) in fig["layout"]["title"]["text"]


def test_capacity_figure_equals_the_csv(run_dir: Path, base_results: Results) -> None:
    fig = figures(run_dir / "report.html")["capacity"]
    capacity = pd.read_csv(run_dir / "capacity.csv").set_index(
        ["metric", "region", "year"]).sort_index()
    regions = list(base_results.scenario.regions)
    assert len(fig["data"]) == len(METRICS) * len(regions)
    for trace in fig["data"]:
        metric, region = trace["meta"]
        want = capacity.loc[(metric, region)]["value"].loc[trace["x"]]
        np.testing.assert_allclose(trace["y"], want.to_numpy(), rtol=1e-12, atol=0)
    # The stack of regions is the World row of the table.
    for metric in METRICS:
        stacked = np.sum([t["y"] for t in fig["data"] if t["meta"][0] == metric], axis=0)
        world = capacity.loc[(metric, "World")]["value"].to_numpy()
        np.testing.assert_allclose(stacked, world, rtol=1e-9)
    menu = fig["layout"]["updatemenus"][0]["buttons"]
    assert [b["label"].split(" ")[0] for b in menu] == list(METRICS)
    visible = [t["meta"][0] for t in fig["data"] if t["visible"]]
    assert visible == ["v2g_export_power"] * len(regions)


def test_sections_tables_and_notes(html: str, run_dir: Path, base_results: Results) -> None:
    for section in ("summary", "states", "funnel", "capacity", "hourly", "checks", "scorecard",
                    "comparators", "triggers", "implications", "assumptions", "sources"):
        assert f'<section id="{section}">' in html, section
    checks = pd.read_csv(run_dir / "checks.csv")
    body = html.split('<section id="checks">')[1].split("</section>")[0]
    assert body.count("<tr>") == len(checks) + 1
    assert body.count('class="status-pass"') == int((checks["status"] == "pass").sum())
    table = parameter_table(base_results.scenario)
    body = html.split('<section id="assumptions">')[1].split("</section>")[0]
    assert body.count("<tr>") == len(table) + 1
    from markupsafe import escape

    for source in set(table["source"]):
        assert str(escape(source)) in html
    assert "This run simulated no vehicles" in html
    assert "produced no 'scorecard' table" in html


def test_full_report_has_hourly_and_judgement(full_run_dir: Path, hourly: pd.DataFrame,
                                              judgement_tables: dict[str, pd.DataFrame]
                                              ) -> None:
    text = (full_run_dir / "report.html").read_text("utf-8")
    figs = figures(full_run_dir / "report.html")
    assert {"hourly", "comparators"} <= set(figs)
    traces = {t["meta"]: t for t in figs["hourly"]["data"]}
    csv = pd.read_csv(full_run_dir / "hourly.csv")
    np.testing.assert_allclose(traces["base_kw"]["y"], csv["base_kw"], rtol=1e-12)
    for column in ("unmanaged_kw", "managed_kw", "v2g_kw"):
        np.testing.assert_allclose(traces[column]["y"], csv["base_kw"] + csv[column],
                                   rtol=1e-12)
    assert traces["managed_kw"]["line"]["color"] == STATE_COLOURS["grid_managed"]
    assert traces["v2g_kw"]["line"]["color"] == STATE_COLOURS["v2g"]
    scorecard = judgement_tables["scorecard"]
    for pathway, verdict in zip(scorecard["pathway"], scorecard["verdict"], strict=True):
        assert f'<div class="pathway">{pathway}</div><div class="word">{verdict}</div>' in text
    comparators = judgement_tables["comparators"]
    bars = figs["comparators"]["data"]
    for trace in bars:
        year, option = trace["meta"]
        rows = comparators[(comparators["year"] == year) & (comparators["option"] == option)]
        np.testing.assert_allclose(trace["y"], rows.set_index("service").loc[
            trace["x"], "effective_cost"], rtol=1e-12)
    assert "not in this run" not in text.lower().replace("written summary is not", "")


def test_write_report_is_atomic(tmp_path: Path, base_results: Results,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    import evflex.outputs.report as report_module

    path = tmp_path / "report.html"
    path.write_text("earlier")

    def broken(*args: object) -> str:
        raise ValueError("bad table")

    monkeypatch.setattr(report_module, "render_report", broken)
    with pytest.raises(ValueError, match="bad table"):
        write_report(path, base_results, {})
    assert path.read_text() == "earlier"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def _open_in_chromium(path: Path, screenshot: Path | None = None) -> dict[str, Any]:
    require_tool(CHROMIUM)
    from playwright.sync_api import sync_playwright

    console: list[tuple[str, str]] = []
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.on("console", lambda m: console.append((m.type, m.text)))
            page.on("pageerror", lambda e: console.append(("pageerror", str(e))))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(path.resolve().as_uri(), wait_until="load")
            page.wait_for_function(
                "Array.from(document.querySelectorAll('div.chart'))"
                ".every(d => d.querySelector('.main-svg'))", timeout=30_000)
            charts = page.evaluate("""() => Array.from(document.querySelectorAll('div.chart'))
                .map(d => ({id: d.id, svgs: d.querySelectorAll('svg.main-svg').length,
                            traces: d.querySelectorAll('g.trace').length,
                            points: d.querySelectorAll('g.trace path, g.trace .point').length,
                            data: (d.data || []).length,
                            width: d.getBoundingClientRect().width}))""")
            # Interact: pick another capacity metric in the menu; the chart redraws.
            page.evaluate("""() => { const d = document.getElementById('chart-capacity');
                const n = d.data.length / 7;
                return Plotly.restyle(d, {visible: d.data.map((t, i) => i < n)}); }""")
            visible = page.evaluate("""() => document.getElementById('chart-capacity').data
                .filter(t => t.visible === true).map(t => t.meta[0])""")
            if screenshot is not None:
                page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    return {"console": console, "requests": requests, "charts": charts, "visible": visible}


@pytest.mark.parametrize("which", ["run_dir", "full_run_dir"])
def test_every_chart_draws_in_chromium_offline(which: str, request: pytest.FixtureRequest,
                                               tmp_path: Path) -> None:
    folder: Path = request.getfixturevalue(which)
    path = folder / "report.html"
    expected = set(figures(path))
    seen = _open_in_chromium(path, tmp_path / "report.png")
    errors = [m for m in seen["console"] if m[0] in ("error", "pageerror", "warning")]
    assert errors == []
    assert seen["requests"] == [path.resolve().as_uri()], "nothing but the file is loaded"
    charts = {c["id"].removeprefix("chart-"): c for c in seen["charts"]}
    assert set(charts) == expected
    for key, chart in charts.items():
        assert chart["svgs"] >= 1, key
        assert chart["data"] >= 1 and chart["traces"] >= 1, key
        assert chart["points"] >= 1, key
        assert chart["width"] > 300, key
    assert seen["visible"] == ["naive_battery"] * 4
    assert (tmp_path / "report.png").stat().st_size > 50_000
