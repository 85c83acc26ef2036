"""Charging behaviour from real sessions: the shipped ElaadNL tables and the plug-in
frequency calibrated to them.

``evflex/data/simulate/elaadnl_sessions.csv`` holds ElaadNL's session distributions for
the Netherlands as shipped in the ev2gym 2.0.0 wheel (MIT licence; see the file's
header): arrival time by 15-minute bin on weekdays and at weekends, quantile tables of
connection time and of energy charged per session, and the share of a week's sessions
on each day, for charge points at home (``private``), at work (``workplace``) and in
public (``public``). ``ev_models_nl.csv`` holds the Dutch registrations, batteries and
on-board chargers of the 13 most registered battery-electric models.

Plug-in frequency (a calibration, labelled as such): a driver who needs ``need`` kWh a
day (sourced distance a day times consumption per km) and charges ``E_site`` kWh per
session on average must plug in ``need / E_site`` times a day on average. ElaadNL's
home sessions (mean about 24 kWh) are far larger than a day's driving (about 9 kWh),
so home chargers skip days. The day-of-week shape of the sessions is ElaadNL's:

    p_d = 7 * need * w_d / sum_d' (w_d' * E_site(d'))

with ``w_d`` the share of a week's sessions on day ``d`` at the site used that day, so
the energy charged over a week is ``7 * need``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np
import pandas as pd

from evflex.paths import FloatArray

TABLES = ("arrival_weekday", "arrival_weekend", "connection_h", "energy_kwh",
          "weekday_share")
SITES = ("private", "public", "workplace")
#: Width of an arrival bin of the ElaadNL tables [h].
ARRIVAL_BIN_H = 0.25


@cache
def elaadnl_sessions() -> pd.DataFrame:
    """The shipped ElaadNL table (columns ``table, site, x, value``)."""
    ref = resources.files("evflex.data").joinpath("simulate/elaadnl_sessions.csv")
    with ref.open("r") as fh:
        return pd.read_csv(fh, comment="#")


@cache
def ev_models_nl() -> pd.DataFrame:
    """The shipped Dutch EV models (``model, registrations, battery_kwh, max_ac_kw``)."""
    ref = resources.files("evflex.data").joinpath("simulate/ev_models_nl.csv")
    with ref.open("r") as fh:
        return pd.read_csv(fh, comment="#")


@cache
def table(name: str, site: str) -> tuple[FloatArray, FloatArray]:
    """``(x, value)`` of one ElaadNL table for one site, in the file's order (read-only
    arrays, cached: sampling asks for them once per block of vehicles)."""
    t = elaadnl_sessions()
    rows = t[(t["table"] == name) & (t["site"] == site)]
    if rows.empty:
        raise KeyError(f"no ElaadNL table {name!r} for site {site!r}")
    x, value = rows["x"].to_numpy(float), rows["value"].to_numpy(float)
    x.flags.writeable = False
    value.flags.writeable = False
    return x, value


def quantile_function(name: str, site: str) -> tuple[FloatArray, FloatArray]:
    """Cumulative probabilities and values of a quantile table, increasing."""
    above, value = table(name, site)
    prob = 1.0 - above / 100.0                 # share of sessions at or below the value
    order = np.argsort(prob, kind="stable")
    return prob[order], np.maximum.accumulate(value[order])


def sample_table(rng: np.random.Generator, name: str, site: str, n: int) -> FloatArray:
    """``n`` draws from an ElaadNL distribution.

    Arrival tables: a 15-minute bin by its share, then uniform within the bin [h].
    Quantile tables: inverse transform, linear between the tabulated quantiles.
    """
    if name.startswith("arrival"):
        start, share = table(name, site)
        bins = rng.choice(start.size, size=n, p=share / share.sum())
        return np.asarray(start[bins] + rng.uniform(0.0, ARRIVAL_BIN_H, n), dtype=float)
    prob, value = quantile_function(name, site)
    return np.asarray(np.interp(rng.uniform(0.0, 1.0, n), prob, value), dtype=float)


def mean_of(name: str, site: str) -> float:
    """Mean of a quantile table (linear between the tabulated quantiles)."""
    prob, value = quantile_function(name, site)
    return float(np.trapezoid(value, prob))


def cdf_of(name: str, site: str, x: np.ndarray) -> FloatArray:
    """The source's cumulative distribution at ``x`` (arrival: hours; else the value)."""
    if name.startswith("arrival"):
        start, share = table(name, site)
        edges = np.r_[start, start[-1] + ARRIVAL_BIN_H]
        cum = np.r_[0.0, np.cumsum(share) / share.sum()]
        return np.asarray(np.interp(x, edges, cum), dtype=float)
    prob, value = quantile_function(name, site)
    return np.asarray(np.interp(x, value, prob, left=0.0, right=1.0), dtype=float)


@dataclass(frozen=True)
class PlugInCalibration:
    """Plug-in probability on each day of the week (0 = Monday) and its inputs."""

    probability: FloatArray   # per day of the week [sessions per vehicle-day]
    need_kwh_per_day: float
    session_kwh: FloatArray   # mean energy per session at the day's site [kWh]
    weekday_share: FloatArray  # share of a week's sessions on each day at its site [%]

    @property
    def per_week(self) -> float:
        return float(self.probability.sum())


def plug_in_calibration(need_kwh_per_day: float, weekday_site: str, weekend_site: str,
                        delivered_kwh: tuple[float, float] | None = None
                        ) -> PlugInCalibration:
    """Plug-in probabilities that charge ``need`` a day on average (module docstring).

    ``delivered_kwh``: the mean energy a session really delivers on weekdays and at
    weekends (after the charger and battery caps), instead of the source's mean.
    """
    sites = [weekday_site] * 5 + [weekend_site] * 2
    share = np.zeros(7)
    for site in set(sites):
        days, values = table("weekday_share", site)
        for d, v in zip(days.astype(int), values, strict=True):
            if sites[d] == site:
                share[d] = v
    energy = np.array([mean_of("energy_kwh", s) for s in sites])
    if delivered_kwh is not None:
        energy = np.array([delivered_kwh[0]] * 5 + [delivered_kwh[1]] * 2)
    p = 7.0 * need_kwh_per_day * share / float((share * energy).sum())
    if np.any(p > 1.0):
        raise ValueError(f"a daily need of {need_kwh_per_day:.1f} kWh needs more than one "
                         f"session a day at {sites}")
    return PlugInCalibration(probability=p, need_kwh_per_day=need_kwh_per_day,
                             session_kwh=energy, weekday_share=share)
