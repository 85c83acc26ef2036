"""judge(): the judgement of a whole run; implications and summary follow the numbers."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from evflex.judgement import ImplicationsError, judge, summary_markdown
from evflex.judgement.facts import compute_facts
from evflex.judgement.implications import AUDIENCES, implications, load_templates
from evflex.judgement.summary import rule_text
from evflex.model import Results

KEYS = {"evidence", "triggers", "scorecard", "comparators", "implications", "summary"}


@pytest.fixture(scope="module")
def base_tables(base_run: Results, ledger: pd.DataFrame) -> dict[str, pd.DataFrame]:
    return judge(base_run, ledger)


@pytest.fixture(scope="module")
def slow_tables(slow_run: Results, ledger: pd.DataFrame) -> dict[str, pd.DataFrame]:
    return judge(slow_run, ledger)


def test_judge_returns_every_table(base_tables: dict[str, pd.DataFrame]) -> None:
    assert set(base_tables) == KEYS
    assert list(base_tables["comparators"].columns)[:7] == [
        "year", "region", "segment", "service", "option", "test", "cost_per_kw_year"]
    assert {"survives", "why", "avoided_cost", "net_cost"} <= set(
        base_tables["comparators"].columns)
    assert list(base_tables["triggers"].columns)[:9] == [
        "trigger", "indicator", "latest_value", "threshold", "fired", "parameter",
        "proposed_change", "evidence_date", "source"]
    assert list(base_tables["summary"].columns) == ["section", "text"]
    impl = base_tables["implications"]
    assert set(impl["audience"]) == set(AUDIENCES)


def test_judge_with_the_default_ledger_and_scenario(base_run: Results) -> None:
    tables = judge(base_run)
    assert set(tables) == KEYS and len(tables["evidence"]) >= 25


def test_summary_numbers_come_from_the_run(base_tables: dict[str, pd.DataFrame],
                                           base_run: Results) -> None:
    text = " ".join(base_tables["summary"]["text"])
    cap = base_run.frames()["capacity"]
    gw = cap[(cap["region"] == "World") & (cap["year"] == 2050)
             & (cap["metric"] == "shiftable_load")]["value"].iloc[0]
    assert f"{gw:,.0f} GW of shiftable charging load" in text
    shares = base_run.world_state_shares(2100)
    assert f"V2G {shares['v2g']:.0%}" in text and f"outside {shares['outside']:.0%}" in text
    for rec in base_tables["scorecard"].to_dict("records"):
        assert rule_text(rec["rule"]) in text  # the deciding rule, in words


def test_texts_change_when_the_run_changes(base_tables: dict[str, pd.DataFrame],
                                           slow_tables: dict[str, pd.DataFrame]) -> None:
    base_impl = set(base_tables["implications"]["implication"])
    slow_impl = set(slow_tables["implications"]["implication"])
    assert base_impl != slow_impl
    base_sum = dict(zip(base_tables["summary"]["section"], base_tables["summary"]["text"],
                        strict=False))
    slow_sum = dict(zip(slow_tables["summary"]["section"], slow_tables["summary"]["text"],
                        strict=False))
    assert base_sum["headline"] != slow_sum["headline"]
    # the verdicts read today's evidence and the trajectory, not the 2100 share: both runs
    # keep V2G progressing, while the headline's 2100 split follows each run
    assert "V2G export progressing" in base_sum["headline"]
    assert "V2G export progressing" in slow_sum["headline"]
    assert "V2G 30%" in base_sum["headline"] and "V2G 6%" in slow_sum["headline"]


def test_implications_pick_sentences_by_the_facts(base_tables: dict[str, pd.DataFrame],
                                                  base_run: Results, ledger: pd.DataFrame
                                                  ) -> None:
    facts = compute_facts(base_run, ledger, base_tables["scorecard"],
                          base_tables["comparators"], base_tables["triggers"])
    stalled = dict(facts, verdict_grid_managed="stalled")
    text = " ".join(implications(stalled)["implication"])
    assert "Do not bank on managed charging yet" in text
    assert "Plan on managed charging first" not in text
    fired = dict(facts, fired_count=2, fired_list="a (x: value +1), b (y: value +2)")
    assert "2 of 15 update triggers have fired" in " ".join(implications(fired)["implication"])


def test_templates_with_unknown_facts_are_refused(tmp_path: Path,
                                                  base_tables: dict[str, pd.DataFrame],
                                                  base_run: Results, ledger: pd.DataFrame
                                                  ) -> None:
    facts = compute_facts(base_run, ledger, base_tables["scorecard"],
                          base_tables["comparators"], base_tables["triggers"])
    with pytest.raises(ImplicationsError, match="unknown fact"):
        implications(facts, [{"audience": "utilities", "when": [], "text": "{moon_phase}"}])
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump([{"audience": "astronauts", "text": "x"}]), encoding="utf-8")
    with pytest.raises(ImplicationsError, match="audience 'astronauts'"):
        load_templates(path)


def test_shipped_templates_hold_no_numbers() -> None:
    for entry in load_templates():
        text = str(entry["text"])
        outside_fields = "".join(part.split("}")[-1] for part in text.split("{"))
        words = re.sub(r"\bV2[GHB]\b", "", outside_fields)
        assert not re.search(r"\d", words), text


def test_summary_markdown(base_tables: dict[str, pd.DataFrame]) -> None:
    md = summary_markdown(base_tables)
    assert md.startswith("# Executive summary")
    for heading in ("## Headline", "## Verdicts", "## Capacity", "## Decision implications",
                    "**Regulators**"):
        assert heading in md
