"""The diff on the real engine: base against slow_v2g, stored runs, structural changes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from evflex.model import Results, run
from evflex.store import RunStore, record_run
from evflex.store.diff import Diff, DiffError, Game, diff, resolve_side

Run = tuple[Results, dict[str, pd.DataFrame]]
SLOW_CHANGES = ["bidirectional_share", "bidirectional_charger", "export_permitted",
                "v2g_enrolled", "warranty_covers"]


@pytest.fixture(scope="module")
def base_vs_slow() -> Diff:
    return diff("base", "slow_v2g")


def _sums(d: Diff) -> pd.DataFrame:
    return d.attribution.groupby(["output", "year"]).agg(
        total=("total_change", "first"), summed=("attribution", "sum"),
        a=("value_a", "first"), b=("value_b", "first"))


def test_changed_assumptions_of_slow_v2g(base_vs_slow: Diff) -> None:
    assert base_vs_slow.players == SLOW_CHANGES
    read = base_vs_slow.changes[base_vs_slow.changes["player"] != ""]
    assert list(read["item"]) == SLOW_CHANGES
    assert set(read["what"]) == {"path"}
    row = read[read["item"] == "v2g_enrolled"].iloc[0]
    assert "0.7446" in row["a"] and "0.5" in row["b"]
    not_read = base_vs_slow.changes[base_vs_slow.changes["player"] == ""]
    assert {"name", "version", "calibration"} <= set(not_read["item"])


def test_attributions_add_up_to_the_change(base_vs_slow: Diff) -> None:
    assert base_vs_slow.method == "exact" and base_vs_slow.evaluations == 2**5
    sums = _sums(base_vs_slow)
    scale = np.maximum(sums[["a", "b"]].abs().max(axis=1), 1e-300)
    assert ((sums["summed"] - sums["total"]).abs() / scale).max() < 1e-12
    np.testing.assert_allclose(sums["total"], sums["b"] - sums["a"], rtol=0, atol=0)


def test_end_points_are_the_two_runs(base_vs_slow: Diff) -> None:
    a, b = run("base"), run("slow_v2g")
    out = base_vs_slow.outputs.set_index(["output", "year"])
    for year in (2030, 2050, 2100):
        for state, share in a.world_state_shares(year).items():
            assert out.loc[(f"state_share.{state}", year), "value_a"] == pytest.approx(
                share, rel=1e-12, abs=1e-15)
        for state, share in b.world_state_shares(year).items():
            assert out.loc[(f"state_share.{state}", year), "value_b"] == pytest.approx(
                share, rel=1e-12, abs=1e-15)
        cap = b.frames()["capacity"]
        power = cap[(cap["region"] == "World") & (cap["year"] == year)
                    & (cap["metric"] == "v2g_export_power")]["value"].iloc[0]
        assert out.loc[("capacity.v2g_export_power", year), "value_b"] == pytest.approx(
            power, rel=1e-12)


def test_a_coalition_equals_a_hand_written_scenario(tmp_path: Path) -> None:
    """The batched coalition run equals evflex.model.run on the same scenario as a file."""
    slow = yaml.safe_load((Path(__file__).parents[2] / "src/evflex/data/scenarios/"
                           "slow_v2g.yaml").read_text())
    mixed = {"extends": "base", "name": "mixed", "version": "x",
             "parameters": {k: slow["parameters"][k]
                            for k in ("v2g_enrolled", "bidirectional_charger")}}
    path = tmp_path / "mixed.yaml"
    path.write_text(yaml.safe_dump(mixed))
    by_hand = run(path)
    a, b = resolve_side("base", None), resolve_side("slow_v2g", None)
    game = Game(a, b, SLOW_CHANGES, [[("parameters", p)] for p in SLOW_CHANGES], [2050, 2100])
    coalition = np.array([[p in ("v2g_enrolled", "bidirectional_charger")
                           for p in SLOW_CHANGES]])
    values = game.value(np.concatenate([coalition, ~coalition]))
    for k, year in enumerate((2050, 2100)):
        shares = by_hand.world_state_shares(year)
        np.testing.assert_allclose(values[0, 1:6, k], [shares[s] for s in shares], rtol=1e-12,
                                   atol=1e-15)
        assert values[0, 0, k] == pytest.approx(by_hand.world("ev_stock", year), rel=1e-12)
    assert not np.allclose(values[0], values[1])  # the complement is another scenario


def test_one_changed_parameter_takes_the_whole_change(tmp_path: Path) -> None:
    path = tmp_path / "one.yaml"
    path.write_text(yaml.safe_dump({
        "extends": "base", "name": "one", "version": "1",
        "parameters": {"v2g_active": {"unit": "fraction", "value": 0.5,
                                      "source": "assumption (test)"}}}))
    d = diff("base", str(path), years=[2050])
    assert d.players == ["v2g_active"]
    np.testing.assert_array_equal(d.attribution["attribution"], d.attribution["total_change"])
    assert (d.attribution.query("output == 'state_share.v2g'")["attribution"] != 0).all()


def test_no_change_no_players() -> None:
    d = diff("base", "base", years=[2100])
    assert d.players == [] and d.attribution.empty
    assert (d.outputs["change"] == 0).all()
    assert not d.verdicts["changed"].any()


def test_group_players_and_sampling_add_up() -> None:
    by_group = diff("base", "slow_v2g", years=[2100], by="group")
    assert by_group.players == ["capability", "filter"]
    sampled = diff("base", "slow_v2g", years=[2100], exact_max=2, permutations=6, seed=5)
    assert sampled.method == "sampled" and sampled.permutations == 6
    for d in (by_group, sampled):
        sums = _sums(d)
        scale = np.maximum(sums[["a", "b"]].abs().max(axis=1), 1e-300)
        assert ((sums["summed"] - sums["total"]).abs() / scale).max() < 1e-12
    # a group's attribution is the total of its members' exact Shapley values only when
    # they do not interact; here they do, but the totals of both groupings agree
    exact = diff("base", "slow_v2g", years=[2100])
    pd.testing.assert_series_equal(_sums(by_group)["total"], _sums(exact)["total"])


def test_structural_and_section_changes(tmp_path: Path) -> None:
    """Options, bidirectional_models and the year axis are players too."""
    path = tmp_path / "struct.yaml"
    path.write_text(yaml.safe_dump({
        "extends": "base", "name": "struct", "version": "1",
        "years": {"start": 2010, "history_end": 2024, "end": 2080},
        "options": {"phev_v2g_eligible": True},
        "bidirectional_models": {"capable_models": 30},
        "calibration": {"states": None}}))
    d = diff("base", str(path))
    assert d.years == [2030, 2050]  # 2100 is not on B's axis
    assert d.players == ["years", "options", "bidirectional_models"]
    sums = _sums(d)
    scale = np.maximum(sums[["a", "b"]].abs().max(axis=1), 1e-300)
    assert ((sums["summed"] - sums["total"]).abs() / scale).max() < 1e-12
    at = d.attribution.set_index(["output", "year", "group"])["attribution"]
    # a shorter horizon changes nothing before it ends
    assert at[("state_share.v2g", 2050, "years")] == 0
    assert at[("state_share.v2g", 2050, "options")] > 0  # PHEVs become V2G candidates
    b = run(path)
    assert d.outputs.set_index(["output", "year"]).loc[("state_share.v2g", 2050), "value_b"] \
        == pytest.approx(b.world_state_shares(2050)["v2g"], rel=1e-12)
    with pytest.raises(DiffError, match=r"--year: not on both year axes \(got 2100"):
        diff("base", str(path), years=[2100])


def test_stored_runs_are_re_run_and_reproduced(tmp_path: Path, base_run: Run,
                                               slow_run: Run) -> None:
    store_path = tmp_path / "runs.duckdb"
    ida = record_run(store_path, *base_run, "base")
    idb = record_run(store_path, *slow_run, "slow_v2g")
    store = RunStore(store_path)
    d = diff(ida[:6], "latest", store=store)
    assert d.a.run is not None and d.a.run.run_id == ida
    assert d.b.run is not None and d.b.run.run_id == idb
    assert d.reproduced["a"] is not None and d.reproduced["a"] < 1e-12
    assert d.reproduced["b"] is not None and d.reproduced["b"] < 1e-12
    fresh = diff("base", "slow_v2g")
    pd.testing.assert_frame_equal(d.attribution, fresh.attribution)
    # a run against a scenario file works too
    mixed = diff("latest~1", "slow_v2g", store=store)
    assert mixed.a.kind == "run" and mixed.b.kind == "scenario"


def test_unknown_refs_are_named() -> None:
    with pytest.raises(DiffError, match=r"^B: no run, scenario file or shipped scenario named "
                                        r"'nope'"):
        diff("base", "nope")


def test_simulated_availability_is_an_assumption_too(tmp_path: Path, base_run: Run,
                                                     tables_of) -> None:  # type: ignore[no-untyped-def]
    from evflex.capacity import Availability

    avail = Availability(plug_in_share_at_peak=0.35, soc_at_peak=0.7,
                         mobility_reserve_soc=0.25, charging_coincidence_at_peak=0.3,
                         source="simulation: test fleet")
    simulated = run("base", avail)
    store_path = tmp_path / "runs.duckdb"
    ida = record_run(store_path, *base_run, "base")
    idb = record_run(store_path, simulated, tables_of(simulated), "base", availability=avail)
    store = RunStore(store_path)
    assert store.info(idb).availability_source == "simulation: test fleet"
    d = diff(ida, idb, store=store)
    assert d.players == ["availability"]
    assert d.reproduced["b"] is not None and d.reproduced["b"] < 1e-12
    out = d.outputs.set_index(["output", "year"])
    assert out.loc[("capacity.v2g_export_power", 2050), "change"] != 0
    assert out.loc[("state_share.v2g", 2050), "change"] == 0  # counts do not depend on it


def test_scorecard_verdicts_of_stored_runs_are_compared(tmp_path: Path, base_run: Run,
                                                        slow_run: Run) -> None:
    def scorecard(v2g: str) -> pd.DataFrame:
        return pd.DataFrame({"pathway": ["smart_charging", "grid_managed", "v2h_v2b", "v2g"],
                             "verdict": ["scaling", "scaling", "niche-valid", v2g],
                             "rule": ["r1", "r2", "r3", "r4"]})

    store_path = tmp_path / "runs.duckdb"
    ida = record_run(store_path, base_run[0], {**base_run[1], "scorecard":
                                               scorecard("progressing")}, "base")
    idb = record_run(store_path, slow_run[0], {**slow_run[1], "scorecard":
                                               scorecard("stalled")}, "slow_v2g")
    d = diff(ida, idb, store=RunStore(store_path))
    cards = d.verdicts[d.verdicts["kind"] == "scorecard"].set_index("item")
    assert list(cards.index) == ["smart_charging", "grid_managed", "v2h_v2b", "v2g"]
    assert cards.loc["v2g", ["a", "b"]].tolist() == ["progressing", "stalled"]
    assert cards["changed"].tolist() == [False, False, False, True]


def test_changes_that_only_make_sense_together(tmp_path: Path) -> None:
    """A coalition that is not a valid scenario is named, and grouping resolves it."""
    path = tmp_path / "bold.yaml"
    path.write_text(yaml.safe_dump({
        "extends": "base", "name": "bold", "version": "1", "calibration": {"states": None},
        "bidirectional_models": {"model_share": 0.02, "sales_weight": 45.0},
        "parameters": {"bidirectional_share": {
            "unit": "fraction", "source": "assumption (test)",
            "scurve": {"start": 0.0, "end": 0.95, "steepness": 0.14,
                       "anchor": {"year": 2025, "value": "bidirectional_models"}}}}}))
    with pytest.raises(DiffError, match=r"^coalition \{bidirectional_models\}: "
                                        r"parameters\.bidirectional_share\.scurve\.anchor\.value"
                                        r".*try --by group"):
        diff("base", str(path), years=[2050])
    grouped = diff("base", str(path), years=[2050], by="group")
    assert grouped.players == ["capability"]
    sums = _sums(grouped)
    assert (sums["summed"] == sums["total"]).all()  # one player takes it all


def test_scenario_sides_are_judged_so_verdict_changes_appear(tmp_path: Path,
                                                             base_run: Run) -> None:
    """Shipped names and files have no stored scorecard: both sides are judged."""
    d = diff("base", "slow_v2g", years=[2050])
    cards = d.verdicts[d.verdicts["kind"] == "scorecard"].set_index("item")
    assert list(cards.index) == ["smart_charging", "grid_managed", "v2h_v2b", "v2g"]
    assert cards["a"].tolist() == cards["b"].tolist()  # the same evidence, both rising
    assert not cards["changed"].any()
    # a stored run whose recorded verdict differs from the judged scenario shows the change
    recorded = pd.DataFrame({"pathway": ["smart_charging", "grid_managed", "v2h_v2b", "v2g"],
                             "verdict": ["stalled"] * 4, "rule": ["r"] * 4})
    store_path = tmp_path / "runs.duckdb"
    ida = record_run(store_path, base_run[0], {**base_run[1], "scorecard": recorded}, "base")
    d2 = diff(ida, "base", store=RunStore(store_path), years=[2050])
    cards2 = d2.verdicts[d2.verdicts["kind"] == "scorecard"].set_index("item")
    assert cards2.loc["v2g", ["a", "b"]].tolist() == ["stalled", cards.loc["v2g", "b"]]
    assert cards2["changed"].all()
