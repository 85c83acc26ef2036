"""The explorer's JSON API: answers equal the engine's, overrides move what they should
and nothing else, bad input gets 422 naming the field, compute and paths are bounded."""

from __future__ import annotations

import io
import json
import math
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evflex.model import run
from evflex.scenario import load_scenario, registry, shipped_scenarios
from evflex.scenario.load import parse, read_raw
from evflex.states import STATES
from evflex.web.app import MAX_BODY_BYTES
from evflex.web.overrides import MAX_OVERRIDES
from evflex.web.view import CONTROLS


def post(client: Any, body: dict[str, Any]) -> Any:
    return client.post("/api/run", json=body)


def shares(answer: dict[str, Any]) -> np.ndarray:
    """State shares by (state, year) from an answer."""
    return np.array([s["share"] for s in answer["states"]], dtype=float)


def messages(response: Any) -> list[str]:
    assert response.status_code == 422, response.text
    return list(response.json()["messages"])


# ----------------------------------------------------------------------------- answers
def test_scenarios_lists_the_shipped_ones_and_controls_that_exist(client: Any) -> None:
    body = client.get("/api/scenarios").json()
    assert [s["name"] for s in body["scenarios"]] == sorted(shipped_scenarios())
    base = next(s for s in body["scenarios"] if s["name"] == "base")
    assert base["regions"] == load_scenario("base").regions
    assert base["state_targets"]["v2g"] == pytest.approx(0.30)
    assert body["limits"]["max_overrides"] == MAX_OVERRIDES
    assert body["limits"]["max_draws"] == 500
    assert {s["name"]: s["distributions"] > 0 for s in body["scenarios"]} == {
        name: bool(load_scenario(name).distributions()) for name in shipped_scenarios()}
    keys = [c["key"] for c in body["controls"]]
    assert len(keys) == len(set(keys)) == len(CONTROLS)
    reg = registry()
    for c in body["controls"]:
        assert c["parameter"] in reg and c["min"] < c["max"]
        if c["target"] != "steepness":
            assert c["unit"] == reg[c["parameter"]].unit
            assert reg[c["parameter"]].min is None or c["min"] >= reg[c["parameter"]].min
    from evflex.outputs.style import STATE_COLOURS
    assert body["style"]["states"] == STATE_COLOURS


def test_every_control_runs_on_every_shipped_scenario(client: Any) -> None:
    """Each slider, moved to the middle of its range, gives a run (no 422) everywhere."""
    controls = client.get("/api/scenarios").json()["controls"]
    for name in shipped_scenarios():
        overrides: dict[str, dict[str, float]] = {}
        for c in controls:
            if c["parameter"] == "bidirectional_share":
                continue  # its anchor bounds the end from below: tested on its own
            middle = (c["min"] + c["max"]) / 2
            param = load_scenario(name).parameters[c["parameter"]]
            anchors = [spec.scurve.anchor.value for spec in [param, *param.overrides.values()]
                       if spec.scurve is not None and spec.scurve.anchor is not None
                       and isinstance(spec.scurve.anchor.value, float)]
            if c["target"] == "end" and anchors and middle <= max(anchors):
                continue  # the curve is pinned at today's value: its end stays beyond it
            overrides.setdefault(c["parameter"], {})[c["target"]] = middle
        r = post(client, {"scenario": name, "overrides": overrides})
        assert r.status_code == 200, (name, r.json().get("messages"))
        assert {(ch["parameter"], ch["target"]) for ch in r.json()["changes"]} == {
            (p, t) for p, numbers in overrides.items() for t in numbers}


def test_default_run_equals_the_engine(client: Any) -> None:
    answer = post(client, {"scenario": "base"}).json()
    results = run("base")
    states = results.frames()["states"]
    assert answer["changes"] == [] and answer["reference"] is None
    for region in ("World", "Europe"):
        got = answer if region == "World" else post(
            client, {"scenario": "base", "region": region}).json()
        table = states[(states["region"] == region) & (states["segment"] == "all")]
        for k, state in enumerate(STATES):
            want = table[table["state"] == state].sort_values("year")
            np.testing.assert_allclose(shares(got)[k], want["share"], rtol=1e-6, atol=1e-12)
            np.testing.assert_allclose(got["states"][k]["vehicles"], want["vehicles"],
                                       rtol=1e-5)
    capacity = results.frames()["capacity"]
    world = capacity[(capacity["region"] == "World")
                     & (capacity["metric"] == "v2g_export_power")].sort_values("year")
    np.testing.assert_allclose(answer["capacity"]["v2g_export_power"]["values"],
                               world["value"], rtol=1e-5)
    assert answer["years"] == load_scenario("base").years_axis


