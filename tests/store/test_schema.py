"""Stores written by other schema versions: migrated, or refused with a clear message."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest

from evflex.store import SCHEMA_VERSION, RunStore, StoreError
from evflex.store.db import MIGRATIONS

#: The layout of schema version 1, written by hand as an older evflex wrote it.
V1 = [
    "CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at TIMESTAMP NOT NULL, "
    "note VARCHAR)",
    "CREATE TABLE runs (run_id VARCHAR PRIMARY KEY, created_at TIMESTAMP NOT NULL, "
    "scenario_name VARCHAR NOT NULL, scenario_version VARCHAR NOT NULL, "
    "scenario_hash VARCHAR NOT NULL, scenario_yaml VARCHAR, scenario_source VARCHAR, "
    "evflex_version VARCHAR NOT NULL, availability_source VARCHAR NOT NULL)",
    "CREATE TABLE run_tables (run_id VARCHAR NOT NULL, name VARCHAR NOT NULL, "
    "n_rows BIGINT NOT NULL, columns VARCHAR NOT NULL, PRIMARY KEY (run_id, name))",
    "CREATE TABLE result_checks (run_id VARCHAR NOT NULL, _row BIGINT NOT NULL, "
    "\"check\" VARCHAR, status VARCHAR, value DOUBLE)",
    "INSERT INTO schema_version VALUES (1, TIMESTAMP '2026-01-01 00:00:00', 'created')",
    "INSERT INTO runs VALUES ('0ld0000000a1', TIMESTAMP '2026-01-02 10:00:00', 'base', '2.9', "
    "'abc', 'name: base', NULL, '0.0.9', 'scenario')",
    "INSERT INTO run_tables VALUES ('0ld0000000a1', 'checks', 3, "
    "'[[\"check\", \"object\"], [\"status\", \"object\"], [\"value\", \"float64\"]]')",
    "INSERT INTO result_checks VALUES ('0ld0000000a1', 0, 'a', 'pass', 0.0), "
    "('0ld0000000a1', 1, 'b', 'fail', 2.0), ('0ld0000000a1', 2, 'c', 'pass', 0.0)",
]


def _make(path: Path, statements: list[str]) -> None:
    con = duckdb.connect(str(path))
    for sql in statements:
        con.execute(sql)
    con.close()


def test_a_version_1_store_is_migrated_and_keeps_its_runs(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    _make(path, V1)
    assert SCHEMA_VERSION == 2 and 1 in MIGRATIONS
    store = RunStore(path)
    info = store.info("0ld0")  # reading migrates first
    assert store.schema_version() == SCHEMA_VERSION
    assert (info.scenario_name, info.scenario_version, info.evflex_version) == (
        "base", "2.9", "0.0.9")
    assert (info.checks_passed, info.checks_total) == (2, 3)  # counted from its checks
    assert info.availability is None
    checks = store.table("0ld0000000a1", "checks")
    assert list(checks["status"]) == ["pass", "fail", "pass"]
    history = store.query("SELECT version, note FROM schema_version ORDER BY version")
    assert list(history["version"]) == [1, 2] and history["note"].iloc[1] == "migrated"
    # and it takes new runs in the new layout
    new = store.add(scenario_name="x", scenario_version="1", scenario_hash="h",
                    scenario_yaml=None, tables={"checks": pd.DataFrame(
                        {"check": ["a"], "status": ["pass"], "value": [0.0]})},
                    availability={"source": "simulation"})
    assert store.info(new).availability == {"source": "simulation"}
    assert store.check() == []


def test_a_failed_migration_leaves_the_old_store_as_it_was(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    path = tmp_path / "old.duckdb"
    _make(path, V1)

    def broken(con: duckdb.DuckDBPyConnection) -> None:
        con.execute("ALTER TABLE runs ADD COLUMN availability VARCHAR")
        raise RuntimeError("disk full")

    monkeypatch.setitem(MIGRATIONS, 1, broken)
    with pytest.raises(RuntimeError, match="disk full"):
        RunStore(path).runs()
    con = duckdb.connect(str(path), read_only=True)
    cols = [r[0] for r in con.execute("DESCRIBE runs").fetchall()]
    version = con.execute("SELECT max(version) FROM schema_version").fetchone()
    con.close()
    assert "availability" not in cols and version == (1,)


def test_a_newer_store_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.duckdb"
    _make(path, [*V1[:3], "INSERT INTO schema_version VALUES (1, now()::TIMESTAMP, 'x'), "
                 "(7, now()::TIMESTAMP, 'future')"])
    with pytest.raises(StoreError, match=r"new\.duckdb: written by a newer evflex \(store "
                                         r"schema version 7, this evflex reads up to 2\)"):
        RunStore(path).runs()
    with pytest.raises(StoreError, match=r"newer evflex"):
        RunStore(path).add(scenario_name="x", scenario_version="1", scenario_hash="h",
                           scenario_yaml=None, tables={})


def test_a_version_0_store_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "zero.duckdb"
    _make(path, [*V1[:3], "INSERT INTO schema_version VALUES (0, now()::TIMESTAMP, 'x')"])
    with pytest.raises(StoreError, match=r"store schema version 0 cannot be migrated"):
        RunStore(path).runs()


def test_another_duckdb_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.duckdb"
    _make(path, ["CREATE TABLE sales (x INTEGER)"])
    with pytest.raises(StoreError, match=r"other\.duckdb: not an evflex run store \(a DuckDB "
                                         r"file with tables sales"):
        RunStore(path).add(scenario_name="x", scenario_version="1", scenario_hash="h",
                           scenario_yaml=None, tables={})
    con = duckdb.connect(str(path), read_only=True)
    assert [r[0] for r in con.execute("SHOW TABLES").fetchall()] == ["sales"]  # untouched
    con.close()


def test_a_file_that_is_not_duckdb_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello\n")
    with pytest.raises(StoreError, match=r"notes\.txt: cannot open as a DuckDB store"):
        RunStore(path).runs()
    assert path.read_text() == "hello\n"
