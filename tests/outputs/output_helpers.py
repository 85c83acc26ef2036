"""Helpers of the output tests: system tools, the run's tables, and LibreOffice.

Recalculate workbooks with LibreOffice headless, and read them back.

LibreOffice keeps the cached results of an ``.xlsx`` on load unless told otherwise; a
private user profile sets "recalculate on load: always" (``OOXMLRecalcMode`` 0), so the
values read back are LibreOffice's own. :func:`zero_cached_results` lets a test prove that
(a formula whose cached result was set to 0 must come back with the right value).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from evflex.model import Results
from evflex.pipeline import finish

FUNNEL_YEAR = 2050


def require_tool(name: str) -> str:
    """The path of a system tool; skipped locally when missing, a failure on CI."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (apt-get install it; .ci/run does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def run_tables(results: Results) -> dict[str, pd.DataFrame]:
    """The engine tables ``evflex run`` writes (no judgement), from the pipeline."""
    return finish(results, funnel_year=FUNNEL_YEAR, judgement=False).tables

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")

_PROFILE = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry"
 xmlns:xs="http://www.w3.org/2001/XMLSchema"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load">
 <prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load">
 <prop oor:name="ODFRecalcMode" oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""


def _profile(root: Path) -> str:
    user = root / "user"
    user.mkdir(parents=True, exist_ok=True)
    (user / "registrymodifications.xcu").write_text(_PROFILE, encoding="utf-8")
    return root.resolve().as_uri()


def convert(paths: list[Path], outdir: Path, to: str = "xlsx", timeout: float = 300) -> list[Path]:
    """Open each file in LibreOffice (recalculating every formula) and save it as ``to``.

    One LibreOffice process converts all files. Returns the converted paths.
    """
    if SOFFICE is None:
        raise RuntimeError("LibreOffice (soffice) is not installed: apt-get install "
                           "libreoffice-calc")
    outdir.mkdir(parents=True, exist_ok=True)
    profile = _profile(outdir / ".lo-profile")
    cmd = [SOFFICE, f"-env:UserInstallation={profile}", "--headless", "--norestore",
           "--convert-to", to, "--outdir", str(outdir), *map(str, paths)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    ext = to.split(":")[0]
    out = [outdir / f"{Path(p).stem}.{ext}" for p in paths]
    missing = [p for p in out if not p.exists()]
    if proc.returncode != 0 or missing:
        raise RuntimeError(f"soffice failed (exit {proc.returncode}), missing {missing}: "
                           f"{proc.stdout} {proc.stderr}")
    return out


_CACHED = re.compile(r"(<f>[^<]*</f>)<v>[^<]*</v>")


def zero_cached_results(src: Path, dst: Path) -> int:
    """Copy a workbook with the cached result of every formula set to 0; returns how many."""
    count = 0
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename.startswith("xl/worksheets/sheet"):
                text, n = _CACHED.subn(r"\1<v>0</v>", data.decode("utf-8"))
                count += n
                data = text.encode("utf-8")
            zout.writestr(item, data)
    return count


def read_block(path: Path, name: str) -> pd.DataFrame:
    """The block of a defined name (header row first) as a data frame of cached values."""
    wb = openpyxl.load_workbook(path, data_only=True, read_only=False)
    try:
        defined = wb.defined_names[name]
        ((sheet, ref),) = list(defined.destinations)
        rows = list(wb[sheet][ref.replace("$", "")])
        header = [c.value for c in rows[0]]
        return pd.DataFrame([[c.value for c in row] for row in rows[1:]], columns=header)
    finally:
        wb.close()


def assert_values_match(merged: pd.DataFrame, rtol: float) -> None:
    """``value_wb`` (the recalculated workbook) equals ``value`` (the run) within ``rtol``,
    relative; the worst row is named when it does not."""
    a, b = merged["value_wb"].to_numpy(float), merged["value"].to_numpy(float)
    rel = np.abs(a - b) / np.maximum(np.abs(b), np.finfo(float).tiny)
    rel[a == b] = 0.0
    worst = int(np.argmax(rel))
    assert rel[worst] <= rtol, merged.iloc[worst].to_dict()