def _engine_with(name: str, edit: Any) -> Any:
    """The engine on a shipped scenario edited by hand (independent of the explorer)."""
    raw = read_raw(shipped_scenarios()[name])
    edit(raw["parameters"])
    return run(parse(raw, "test"))


def test_override_equals_the_engine_on_the_edited_scenario(client: Any) -> None:
    answer = post(client, {"scenario": "base", "region": "World",
                           "overrides": {"v2g_enrolled": {"end": 0.4},
                                         "charging_access": {"end": 0.7}}}).json()

    def edit(params: dict[str, Any]) -> None:
        params["v2g_enrolled"]["scurve"]["end"] = 0.4
        params["charging_access"]["points"][2100] = 0.7
        for entry in params["charging_access"]["overrides"].values():
            entry["points"][2100] = 0.7

    want = _engine_with("base", edit)
    got = shares(answer)
    for k, state in enumerate(STATES):
        np.testing.assert_allclose(got[k, -1], want.world_state_shares(2100)[state], rtol=1e-6)
    assert answer["reference"] is not None
    ref = np.array([answer["reference"]["share"][s] for s in STATES])
    assert ref[0, -1] == pytest.approx(run("base").world_state_shares(2100)["v2g"], rel=1e-6)
    assert got[0, -1] < ref[0, -1], "a stricter enrolment lowers the V2G share"
    assert answer["controls"]["v2g_enrolled.end"]["value"] == pytest.approx(0.4)


def test_regional_override_moves_only_that_region(client: Any) -> None:
    body = {"scenario": "base", "overrides": {"ev_sales_share/USA": {"steepness": 0.5}}}
    changed = {r: post(client, {**body, "region": r}).json()
               for r in ("USA", "Europe", "China")}
    shipped = {r: post(client, {"scenario": "base", "region": r}).json()
               for r in ("USA", "Europe", "China")}
    assert changed["USA"]["fleet"]["ev_stock"] != shipped["USA"]["fleet"]["ev_stock"]
    assert changed["USA"]["controls"]["ev_sales_share.steepness"]["value"] == 0.5
    for r in ("Europe", "China"):
        assert changed[r]["fleet"] == shipped[r]["fleet"]
        assert changed[r]["states"] == shipped[r]["states"]
    assert changed["USA"]["changes"] == [{"parameter": "ev_sales_share", "region": "USA",
                                          "target": "steepness", "old": 0.22, "new": 0.5}]


def test_region_override_wins_over_every_region_override(client: Any) -> None:
    answer = post(client, {"scenario": "base", "region": "Europe", "overrides": {
        "v2g_enrolled": {"end": 0.3}, "v2g_enrolled/Europe": {"end": 0.9}}}).json()
    assert answer["controls"]["v2g_enrolled.end"]["value"] == 0.9
    world = post(client, {"scenario": "base", "overrides": {
        "v2g_enrolled": {"end": 0.3}, "v2g_enrolled/Europe": {"end": 0.9}}}).json()
    assert world["controls"]["v2g_enrolled.end"]["by_region"]["Europe"] == 0.9
    assert world["controls"]["v2g_enrolled.end"]["by_region"]["USA"] == 0.3


def test_overriding_an_uncertain_number_drops_its_distribution(client: Any) -> None:
    """The explorer runs once: a number set outside its distribution is still accepted."""
    r = post(client, {"scenario": "uncertain",
                      "overrides": {"v2g_enrolled": {"end": 0.2}}})
    assert r.status_code == 200, r.text


