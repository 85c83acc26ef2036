"""Outputs are all or nothing: kill -9 at any moment, stale files, foreign files, CSV
formulas (issue 16)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import evflex.outputs.tables as tables_module
from evflex.outputs.tables import MANIFEST, neutralise_formulas, tidy, write_run

WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import pandas as pd
    from evflex.outputs.tables import write_run
    out, start = Path(sys.argv[1]), int(sys.argv[2])
    print("ready", flush=True)
    i = start
    while True:
        tables = {name: pd.DataFrame({"run": [i] * 200}) for name in ("a", "b", "c")}
        def slow(path, i=i):
            path.write_text(str(i))
            time.sleep(0.002)
        write_run(out, tables, {"tag.txt": slow}, parquet=(i % 2 == 0))
        i += 1
""")


def _consistent(out: Path) -> int:
    """The run id of a whole output folder; fails on a mix of runs or missing files."""
    names = sorted(p.name for p in out.iterdir())
    run = int((out / "tag.txt").read_text())
    expected = ["a.csv", "b.csv", "c.csv", "tag.txt", "user_notes.txt", MANIFEST]
    if run % 2 == 0:
        expected += ["a.parquet", "b.parquet", "c.parquet"]
    assert names == sorted(expected), (run, names)
    for name in ("a", "b", "c"):
        assert set(pd.read_csv(out / f"{name}.csv")["run"]) == {run}
        if run % 2 == 0:
            assert set(pd.read_parquet(out / f"{name}.parquet")["run"]) == {run}
    written = json.loads((out / MANIFEST).read_text())["written"]
    assert "user_notes.txt" not in written
    assert (out / "user_notes.txt").read_text() == "mine"
    return run


def test_kill_9_at_any_moment_leaves_one_whole_run(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_run(out, {n: pd.DataFrame({"run": [0]}) for n in ("a", "b", "c")},
              {"tag.txt": lambda p: p.write_text("0")})
    (out / "user_notes.txt").write_text("mine")  # a file evflex did not write
    rng = np.random.default_rng(16)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    runs = set()
    for trial in range(8):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(out), str(trial * 1000 + 1)],
                                stdout=subprocess.PIPE, env=env)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == b"ready"
        time.sleep(float(rng.uniform(0.05, 0.4)))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        runs.add(_consistent(out))
        assert len(runs) >= 1
    assert len(runs) >= 2  # the writer did get runs through between kills
    # the next run tidies whatever the killed ones left beside the folder
    write_run(out, {n: pd.DataFrame({"run": [2]}) for n in ("a", "b", "c")},
              {"tag.txt": lambda p: p.write_text("2")})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert _consistent(out) == 2


def test_stale_files_of_the_earlier_run_go(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_run(out, {"states": pd.DataFrame({"x": [1]}), "hourly": pd.DataFrame({"x": [1]})},
              {"report.html": lambda p: p.write_text("old")}, parquet=True)
    (out / "mine.txt").write_text("keep")
    written = write_run(out, {"states": pd.DataFrame({"x": [2]})}, parquet=False)
    assert written == [out / "states.csv"]
    assert sorted(p.name for p in out.iterdir()) == sorted(["states.csv", "mine.txt",
                                                            MANIFEST])
    assert (out / "mine.txt").read_text() == "keep"


def test_a_folder_without_manifest_keeps_everything_not_rewritten(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "states.csv").write_text("old")
    (out / "other.csv").write_text("someone else's")
    (out / "sub").mkdir()
    (out / "sub" / "f.txt").write_text("deep")
    os.chmod(out, 0o750)
    write_run(out, {"states": pd.DataFrame({"x": [2]})}, parquet=False)
    assert (out / "other.csv").read_text() == "someone else's"
    assert (out / "sub" / "f.txt").read_text() == "deep"
    assert pd.read_csv(out / "states.csv")["x"].tolist() == [2]
    assert (out.stat().st_mode & 0o777) == 0o750  # the folder keeps its permissions


def _refused(out: Path, match: str) -> None:
    with pytest.raises(IsADirectoryError, match=match):
        write_run(out, {"states": pd.DataFrame({"x": [1]})}, parquet=False)


def test_the_current_folder_a_mount_point_and_a_crowded_folder_are_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--out .`` once replaced the folder the user stood in, and ``--out /`` began to
    hard-link the whole file system into a staging folder."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.txt").write_text("mine")
    monkeypatch.chdir(work)
    inode = work.stat().st_ino
    for out in (Path("."), Path(""), work, tmp_path):
        _refused(out, "current folder")
    assert work.stat().st_ino == inode and (work / "notes.txt").read_text() == "mine"
    _refused(Path("/"), "mount point")
    crowded = tmp_path / "crowded"
    (crowded / "deep").mkdir(parents=True)
    monkeypatch.setattr(tables_module, "MAX_CARRIED", 5)
    for k in range(6):
        (crowded / "deep" / f"{k}.txt").write_text("x")
    _refused(crowded, "over 5 entries")
    assert sorted(p.name for p in crowded.iterdir()) == ["deep"]  # nothing written
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".crowded")]


