"""Output tables and writing a run's files without losing or half-writing anything.

Files are first written into a temporary folder beside the output folder, then moved in
one by one with :func:`os.replace` (atomic on one file system), so a failed run never
leaves a half-written file and never deletes files it did not replace.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

import pandas as pd


def _write_table(df: pd.DataFrame, folder: Path, name: str, parquet: bool) -> list[str]:
    df.to_csv(folder / f"{name}.csv", index=False)
    written = [f"{name}.csv"]
    if parquet:
        df.to_parquet(folder / f"{name}.parquet", index=False)
        written.append(f"{name}.parquet")
    return written


def write_run(out: Path, tables: Mapping[str, pd.DataFrame],
              extra: Mapping[str, Callable[[Path], None]] | None = None,
              parquet: bool = True) -> list[Path]:
    """Write tables (CSV, and Parquet copies) and extra files into ``out``, atomically.

    ``extra`` maps a file name to a function that writes that file at the path given.
    Returns the paths written. On any error nothing in ``out`` has been changed.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".evflex-", dir=out))
    try:
        names: list[str] = []
        for name, df in tables.items():
            names += _write_table(df, staging, name, parquet)
        for name, writer in (extra or {}).items():
            writer(staging / name)
            names.append(name)
        _swap_in(staging, out, names)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [out / n for n in names]


def _swap_in(staging: Path, out: Path, names: list[str]) -> None:
    """Move staged files into ``out``: all of them, or (on error) none of them.

    Existing files are first moved aside into the staging folder; if any move fails,
    the new files are taken out again and the earlier ones put back.
    """
    for name in names:
        if (out / name).is_dir():
            raise IsADirectoryError(21, "a folder is in the way", str(out / name))
    aside = staging / ".previous"
    aside.mkdir()
    moved_aside: list[str] = []
    moved_in: list[str] = []
    try:
        for name in names:
            if (out / name).exists() or (out / name).is_symlink():
                os.replace(out / name, aside / name)
                moved_aside.append(name)
        for name in names:
            os.replace(staging / name, out / name)
            moved_in.append(name)
    except BaseException:
        for name in moved_in:
            os.replace(out / name, staging / name)
        for name in moved_aside:
            os.replace(aside / name, out / name)
        raise