def test_same_request_is_served_from_the_cache(client: Any) -> None:
    body = {"scenario": "base", "overrides": {"warranty_covers": {"end": 0.61}}}
    first = post(client, body).json()
    second = post(client, body).json()
    assert second["timing_ms"]["cached"] == 1.0
    assert first["states"] == second["states"]


# ----------------------------------------------------------------------------- properties
SLIDERS = [c for c in CONTROLS if c.parameter != "bidirectional_share"]


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(SLIDERS), st.floats(0, 1)), min_size=1,
                max_size=5),
       st.sampled_from(["World", "China", "Europe", "USA", "RestOfWorld"]))
def test_any_slider_setting_keeps_states_a_partition(client: Any, moves: list[Any],
                                                     region: str) -> None:
    overrides: dict[str, dict[str, float]] = {}
    for control, u in moves:
        overrides.setdefault(control.parameter, {})[control.target] = (
            control.low + u * (control.high - control.low))
    r = post(client, {"scenario": "base", "region": region, "overrides": overrides})
    assert r.status_code in (200, 422), r.text
    if r.status_code == 422:  # only an S-curve whose anchor leaves (start, end)
        assert all("anchor" in m for m in r.json()["messages"]), r.json()["messages"]
        return
    got = shares(r.json())
    assert np.all(got >= -1e-12) and np.all(got <= 1 + 1e-12)
    np.testing.assert_allclose(got.sum(axis=0), 1.0, atol=1e-8)
    vehicles = np.array([s["vehicles"] for s in r.json()["states"]])
    np.testing.assert_allclose(vehicles.sum(axis=0), r.json()["fleet"]["ev_stock"], rtol=1e-5)


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(["charging_access", "bidirectional_charger", "export_permitted",
                        "v2g_enrolled", "warranty_covers", "v2g_active"]),
       st.floats(0, 1), st.floats(0, 1))
def test_a_stricter_filter_never_raises_v2g(client: Any, parameter: str, a: float,
                                            b: float) -> None:
    low, high = sorted((a, b))
    # an S-curve pinned at today's value keeps its end beyond it; the present is fixed and
    # the future (from the reference year on) never rises with a stricter end
    spec = load_scenario("base").parameters[parameter].scurve
    pinned = (spec.anchor.year if spec is not None and spec.anchor is not None else 2010)
    floor = (float(spec.anchor.value) if spec is not None and spec.anchor is not None
             and not isinstance(spec.anchor.value, str) else 0.0)
    low, high = max(low, floor + 0.01), max(high, floor + 0.01)
    runs = [post(client, {"scenario": "base", "overrides": {parameter: {"end": v}}}).json()
            for v in (low, high)]
    years = np.array(runs[0]["years"]) if "years" in runs[0] else None
    v2g = [np.array(r["states"][0]["vehicles"], dtype=float) for r in runs]
    keep = (years >= pinned) if years is not None and len(years) == len(v2g[0]) else slice(
        pinned - 2010, None)
    assert np.all(v2g[0][keep] <= v2g[1][keep] * (1 + 1e-9) + 1e-6)


