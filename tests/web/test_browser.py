"""The explorer end to end in headless Chromium (Debian's, driven by Playwright): the page
loads from the real server with nothing from elsewhere, a slider moved with the keyboard
re-runs the engine and redraws the charts, the states still sum to 100 %, and the URL
carries the view so that it can be shared."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
from web_support import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, LiveServer, require_chromium

from evflex.model import run
from evflex.states import STATES

REVISION = "() => window.evflex && window.evflex.revision"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


class Page:
    """A page of the explorer with its console and requests recorded."""

    def __init__(self, browser: Any, url: str):
        self.console: list[tuple[str, str]] = []
        self.requests: list[str] = []
        self.page = browser.new_page(viewport={"width": 1440, "height": 1000})
        self.page.on("console", lambda m: self.console.append((m.type, m.text)))
        self.page.on("pageerror", lambda e: self.console.append(("pageerror", str(e))))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(url)
        self.wait_past(0)

    def revision(self) -> int:
        return int(self.page.evaluate(REVISION) or 0)

    def wait_past(self, revision: int) -> None:
        self.page.wait_for_function(
            f"() => window.evflex && window.evflex.revision > {revision} "
            "&& !window.evflex.busy", timeout=30_000)

    def states_chart(self) -> dict[str, list[float]]:
        """The states chart's plotted series (only the state traces), by state."""
        traces = self.page.evaluate("""() => document.getElementById('chart-states').data
            .filter(t => t.stackgroup === 'states').map(t => ({state: t.meta, y: t.y}))""")
        return {t["state"]: t["y"] for t in traces}

    def slider(self, key: str) -> Any:
        return self.page.locator(f'.control[data-key="{key}"] input[type=range]')

    def press(self, key: str, button: str, times: int) -> None:
        """Move a slider by the keyboard, each press an input event, as a person would."""
        before = self.revision()
        self.slider(key).focus()
        for _ in range(times):
            self.page.keyboard.press(button)
        self.wait_past(before)
        self.page.wait_for_function("() => !window.evflex.busy")


@pytest.fixture
def page(browser: Any, live_server: LiveServer) -> Iterator[Page]:
    p = Page(browser, live_server.url + "/")
    yield p
    p.page.close()


