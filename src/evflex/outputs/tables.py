"""Output tables and writing a run's files all or nothing.

A run's files are written into a staging folder *beside* the output folder and swapped
in with one atomic exchange of the two folders (Linux ``renameat2(RENAME_EXCHANGE)``;
elsewhere two renames, repaired by the next run), so a reader, a failed run or a
``kill -9`` at any moment leaves either the earlier outputs whole or the new ones whole,
never a mix. Files of an earlier run that the new run does not write (e.g. Parquet after
``--no-parquet``) go with the earlier folder; files evflex did not write (listed in no
manifest) are carried over into the new folder by hard link. Leftover staging folders of
a killed run are tidied by the next run. CSV cells of text that a spreadsheet would read
as a formula (``=``, ``+``, ``-``, ``@``, tab, carriage return) are written with a leading
``'`` (OWASP, "CSV Injection").
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import secrets
import shutil
import stat
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

#: First characters that make a spreadsheet read a CSV cell as a formula.
FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")
#: The manifest of the files a run wrote, kept in the output folder.
MANIFEST = ".evflex.manifest.json"
#: Infix of the staging and set-aside folders beside an output folder.
STAGING_TAG = ".evflex-"
#: Most entries of an output folder that evflex did not write and carries over into the
#: new folder (by hard link); a folder holding more is refused.
MAX_CARRIED = 10_000


def neutralise_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """A copy in which text cells starting like a formula get a leading ``'``.

    Only text cells change; numbers (``-0.5``) stay numbers.
    """
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(
                lambda v: "'" + v if isinstance(v, str) and v.startswith(FORMULA_LEADS) else v)
    return out


def restore_formulas(column: pd.Series) -> pd.Series:
    """Undo :func:`neutralise_formulas` on a column read back from a CSV file."""
    leads = tuple("'" + c for c in FORMULA_LEADS)
    return column.map(lambda v: v[1:] if isinstance(v, str) and v.startswith(leads) else v)


def read_csv(source: Any) -> pd.DataFrame:
    """A table written by :func:`write_run`, read back as it was (formulas restored)."""
    df = pd.read_csv(source)
    for col in df.columns:
        if df[col].dtype == object or pd.api.types.is_string_dtype(df[col]):
            df[col] = restore_formulas(df[col])
    return df


def csv_text(df: pd.DataFrame) -> str:
    """A table as CSV text safe to open in a spreadsheet."""
    return neutralise_formulas(df).to_csv(index=False)


def _write_table(df: pd.DataFrame, folder: Path, name: str, parquet: bool) -> list[str]:
    neutralise_formulas(df).to_csv(folder / f"{name}.csv", index=False)
    written = [f"{name}.csv"]
    if parquet:
        df.to_parquet(folder / f"{name}.parquet", index=False)
        written.append(f"{name}.parquet")
    return written


def write_run(out: Path, tables: Mapping[str, pd.DataFrame],
              extra: Mapping[str, Callable[[Path], None]] | None = None,
              parquet: bool = True) -> list[Path]:
    """Write tables (CSV, and Parquet copies) and extra files as the folder ``out``.

    ``extra`` maps a file name to a function that writes that file at the path given.
    Returns the paths written. On any error (or a kill) ``out`` is unchanged; on success
    it holds exactly this run's files plus any files evflex did not write.
    """
    out = Path(out)
    if out.is_symlink():
        out = out.resolve()
    out = Path(os.path.abspath(out))
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "not a folder", str(out))
    _refuse_current_folder(out)
    if out.is_dir():
        _refuse_large_carry_over(out, (_written_before(out) or set()) | {MANIFEST})
    out.parent.mkdir(parents=True, exist_ok=True)
    tidy(out)
    staging = out.parent / f".{out.name}{STAGING_TAG}new-{os.getpid()}-{secrets.token_hex(4)}"
    staging.mkdir()
    try:
        names: list[str] = []
        for name, df in tables.items():
            names += _write_table(df, staging, name, parquet)
        for name, writer in (extra or {}).items():
            writer(staging / name)
            names.append(name)
        if out.is_dir():
            _carry_over(out, staging, names)
            mode = stat.S_IMODE(out.stat().st_mode)
        else:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o777 & ~umask
        (staging / MANIFEST).write_text(json.dumps({"written": names}, indent=1),
                                        encoding="utf-8")
        os.chmod(staging, mode)
        _swap(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [out / n for n in names]


def _refuse_current_folder(out: Path) -> None:
    """The folder the process works in (or one holding it), a mount point or the root
    cannot be swapped."""
    if not out.exists():
        return
    if os.path.ismount(out):
        raise IsADirectoryError(errno.EBUSY, "a mount point (or the root) cannot be "
                                "replaced; name a subfolder", str(out))
    cwd = None
    with contextlib.suppress(OSError):
        cwd = Path.cwd().resolve()
    if cwd is not None and (cwd == out.resolve() or out.resolve() in cwd.parents):
        raise IsADirectoryError(errno.EBUSY, "the current folder (or a folder holding "
                                "it) cannot be replaced; name a subfolder", str(out))


def _refuse_large_carry_over(out: Path, skip: set[str]) -> None:
    """A folder holding much that evflex did not write (a home folder, a project) is not
    re-linked entry by entry into the new one: over :data:`MAX_CARRIED` entries, or any
    on another file system (which would be copied), is refused before anything is
    written."""
    count = 0
    device = out.stat().st_dev
    for root, dirs, files in os.walk(out):
        if Path(root) == out:
            dirs[:] = [d for d in dirs if d not in skip]
            files = [f for f in files if f not in skip]
        count += len(dirs) + len(files)
        if count > MAX_CARRIED or any(os.lstat(os.path.join(root, d)).st_dev != device
                                      for d in dirs):
            raise IsADirectoryError(
                errno.EBUSY, f"holds over {MAX_CARRIED:,} entries evflex did not write, or "
                "another file system; name a new folder or an evflex output folder", str(out))


def _written_before(out: Path) -> set[str] | None:
    """Names the earlier run wrote, from its manifest (``None``: no manifest)."""
    try:
        data = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
        return {str(n) for n in data["written"]}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _carry_over(out: Path, staging: Path, names: list[str]) -> None:
    """Hard-link into ``staging`` every entry of ``out`` that evflex did not write.

    Without a manifest (a folder of an older evflex, or the user's own) nothing but the
    names written now counts as evflex's. A folder where a new file must go is refused.
    """
    ours = _written_before(out) or set()
    new = set(names)
    for entry in os.scandir(out):
        name = entry.name
        if name in new:
            if entry.is_dir(follow_symlinks=False):
                raise IsADirectoryError(errno.EISDIR, "a folder is in the way",
                                        str(out / name))
            continue
        if name in ours or name == MANIFEST:
            continue  # a file of the earlier run: it goes with the earlier folder
        source, target = out / name, staging / name
        if entry.is_symlink():
            os.symlink(os.readlink(source), target)
        elif entry.is_dir():
            shutil.copytree(source, target, symlinks=True, copy_function=_link_or_copy)
        else:
            _link_or_copy(source, target)


def _link_or_copy(source: str | Path, target: str | Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic step (Linux ``renameat2``); ``False`` if unsupported."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                          ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _swap(staging: Path, out: Path) -> None:
    """Make ``staging`` the folder ``out``; the earlier ``out`` ends up at ``staging``."""
    if not out.exists():
        os.rename(staging, out)
        return
    if _exchange(staging, out):
        return
    # Two renames: a kill between them leaves ``out`` missing and the earlier folder whole
    # under the set-aside name, which the next run's :func:`tidy` puts back.
    aside = out.parent / f".{out.name}{STAGING_TAG}old-{os.getpid()}-{secrets.token_hex(4)}"
    os.rename(out, aside)
    try:
        os.rename(staging, out)
    except BaseException:
        os.rename(aside, out)
        raise
    os.rename(aside, staging)


def tidy(out: Path) -> list[Path]:
    """Remove what killed runs left beside ``out``; put back an earlier folder set aside.

    Folders of a process still running are left alone. Returns the paths handled.
    """
    prefix = f".{out.name}{STAGING_TAG}"
    handled = []
    try:
        entries = [e for e in os.scandir(out.parent) if e.name.startswith(prefix)]
    except OSError:
        return []
    for entry in entries:
        kind, _, rest = entry.name[len(prefix):].partition("-")
        pid_text = rest.partition("-")[0]
        if kind not in ("new", "old") or not pid_text.isdigit():
            continue
        pid = int(pid_text)
        if pid != os.getpid() and _alive(pid):
            continue
        path = Path(entry.path)
        if kind == "old" and not out.exists():
            os.rename(path, out)
        else:
            shutil.rmtree(path, ignore_errors=True)
        handled.append(path)
    return handled


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True