# ----------------------------------------------------------------------------- 422
@pytest.mark.parametrize(("body", "field", "words"), [
    ({"scenario": "nope"}, "scenario", "unknown scenario"),
    ({"region": "Mars"}, "region", "unknown region"),
    ({"funnel_year": 2200}, "funnel_year", "outside the scenario's years"),
    ({"funnel_year": "soon"}, "funnel_year", "valid integer"),
    ({"overrides": {"v2g_enroled": {"end": 0.5}}}, "overrides.v2g_enroled",
     "unknown parameter"),
    ({"overrides": {"v2g_enrolled/Mars": {"end": 0.5}}}, "overrides.v2g_enrolled/Mars",
     "unknown region"),
    ({"overrides": {"v2g_enrolled": {"end": 1.5}}}, "overrides.v2g_enrolled.end",
     "out of range for v2g_enrolled [fraction] (got 1.5, expected between 0 and 1)"),
    ({"overrides": {"export_power_kw": {"value": -1}}}, "overrides.export_power_kw.value",
     "out of range"),
    ({"overrides": {"v2g_enrolled": {"steepness": 0}}}, "overrides.v2g_enrolled.steepness",
     "out of range [1/year]"),
    ({"overrides": {"v2g_enrolled": {"middle": 2040}}}, "overrides.v2g_enrolled.middle",
     "Extra inputs are not permitted"),
    ({"overrides": {"v2g_enrolled": {}}}, "overrides.v2g_enrolled", "no number given"),
    ({"overrides": {"v2g_enrolled": {"value": 0.5}}}, "overrides.v2g_enrolled.value",
     "it is an S-curve"),
    ({"overrides": {"ev_sales_share": {"midpoint": 2030}}},
     "overrides.ev_sales_share.midpoint", "follows from the anchor"),
    ({"overrides": {"charging_access": {"steepness": 0.2}}},
     "overrides.charging_access.steepness", "a path of points"),
    ({"overrides": {"bidirectional_share": {"end": 0.01}}},
     "overrides.bidirectional_share.end", "anchor must lie strictly between start and end"),
    ({"overrides": {"v2g_enrolled": {"end": "high"}}}, "overrides.v2g_enrolled.end",
     "valid number"),
    ({"draws": 1000}, "draws", "Extra inputs are not permitted"),
])
def test_bad_input_gets_422_naming_the_field(client: Any, body: dict[str, Any], field: str,
                                             words: str) -> None:
    lines = messages(post(client, {"scenario": "base", **body}))
    assert any(line.startswith(f"{field}: ") and words in line for line in lines), lines


