"""Net used-EV trade per country: a calibration where no source gives it.

Where no statistic of used-EV imports and exports is found, a country's net export
share of new EV sales (``used_ev_net_export``) is one constant fitted to the IEA's EV car
stock over the fit years only (2015-2020), so that the years after (2021-2024) test it:
:func:`fit_used_ev_trade` runs the engine, and ``scripts/fit_used_ev_trade.py`` writes
its result to ``evflex/data/used_ev_trade_calibration.csv``, labelled ``calibration``,
from which ``scripts/countries_scenario.py`` writes the scenario's overrides.

The modelled EV stock is affine in the share (every vintage after the first reported
stock is scaled by ``1 - share``), so two runs give it for any share, and the fit is the
share that minimises the worst relative error over the fit years (a Chebyshev fit,
:func:`evflex.fleet.consistency.chebyshev_fit`). Countries left out: those with a
sourced share (the scenario's own overrides), those without an IEA stock in every fit
year, and those whose IEA stock and sales cannot agree within the tolerance in some
three fit years whatever the trade (:func:`evflex.fleet.consistency.inconsistent_windows`):
a constant fitted there would carry that disagreement into every other year.
"""

from __future__ import annotations

from copy import deepcopy
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evflex.fleet.consistency import chebyshev_fit, inconsistent_windows

FIT_YEARS = list(range(2015, 2021))
TEST_YEARS = list(range(2021, 2025))
TOLERANCE = 0.10
CALIBRATION = Path(__file__).resolve().parents[1] / "data" / "used_ev_trade_calibration.csv"
#: Share set in the second run; any non-zero value gives the same fit (affine model).
_PROBE = 0.5


def iea_car_series(parameter: str) -> pd.DataFrame:
    """IEA cars BEV + PHEV ``ev_stock`` or ``ev_sales`` by model region id and year."""
    from evflex.fleet.history import iea_extract

    table = iea_extract()
    rows = table[(table["parameter"] == parameter) & (table["segment"] == "cars")
                 & table["powertrain"].isin(["bev", "phev"])]
    return rows.groupby(["region", "year"])["value"].sum().unstack()


def _with_trade(data: dict[str, Any], regions: list[str], share: float) -> dict[str, Any]:
    out = deepcopy(data)
    param = out["parameters"].setdefault("used_ev_net_export", {})
    overrides = param.setdefault("overrides", {})
    for region in regions:
        overrides[region] = {"value": share, "source": "assumption: calibration probe"}
    return out


def candidates(scenario: str = "countries") -> list[str]:
    """Country regions whose net used-EV trade the fit may set (see the module)."""
    from evflex.regions import hierarchy
    from evflex.scenario.load import read_raw, resolve_path

    hier = hierarchy()
    rows = hier.regions
    overrides = (read_raw(resolve_path(scenario))["parameters"]
                 .get("used_ev_net_export", {}).get("overrides", {}))
    sourced = {region for region, spec in overrides.items()
               if not str(spec.get("source", "")).startswith("calibration")}
    stock, sales = iea_car_series("ev_stock"), iea_car_series("ev_sales")
    out = []
    for region, resolution, history, blocks in zip(rows["region"], rows["resolution"],
                                                   rows["history"], rows["blocks"], strict=True):
        # a country has its own IEA series and a block (the IEA's rest of the world has none)
        if resolution != "countries" or history != "iea" or not blocks or region in sourced:
            continue
        s = stock.loc[region].reindex(FIT_YEARS) if region in stock.index else None
        if s is None or not (s > 0).all():
            continue
        if inconsistent_windows(s, sales.loc[region], FIT_YEARS, TOLERANCE):
            continue
        out.append(str(region))
    return out


def fit_used_ev_trade(scenario: str = "countries") -> pd.DataFrame:
    """Net export share of new EV sales per candidate country, fitted on ``FIT_YEARS``.

    Columns: ``region, value`` [fraction of new EV sales; negative: net imports],
    ``label`` (``calibration``), ``fit_error`` (worst relative error over the fit years)
    and ``test_error`` (over ``TEST_YEARS``, which the fit did not read).
    """
    from evflex.glossary import ALL_SEGMENTS
    from evflex.model import run
    from evflex.scenario.load import parse, read_raw, resolve_path

    regions = candidates(scenario)
    data = read_raw(resolve_path(scenario))
    runs = [run(parse(_with_trade(data, regions, share))).aggregated["ev_stock"]
            .sel(segment=ALL_SEGMENTS, region=regions).to_pandas()
            for share in (0.0, _PROBE)]
    without, slope = runs[0], (runs[0] - runs[1]) / _PROBE  # stock = without - share * slope
    iea = iea_car_series("ev_stock")
    rows = []
    for region in regions:
        target = iea.loc[region, FIT_YEARS].to_numpy(dtype=float)
        basis = np.asarray(-slope.loc[region, FIT_YEARS], dtype=float)[:, None]
        (share,), fit_error = chebyshev_fit(
            basis, target - without.loc[region, FIT_YEARS].to_numpy(dtype=float), target)
        model = without.loc[region, TEST_YEARS] - share * slope.loc[region, TEST_YEARS]
        test_error = float((model / iea.loc[region, TEST_YEARS] - 1).abs().max())
        rows.append((region, float(share), "calibration", fit_error, test_error))
    return pd.DataFrame(rows, columns=["region", "value", "label", "fit_error", "test_error"])


def read_calibration() -> pd.DataFrame:
    """The shipped fit (``evflex/data/used_ev_trade_calibration.csv``)."""
    return pd.read_csv(CALIBRATION, comment="#")
