"""The run's dataset with CF-style metadata, for NetCDF.

Every data variable and coordinate gets ``units`` (UDUNITS-style strings: ``1`` for a
fraction, ``kWh vehicle-1`` for kWh per vehicle) and ``long_name``, so that
``xarray.open_dataset(...)[name].plot()`` labels its axes correctly. The engine's own
``unit`` attribute is replaced, not duplicated; every other attribute is kept. Global
attributes name the conventions, the scenario and where the figures come from.
"""

from __future__ import annotations

import re

import xarray as xr

from evflex import __version__
from evflex.capacity import METRICS

#: Long names of the engine's variables (:data:`evflex.model.VARIABLES`).
LONG_NAMES: dict[str, str] = {
    "vehicle_stock_path": "vehicle stock path of the scenario (all powertrains)",
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


def _long_name(name: str) -> str:
    if name in LONG_NAMES:
        return LONG_NAMES[name]
    if name.startswith("param_"):
        return f"scenario parameter {name.removeprefix('param_')}"
    return name.replace("_", " ")


def cf_dataset(ds: xr.Dataset, description: str = "") -> xr.Dataset:
    """A copy of a run's dataset with CF ``units`` and ``long_name`` everywhere."""
    out = ds.copy()
    for name, var in out.data_vars.items():
        attrs = dict(var.attrs)
        unit = str(attrs.pop("unit", attrs.get("units", "1")))
        attrs["units"] = cf_units(unit)
        attrs.setdefault("long_name", _long_name(str(name)))
        out[name].attrs = attrs
    for name in out.coords:
        out[name].attrs = {**out[name].attrs, "long_name": COORD_LONG_NAMES.get(
            str(name), str(name).replace("_", " "))}
        if str(name) == "year":
            out[name].attrs["units"] = "year"
    out.attrs = {
        **{k: v for k, v in ds.attrs.items()},
        "Conventions": "CF-1.10",
        "title": f"evflex run: {ds.attrs.get('scenario', '')} "
                 f"v{ds.attrs.get('version', '')}".strip(),
        "institution": "evflex (open scenario engine)",
        "source": f"evflex {__version__}",
        "comment": description or "EV fleet counted once by its highest active grid use "
                                  "case; capacity metrics: " + ", ".join(METRICS),
    }
    return out


def write_netcdf(ds: xr.Dataset, path: object, description: str = "") -> None:
    """Write :func:`cf_dataset` of ``ds`` to ``path`` (NetCDF-4 when available)."""
    cf = cf_dataset(ds, description)
    try:
        cf.to_netcdf(path)  # type: ignore[call-overload]
    except ValueError:  # no NetCDF-4 library: SciPy's NetCDF-3 writer
        cf.to_netcdf(path, engine="scipy")  # type: ignore[call-overload]
