"""Metadata of the run's dataset: CF ``units`` and ``long_name`` of every variable.

The engine (:func:`evflex.model.compute`) writes these attributes on every variable, so
``results.data["states"].plot()`` labels its axes, and NetCDF files written from the
dataset follow the CF conventions without a conversion step.
"""

from __future__ import annotations

import re

#: Long names of the engine's variables (:data:`evflex.model.VARIABLES`).
LONG_NAMES: dict[str, str] = {
    "stock": "vehicle stock (all powertrains)",
    "sales": "new vehicle sales",
    "retirements": "vehicle retirements",
    "stock_before": "vehicle stock before the first year",
    "ev_sales_pt": "EV sales by powertrain",
    "ev_stock_pt": "EV stock by powertrain",
    "ev_retirements_pt": "EV retirements by powertrain",
    "iea_ev_stock": "EV stock reported by the IEA (history)",
    "capable_sales": "V2G-capable EV sales",
    "smart_capable_sales": "smart-charging-capable EV sales",
    "capable_stock": "V2G-capable EV stock",
    "smart_capable_stock": "smart-charging-capable EV stock",
    "funnel": "EVs remaining at each step of the V2G filter funnel",
    "states": "EVs by highest active grid use case (exclusive states)",
    "capable_kwh": "mean battery of the V2G-capable stock",
    "usable_kwh": "battery energy above the mobility reserve at the peak",
    "capacity_naive_battery": "naive battery of the EV stock",
    "capacity_managed_envelope": "managed-charging envelope (v2g + v2h_v2b + grid_managed)",
    "capacity_shiftable_load": "shiftable charging load at the peak",
    "capacity_shiftable_energy": "daily shiftable charging energy",
    "capacity_v2g_plugged_at_peak": "V2G vehicles plugged in at the peak",
    "capacity_v2g_export_power": "V2G export power at the peak",
    "capacity_v2g_export_energy": "V2G export energy over the peak",
}
COORD_LONG_NAMES: dict[str, str] = {
    "region": "region", "segment": "vehicle segment", "year": "calendar year",
    "powertrain": "EV powertrain", "step": "step of the V2G filter funnel",
    "state": "highest active grid use case",
}
#: Engine unit → UDUNITS-style unit string.
_SPECIAL = {"fraction": "1", "share": "1", "-": "1", "": "1", "years": "year",
            "vehicles": "vehicles"}


def cf_units(unit: str) -> str:
    """A UDUNITS-style string for an engine unit: ``kWh/day`` → ``kWh day-1``.

    >>> cf_units("fraction"), cf_units("vehicles/year"), cf_units("1/year"), cf_units("GW")
    ('1', 'vehicles year-1', 'year-1', 'GW')
    """
    text = unit.strip()
    if text in _SPECIAL:
        return _SPECIAL[text]
    match = re.fullmatch(r"(.+?)\s*/\s*(\S+)", text)
    if match is None:
        return text
    num, den = match.groups()
    return f"{den}-1" if num == "1" else f"{num} {den}-1"


def long_name(name: str) -> str:
    """The ``long_name`` of a dataset variable."""
    if name in LONG_NAMES:
        return LONG_NAMES[name]
    if name.startswith("param_"):
        return f"scenario parameter {name.removeprefix('param_')}"
    return name.replace("_", " ")


__all__ = ["COORD_LONG_NAMES", "LONG_NAMES", "cf_units", "long_name"]
