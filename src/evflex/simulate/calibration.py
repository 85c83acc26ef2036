"""How close the simulated sessions are to the ElaadNL data they are calibrated to.

A calibration check, labelled as such: the simulation samples these distributions, then
cuts sessions short where the vehicle's next session begins, rounds them to whole
steps, and caps their energy by what the charger can deliver in the window and the
battery can hold. The distance measured is the Kolmogorov-Smirnov statistic (the
largest gap between the simulated and the source cumulative distributions) of the
sessions the simulation actually schedules; the plug-in frequency is compared, by day
of the week, with the calibrated probability and with ElaadNL's day-of-week shape.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from evflex.simulate import behaviour
from evflex.simulate.archetypes import (
    MINUTES_PER_DAY,
    ArchetypeSet,
    Sessions,
    parse_mix,
    sample_sessions,
    shipped_archetypes,
)

QUANTITIES = {"arrival_h": "arrival", "dwell_h": "connection_h", "energy_kwh": "energy_kwh"}


def _values(s: Sessions, quantity: str) -> np.ndarray:
    spd = MINUTES_PER_DAY // s.step_minutes
    if quantity == "arrival_h":
        # the end of the arrival's step: with 15-minute steps, the source's bin edges
        return np.asarray((s.arrival % spd + 1) * s.step_minutes / 60.0, dtype=float)
    if quantity == "dwell_h":
        return np.asarray((s.departure - s.arrival) * s.step_minutes / 60.0, dtype=float)
    return np.asarray(s.energy_kwh, dtype=float)


def ks_distance(sample: np.ndarray, table: str, site: str) -> float:
    """Largest gap between the sample's and the source's cumulative distributions.

    Arrival times are whole steps (the end of the arrival's step, on the source's bin
    edges), so for them the gap is taken where the sample's distribution is defined:
    at those edges."""
    if table.startswith("arrival"):
        edges, counts = np.unique(sample, return_counts=True)
        ecdf = np.cumsum(counts) / sample.size
        return float(np.abs(ecdf - behaviour.cdf_of(table, site, edges)).max())
    x = np.sort(sample)
    n = x.size
    source = behaviour.cdf_of(table, site, x)
    above = np.arange(1, n + 1) / n - source
    below = source - np.arange(0, n) / n
    return float(max(above.max(), below.max()))


def simulated_sessions(vehicles: int = 20_000, days: int = 28, seed: int = 1,
                       archetypes: ArchetypeSet | None = None) -> Sessions:
    """Sessions of the shipped car mix, 15-minute steps (the source's arrival bins)."""
    arch = archetypes or shipped_archetypes()
    return sample_sessions(vehicles, days, 15, seed, parse_mix(None, arch, "cars"), arch)


def session_fit(s: Sessions, archetypes: ArchetypeSet | None = None) -> pd.DataFrame:
    """Per archetype, day type and quantity: the ElaadNL table, sessions, KS distance,
    simulated and source means (source mean: arrival tables have none here)."""
    arch = archetypes or shipped_archetypes()
    weekend = (s.day % 7) >= 5
    rows = []
    for a, name in enumerate(s.names):
        spec = arch.archetypes[name]
        for is_weekend, daytype_name in ((False, "weekday"), (True, "weekend")):
            daytype = getattr(spec, daytype_name)
            pick = (s.archetype == a) & (weekend == is_weekend)
            for quantity in QUANTITIES:
                ref = getattr(daytype, quantity).elaad
                if ref is None or not pick.any():
                    continue
                values = _values(s, quantity)[pick]
                source_mean = (np.nan if ref.table.startswith("arrival")
                               else behaviour.mean_of(ref.table, ref.site))
                rows.append({"archetype": name, "day_type": daytype_name,
                             "quantity": quantity, "table": ref.table, "site": ref.site,
                             "sessions": int(pick.sum()),
                             "ks_distance": ks_distance(values, ref.table, ref.site),
                             "mean_simulated": float(values.mean()),
                             "mean_source": source_mean})
    return pd.DataFrame(rows)


def plug_in_fit(s: Sessions, vehicles: int, archetypes: ArchetypeSet | None = None
                ) -> pd.DataFrame:
    """Per archetype and day of the week (0 = Monday): sessions per vehicle-day,
    simulated and calibrated, and the day's share of the week's sessions, simulated and
    ElaadNL's (at the day's site)."""
    arch = archetypes or shipped_archetypes()
    mix = parse_mix(None, arch, "cars")
    from evflex.simulate.archetypes import _vehicle_archetypes

    kinds = _vehicle_archetypes(0, vehicles, mix, tuple(mix))
    days = int(s.day.max()) + 1
    rows = []
    for a, name in enumerate(s.names):
        plug_in = arch.archetypes[name].plug_in
        if plug_in is None:
            continue
        fleet = int((kinds == a).sum())
        cal = plug_in.calibration(arch.archetypes[name])
        dow = s.day[s.archetype == a] % 7
        per_dow = np.bincount(dow, minlength=7).astype(float)
        day_count = np.bincount(np.arange(days) % 7, minlength=7) * fleet
        for d in range(7):
            rows.append({"archetype": name, "day_of_week": d,
                         "plug_in_simulated": per_dow[d] / day_count[d],
                         "plug_in_calibrated": float(cal.probability[d]),
                         "share_simulated": 100 * per_dow[d] / per_dow.sum(),
                         "share_source": float(cal.weekday_share[d])})
    return pd.DataFrame(rows)


def fit_chart(s: Sessions, path: Path, archetypes: ArchetypeSet | None = None) -> None:
    """Simulated against source distributions (home charging), and plug-in by weekday."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arch = archetypes or shipped_archetypes()
    fig, axes = plt.subplots(2, 3, figsize=(13, 7), constrained_layout=True)
    weekend = (s.day % 7) >= 5
    panels = [("commuter_home", "weekday", "arrival_h", "arrival time [h]"),
              ("commuter_home", "weekday", "dwell_h", "connection time [h]"),
              ("commuter_home", "weekday", "energy_kwh", "energy per session [kWh]"),
              ("no_home_charger", "weekday", "arrival_h", "arrival time [h]"),
              ("no_home_charger", "weekday", "dwell_h", "connection time [h]")]
    for ax, (name, daytype, quantity, label) in zip(axes.ravel(), panels, strict=False):
        a = s.names.index(name)
        ref = getattr(getattr(arch.archetypes[name], daytype), quantity).elaad
        pick = (s.archetype == a) & (weekend == (daytype == "weekend"))
        x = np.sort(_values(s, quantity)[pick])
        grid = np.linspace(0, np.percentile(x, 99.5), 300)
        ax.plot(grid, behaviour.cdf_of(ref.table, ref.site, grid), color="#0072B2", lw=2,
                label=f"ElaadNL {ref.site}")
        ax.step(x, np.arange(1, x.size + 1) / x.size, color="#D55E00", lw=1.2,
                where="post", label="simulated sessions")
        ax.set_title(f"{name}, {daytype}: KS {ks_distance(x, ref.table, ref.site):.3f}",
                     fontsize=10)
        ax.set_xlabel(label)
        ax.set_ylabel("cumulative share")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    ax = axes.ravel()[-1]
    fit = plug_in_fit(s, int(s.vehicle.max()) + 1, arch)
    width = 0.2
    for k, (name, colour) in enumerate((("commuter_home", "#009E73"),
                                        ("no_home_charger", "#CC79A7"))):
        f = fit[fit["archetype"] == name]
        ax.bar(f["day_of_week"] + (2 * k - 1) * width, f["plug_in_simulated"], width,
               color=colour, label=f"{name} simulated")
        ax.plot(f["day_of_week"] + (2 * k - 1) * width, f["plug_in_calibrated"], "k_",
                markersize=14)
    ax.plot([], [], "k_", markersize=14, label="calibrated (ElaadNL shape)")
    ax.set_xticks(range(7), ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])
    ax.set_ylabel("sessions per vehicle-day")
    ax.set_title("plug-in frequency by day of the week", fontsize=10)
    ax.legend(fontsize=8, loc="lower left")
    ax.grid(alpha=0.3, axis="y")
    fig.savefig(path, dpi=100)
    plt.close(fig)
