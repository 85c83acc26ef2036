"""The run store: every run of the engine kept in one embedded DuckDB file.

Location
--------
``--store PATH`` on the command line, else the environment variable ``EVFLEX_STORE``,
else ``$XDG_DATA_HOME/evflex/runs.duckdb`` (``~/.local/share/evflex/runs.duckdb`` when
``XDG_DATA_HOME`` is not set). See :func:`default_store_path`.

Layout (schema version :data:`SCHEMA_VERSION`)
----------------------------------------------
- ``schema_version(version, applied_at, note)``: one row per schema version applied.
- ``runs``: one row per run: ``run_id``, ``created_at`` (UTC), ``scenario_name``,
  ``scenario_version``, ``scenario_hash`` (see :mod:`evflex.store.content`),
  ``scenario_yaml`` (the merged scenario), ``scenario_source`` (the file it came from),
  ``evflex_version``, ``availability_source``, ``availability`` (JSON of the
  availability used when it did not come from the scenario, e.g. a vehicle simulation),
  ``checks_passed`` and ``checks_total``.
- ``run_tables(run_id, name, n_rows, columns)``: which result tables a run has, their
  row counts and their columns with pandas dtypes and DuckDB types as written (JSON), so
  a table reads back with the columns, order and types it was written with.
- ``result_<name>``: one long table per result name (``states``, ``fleet``, ``funnel``,
  ``capacity``, ``checks``, ``scorecard``, ...), keyed by ``run_id`` and ``_row`` (the
  row's position). A column that a later run adds is added; a column whose type changes
  is widened (numbers to DOUBLE, anything else to VARCHAR) and read back as written.

Safety
------
- A run is written in one transaction (``BEGIN`` ... ``COMMIT``): an interrupted write
  (an exception, Ctrl-C, ``kill -9``, a power cut) leaves no part of that run, and
  every earlier run intact (DuckDB's write-ahead log replays committed transactions only).
- DuckDB lets one process at a time open a file for writing. Writers take an exclusive
  ``flock`` on ``PATH.lock`` and readers a shared one, so runs from several processes
  queue up and all land; opening the file itself is also retried with backoff while
  another program (e.g. the DuckDB shell) holds DuckDB's own lock. Both waits end with a
  clear :class:`StoreError` after ``timeout`` seconds.
- A store written by an older schema version is migrated in place (in one transaction)
  the first time it is opened; a store from a newer evflex, or a DuckDB file that is not
  a run store, is refused with a message that says so.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import duckdb
import pandas as pd

try:  # POSIX advisory locks; elsewhere only DuckDB's own lock (with retries) applies
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

#: The schema this evflex writes.
SCHEMA_VERSION = 2
#: Environment variable naming the store file.
ENV_STORE = "EVFLEX_STORE"
#: Seconds to wait for another process's lock before giving up.
DEFAULT_TIMEOUT_S = 120.0
#: Shortest prefix of a run id accepted in place of the whole id.
MIN_PREFIX = 4
#: Columns every result table carries besides the run's own.
KEY_COLUMNS = ("run_id", "_row")

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_NUMERIC = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
            "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE", "BOOLEAN"}


class StoreError(Exception):
    """A problem with the run store, worded as one line for the user."""


def default_store_path() -> Path:
    """``$EVFLEX_STORE``, else ``$XDG_DATA_HOME/evflex/runs.duckdb`` (or ~/.local/share)."""
    env = os.environ.get(ENV_STORE)
    if env:
        return Path(env).expanduser()
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home).expanduser() / "evflex" / "runs.duckdb"


@dataclass(frozen=True)
class RunInfo:
    """The metadata of one stored run (everything but its result tables)."""

    run_id: str
    created_at: datetime  # UTC, naive
    scenario_name: str
    scenario_version: str
    scenario_hash: str
    scenario_yaml: str | None
    scenario_source: str | None
    evflex_version: str
    availability_source: str
    availability: dict[str, Any] | None
    checks_passed: int | None
    checks_total: int | None
    tables: dict[str, int]  # name → rows


def _q(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


# --------------------------------------------------------------------------- schema

_RUNS_V1 = """
CREATE TABLE runs (
    run_id VARCHAR PRIMARY KEY,
    created_at TIMESTAMP NOT NULL,
    scenario_name VARCHAR NOT NULL,
    scenario_version VARCHAR NOT NULL,
    scenario_hash VARCHAR NOT NULL,
    scenario_yaml VARCHAR,
    scenario_source VARCHAR,
    evflex_version VARCHAR NOT NULL,
    availability_source VARCHAR NOT NULL
)"""
_RUN_TABLES = """
CREATE TABLE run_tables (
    run_id VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    n_rows BIGINT NOT NULL,
    columns VARCHAR NOT NULL,
    PRIMARY KEY (run_id, name)
)"""
_SCHEMA_VERSION_TABLE = """
CREATE TABLE schema_version (
    version INTEGER NOT NULL,
    applied_at TIMESTAMP NOT NULL,
    note VARCHAR
)"""


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _create(con: duckdb.DuckDBPyConnection) -> None:
    """A new, empty store at schema version 1, then migrated to the current one."""
    con.execute(_SCHEMA_VERSION_TABLE)
    con.execute(_RUNS_V1)
    con.execute(_RUN_TABLES)
    con.execute("INSERT INTO schema_version VALUES (1, ?, 'created')", [_utcnow()])


def _migrate_1_to_2(con: duckdb.DuckDBPyConnection) -> None:
    """Version 2: the availability used by a run (JSON), and its checks summary.

    Runs of version 1 get ``availability`` NULL (it came from the scenario unless
    ``availability_source`` says otherwise) and their checks counted from the stored
    ``checks`` table, where they have one.
    """
    con.execute("ALTER TABLE runs ADD COLUMN availability VARCHAR")
    con.execute("ALTER TABLE runs ADD COLUMN checks_passed INTEGER")
    con.execute("ALTER TABLE runs ADD COLUMN checks_total INTEGER")
    if _has_table(con, "result_checks"):
        con.execute("""
            UPDATE runs SET checks_passed = c.passed, checks_total = c.total
            FROM (SELECT run_id, count(*) FILTER (WHERE status = 'pass') AS passed,
                         count(*) AS total
                  FROM result_checks GROUP BY run_id) AS c
            WHERE runs.run_id = c.run_id""")


#: version → the step that brings a store from that version to the next.
MIGRATIONS: dict[int, Callable[[duckdb.DuckDBPyConnection], None]] = {1: _migrate_1_to_2}


def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    row = con.execute("SELECT count(*) FROM information_schema.tables "
                      "WHERE table_schema = 'main' AND table_name = ?", [name]).fetchone()
    return bool(row and row[0])


def _tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables "
                                      "WHERE table_schema = 'main'").fetchall()]


def _version_of(con: duckdb.DuckDBPyConnection, path: Path) -> int | None:
    """The schema version of an open store; ``None`` for an empty file. Refuses others."""
    tables = _tables(con)
    if not tables:
        return None
    if "schema_version" not in tables or "runs" not in tables:
        raise StoreError(f"{path}: not an evflex run store (a DuckDB file with tables "
                         f"{', '.join(sorted(tables)[:5])}; expected the tables schema_version "
                         "and runs): name another file with --store or $EVFLEX_STORE")
    row = con.execute("SELECT max(version) FROM schema_version").fetchone()
    version = int(row[0]) if row and row[0] is not None else 0
    if version > SCHEMA_VERSION:
        raise StoreError(f"{path}: written by a newer evflex (store schema version {version}, "
                         f"this evflex reads up to {SCHEMA_VERSION}): upgrade evflex to use it")
    if version < 1 or (version < SCHEMA_VERSION and version not in MIGRATIONS):
        raise StoreError(f"{path}: store schema version {version} cannot be migrated (this "
                         f"evflex migrates versions {sorted(MIGRATIONS)} to {SCHEMA_VERSION}); "
                         "export its runs with the evflex that wrote it and start a new store")
    return version


# --------------------------------------------------------------------------- the store

class RunStore:
    """Runs of the engine in one DuckDB file; see the module docstring.

    Every method opens the file, does its work and closes it again, so several
    processes can share a store. ``timeout`` [s] bounds the wait for another's lock.
    """

    def __init__(self, path: str | Path | None = None, timeout: float = DEFAULT_TIMEOUT_S):
        self.path = Path(path).expanduser() if path is not None else default_store_path()
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"RunStore({str(self.path)!r})"

    # ---- opening, locking
    @property
    def lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    def exists(self) -> bool:
        return self.path.is_file()

    def _require(self) -> None:
        if not self.exists():
            raise StoreError(f"{self.path}: no run store there (record a run with "
                             "`evflex run --store PATH`, or name one with --store or "
                             f"${ENV_STORE})")

    @contextlib.contextmanager
    def _flock(self, exclusive: bool) -> Iterator[None]:
        if fcntl is None:  # pragma: no cover - not POSIX
            yield
            return
        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            if exclusive:
                raise StoreError(f"{self.lock_path}: cannot open the lock file "
                                 f"({exc.strerror or exc})") from None
            # A reader needs only a shared lock, which a read-only descriptor can take;
            # where even that cannot be opened (a read-only store whose lock file was
            # never made), no process can write the store, so reading needs no lock.
            try:
                fd = os.open(self.lock_path, os.O_RDONLY)
            except OSError:
                yield
                return
        try:
            mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
            self._retry(lambda: fcntl.flock(fd, mode | fcntl.LOCK_NB),
                        (BlockingIOError,), "locked by another evflex process")
            yield
        finally:
            os.close(fd)  # releases the lock

    def _retry(self, action: Callable[[], Any], errors: tuple[type[BaseException], ...],
               what: str) -> Any:
        """``action()`` until it does not raise ``errors``: backoff 10 ms doubling to 0.5 s."""
        deadline = time.monotonic() + self.timeout
        wait = 0.01
        while True:
            try:
                return action()
            except errors as exc:
                if isinstance(exc, duckdb.Error) and "lock" not in str(exc).lower():
                    raise
                if time.monotonic() >= deadline:
                    raise StoreError(f"{self.path}: {what} for more than {self.timeout:g} s; "
                                     "try again when it has finished") from None
                time.sleep(wait)
                wait = min(wait * 2, 0.5)

    def _connect(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        def connect() -> duckdb.DuckDBPyConnection:
            return duckdb.connect(str(self.path), read_only=read_only)

        try:
            con: duckdb.DuckDBPyConnection = self._retry(
                connect, (duckdb.IOException,), "locked by another program")
        except duckdb.Error as exc:
            raise StoreError(f"{self.path}: cannot open as a DuckDB store ({exc})") from None
        return con

    @contextlib.contextmanager
    def _open(self, write: bool) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection at the current schema, under the file lock.

        Reading an older store takes the write lock once to migrate it first.
        """
        if write:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"{self.path}: cannot create the store's folder "
                                 f"({exc.strerror or exc})") from None
        else:
            self._require()
        with self._flock(exclusive=write):
            con = self._connect(read_only=not write)
            try:
                version = _version_of(con, self.path)
                if version == SCHEMA_VERSION:
                    yield con
                    return
                if write:
                    self._upgrade(con, version)
                    yield con
                    return
            finally:
                con.close()
        # read of an older store: migrate under the write lock, then read
        with self._flock(exclusive=True):
            con = self._connect(read_only=False)
            try:
                self._upgrade(con, _version_of(con, self.path))
                yield con
            finally:
                con.close()

    def _upgrade(self, con: duckdb.DuckDBPyConnection, version: int | None) -> None:
        """Create the schema (``None``) or migrate it to the current one, transactionally."""
        if version == SCHEMA_VERSION:
            return
        con.execute("BEGIN TRANSACTION")
        try:
            if version is None:
                _create(con)
                version = 1
            note = "created" if version == 1 and not self._has_runs(con) else "migrated"
            while version < SCHEMA_VERSION:
                MIGRATIONS[version](con)
                version += 1
                con.execute("INSERT INTO schema_version VALUES (?, ?, ?)",
                            [version, _utcnow(), note])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    @staticmethod
    def _has_runs(con: duckdb.DuckDBPyConnection) -> bool:
        row = con.execute("SELECT count(*) FROM runs").fetchone()
        return bool(row and row[0])

    def schema_version(self) -> int:
        """The schema version of the store (migrating it first if it is older)."""
        with self._open(write=False) as con:
            row = con.execute("SELECT max(version) FROM schema_version").fetchone()
            assert row is not None
            return int(row[0])

    # ---- writing
    def add(self, *, scenario_name: str, scenario_version: str, scenario_hash: str,
            scenario_yaml: str | None, tables: Mapping[str, pd.DataFrame],
            scenario_source: str | None = None, evflex_version: str | None = None,
            availability_source: str = "scenario",
            availability: Mapping[str, Any] | None = None,
            created_at: datetime | None = None, run_id: str | None = None) -> str:
        """Store one run with its result tables, all or nothing; returns its run id."""
        from evflex import __version__

        for name, df in tables.items():
            _check_table(name, df)
        run_id = run_id or uuid.uuid4().hex[:12]
        checks = tables.get("checks")
        passed = total = None
        if checks is not None and "status" in checks.columns:
            passed, total = int((checks["status"] == "pass").sum()), len(checks)
        row = [run_id, created_at or _utcnow(), scenario_name, scenario_version, scenario_hash,
               scenario_yaml, scenario_source, evflex_version or __version__,
               availability_source,
               json.dumps(dict(availability), sort_keys=True) if availability else None,
               passed, total]
        with self._open(write=True) as con:
            con.execute("BEGIN TRANSACTION")
            try:
                con.execute(
                    "INSERT INTO runs (run_id, created_at, scenario_name, scenario_version, "
                    "scenario_hash, scenario_yaml, scenario_source, evflex_version, "
                    "availability_source, availability, checks_passed, checks_total) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
                for name, df in tables.items():
                    _insert_table(con, run_id, name, df)
                con.execute("COMMIT")
            except BaseException as exc:
                with contextlib.suppress(duckdb.Error):
                    con.execute("ROLLBACK")
                if isinstance(exc, duckdb.ConstraintException):
                    raise StoreError(f"run_id: already in the store (got {run_id!r}, "
                                     "expected a new id)") from None
                if isinstance(exc, duckdb.Error):
                    raise StoreError(f"{self.path}: the run was not stored ({exc})") from None
                raise
        return run_id

    # ---- reading
    def runs(self, scenario: str | None = None, limit: int | None = None) -> pd.DataFrame:
        """Stored runs, newest first: metadata columns (no YAML, no tables)."""
        sql = ("SELECT run_id, created_at, scenario_name, scenario_version, scenario_hash, "
               "evflex_version, availability_source, checks_passed, checks_total "
               "FROM runs")
        args: list[Any] = []
        if scenario is not None:
            sql += " WHERE scenario_name = ?"
            args.append(scenario)
        sql += " ORDER BY created_at DESC, run_id DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        with self._open(write=False) as con:
            return con.execute(sql, args).df()

    def resolve(self, ref: str) -> str:
        """A run id from an id, a unique prefix (>= 4 characters), ``latest`` or ``latest~N``."""
        with self._open(write=False) as con:
            return _resolve(con, ref, self.path)

    def info(self, ref: str) -> RunInfo:
        """The metadata of one run (by id, unique prefix or ``latest[~N]``)."""
        with self._open(write=False) as con:
            run_id = _resolve(con, ref, self.path)
            cur = con.execute("SELECT * FROM runs WHERE run_id = ?", [run_id])
            names = [d[0] for d in cur.description]
            values = cur.fetchone()
            assert values is not None
            rec = dict(zip(names, values, strict=True))
            tables = dict(con.execute("SELECT name, n_rows FROM run_tables WHERE run_id = ? "
                                      "ORDER BY rowid", [run_id]).fetchall())
        return RunInfo(
            run_id=rec["run_id"], created_at=rec["created_at"],
            scenario_name=rec["scenario_name"], scenario_version=rec["scenario_version"],
            scenario_hash=rec["scenario_hash"], scenario_yaml=rec["scenario_yaml"],
            scenario_source=rec["scenario_source"], evflex_version=rec["evflex_version"],
            availability_source=rec["availability_source"],
            availability=json.loads(rec["availability"]) if rec["availability"] else None,
            checks_passed=rec["checks_passed"], checks_total=rec["checks_total"],
            tables={str(k): int(v) for k, v in tables.items()})

    def table(self, ref: str, name: str) -> pd.DataFrame:
        """One result table of a run, with the columns and types it was written with."""
        return self.tables(ref, [name])[name]

    def tables(self, ref: str, names: Sequence[str] | None = None) -> dict[str, pd.DataFrame]:
        """Result tables of a run (all of them by default), in the order they were written."""
        with self._open(write=False) as con:
            run_id = _resolve(con, ref, self.path)
            catalogue = con.execute("SELECT name, n_rows, columns FROM run_tables "
                                    "WHERE run_id = ? ORDER BY rowid", [run_id]).fetchall()
            have = {name: (n, json.loads(cols)) for name, n, cols in catalogue}
            wanted = list(have) if names is None else names
            out = {}
            for name in wanted:
                if name not in have:
                    raise StoreError(f"table: run {run_id} has no table {name!r} (expected one "
                                     f"of {', '.join(have) or 'none'})")
                n_rows, columns = have[name]
                out[name] = _read_table(con, run_id, name, columns)
                if len(out[name]) != n_rows:  # pragma: no cover - would be a DuckDB bug
                    raise StoreError(f"{self.path}: run {run_id} table {name} has "
                                     f"{len(out[name])} rows, expected {n_rows}")
        return out

    def query(self, sql: str, params: list[Any] | None = None) -> pd.DataFrame:
        """A read-only SQL query on the store, e.g. over ``runs`` and ``result_states``."""
        with self._open(write=False) as con:
            try:
                return con.execute(sql, params or []).df()
            except duckdb.Error as exc:
                raise StoreError(f"query: {exc}") from None

    def world_2050(self, run_ids: list[str], year: int = 2050) -> pd.DataFrame:
        """World V2G share and V2G export power [GW] in ``year`` of each run, where stored."""
        out = pd.DataFrame({"run_id": run_ids})
        with self._open(write=False) as con:
            if _has_table(con, "result_states"):
                share = con.execute(
                    "SELECT run_id, share AS v2g_share FROM result_states WHERE "
                    "region = 'World' AND segment = 'all' AND state = 'v2g' AND year = ?",
                    [year]).df()
                out = out.merge(share, on="run_id", how="left")
            if _has_table(con, "result_capacity"):
                power = con.execute(
                    "SELECT run_id, value AS v2g_export_power FROM result_capacity WHERE "
                    "region = 'World' AND metric = 'v2g_export_power' AND year = ?",
                    [year]).df()
                out = out.merge(power, on="run_id", how="left")
        for col in ("v2g_share", "v2g_export_power"):
            if col not in out:
                out[col] = float("nan")
        return out

    def check(self) -> list[str]:
        """Integrity problems of the store (empty when every run is whole)."""
        problems = []
        with self._open(write=False) as con:
            for run_id, name, n_rows in con.execute(
                    "SELECT run_id, name, n_rows FROM run_tables ORDER BY run_id").fetchall():
                row = con.execute(f"SELECT count(*) FROM {_q('result_' + name)} "
                                  "WHERE run_id = ?", [run_id]).fetchone()
                got = int(row[0]) if row else 0
                if got != n_rows:
                    problems.append(f"run {run_id}: table {name} has {got} rows, "
                                    f"expected {n_rows}")
            orphans = con.execute("SELECT DISTINCT run_id FROM run_tables WHERE run_id NOT IN "
                                  "(SELECT run_id FROM runs)").fetchall()
            problems += [f"run {r[0]}: tables without a run" for r in orphans]
        return problems


# --------------------------------------------------------------------------- helpers

def _resolve(con: duckdb.DuckDBPyConnection, ref: str, path: Path) -> str:
    ref = ref.strip()
    match = re.fullmatch(r"latest(?:~(\d+))?", ref)
    if match:
        back = int(match.group(1) or 0)
        row = con.execute("SELECT run_id FROM runs ORDER BY created_at DESC, run_id DESC "
                          "LIMIT 1 OFFSET ?", [back]).fetchone()
        if row is None:
            row_n = con.execute("SELECT count(*) FROM runs").fetchone()
            n = int(row_n[0]) if row_n else 0
            raise StoreError(f"run: {ref!r} not in the store {path} (it holds {n} run(s); "
                             "expected latest~N with N < the number of runs)")
        return str(row[0])
    exact = con.execute("SELECT run_id FROM runs WHERE run_id = ?", [ref]).fetchone()
    if exact is not None:
        return str(exact[0])
    if len(ref) >= MIN_PREFIX:
        found = [r[0] for r in con.execute(
            "SELECT run_id FROM runs WHERE starts_with(run_id, ?) ORDER BY run_id LIMIT 3",
            [ref]).fetchall()]
        if len(found) == 1:
            return str(found[0])
        if len(found) > 1:
            raise StoreError(f"run: {ref!r} is ambiguous in the store {path} (got "
                             f"{', '.join(found)}, ...; expected more characters of the id)")
    raise StoreError(f"run: no run {ref!r} in the store {path} (expected an id from "
                     "`evflex runs list`, a unique prefix of one, or latest / latest~N)")


def _check_table(name: str, df: pd.DataFrame) -> None:
    if not _NAME.match(name):
        raise StoreError(f"tables: bad table name (got {name!r}, expected lower-case letters, "
                         "digits and _, starting with a letter)")
    if not isinstance(df, pd.DataFrame):
        raise StoreError(f"tables.{name}: not a table (got {type(df).__name__}, "
                         "expected a pandas DataFrame)")
    columns = [str(c) for c in df.columns]
    clash = [c for c in columns if c in KEY_COLUMNS]
    if clash:
        raise StoreError(f"tables.{name}: reserved column name (got {clash[0]!r}, expected "
                         f"none of {', '.join(KEY_COLUMNS)})")
    if len(set(columns)) != len(columns):
        raise StoreError(f"tables.{name}: duplicate column names (got {columns}, "
                         "expected each column once)")


def _duck_types(con: duckdb.DuckDBPyConnection, relation: str) -> dict[str, str]:
    return {r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()}


def _insert_table(con: duckdb.DuckDBPyConnection, run_id: str, name: str,
                  df: pd.DataFrame) -> None:
    """Append ``df`` to ``result_<name>`` under ``run_id``, widening the table if needed."""
    frame = df.copy()
    frame.columns = [str(c) for c in frame.columns]
    frame.insert(0, "_row", range(len(frame)))
    view = "_evflex_incoming"
    con.register(view, frame)
    try:
        incoming = _duck_types(con, view)
        columns = [[c, str(frame[c].dtype), incoming[c]] for c in frame.columns if c != "_row"]
        table = "result_" + name
        if not _has_table(con, table):
            cols = ", ".join(f"{_q(c)} {t}" for c, t in incoming.items() if c != "_row")
            con.execute(f"CREATE TABLE {_q(table)} (run_id VARCHAR NOT NULL, "
                        f"_row BIGINT NOT NULL{', ' + cols if cols else ''})")
        else:
            existing = _duck_types(con, _q(table))
            for col, kind in incoming.items():
                if col not in existing:
                    con.execute(f"ALTER TABLE {_q(table)} ADD COLUMN {_q(col)} {kind}")
                elif existing[col] != kind and existing[col] != "VARCHAR":
                    wide = ("DOUBLE" if existing[col] in _NUMERIC and kind in _NUMERIC
                            else "VARCHAR")
                    if wide != existing[col]:
                        con.execute(f"ALTER TABLE {_q(table)} ALTER COLUMN {_q(col)} "
                                    f"TYPE {wide}")
        names = ", ".join(_q(c) for c in incoming)
        con.execute(f"INSERT INTO {_q(table)} (run_id, {names}) "
                    f"SELECT ?::VARCHAR, {names} FROM {view}", [run_id])
    finally:
        con.unregister(view)
    con.execute("INSERT INTO run_tables VALUES (?, ?, ?, ?)",
                [run_id, name, len(frame), json.dumps(columns)])


def _read_table(con: duckdb.DuckDBPyConnection, run_id: str, name: str,
                columns: list[list[str]]) -> pd.DataFrame:
    if not columns:
        n = con.execute(f"SELECT count(*) FROM {_q('result_' + name)} WHERE run_id = ?",
                        [run_id]).fetchone()
        return pd.DataFrame(index=range(int(n[0]) if n else 0))
    names = ", ".join(_q(c[0]) for c in columns)
    df = con.execute(f"SELECT {names} FROM {_q('result_' + name)} WHERE run_id = ? "
                     "ORDER BY _row", [run_id]).df()
    for col, dtype, *written_as in columns:
        if str(df[col].dtype) != dtype or written_as == ["DATE"]:
            df[col] = _restore(df[col], dtype, written_as[0] if written_as else "")
    return df


def _restore(values: pd.Series, dtype: str, duck_type: str = "") -> pd.Series:
    """A column read back in the dtype it was written with (it may have been widened)."""
    target = cast(Any, dtype)
    with contextlib.suppress(TypeError, ValueError, AttributeError):
        if duck_type == "DATE" and dtype == "object":  # a column of datetime.date objects
            stamps = pd.to_datetime(values)
            return pd.Series([None if pd.isna(t) else t.date() for t in stamps],
                             index=values.index, dtype=object, name=values.name)
        if dtype == "bool" and not pd.api.types.is_bool_dtype(values):
            return values.astype(str).str.lower().map({"true": True, "false": False}).astype(
                target)
        if pd.api.types.is_string_dtype(values) and dtype.startswith(("int", "float", "uint")):
            return pd.to_numeric(values).astype(target)
        return values.astype(target)
    return values