def test_move_a_slider_and_the_fleet_resorts(page: Page, live_server: LiveServer) -> None:
    drawn = page.states_chart()
    assert list(drawn) == list(STATES)
    years = page.page.evaluate("() => document.getElementById('chart-states').data[0].x")
    shipped = run("base")
    assert drawn["v2g"][-1] == pytest.approx(100 * shipped.world_state_shares(2100)["v2g"],
                                             rel=1e-6)
    np.testing.assert_allclose(np.sum(list(drawn.values()), axis=0), 100.0, atol=1e-6)

    # Move the enrolment slider down 20 steps of 0.005 with the keyboard.
    page.press("v2g_enrolled.end", "ArrowLeft", 20)
    moved = page.states_chart()
    np.testing.assert_allclose(np.sum(list(moved.values()), axis=0), 100.0, atol=1e-6)
    assert moved["v2g"][-1] < drawn["v2g"][-1] - 1.0, "V2G share falls by > 1 point"
    assert moved["v2h_v2b"][-1] > drawn["v2h_v2b"][-1], "the rest re-sort into other states"
    value = float(page.slider("v2g_enrolled.end").input_value())
    assert value == pytest.approx(0.7446 - 20 * 0.005, abs=0.003)  # snapped to the 0.005 grid
    assert page.page.locator('.control[data-key="v2g_enrolled.end"] output').inner_text() \
        == f"{100 * value:.1f} %"

    # The chart shows what the engine computes for that setting.
    last = page.page.evaluate("() => window.evflex.last.changes")
    assert last == [{"parameter": "v2g_enrolled", "region": None, "target": "end",
                     "old": 0.7446, "new": pytest.approx(value)}]
    i2050 = years.index(2050)
    api = page.page.evaluate("() => window.evflex.last.states[0].share")
    assert moved["v2g"][i2050] == pytest.approx(100 * api[i2050], rel=1e-9)

    # The URL holds the view; opening it elsewhere draws the same charts.
    query = parse_qs(urlparse(page.page.url).query)
    assert query["scenario"] == ["base"]
    assert float(query["v2g_enrolled.end"][0]) == pytest.approx(value)
    shared = Page(page.page.context.browser, page.page.url)
    try:
        assert shared.states_chart() == moved
        assert float(shared.slider("v2g_enrolled.end").input_value()) == pytest.approx(value)
    finally:
        shared.page.close()

    # Downloads point at the same view.
    href = page.page.get_attribute("#dl-workbook", "href")
    assert href.startswith("/download/workbook.xlsx?") and "v2g_enrolled.end=" in href

    # A region of its own: the sliders now set Europe only.
    before = page.revision()
    page.page.select_option("#region", "Europe")
    page.wait_past(before)
    page.press("charging_access.end", "ArrowRight", 5)
    query = parse_qs(urlparse(page.page.url).query)
    assert query["region"] == ["Europe"]
    assert float(query["charging_access/Europe.end"][0]) == pytest.approx(0.85)
    changes = page.page.evaluate("() => window.evflex.last.changes")
    assert {(c["parameter"], c["region"]) for c in changes} == {
        ("v2g_enrolled", None), ("charging_access", "Europe")}
    europe = page.states_chart()
    np.testing.assert_allclose(np.sum(list(europe.values()), axis=0), 100.0, atol=1e-6)

    # Charts and tables are all there, then a screenshot for people to look at.
    page.page.wait_for_function("() => window.evflex.checksRevision === window.evflex.revision",
                                timeout=30_000)
    charts = page.page.evaluate("""() => ['chart-states', 'chart-funnel', 'chart-capacity']
        .map(id => document.getElementById(id).querySelectorAll('g.trace').length)""")
    assert all(n >= 1 for n in charts)
    assert page.page.locator("#checks tr").count() > 10
    assert page.page.locator("#headline tr").count() == 3 + len(STATES) + 1  # + header
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "explorer.png"
    page.page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 50_000

    errors = [m for m in page.console if m[0] in ("error", "pageerror", "warning")]
    assert errors == []
    foreign = [u for u in page.requests if not u.startswith(live_server.url)]
    assert foreign == [], "every asset is served locally"


@pytest.mark.parametrize(("query", "message", "kept"), [
    ("bidirectional_share.end=0.01&v2g_enrolled.end=0.6",
     "overrides.bidirectional_share.end: anchor must lie strictly", "v2g_enrolled.end=0.6"),
    ("v2g_enroled.end=0.5", "overrides.v2g_enroled: unknown parameter", None),
    ("v2g_enrolled.end=7&region=Europe", "out of range for v2g_enrolled", "region=Europe"),
])
def test_a_bad_link_shows_the_error_and_draws_the_nearest_valid_view(
        browser: Any, live_server: LiveServer, query: str, message: str,
        kept: str | None) -> None:
    p = Page.__new__(Page)
    p.console, p.requests = [], []
    p.page = browser.new_page()
    try:
        p.page.goto(live_server.url + "/?scenario=base&" + query)
        p.wait_past(0)  # drawn, not stuck
        error = p.page.locator("#error")
        assert error.is_visible()
        text = error.inner_text()
        assert text.startswith("overrides.") and message in text, text
        assert "nearest valid view" in text
        assert "Loading" not in p.page.locator("#status").inner_text()
        bad = query.split("&")[0].split("=")[0]
        assert bad not in p.page.url
        if kept:
            assert kept in p.page.url, "what was valid stays in the view"
        assert len(p.states_chart()) == len(STATES)
        # A new move by the user clears the message.
        before = p.revision()
        p.page.locator("#reset").click()
        p.wait_past(before)
        assert error.is_hidden()
    finally:
        p.page.close()


