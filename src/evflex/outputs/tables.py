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

from evflex.capacity import KWH_PER_GWH, KWH_PER_TWH
from evflex.filters import FUNNEL_STEPS
from evflex.model import WORLD, Results

#: Labels of the energy-funnel stages, from the naive battery to the deliverable energy.
STAGE_LABELS: dict[str, str] = {
    "ev_stock": "EV stock (naive battery)",
    "v2g_capable": "V2G-capable",
    "charging_access": "+ home/depot charging",
    "bidirectional_charger": "+ bidirectional charger",
    "export_permitted": "+ export permitted",
    "v2g_enrolled": "+ enrolled & compensated",
    "warranty_covers": "+ warranty covers cycling",
    "v2g_active": "+ actively dispatched (v2g)",
    "plugged_at_peak": "plugged in at the peak",
    "above_reserve": "above the mobility reserve",
    "deliverable": "deliverable over the peak",
}


def energy_funnel(results: Results, year: int, region: str = WORLD) -> pd.DataFrame:
    """From the naive fleet battery to the energy and power deliverable at the peak.

    Columns ``stage, label, vehicles, energy_gwh, power_gw``: vehicles and the battery
    energy they hold [GWh] at each funnel step, then the V2G vehicles plugged in at the
    peak, their energy above the mobility reserve, and the energy [GWh] and power [GW]
    deliverable over the peak event. ``region`` is a model region, a block or ``World``
    (summed over its regions).
    """
    ds = results.data.sel(year=year)
    if region != WORLD:
        ds = ds.sel(region=results.blocks.get(region, [region]))
    rows = []
    for step in FUNNEL_STEPS:
        vehicles = ds["funnel"].sel(step=step)
        if step == "ev_stock":
            energy = float(ds["capacity_naive_battery"].sum()) * KWH_PER_TWH / KWH_PER_GWH
        else:
            energy = float((vehicles * ds["capable_kwh"]).sum()) / KWH_PER_GWH
        rows.append((step, float(vehicles.sum()), energy, float("nan")))
    plugged = ds["capacity_v2g_plugged_at_peak"]
    rows.append(("plugged_at_peak", float(plugged.sum()),
                 float((plugged * ds["capable_kwh"]).sum()) / KWH_PER_GWH, float("nan")))
    rows.append(("above_reserve", float(plugged.sum()),
                 float((plugged * ds["usable_kwh"]).sum()) / KWH_PER_GWH, float("nan")))
    rows.append(("deliverable", float(plugged.sum()),
                 float(ds["capacity_v2g_export_energy"].sum()),
                 float(ds["capacity_v2g_export_power"].sum())))
    df = pd.DataFrame(rows, columns=["stage", "vehicles", "energy_gwh", "power_gw"])
    df.insert(1, "label", df["stage"].map(STAGE_LABELS))
    df.insert(0, "year", year)
    df.insert(0, "region", region)
    return df


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
