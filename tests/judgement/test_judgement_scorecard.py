"""The scorecard: verdicts computed by the rules, and other ledgers giving other verdicts."""

from __future__ import annotations

import copy
import math
from typing import Any

import pandas as pd
import pytest
from judgement_helpers import ledger, obs, states_frame

from evflex.judgement import RulesError, scorecard
from evflex.judgement.evidence import MEASURES, measure_of
from evflex.judgement.scorecard import cagr, compute_metrics, load_rules
from evflex.model import Results

#: A run where V2G reaches 30 % of the stock by the end (not a niche) and little today.
FRAMES = {"states": states_frame({
    2025: {"v2g": 0.0001, "grid_managed": 0.1, "smart_only": 0.3, "outside": 0.5999},
    2100: {"v2g": 0.30, "v2h_v2b": 0.10, "grid_managed": 0.5, "smart_only": 0.07,
           "outside": 0.03}})}


def verdicts(evidence: pd.DataFrame, frames: Any = FRAMES, rules: Any = None) -> dict[str, str]:
    table = scorecard(evidence, frames, rules)
    return dict(zip(table["pathway"], table["verdict"], strict=True))


def without_growth(evidence: pd.DataFrame) -> pd.DataFrame:
    """The ledger with every count series cut to its first observation (no growth left)."""
    kinds = evidence["indicator"].map(lambda i: MEASURES[measure_of(i)].kind)
    counts = evidence[kinds == "count"].sort_values("date")
    first = counts.groupby(["indicator", "pathway", "region"]).head(1)
    return pd.concat([evidence[kinds != "count"], first]).reset_index(drop=True)


def test_shipped_ledger_and_base_run_give_the_seed_verdicts(ledger: pd.DataFrame,
                                                           base_run: Results) -> None:
    table = scorecard(ledger, base_run.frames())
    assert list(table.columns) == ["pathway", "verdict", "rule", "evidence", "reasons"]
    got = dict(zip(table["pathway"], table["verdict"], strict=True))
    assert got == {"smart_charging": "scaling", "grid_managed": "scaling",
                   "v2h_v2b": "niche-valid", "v2g": "progressing"}
    v2g = table.set_index("pathway").loc["v2g"]
    assert v2g["rule"].startswith("progressing:")
    assert "not niche-valid: share_end < 0.16 fails" in v2g["reasons"]
    assert "enrolled_capacity/nuvve@World" in v2g["evidence"]


def test_the_run_decides_between_niche_and_progressing(ledger: pd.DataFrame,
                                                       slow_run: Results) -> None:
    """In the slow-V2G scenario V2G stays under the niche ceiling by 2100."""
    shares = slow_run.world_state_shares(slow_run.scenario.years.end)
    assert shares["v2g"] < 0.16
    assert verdicts(ledger, slow_run.frames())["v2g"] == "niche-valid"


def test_growth_removed_gives_stalled(ledger: pd.DataFrame, base_run: Results) -> None:
    got = verdicts(without_growth(ledger), base_run.frames())
    assert got["grid_managed"] == "stalled"
    assert got["smart_charging"] == "stalled"
    assert got["v2g"] == "stalled"  # pilots exist, but so do offers standing for years
    assert got["v2h_v2b"] == "niche-valid"  # judged on offers and the run, not on growth


def test_flat_enrolment_is_stalled_too() -> None:
    ev = ledger([obs("enrolled_vehicles/p", "v2g", "UK", "2021-01-01", 500, "vehicles"),
                 obs("enrolled_vehicles/p", "v2g", "UK", "2024-01-01", 510, "vehicles"),
                 obs("commercial_offer/a", "v2g", "UK", "2021-01-01", 1, "offers"),
                 obs("commercial_offer/b", "v2g", "France", "2024-01-01", 1, "offers")])
    assert verdicts(ev)["v2g"] == "stalled"


def test_pilots_without_enrolment_give_activity_only() -> None:
    ev = ledger([obs("pilot_vehicles/a", "v2g", "UK", "2019-01-01", 100, "vehicles"),
                 obs("pilot_vehicles/b", "v2g", "Netherlands", "2023-01-01", 15, "vehicles"),
                 obs("announced_vehicles/c", "v2g", "Netherlands", "2025-01-01", 500,
                     "vehicles"),
                 obs("pilot_projects/d", "v2g", "China", "2025-04-02", 30, "projects")])
    table = scorecard(ev, FRAMES).set_index("pathway")
    assert table.loc["v2g", "verdict"] == "activity-only"
    assert "activity = 615" in table.loc["v2g", "evidence"]
    assert "activity_ratio = inf" in table.loc["v2g", "evidence"]


