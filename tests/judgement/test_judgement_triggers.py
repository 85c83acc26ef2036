"""Update triggers: selectors on the ledger, the move grammar and the revised scenario."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
import yaml
from judgement_helpers import ledger, obs

from evflex.judgement import TriggerError, apply_triggers, evaluate_triggers
from evflex.judgement.triggers import (
    RESULT_COLUMNS,
    bump_version,
    load_triggers,
    parse_moves,
    parse_selector,
)
from evflex.model import run
from evflex.scenario import load_scenario, registry
from evflex.scenario.load import parse, read_raw, resolve_path


def one_trigger(indicator: str, threshold: float, direction: str = "above",
                parameter: str = "v2g_enrolled", move: str = "scurve.midpoint -5",
                name: str = "t") -> pd.DataFrame:
    return pd.DataFrame([{"trigger": name, "indicator": indicator, "threshold": threshold,
                          "direction": direction, "parameter": parameter, "move": move,
                          "rationale": "test", "source": "assumption"}])


def fired_row(parameter: str, move: str, name: str = "t") -> pd.DataFrame:
    return pd.DataFrame([{"trigger": name, "indicator": "x", "latest_value": 1.0,
                          "threshold": 0.0, "fired": True, "parameter": parameter,
                          "proposed_change": move, "evidence_date": pd.Timestamp("2025-01-01"),
                          "source": "test"}])


def test_shipped_triggers_are_valid_and_name_scenario_parameters() -> None:
    table = load_triggers()
    assert len(table) >= 12
    assert table["trigger"].is_unique
    assert set(table["parameter"]) <= set(registry())
    for rec in table.to_dict("records"):
        parse_selector(rec["indicator"])
        parse_moves(rec["move"])
        assert rec["rationale"].strip() and rec["source"].strip()


def test_every_shipped_move_applies_to_the_base_scenario() -> None:
    table = load_triggers()
    fired = pd.DataFrame({"trigger": table["trigger"], "parameter": table["parameter"],
                          "proposed_change": table["move"], "fired": True,
                          "evidence_date": pd.NaT})
    text = apply_triggers("base", fired)
    parse(yaml.safe_load(text))  # valid scenario


def test_evaluation_on_the_shipped_ledger(ledger: pd.DataFrame) -> None:
    out = evaluate_triggers(ledger)
    assert tuple(out.columns) == RESULT_COLUMNS
    assert len(out) == len(load_triggers())
    seen = out.dropna(subset=["latest_value"])
    above = seen["direction"] == "above"
    expected = (seen["latest_value"] >= seen["threshold"]).where(
        above, seen["latest_value"] <= seen["threshold"])
    assert (seen["fired"] == expected).all()
    assert not out[out["latest_value"].isna()]["fired"].any()
    assert seen["evidence_date"].notna().all()


def test_latest_value_is_the_most_recent_observation_of_each_series() -> None:
    ev = ledger([obs("enrolled_capacity/a", "v2g", "World", "2023-01-01", 900, "MW"),
                 obs("enrolled_capacity/a", "v2g", "World", "2024-01-01", 40, "MW")])
    out = evaluate_triggers(ev, one_trigger("v2g:enrolled_capacity", 500))
    assert out["latest_value"].iloc[0] == 40 and not out["fired"].iloc[0]
    assert out["evidence_date"].iloc[0] == pd.Timestamp("2024-01-01")


def test_any_series_past_the_threshold_fires() -> None:
    ev = ledger([obs("enrolled_share/a", "grid_managed", "USA", "2024-01-01", 0.10, "fraction"),
                 obs("enrolled_share/b", "grid_managed", "UK", "2023-01-01", 0.40, "fraction",
                     source="B")])
    up = evaluate_triggers(ev, one_trigger("grid_managed:enrolled_share", 0.35))
    assert up["fired"].iloc[0] and up["latest_value"].iloc[0] == 0.40
    assert up["source"].iloc[0] == "B"
    down = evaluate_triggers(ev, one_trigger("grid_managed:enrolled_share", 0.15, "below"))
    assert down["fired"].iloc[0] and down["latest_value"].iloc[0] == 0.10
    only_uk = evaluate_triggers(ev, one_trigger("grid_managed:enrolled_share@USA", 0.35))
    assert not only_uk["fired"].iloc[0]


def test_pathway_and_unit_filters_and_missing_evidence() -> None:
    ev = ledger([obs("charger_price/a", "v2h_v2b", "Japan", "2024-01-01", 498000, "JPY"),
                 obs("charger_price/b", "v2g", "USA", "2024-01-01", 1500, "USD")])
    out = evaluate_triggers(ev, one_trigger("v2g:charger_price", 2000, "below"))
    assert out["fired"].iloc[0] and out["latest_value"].iloc[0] == 1500
    yen = evaluate_triggers(ev, one_trigger("v2h_v2b:charger_price", 2000, "below"))
    assert math.isnan(yen["latest_value"].iloc[0]) and not yen["fired"].iloc[0]
    assert yen["source"].iloc[0] == "no observation yet"


def test_markets_counts_regions_with_a_positive_observation() -> None:
    ev = ledger([obs("commercial_offer/a", "v2g", r, "2024-01-01", 1, "offers")
                 for r in ("UK", "France", "USA")]
                + [obs("commercial_offer/b", "v2g", "UK", "2025-01-01", 1, "offers"),
                   obs("commercial_offer/c", "v2g", "Spain", "2025-01-01", 0, "offers"),
                   obs("commercial_offer/d", "v2h_v2b", "Japan", "2025-01-01", 1, "offers")])
    out = evaluate_triggers(ev, one_trigger("markets(v2g:commercial_offer)", 3))
    assert out["latest_value"].iloc[0] == 3 and out["fired"].iloc[0]


@pytest.mark.parametrize("text", ["v2g:nothing", "teleport:enrolled_share", "sum(v2g:x)",
                                  "v2g:enrolled_share@"])
def test_bad_selectors_are_rejected(text: str) -> None:
    with pytest.raises(TriggerError):
        parse_selector(text)


@pytest.mark.parametrize("text", ["scurve.middle -5", "value ^2", "scurve.end +", "points.20 *2",
                                  "end +0.1"])
def test_bad_moves_are_rejected(text: str) -> None:
    with pytest.raises(TriggerError, match="not a move"):
        parse_moves(text)


def test_bad_trigger_files_name_the_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("trigger,indicator,threshold,direction,parameter,move,rationale,source\n"
                    "a,v2g:enrolled_capacity,lots,sideways,warp_drive,scurve.end ^2,r,\n",
                    encoding="utf-8")
    with pytest.raises(TriggerError) as err:
        load_triggers(path)
    text = str(err.value)
    for column in ("threshold", "direction", "parameter", "move", "source"):
        assert f"line 2, column '{column}'" in text


@pytest.mark.parametrize(("old", "new"), [("3.0", "3.1"), ("3.0-slow", "3.1-slow"),
                                          ("2", "3"), ("beta", "beta.1"), ("1.9", "1.10")])
def test_bump_version(old: str, new: str) -> None:
    assert bump_version(old) == new


def test_applied_moves_change_exactly_the_named_numbers() -> None:
    raw = read_raw(resolve_path("base"))
    fired = pd.concat([fired_row("v2g_enrolled", "scurve.end +0.05", "a"),
                       fired_row("bidirectional_share", "scurve.midpoint -5", "b"),
                       fired_row("plug_in_share_at_peak", "value *1.1", "c")])
    new = yaml.safe_load(apply_triggers("base", fired))
    old_p, new_p = raw["parameters"], new["parameters"]
    assert new_p["v2g_enrolled"]["scurve"]["end"] == pytest.approx(
        old_p["v2g_enrolled"]["scurve"]["end"] + 0.05)
    assert new_p["v2g_enrolled"]["scurve"]["anchor"] == old_p["v2g_enrolled"]["scurve"][
        "anchor"]
    # an S-curve pinned at the present keeps its anchor; its midpoint moves 5 years
    # earlier through a steeper pace
    old_sc, new_sc = old_p["bidirectional_share"]["scurve"], new_p["bidirectional_share"]["scurve"]
    assert new_sc["anchor"] == old_sc["anchor"]
    assert new_sc["steepness"] > old_sc["steepness"]
    v = min(1.0, raw["bidirectional_models"]["model_share"]
            * raw["bidirectional_models"]["sales_weight"])
    lr = math.log((v - old_sc["start"]) / (old_sc["end"] - v))
    assert (2025 - lr / new_sc["steepness"]) == pytest.approx(
        2025 - lr / old_sc["steepness"] - 5)
    assert new_p["plug_in_share_at_peak"]["value"] == pytest.approx(
        old_p["plug_in_share_at_peak"]["value"] * 1.1)
    untouched = set(old_p) - {"v2g_enrolled", "bidirectional_share", "plug_in_share_at_peak"}
    assert all(new_p[k] == old_p[k] for k in untouched)
    assert new["version"] == bump_version(str(raw["version"]))
    for name in ("a", "b", "c"):
        assert f"trigger {name}" in new["description"] or f"{name} (" in new["description"]
    assert "moved by trigger a" in new_p["v2g_enrolled"]["note"]


def test_moves_apply_to_overrides_and_are_clipped_to_bounds() -> None:
    fired = pd.concat([fired_row("charging_access", "points.* +0.5", "up"),
                       fired_row("ev_sales_share", "@China scurve.steepness *2", "cn")])
    new = yaml.safe_load(apply_triggers("base", fired))["parameters"]
    assert all(v == 1.0 for v in new["charging_access"]["points"].values())
    assert all(v == 1.0 for o in new["charging_access"]["overrides"].values()
               for v in o["points"].values())
    old = read_raw(resolve_path("base"))["parameters"]["ev_sales_share"]
    assert new["ev_sales_share"]["overrides"]["China"]["scurve"]["steepness"] == pytest.approx(
        2 * old["overrides"]["China"]["scurve"]["steepness"])
    assert new["ev_sales_share"]["overrides"]["USA"] == old["overrides"]["USA"]
    assert new["ev_sales_share"]["scurve"] == old["scurve"]


def test_a_move_with_no_target_names_the_trigger() -> None:
    with pytest.raises(TriggerError, match=r"trigger nope: move 'points\.2030 =0\.4'"):
        apply_triggers("base", fired_row("v2g_enrolled", "points.2030 =0.4", "nope"))
    with pytest.raises(TriggerError, match="no parameter 'warp'"):
        apply_triggers("base", fired_row("warp", "value +1"))


def test_an_invalid_result_is_refused_with_the_triggers_named() -> None:
    # an end below the anchor's value breaks the S-curve through its anchor
    with pytest.raises(TriggerError, match=r"not valid.*triggers: low"):
        apply_triggers("base", fired_row("ev_sales_share", "scurve.end =0.05", "low"))


def test_no_fired_trigger_keeps_the_version(tmp_path: Path) -> None:
    unfired = fired_row("v2g_enrolled", "scurve.end +0.05").assign(fired=False)
    text = apply_triggers("base", unfired)
    assert "no trigger fired" in text
    assert yaml.safe_load(text)["version"] == read_raw(resolve_path("base"))["version"]


def test_a_scenario_with_extends_is_written_whole_and_loads(tmp_path: Path) -> None:
    text = apply_triggers("slow_v2g", fired_row("v2g_enrolled", "scurve.midpoint -5"))
    data = yaml.safe_load(text)
    assert "extends" not in data and data["name"] == "slow_v2g"
    path = tmp_path / "revised.yaml"
    path.write_text(text, encoding="utf-8")
    sc = load_scenario(path)
    assert sc.version == bump_version(load_scenario("slow_v2g").version)


def test_the_revised_scenario_runs_and_moves_the_projection(tmp_path: Path) -> None:
    """An earlier V2G enrolment midpoint can only raise the V2G share before 2100."""
    path = tmp_path / "revised.yaml"
    path.write_text(apply_triggers("base", fired_row("v2g_enrolled", "scurve.midpoint -5")),
                    encoding="utf-8")
    before = run("base").world_state_shares(2050)["v2g"]
    after = run(load_scenario(path)).world_state_shares(2050)["v2g"]
    assert after > before
