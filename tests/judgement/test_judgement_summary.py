"""The executive summary reads as a person writes it, in every branch of its wording.

The facts of a real base run are varied one branch at a time (each verdict of each
pathway, V2G cheapest for some services or none, triggers fired or not) and every
generated sentence is held to plain rules: it starts with a capital and ends with a full
stop, names no sentinel ("no service", "none", "nan"), uses no code operators, and says
what the branch means.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

import pandas as pd
import pytest

from evflex.judgement import judge
from evflex.judgement.evidence import load_evidence
from evflex.judgement.facts import compute_facts
from evflex.judgement.scorecard import VERDICTS
from evflex.judgement.summary import PATHWAY_NAMES, summary
from evflex.model import run

SENTINELS = re.compile(r"\bno service\b|\bnan\b|\bNone\b(?! of)|\bnone\b|>=|<=|==|\bnot judged\b")


@pytest.fixture(scope="module")
def base() -> dict[str, Any]:
    results = run("base")
    tables = judge(results)
    facts = compute_facts(results, load_evidence(), tables["scorecard"],
                          tables["comparators"], tables["triggers"])
    return {"facts": facts, "scorecard": tables["scorecard"]}


def _check(text: pd.DataFrame) -> list[str]:
    sentences = [str(t) for t in text["text"]]
    for s in sentences:
        assert s[0].isupper() or s[0].isdigit(), s
        assert s.endswith("."), s
        assert not SENTINELS.search(s), s
        assert "  " not in s and " ." not in s and " ," not in s, s
    return sentences


def _scorecard(verdicts: dict[str, str], rule: str = "progressing: growth >= 0.1 and "
               "markets >= 2") -> pd.DataFrame:
    return pd.DataFrame({"pathway": list(verdicts), "verdict": list(verdicts.values()),
                         "rule": [rule] * len(verdicts), "evidence": "", "reasons": ""})


@pytest.mark.parametrize(("pathway", "verdict"),
                         list(itertools.product(PATHWAY_NAMES, VERDICTS)))
def test_every_verdict_of_every_pathway_reads_as_a_sentence(base: dict[str, Any],
                                                             pathway: str, verdict: str) -> None:
    facts = {**base["facts"], f"verdict_{pathway}": verdict}
    verdicts = {p: facts[f"verdict_{p}"] for p in PATHWAY_NAMES}
    sentences = _check(summary(facts, _scorecard(verdicts)))
    headline = sentences[0]
    name = PATHWAY_NAMES[pathway]
    said = name if name.startswith("V2") else name.lower()
    assert f"{said} is {verdict}" in headline or f"{said} {verdict}" in headline, headline
    if pathway == "grid_managed":
        broad = verdict in ("scaling", "progressing")
        assert ("managed charging is the broad envelope" in headline) is broad
    line = next(s for s in sentences if s.startswith(name))
    assert line.startswith(f"{name} is {verdict}: growth ≥ 0.1, markets ≥ 2"), line


def test_a_default_verdict_says_why_in_words(base: dict[str, Any]) -> None:
    card = _scorecard({"v2g": "stalled"}, "stalled: default, no earlier verdict applies")
    sentences = _check(summary(base["facts"], card))
    assert "V2G export is stalled: no earlier verdict's conditions hold." in sentences


@pytest.mark.parametrize(("mid", "end", "expect"), [
    ("", "", "V2G does not beat the next-best option for any grid service, in 2050 or in 2100."),
    ("frequency response", "", "for frequency response in 2050, but not in 2100."),
    ("", "resilience", "for no grid service in 2050, and for resilience in 2100."),
    ("frequency response", "frequency response, resilience",
     "for frequency response in 2050 and for frequency response and resilience in 2100."),
    ("resilience", "resilience", "for resilience in 2050 and in 2100."),
])
def test_where_v2g_survives_in_words(base: dict[str, Any], mid: str, end: str,
                                     expect: str) -> None:
    facts = {**base["facts"], "comparator_year_mid": 2050, "comparator_year_end": 2100,
             "v2g_survives_any_mid": bool(mid), "v2g_survives_any_end": bool(end),
             "v2g_survives_services_mid": mid or "no service",
             "v2g_survives_services_end": end or "no service"}
    sentences = _check(summary(facts, base["scorecard"]))
    text = next(s for s in sentences if "next-best" in s)
    assert text.endswith(expect), text


@pytest.mark.parametrize(("fired", "expect"), [
    (0, "None of the 15 update triggers has fired; the closest to its threshold is"),
    (1, "1 of 15 update triggers has fired: capable_models (bidirectional_share: +20 %)."),
    (2, "2 of 15 update triggers have fired:"),
])
def test_triggers_in_words(base: dict[str, Any], fired: int, expect: str) -> None:
    facts = {**base["facts"], "fired_count": fired, "trigger_count": 15,
             "fired_list": "capable_models (bidirectional_share: +20 %)" if fired else "none"}
    sentences = _check(summary(facts, base["scorecard"]))
    assert any(s.startswith(expect) for s in sentences), sentences
