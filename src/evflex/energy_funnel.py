"""The energy funnel: from the naive fleet battery to what is deliverable at the peak.

The naive figure (EV stock × battery) is only the top of the funnel; each filter step
keeps the vehicles (and the battery energy they carry) that pass it, then the V2G
vehicles plugged in at the peak, their energy above the mobility reserve, and the energy
and power deliverable over the peak event.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from evflex.capacity import KWH_PER_GWH, KWH_PER_TWH
from evflex.filters import CONDITIONAL_FILTERS, FILTER_LABELS, FUNNEL_STEPS
from evflex.glossary import WORLD

#: Labels of the energy-funnel stages, from the naive battery to the deliverable energy.
STAGE_LABELS: dict[str, str] = {
    "ev_stock": "EV stock (naive battery)",
    "v2g_capable": "V2G-capable",
    **{name: f"+ {FILTER_LABELS[name]}" for name in CONDITIONAL_FILTERS},
    "plugged_at_peak": "plugged in at the peak",
    "above_reserve": "above the mobility reserve",
    "deliverable": "deliverable over the peak",
}


def energy_funnel(data: xr.Dataset, year: int, region: str = WORLD,
                  members: list[str] | None = None) -> pd.DataFrame:
    """From the naive fleet battery to the energy and power deliverable at the peak.

    Columns ``stage, label, vehicles, energy_gwh, power_gw``: vehicles and the battery
    energy they hold [GWh] at each funnel step, then the V2G vehicles plugged in at the
    peak, their energy above the mobility reserve, and the energy [GWh] and power [GW]
    deliverable over the peak event. ``data`` is a run's dataset
    (:attr:`evflex.model.Results.data`); ``region`` is a model region or ``World`` (summed),
    or a block named ``region`` whose ``members`` are summed.
    """
    years = list(data["year"].values)
    if year not in years:
        raise KeyError(f"year {year} not in the run")
    t = years.index(year)
    names = list(data["region"].values)
    picked = (None if members is None and region == WORLD
              else [names.index(m) for m in (members if members is not None else [region])])

    def at(name: str) -> np.ndarray:
        """Variable ``name`` in the year (and regions), other axes kept: plain numpy, no
        xarray alignment, as this runs on every move of an explorer slider."""
        da = data[name]
        values = np.take(da.values, t, axis=da.dims.index("year"))
        dims = [d for d in da.dims if d != "year"]
        if picked is not None:
            values = np.take(values, picked, axis=dims.index("region"))
        return np.asarray(values, dtype=float)

    funnel = at("funnel")  # (region, segment, step)
    capable_kwh = at("capable_kwh")  # (region, segment)
    rows = []
    for k, step in enumerate(FUNNEL_STEPS):
        vehicles = funnel[..., k]
        if step == "ev_stock":
            energy = float(at("capacity_naive_battery").sum()) * KWH_PER_TWH / KWH_PER_GWH
        else:
            energy = float((vehicles * capable_kwh).sum()) / KWH_PER_GWH
        rows.append((step, float(vehicles.sum()), energy, float("nan")))
    plugged = at("capacity_v2g_plugged_at_peak")
    rows.append(("plugged_at_peak", float(plugged.sum()),
                 float((plugged * capable_kwh).sum()) / KWH_PER_GWH, float("nan")))
    rows.append(("above_reserve", float(plugged.sum()),
                 float((plugged * at("usable_kwh")).sum()) / KWH_PER_GWH, float("nan")))
    rows.append(("deliverable", float(plugged.sum()),
                 float(at("capacity_v2g_export_energy").sum()),
                 float(at("capacity_v2g_export_power").sum())))
    df = pd.DataFrame(rows, columns=["stage", "vehicles", "energy_gwh", "power_gw"])
    df.insert(1, "label", df["stage"].map(STAGE_LABELS))
    df.insert(0, "year", year)
    df.insert(0, "region", region)
    return df