def test_a_kill_between_two_renames_is_repaired(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Without an atomic exchange, a kill between the renames leaves the earlier folder
    whole under its set-aside name; the next run puts it back before doing anything."""
    out = tmp_path / "out"
    write_run(out, {"a": pd.DataFrame({"x": [1]})}, parquet=False)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    aside = tmp_path / f".out.evflex-old-{dead}-abcd"
    os.rename(out, aside)  # the first rename happened, then the kill
    (tmp_path / f".out.evflex-new-{dead}-ef01").mkdir()  # a half-written staging folder
    assert not out.exists()
    tidy(out)
    assert pd.read_csv(out / "a.csv")["x"].tolist() == [1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    monkeypatch.setattr(tables_module, "_exchange", lambda a, b: False)  # the fallback path
    write_run(out, {"a": pd.DataFrame({"x": [3]})}, parquet=False)
    assert pd.read_csv(out / "a.csv")["x"].tolist() == [3]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_csv_cells_that_look_like_formulas_are_neutralised(tmp_path: Path) -> None:
    df = pd.DataFrame({"source": ["=HYPERLINK(\"http://x\")", "+1", "-cmd", "@SUM(A1)",
                                  "\tx", "plain", "a=b"],
                       "value": [-1.5, 2.0, -3.0, 4.0, 5.0, 6.0, 7.0]})
    write_run(tmp_path / "o", {"evidence": df}, parquet=True)
    text = (tmp_path / "o" / "evidence.csv").read_text()
    for bad in ("\n=HYPERLINK", "\n+1", "\n-cmd", "\n@SUM", "\n\tx"):
        assert bad not in text
    back = pd.read_csv(tmp_path / "o" / "evidence.csv")
    assert back["source"].tolist()[:4] == ["'=HYPERLINK(\"http://x\")", "'+1", "'-cmd",
                                           "'@SUM(A1)"]
    assert back["source"].tolist()[5:] == ["plain", "a=b"]
    assert back["value"].tolist() == df["value"].tolist()  # numbers stay numbers
    # Parquet keeps the data as it is (typed; not opened by spreadsheets as text)
    assert pd.read_parquet(tmp_path / "o" / "evidence.parquet").equals(df)
    assert neutralise_formulas(df)["value"].tolist() == df["value"].tolist()


def test_a_refused_store_leaves_out_untouched(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from evflex.cli import app

    out = tmp_path / "out"
    out.mkdir()
    (out / "states.csv").write_text("earlier")
    store = tmp_path / "not_a_store.duckdb"
    store.write_text("this is not a DuckDB file")
    result = CliRunner().invoke(app, ["run", "--out", str(out), "--store", str(store),
                                      "--no-workbook", "--no-report", "-q"])
    assert result.exit_code == 1
    assert "not_a_store.duckdb" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["states.csv"]
    assert (out / "states.csv").read_text() == "earlier"


def test_a_read_only_store_can_be_listed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         ) -> None:
    """Readers take a shared lock through a read-only descriptor (or none at all)."""
    from evflex.store import RunStore
    from evflex.store import db as store_db

    path = tmp_path / "runs.duckdb"
    store = RunStore(path)
    store.add(scenario_name="s", scenario_version="1", scenario_hash="h",
              scenario_yaml="name: s\n", scenario_source=None,
              tables={"checks": pd.DataFrame({"x": [1]})},
              availability_source="scenario", availability=None)
    real_open = os.open

    def read_only_fs(file: object, flags: int, *args: object) -> int:
        if str(file).endswith(".lock") and flags & (os.O_RDWR | os.O_WRONLY | os.O_CREAT):
            raise OSError(30, "Read-only file system")
        return real_open(file, flags, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(store_db.os, "open", read_only_fs)
    assert len(store.runs()) == 1
    (tmp_path / "runs.duckdb.lock").unlink()  # no lock file and none can be made
    assert len(store.runs()) == 1