def test_non_finite_numbers_are_refused(client: Any) -> None:
    raw = '{"scenario": "base", "overrides": {"v2g_enrolled": {"end": NaN}}}'
    r = client.post("/api/run", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 422
    raw = raw.replace("NaN", "1e999")
    lines = messages(client.post("/api/run", content=raw,
                                 headers={"content-type": "application/json"}))
    assert any(line.startswith("overrides.v2g_enrolled.end: ") for line in lines), lines


def test_too_many_overrides_are_refused(client: Any) -> None:
    overrides = {f"v2g_enrolled/{r}": {"end": 0.5} for r in range(MAX_OVERRIDES + 1)}
    lines = messages(post(client, {"scenario": "base", "overrides": overrides}))
    assert any(line.startswith("overrides: ") for line in lines), lines


def test_a_large_body_gets_413_unread(client: Any) -> None:
    body = json.dumps({"scenario": "base", "pad": "x" * MAX_BODY_BYTES})
    r = client.post("/api/run", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert "over 16384 bytes" in r.json()["messages"][0]

    def chunks() -> Any:  # no content-length: counted while read
        for _ in range(40):
            yield b" " * 1024

    r = client.post("/api/run", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_no_client_path_reaches_the_file_system(client: Any, tmp_path: Path) -> None:
    """A scenario file that exists and is valid is still refused when named by a client."""
    path = tmp_path / "base.yaml"
    path.write_text(shipped_scenarios()["base"].read_text())
    assert load_scenario(str(path)).name == "base"  # the CLI would load it
    for name in (str(path), "../scenarios/base", "base.yaml", "data/scenarios/base.yaml"):
        lines = messages(post(client, {"scenario": name}))
        assert lines[0].startswith("scenario: unknown scenario"), lines
    lines = messages(client.get("/download/tables.zip", params={"scenario": str(path)}))
    assert lines[0].startswith("scenario: unknown scenario")
    assert client.get("/static/../app.py").status_code == 404
    assert client.get("/static/%2e%2e/app.py").status_code == 404


# ----------------------------------------------------------------------------- files
def test_tables_zip_holds_the_overridden_run(client: Any) -> None:
    params = {"scenario": "base", "region": "Europe", "year": "2040",
              "v2g_enrolled.end": "0.5", "ev_sales_share/USA.steepness": "0.3"}
    r = client.get("/download/tables.zip", params=params)
    assert r.status_code == 200
    assert r.headers["content-disposition"] == 'attachment; filename="evflex_base_explorer.zip"'
    zf = zipfile.ZipFile(io.BytesIO(r.content))
    names = set(zf.namelist())
    assert {"states.csv", "fleet.csv", "funnel.csv", "capacity.csv", "checks.csv",
            "energy_funnel.csv", "assumptions.csv"} <= names
    states = pd.read_csv(zf.open("states.csv"))
    answer = post(client, {"scenario": "base", "region": "Europe", "overrides": {
        "v2g_enrolled": {"end": 0.5}, "ev_sales_share/USA": {"steepness": 0.3}}}).json()
    europe = states[(states["region"] == "Europe") & (states["segment"] == "all")
                    & (states["state"] == "v2g")].sort_values("year")
    np.testing.assert_allclose(europe["share"], answer["states"][0]["share"], rtol=1e-6)
    assert int(pd.read_csv(zf.open("energy_funnel.csv"))["year"].iloc[0]) == 2040
    assumptions = pd.read_csv(zf.open("assumptions.csv"))
    row = assumptions[(assumptions["parameter"] == "v2g_enrolled")
                      & (assumptions["applies_to"] == "default")].iloc[0]
    assert row["source"].startswith("assumption: set in the explorer (end 0.7446 → 0.5)")
    assert "shipped source: assumption: aggregator" in row["source"]
    usa = assumptions[(assumptions["parameter"] == "ev_sales_share")
                      & (assumptions["applies_to"] == "USA")].iloc[0]
    assert "steepness 0.22 → 0.3" in usa["source"]


def test_workbook_and_report_downloads(client: Any) -> None:
    import openpyxl

    params = {"scenario": "slow_v2g", "v2g_active.end": "0.7"}
    r = client.get("/download/workbook.xlsx", params=params)
    assert r.status_code == 200
    assert r.headers["content-disposition"].endswith('evflex_slow_v2g_explorer.xlsx"')
    wb = openpyxl.load_workbook(io.BytesIO(r.content))
    assert len(wb.sheetnames) >= 5
    r = client.get("/download/report.html", params={"scenario": "base"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "evflex · base v3.0" in r.text
    assert client.get("/download/report.pdf").status_code == 422


def test_download_query_errors_name_the_key(client: Any) -> None:
    lines = messages(client.get("/download/tables.zip", params={
        "v2g_enrolled.end": "lots", "v2g_enrolled": "0.5", "year": "2400"}))
    assert any(line.startswith("v2g_enrolled.end: not a number") for line in lines), lines
    assert any(line.startswith("v2g_enrolled: not a number of a path") for line in lines)
    assert any(line.startswith("year: ") for line in lines), lines
    lines = messages(client.get("/download/tables.zip", params={"v2g_enrolled.end": "7"}))
    assert lines == ["v2g_enrolled.end: out of range for v2g_enrolled [fraction] (got 7, "
                     "expected between 0 and 1)"]


# ----------------------------------------------------------------------------- page
def test_openapi_documents_the_api(client: Any) -> None:
    spec = client.get("/openapi.json").json()
    assert {"/api/run", "/api/scenarios", "/api/checks"} <= set(spec["paths"])
    run_schema = spec["components"]["schemas"]["RunRequest"]
    assert set(run_schema["properties"]) == {"scenario", "region", "funnel_year", "overrides"}
    assert run_schema["properties"]["overrides"]["maxProperties"] == MAX_OVERRIDES
    assert "422" in spec["paths"]["/api/run"]["post"]["responses"]
    assert client.get("/docs").status_code == 200


def test_page_and_assets_are_local(client: Any) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert "default-src 'self'" in page.headers["content-security-policy"]
    from evflex.web.app import static_dir

    for path in static_dir().iterdir():
        text = path.read_text("utf-8").replace('xmlns="http://www.w3.org/2000/svg"', "")
        assert "http://" not in text and "https://" not in text, path.name
        assert client.get(f"/static/{path.name}").status_code == 200
    js = client.get("/static/plotly.min.js")
    import plotly

    assert js.status_code == 200
    assert f"plotly.js v{plotly.offline.get_plotlyjs_version()}" in js.text[:400]


def test_checks_answer(client: Any) -> None:
    body = client.post("/api/checks", json={"scenario": "base"}).json()
    assert body["checks"] and all(c["status"] != "fail" for c in body["checks"])
    moved = client.post("/api/checks", json={"scenario": "base", "overrides": {
        "v2g_enrolled": {"end": 0.2}}}).json()
    failed = {c["check"] for c in moved["checks"] if c["status"] != "pass"}
    assert "calibration_v2g_2100" in failed, "the base case's 2100 target no longer holds"
    assert all(math.isfinite(c["value"]) for c in moved["checks"] if c["value"] is not None)


# ----------------------------------------------------------------------------- Monte Carlo
def test_uncertainty_quantiles_are_ordered_and_bracket_the_central_run(client: Any) -> None:
    body = {"scenario": "uncertain", "region": "Europe", "draws": 200, "seed": 3}
    r = client.post("/api/uncertainty", json=body)
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["quantiles"] == ["p05", "p25", "p50", "p75", "p95"]
    assert set(got["share"]) == set(STATES)
    for state in STATES:
        q = np.array([got["share"][state][k] for k in got["quantiles"]], dtype=float)
        assert np.all(np.diff(q, axis=0) >= -1e-12), state
    # The central (no-draw) run of the same view lies inside the 5-95 % band in 2100.
    central = post(client, {"scenario": "uncertain", "region": "Europe"}).json()
    v2g = central["states"][0]["share"][-1]
    assert got["share"]["v2g"]["p05"][-1] <= v2g <= got["share"]["v2g"]["p95"][-1]
    # Same seed, same answer.
    again = client.post("/api/uncertainty", json=body).json()
    assert again["share"] == got["share"]


def test_uncertainty_fixes_the_numbers_a_slider_set(client: Any) -> None:
    free = client.post("/api/uncertainty", json={"scenario": "uncertain", "draws": 100}).json()
    fixed = client.post("/api/uncertainty", json={
        "scenario": "uncertain", "draws": 100,
        "overrides": {"v2g_enrolled": {"end": 0.3}}}).json()
    assert "v2g_enrolled.end" in free["varied"] and "v2g_enrolled.end" not in fixed["varied"]
    assert len(fixed["varied"]) == len(free["varied"]) - 1
    assert fixed["share"]["v2g"]["p95"][-1] < free["share"]["v2g"]["p95"][-1]


@pytest.mark.parametrize(("body", "line"), [
    ({"scenario": "base"}, "scenario: nothing to draw in this scenario"),
    ({"scenario": "uncertain", "draws": 501}, "draws: Input should be less than or equal to 500"),
    ({"scenario": "uncertain", "draws": 10}, "draws: Input should be greater than or equal to 50"),
    ({"scenario": "uncertain", "seed": -1}, "seed: Input should be greater than or equal to 0"),
])
def test_uncertainty_is_bounded(client: Any, body: dict[str, Any], line: str) -> None:
    lines = messages(client.post("/api/uncertainty", json=body))
    assert any(m.startswith(line) for m in lines), lines


def test_region_picker_names_countries_and_sorts_them_by_name(client: Any) -> None:
    """A country run's picker: 'United Kingdom (GB)', sorted by name; a block-level
    scenario keeps its regions' order and ids."""
    body = {s["name"]: s for s in client.get("/api/scenarios").json()["scenarios"]}
    labels = body["countries"]["region_labels"]
    assert set(labels) == set(body["countries"]["regions"])
    assert labels["GB"] == "United Kingdom (GB)" and labels["DE"] == "Germany (DE)"
    assert list(labels.values()) == sorted(labels.values(), key=str.casefold)
    assert body["base"]["region_labels"] == {r: r for r in body["base"]["regions"]}


def test_a_country_views_workbook_gives_that_country_its_own_rows(client: Any) -> None:
    import openpyxl

    r = client.get("/download/workbook.xlsx", params={"scenario": "countries",
                                                      "region": "GB"})
    assert r.status_code == 200
    ws = openpyxl.load_workbook(io.BytesIO(r.content), read_only=True)["Capacity"]
    regions = {row[0] for row in ws.iter_rows(min_row=5, max_col=1, values_only=True)}
    assert {"GB", "Europe", "EU27", "World"} <= regions
    assert "DE" not in regions  # other countries are in their blocks' rows
