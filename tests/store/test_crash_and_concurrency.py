"""kill -9 in the middle of a write, and two processes writing at once, on a real file."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from evflex.store import RunStore, StoreError

WRITER = Path(__file__).with_name("store_writer.py")


def _writer(store: Path, n: int, rows: int, go: Path | None = None) -> subprocess.Popen[str]:
    args = [sys.executable, str(WRITER), str(store), str(n), str(rows)]
    if go is not None:
        args.append(str(go))
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _assert_whole(store: Path, committed: list[str], rows: int) -> set[str]:
    """Every committed run is there with all its rows, and nothing else is half there."""
    st = RunStore(store)
    assert st.check() == []
    ids = set(st.runs()["run_id"])
    assert set(committed) <= ids
    for run_id in committed:
        info = st.info(run_id)
        assert info.tables == {"states": rows, "funnel": rows, "capacity": rows}
        assert len(st.table(run_id, "capacity")) == rows
    return ids


def test_kill_9_in_the_middle_of_a_write(tmp_path: Path) -> None:
    store, rows = tmp_path / "runs.duckdb", 150_000
    committed: list[str] = []
    for _ in range(2):
        proc = _writer(store, 0, rows)
        assert proc.stdout is not None
        inflight, done_here = None, 0
        for line in proc.stdout:
            kind, run_id, *rest = line.split()
            if kind == "commit":
                committed.append(run_id)
                done_here += 1
            elif kind == "writing" and rest == ["funnel"] and done_here == 2:
                inflight = run_id  # second of three tables: inside the transaction
                os.kill(proc.pid, signal.SIGKILL)
                break
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL, proc.stderr.read() if proc.stderr else ""
        ids = _assert_whole(store, committed, rows)
        assert inflight is not None and inflight not in ids  # no partial run
    assert len(committed) >= 4


def test_kill_9_at_random_moments(tmp_path: Path) -> None:
    """Kills anywhere: opening, writing, committing, checkpointing on close."""
    store, rows = tmp_path / "runs.duckdb", 20_000
    committed: list[str] = []
    rng = random.Random(7)
    for _ in range(3):
        proc = _writer(store, 0, rows)
        assert proc.stdout is not None
        first = proc.stdout.readline().split()  # the child is up and writing
        assert first[0] == "writing"
        time.sleep(rng.uniform(0.05, 0.8))
        os.kill(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate(timeout=30)
        committed += [line.split()[1] for line in out.splitlines()
                      if line.startswith("commit")]
        _assert_whole(store, committed, rows)
    # the store still takes new runs after all that
    proc = _writer(store, 1, rows)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    committed += [line.split()[1] for line in out.splitlines() if line.startswith("commit")]
    _assert_whole(store, committed, rows)


def test_two_processes_writing_at_once_both_land(tmp_path: Path) -> None:
    store, go, rows, n = tmp_path / "runs.duckdb", tmp_path / "go", 10_000, 4
    procs = [_writer(store, n, rows, go) for _ in range(2)]
    for p in procs:  # both children are up and waiting
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    go.touch()
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
    committed = [[line.split()[1] for line in out.splitlines() if line.startswith("commit")]
                 for out, _ in outs]
    assert [len(c) for c in committed] == [n, n]
    ids = _assert_whole(store, committed[0] + committed[1], rows)
    assert len(ids) == 2 * n


def test_a_held_lock_times_out_with_a_clear_message(tmp_path: Path) -> None:
    import fcntl

    import pandas as pd

    store = RunStore(tmp_path / "runs.duckdb", timeout=0.3)
    table = {"t": pd.DataFrame({"a": [1]})}
    store.add(scenario_name="x", scenario_version="1", scenario_hash="h", scenario_yaml=None,
              tables=table)
    with open(store.lock_path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        t0 = time.monotonic()
        with pytest.raises(StoreError, match=r"locked by another evflex process for more "
                                             r"than 0.3 s"):
            store.add(scenario_name="x", scenario_version="2", scenario_hash="h",
                      scenario_yaml=None, tables=table)
        assert 0.25 < time.monotonic() - t0 < 5
    assert len(store.runs()) == 1


def test_duckdb_lock_of_another_program_is_waited_for(tmp_path: Path) -> None:
    import pandas as pd

    path = tmp_path / "runs.duckdb"
    store = RunStore(path, timeout=30)
    table = {"t": pd.DataFrame({"a": [1]})}
    store.add(scenario_name="x", scenario_version="1", scenario_hash="h", scenario_yaml=None,
              tables=table)
    # another program (not evflex, so no flock) holds the file open for a moment
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
         "print('open', flush=True); time.sleep(1.0); c.close()", str(path)],
        stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
    with pytest.raises(duckdb.IOException):
        duckdb.connect(str(path))  # really held
    t0 = time.monotonic()
    store.add(scenario_name="x", scenario_version="2", scenario_hash="h", scenario_yaml=None,
              tables=table)
    assert time.monotonic() - t0 > 0.2  # it waited, then landed
    holder.wait(timeout=30)
    assert len(store.runs()) == 2