def test_the_judgement_comes_as_readable_tables(page: Page) -> None:
    page.page.wait_for_function("() => (window.evflex.checksDrawn || 0) > 0", timeout=30_000)
    rows = page.page.locator("#scorecard tbody tr")
    assert rows.count() == 4
    first = rows.nth(0).locator("td")
    assert first.nth(0).inner_text() == "Smart charging"
    assert first.nth(1).inner_text() in ("scaling", "progressing", "niche-valid", "stalled",
                                         "activity-only")
    assert ">=" not in first.nth(2).inner_text()
    summary = page.page.locator("#checks-summary").inner_text()
    assert summary.startswith("Denominator checks: ") and " pass" in summary
    assert page.page.locator("#judgement").get_attribute("aria-busy") == "false"


AXE = Path(__file__).parent / "vendor" / "axe.min.js"


def test_accessibility_audit_finds_nothing(browser: Any, live_server: LiveServer) -> None:
    """axe-core (vendored, tests/web/vendor) audits the drawn page for WCAG 2 A and AA."""
    page = browser.new_page(bypass_csp=True, viewport={"width": 1440, "height": 1000})
    try:
        page.goto(live_server.url + "/")
        page.wait_for_function("() => window.evflex && window.evflex.revision > 0 "
                               "&& (window.evflex.checksDrawn || 0) > 0", timeout=30_000)
        slider = page.locator('.control[data-key="v2g_enrolled.end"] input[type=range]')
        assert slider.get_attribute("aria-valuetext", timeout=1000).endswith("%")
        toggle = page.locator('[data-states-unit="vehicles"]')
        assert toggle.get_attribute("aria-pressed") == "false"
        toggle.focus()
        page.keyboard.press("Enter")
        assert toggle.get_attribute("aria-pressed") == "true"
        assert page.locator('[data-states-unit="share"]').get_attribute("aria-pressed") == "false"
        assert "In 2100" in page.locator("#desc-states").inner_text()
        page.add_script_tag(path=str(AXE))
        result = page.evaluate("""async () => {
            const r = await axe.run(document, {runOnly: {type: 'tag',
                values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}});
            return {passes: r.passes.length, violations: r.violations.map(v => ({id: v.id,
                impact: v.impact, nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))};
        }""")
        assert result["passes"] > 20, "the audit ran its rules"
        assert result["violations"] == [], result["violations"]
    finally:
        page.close()


def test_monte_carlo_fan_chart(browser: Any, live_server: LiveServer) -> None:
    p = Page(browser, live_server.url + "/?scenario=uncertain&region=USA")
    try:
        assert p.page.locator("#mc-run").is_enabled()
        p.page.select_option("#mc-draws", "100")
        p.page.click("#mc-run")
        p.page.wait_for_function("() => window.evflex.mcDraws === 100", timeout=60_000)
        traces = p.page.evaluate("""() => document.getElementById('chart-uncertainty').data
            .map(t => ({name: t.name, y: t.y}))""")
        by_name = {t["name"]: np.array(t["y"], dtype=float) for t in traces if t["name"]}
        assert {"p05–p95", "p25–p75", "median", "this view (central)"} <= set(by_name)
        assert np.all(by_name["p05–p95"] + 1e-9 >= by_name["median"])
        assert "100 draws" in p.page.locator("#mc-note").inner_text()
        ARTIFACTS.mkdir(exist_ok=True)
        p.page.locator("#chart-uncertainty").screenshot(path=str(ARTIFACTS /
                                                              "explorer_uncertainty.png"))
        # Another scenario without distributions: the button says why it is off.
        before = p.revision()
        p.page.select_option("#scenario", "base")
        p.wait_past(before)
        assert p.page.locator("#mc-run").is_disabled()
        assert "no distributions" in p.page.locator("#mc-note").inner_text()
        assert [m for m in p.console if m[0] in ("error", "pageerror")] == []
    finally:
        p.page.close()
