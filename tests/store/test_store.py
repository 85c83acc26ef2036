"""The store on a real DuckDB file: round trips, run ids, all-or-nothing writes."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest

import evflex.store.db as db
from evflex.model import Results
from evflex.outputs.tables import write_run
from evflex.store import RunStore, StoreError, record_run, scenario_hash
from evflex.store.content import load_text

Run = tuple[Results, dict[str, pd.DataFrame]]


def test_tables_read_back_as_written(store_path: Path, base_run: Run) -> None:
    results, tables = base_run
    run_id = record_run(store_path, results, tables, "base")
    back = RunStore(store_path).tables(run_id)
    assert list(back) == list(tables)
    for name, df in tables.items():
        pd.testing.assert_frame_equal(back[name], df, check_exact=True, obj=name)


def test_metadata_of_a_run(store_path: Path, base_run: Run) -> None:
    results, tables = base_run
    run_id = record_run(store_path, results, tables, "base")
    info = RunStore(store_path).info(run_id)
    assert (info.scenario_name, info.scenario_version) == ("base", "3.0")
    assert info.scenario_hash == scenario_hash(results.scenario)
    assert info.scenario_source is not None and info.scenario_source.endswith("base.yaml")
    assert load_text(info.scenario_yaml or "", "stored") == results.scenario
    assert info.checks_total == len(tables["checks"])
    assert info.checks_passed == int((tables["checks"]["status"] == "pass").sum())
    assert info.tables == {k: len(v) for k, v in tables.items()}
    assert info.availability is None and info.availability_source == "scenario"


def test_slow_v2g_stores_its_merged_scenario(store_path: Path, slow_run: Run) -> None:
    results, tables = slow_run
    run_id = record_run(store_path, results, tables, "slow_v2g")
    text = RunStore(store_path).info(run_id).scenario_yaml or ""
    assert "extends" not in text  # the parent is merged in: the run stands alone
    assert load_text(text, "stored") == results.scenario


def test_export_csv_equals_what_run_writes(store_path: Path, tmp_path: Path,
                                           base_run: Run) -> None:
    results, tables = base_run
    run_id = record_run(store_path, results, tables, "base")
    direct = tmp_path / "direct"
    write_run(direct, tables, parquet=False)
    back = tmp_path / "back"
    write_run(back, RunStore(store_path).tables(run_id), parquet=False)
    for name in tables:
        assert (back / f"{name}.csv").read_bytes() == (direct / f"{name}.csv").read_bytes(), name


def test_hash_ignores_wording_but_not_content(base_run: Run, slow_run: Run) -> None:
    from evflex.scenario import load_scenario
    from evflex.scenario.load import parse
    from evflex.store.content import as_mapping

    base = base_run[0].scenario
    assert scenario_hash(parse(as_mapping(base))) == scenario_hash(base)
    assert scenario_hash(load_scenario("base")) == scenario_hash(base)
    assert scenario_hash(slow_run[0].scenario) != scenario_hash(base)


def test_source_must_be_the_scenario_run(store_path: Path, base_run: Run) -> None:
    results, tables = base_run
    with pytest.raises(StoreError, match=r"scenario_source: not the scenario of this run"):
        record_run(store_path, results, tables, "slow_v2g")
    assert not store_path.exists() or RunStore(store_path).runs().empty


def test_run_refs(store_path: Path, base_run: Run) -> None:
    _, tables = base_run
    small = {"checks": tables["checks"]}
    store = RunStore(store_path)
    ids = [store.add(scenario_name="x", scenario_version="1", scenario_hash="h",
                     scenario_yaml=None, tables=small, run_id=rid)
           for rid in ("abcd00000001", "abcd00000002", "ffff00000003")]
    assert store.resolve("ffff") == ids[2]
    assert store.resolve("abcd00000002") == ids[1]
    assert store.resolve("latest") == ids[2]
    assert store.resolve("latest~2") == ids[0]
    with pytest.raises(StoreError, match=r"^run: 'abcd' is ambiguous"):
        store.resolve("abcd")
    with pytest.raises(StoreError, match=r"^run: no run 'abc' in the store"):
        store.resolve("abc")  # too short for a prefix
    with pytest.raises(StoreError, match=r"^run: 'latest~3' not in the store .* holds 3 run"):
        store.resolve("latest~3")
    with pytest.raises(StoreError, match=r"run_id: already in the store"):
        store.add(scenario_name="x", scenario_version="1", scenario_hash="h",
                  scenario_yaml=None, tables=small, run_id=ids[0])
    assert len(store.runs()) == 3


def test_failure_inside_the_transaction_leaves_nothing(store_path: Path, base_run: Run,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    results, tables = base_run
    first = record_run(store_path, results, tables, "base")
    real = db._insert_table
    calls = []

    def failing(con: duckdb.DuckDBPyConnection, run_id: str, name: str,
                df: pd.DataFrame) -> None:
        calls.append(name)
        if len(calls) == 3:
            raise KeyboardInterrupt  # e.g. Ctrl-C in the middle of the write
        real(con, run_id, name, df)

    monkeypatch.setattr(db, "_insert_table", failing)
    with pytest.raises(KeyboardInterrupt):
        record_run(store_path, results, tables, "base")
    monkeypatch.setattr(db, "_insert_table", real)
    store = RunStore(store_path)
    assert list(store.runs()["run_id"]) == [first]
    assert store.check() == []
    counts = store.query("SELECT count(DISTINCT run_id) AS n FROM result_states")
    assert int(counts["n"].iloc[0]) == 1


def test_tables_whose_columns_change_between_runs(store_path: Path) -> None:
    store = RunStore(store_path)
    one = pd.DataFrame({"year": [2030, 2050], "value": [1, 2], "note": ["a", "b"]})
    two = pd.DataFrame({"year": [2030], "value": [1.5], "extra": [True]})
    three = pd.DataFrame({"year": [2100], "value": ["n/a"]})
    ids = [store.add(scenario_name="x", scenario_version="1", scenario_hash="h",
                     scenario_yaml=None, tables={"t": df}) for df in (one, two, three)]
    for run_id, df in zip(ids, (one, two, three), strict=True):
        pd.testing.assert_frame_equal(store.table(run_id, "t"), df, check_exact=True)


def test_bad_tables_are_refused_before_writing(store_path: Path) -> None:
    store = RunStore(store_path)
    ok = pd.DataFrame({"a": [1]})
    with pytest.raises(StoreError, match=r"tables: bad table name \(got 'Bad-Name'"):
        store.add(scenario_name="x", scenario_version="1", scenario_hash="h",
                  scenario_yaml=None, tables={"ok": ok, "Bad-Name": ok})
    with pytest.raises(StoreError, match=r"tables.t: reserved column name \(got 'run_id'"):
        store.add(scenario_name="x", scenario_version="1", scenario_hash="h",
                  scenario_yaml=None, tables={"t": pd.DataFrame({"run_id": [1]})})
    assert not store_path.exists()  # refused before the store was even created


def test_missing_store_and_unknown_table(store_path: Path, base_run: Run) -> None:
    with pytest.raises(StoreError, match=r"no run store there"):
        RunStore(store_path).runs()
    assert not store_path.exists()  # reading does not create a store
    results, tables = base_run
    run_id = record_run(store_path, results, {"states": tables["states"]}, "base")
    with pytest.raises(StoreError, match=rf"table: run {run_id} has no table 'scorecard'"):
        RunStore(store_path).table(run_id, "scorecard")


def test_default_location(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("EVFLEX_STORE", str(tmp_path / "mine.duckdb"))
    assert db.default_store_path() == tmp_path / "mine.duckdb"
    monkeypatch.delenv("EVFLEX_STORE")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert db.default_store_path() == tmp_path / "xdg" / "evflex" / "runs.duckdb"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert db.default_store_path() == tmp_path / "home" / ".local/share/evflex/runs.duckdb"


def test_judgement_like_tables_round_trip(store_path: Path, tmp_path: Path) -> None:
    """Dates, nullable integers, gaps and booleans come back as written, CSV byte for byte."""
    import datetime as dt

    evidence = pd.DataFrame({
        "indicator": ["v2g_capable_models", "enrolled_v2g"], "pathway": ["v2g", "v2g"],
        "date": [dt.date(2026, 5, 1), None], "value": [22.0, float("nan")],
        "count": pd.array([3, None], dtype="Int64"), "fired": [True, False],
        "observed": pd.to_datetime(["2026-05-01", "2026-06-30"]), "note": ["", None]})
    store = RunStore(store_path)
    run_id = store.add(scenario_name="x", scenario_version="1", scenario_hash="h",
                       scenario_yaml=None, tables={"evidence": evidence})
    back = store.table(run_id, "evidence")
    pd.testing.assert_frame_equal(back, evidence, check_exact=True)
    write_run(tmp_path / "a", {"evidence": evidence}, parquet=False)
    write_run(tmp_path / "b", {"evidence": back}, parquet=False)
    assert (tmp_path / "a/evidence.csv").read_bytes() == (tmp_path / "b/evidence.csv").read_bytes()
