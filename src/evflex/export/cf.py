"""The run's dataset with CF-style metadata, for NetCDF.

Every data variable and coordinate gets ``units`` (UDUNITS-style strings: ``1`` for a
fraction, ``kWh vehicle-1`` for kWh per vehicle) and ``long_name``, so that
``xarray.open_dataset(...)[name].plot()`` labels its axes correctly. The engine's own
``unit`` attribute is replaced, not duplicated; every other attribute is kept. Global
attributes name the conventions, the scenario and where the figures come from.
"""

from __future__ import annotations

import xarray as xr

from evflex import __version__
from evflex.capacity import METRICS
from evflex.metadata import COORD_LONG_NAMES, cf_units, long_name


def cf_dataset(ds: xr.Dataset, description: str = "") -> xr.Dataset:
    """A copy of a run's dataset with CF ``units`` and ``long_name`` everywhere."""
    out = ds.copy()
    for name, var in out.data_vars.items():
        attrs = dict(var.attrs)
        unit = str(attrs.pop("unit", attrs.get("units", "1")))
        attrs["units"] = cf_units(unit)
        attrs.setdefault("long_name", long_name(str(name)))
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