def test_enrolment_past_the_scale_thresholds_gives_scaling() -> None:
    ev = ledger(
        [obs("enrolled_vehicles/big", "v2g", "UK", "2022-01-01", 200_000, "vehicles"),
         obs("enrolled_vehicles/big", "v2g", "UK", "2025-01-01", 1_500_000, "vehicles"),
         obs("enrolled_share/big", "v2g", "UK", "2025-01-01", 0.25, "fraction")]
        + [obs("commercial_offer/o", "v2g", r, "2022-06-01", 1, "offers")
           for r in ("UK", "France", "USA")]
        + [obs("pilot_vehicles/p", "v2g", "UK", "2020-01-01", 100, "vehicles")])
    table = scorecard(ev, FRAMES).set_index("pathway")
    assert table.loc["v2g", "verdict"] == "scaling"
    # below the adoption threshold the same growth is only progressing
    ev2 = ev.copy()
    ev2.loc[ev2["indicator"] == "enrolled_share/big", "value"] = 0.05
    assert verdicts(ev2)["v2g"] == "progressing"


def test_an_empty_ledger_gives_the_default_verdict() -> None:
    got = verdicts(ledger([]))
    assert set(got.values()) == {"stalled"}


def test_cagr_closed_form() -> None:
    assert cagr(100, 121, 2) == pytest.approx(0.10)
    assert cagr(50, 50, 3) == 0.0
    assert math.isnan(cagr(0, 10, 1))


def test_growth_metric_uses_the_median_of_series_long_enough() -> None:
    ev = ledger([obs("enrolled_vehicles/a", "v2g", "UK", "2020-01-01", 100, "vehicles"),
                 obs("enrolled_vehicles/a", "v2g", "UK", "2022-01-01", 121, "vehicles"),
                 obs("enrolled_vehicles/b", "v2g", "US", "2020-01-01", 100, "vehicles"),
                 obs("enrolled_vehicles/b", "v2g", "US", "2021-01-01", 300, "vehicles"),
                 obs("enrolled_vehicles/c", "v2g", "FR", "2020-01-01", 100, "vehicles"),
                 obs("enrolled_vehicles/c", "v2g", "FR", "2021-01-01", 150, "vehicles"),
                 obs("enrolled_vehicles/d", "v2g", "DE", "2020-01-01", 100, "vehicles"),
                 obs("enrolled_vehicles/d", "v2g", "DE", "2020-02-01", 900, "vehicles")])
    m = compute_metrics(ev, FRAMES, "v2g", load_rules())
    # series d spans one month (< min_years) and is left out; the median is series c:
    # +50 % over 2020 (a leap year: 366 days of 365.25-day years)
    assert m["growth"].value == pytest.approx(1.5 ** (365.25 / 366) - 1)
    assert m["enrolled"].value == 121 + 300 + 150 + 900
    assert m["share_end"].value == pytest.approx(0.30)
    assert m["share_now"].value == pytest.approx(0.0001)


def test_rules_are_configurable(ledger: pd.DataFrame, base_run: Results) -> None:
    rules = copy.deepcopy(load_rules())
    scaling = next(v for v in rules["verdicts"] if v["verdict"] == "progressing")
    scaling["all"][0]["value"] = 0.5  # demand 50 %/yr enrolled growth to be progressing
    assert verdicts(ledger, base_run.frames(), rules)["v2g"] == "stalled"


@pytest.mark.parametrize(("edit", "message"), [
    (lambda r: r["verdicts"].pop(), "last entry must be the default"),
    (lambda r: r["verdicts"][0]["all"][0].update(metric="luck"), "metric: got 'luck'"),
    (lambda r: r["verdicts"][0]["all"][0].update(op="~"), "op: got '~'"),
    (lambda r: r["verdicts"][0]["all"][0].update(source=""), "source: got nothing"),
    (lambda r: r["verdicts"][0].update(verdict="great"), "verdict: got 'great'"),
    (lambda r: r["metrics"]["growth"].update(kind="vibes"), "kind: got 'vibes'"),
    (lambda r: r["metrics"]["growth"].update(measures=["nothing"]), "measures: got"),
    (lambda r: r["pathway_states"].update(v2g=["flying"]), "pathway_states.v2g"),
])
def test_bad_rules_are_rejected_with_the_field(edit: Any, message: str) -> None:
    rules = copy.deepcopy(load_rules())
    edit(rules)
    with pytest.raises(RulesError, match=message):
        load_rules(rules)


def test_quantity_rules_agree_with_the_scorecard_on_the_run(ledger: pd.DataFrame,
                                                           base_run: Results,
                                                           slow_run: Results) -> None:
    """Classifying a run's own state shares gives that run's scorecard verdicts."""
    import numpy as np

    from evflex.judgement.scorecard import VERDICTS, quantity_rules

    rules = quantity_rules(base_run.scenario, ledger)
    assert [r.pathway for r in rules] == list(
        scorecard(ledger, base_run.frames())["pathway"])
    for results in (base_run, slow_run):
        expected = verdicts(ledger, results.frames())
        for rule in rules:
            q = {}
            for text in rule.quantities:
                state, year = text.split(":")
                q[text] = np.array([results.world_state_shares(int(year))[state]])
            assert VERDICTS[int(rule.classify(q)[0])] == expected[rule.pathway]
