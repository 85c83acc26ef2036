"""A year of days in four representative weeks: seasonal consumption and base load.

The year is four meteorological seasons (``evflex/data/simulate/seasons.csv``), each
stood for by one simulated week and weighted by its days (90, 92, 92 and 91 of 365).
A season differs from the others in two ways:

- **consumption per km**: the region's monthly mean temperature (``climate.csv``, a
  sourced station climatology; ``region_climate.csv`` says which station stands for
  which region) through a sourced temperature relation (``temperature_consumption.csv``,
  AAA 2019), *relative to the year's mean*: ``f(T_season) / mean_days(f(T_month))``, so
  the region's annual consumption stays the sourced one and only its spread over the
  year comes from temperature. More energy a day makes the calibrated plug-in frequency
  higher (:func:`evflex.simulate.behaviour.plug_in_calibration`) and sessions without a
  plug-in calibration (vans, buses) larger;
- **base load**: its level (``base_load_factor``, an assumption stated in the file).

The annual figures are the weighted means of the seasons' figures. The *binding* season
is the one whose system peak (base load plus unmanaged charging) is highest: what a
planner counts on at the peak is that season's availability.

>>> from evflex.simulate.seasons import climate_of, representative_weeks
>>> [(w.name, round(w.temp_c, 1)) for w in representative_weeks(climate_of("Europe"))]
[('winter', 1.0), ('spring', 9.7), ('summer', 18.5), ('autumn', 9.7)]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from evflex.simulate.archetypes import Archetype, ArchetypeSet, Dist
from evflex.simulate.run import SimulationConfig, SimulationResult, simulate

DAYS_IN_MONTH = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
#: Summary figures reported per season and as annual weighted means.
FIGURES = ("plug_in_share_at_peak", "plug_in_share_at_peak_v2g_eligible", "soc_at_peak",
           "mobility_reserve_soc", "charging_coincidence_at_peak", "headroom_at_peak_kwh",
           "base_peak_kw", "peak_unmanaged_kw", "energy_kwh", "sessions")


def _csv(name: str) -> pd.DataFrame:
    with resources.files("evflex.data").joinpath(f"simulate/{name}").open("r") as fh:
        return pd.read_csv(fh, comment="#")


@cache
def climate_table() -> pd.DataFrame:
    """Monthly mean temperature of each shipped station (``climate, month, temp_c``)."""
    return _csv("climate.csv")


@cache
def season_table() -> pd.DataFrame:
    """The seasons, their months and base-load factors."""
    return _csv("seasons.csv")


@cache
def _region_table() -> dict[str, tuple[str | None, str | None]]:
    t = _csv("region_climate.csv")
    def text(v: object) -> str | None:
        return v if isinstance(v, str) and v else None
    return {r: (text(c), text(ld))
            for r, c, ld in zip(t["region"], t["climate"], t["load"], strict=True)}


def _lookup(region: str) -> tuple[str | None, str | None]:
    """``(station, load system)`` of ``region``: its own entry, else its first listed
    block's (``regions.csv``), else none."""
    table = _region_table()
    if region in table:
        return table[region]
    from evflex.regions import hierarchy

    try:
        blocks = hierarchy().blocks_of(region)
    except KeyError:
        return None, None
    for block in blocks:
        if block in table:
            return table[block]
    return None, None


def climate_of(region: str) -> str | None:
    """The station whose climate stands for ``region`` (``None``: no seasonal
    consumption)."""
    return _lookup(region)[0]


def load_of(region: str) -> str | None:
    """The power system whose monthly demand sets ``region``'s seasonal base load
    (``None``: the assumed factors of ``seasons.csv``)."""
    return _lookup(region)[1]


def climate_and_load(name: str) -> tuple[str | None, str | None]:
    """Station and load system for ``name``: a station of ``climate.csv`` itself (no load
    system), a region or block (:func:`climate_of`, :func:`load_of`), or ``"none"``.

    Raises :class:`evflex.simulate.archetypes.SimulationInputError` (field ``region``)
    for a name that is none of these."""
    from evflex.regions import hierarchy
    from evflex.simulate.archetypes import SimulationInputError

    stations = sorted(set(climate_table()["climate"]))
    if name in stations:
        return name, None
    if name.lower() == "none":
        return None, None
    h = hierarchy()
    if name in _region_table() or name in h.region_ids or name in h.block_names:
        return _lookup(name)
    raise SimulationInputError("region", f"unknown (got {name!r}, expected a region such "
                               f"as Europe or DE, a block, one of {stations}, or none)")


def consumption_factor(temp_c: np.ndarray | float) -> np.ndarray:
    """Consumption per km relative to the relation's reference temperature [-]."""
    t = _csv("temperature_consumption.csv")
    return np.asarray(np.interp(temp_c, t["temp_c"], t["consumption_factor"]), dtype=float)


@dataclass(frozen=True)
class Week:
    """One representative week: its season, weight and what differs in it."""

    name: str
    weight: float               # share of the year's days [-]
    temp_c: float               # mean temperature of the season's days [degC], NaN if none
    consumption_factor: float   # consumption per km relative to the year's mean [-]
    base_load_factor: float     # base load relative to the year's mean [-]


def representative_weeks(station: str | None = None, load: str | None = None
                         ) -> tuple[Week, ...]:
    """The year's four representative weeks in the climate of ``station`` (a station of
    ``climate.csv``, see :func:`climate_of`; ``None``: no climatology), with the base
    load's seasonal level from the monthly demand of ``load`` (``monthly_load.csv``;
    ``None``: the assumed factors of ``seasons.csv``)."""
    seasons = season_table()
    months_of = [[int(m) for m in str(s).split(";")] for s in seasons["months"]]
    if station is not None and station not in set(climate_table()["climate"]):
        raise KeyError(f"no climate {station!r} in climate.csv")
    if station is None:
        temp = np.full(12, np.nan)
        factor = np.ones(12)
    else:
        c = climate_table()
        c = c[c["climate"] == station].sort_values("month")
        temp = c["temp_c"].to_numpy(float)
        factor = consumption_factor(temp)
    year_mean = float(np.average(factor, weights=DAYS_IN_MONTH))
    daily = None
    if load is not None:
        m = _csv("monthly_load.csv")
        m = m[m["system"] == load].sort_values("month")
        if len(m) != 12:
            raise KeyError(f"no monthly demand {load!r} in monthly_load.csv")
        daily = m["demand"].to_numpy(float) / DAYS_IN_MONTH
        daily = daily / (daily * DAYS_IN_MONTH).sum() * DAYS_IN_MONTH.sum()
    weeks = []
    for name, months, base in zip(seasons["season"], months_of,
                                  seasons["base_load_factor"], strict=True):
        idx = np.asarray(months) - 1
        days = DAYS_IN_MONTH[idx]
        weeks.append(Week(
            name=str(name), weight=float(days.sum() / DAYS_IN_MONTH.sum()),
            temp_c=float(np.average(temp[idx], weights=days)),
            consumption_factor=float(np.average(factor[idx], weights=days)) / year_mean,
            base_load_factor=(float(base) if daily is None
                              else float(np.average(daily[idx], weights=days)))))
    return tuple(weeks)


def _scaled(dist: Dist, factor: float) -> Dist:
    """A session-energy distribution scaled by ``factor`` (normal ones only: the ElaadNL
    tables are observed sessions; the plug-in frequency carries the change for them)."""
    if dist.normal is None:
        return dist
    n = dist.normal
    return dist.model_copy(update={"normal": n.model_copy(update={
        "mean": n.mean * factor, "sd": n.sd * factor, "min": n.min * factor,
        "max": n.max * factor})})


def scale_consumption(archetypes: ArchetypeSet, factor: float) -> ArchetypeSet:
    """The archetypes with consumption per km (and energy per session where it is not
    an observed distribution) multiplied by ``factor``."""
    out: dict[str, Archetype] = {}
    for name, a in archetypes.archetypes.items():
        update: dict[str, object] = {
            day: getattr(a, day).model_copy(update={
                "energy_kwh": _scaled(getattr(a, day).energy_kwh, factor)})
            for day in ("weekday", "weekend")}
        if a.plug_in is not None:
            kwh = a.plug_in.kwh_per_km
            update["plug_in"] = a.plug_in.model_copy(update={
                "kwh_per_km": kwh.model_copy(update={"value": kwh.value * factor})})
        out[name] = a.model_copy(update=update)
    return archetypes.model_copy(update={"archetypes": out})


@dataclass
class YearResult:
    """The representative weeks' simulations of one region, and the year from them.

    ``seasons``: one row per season (``season, weight, temp_c, consumption_factor,
    base_load_factor`` and :data:`FIGURES`); ``annual``: the weighted means of
    :data:`FIGURES`; ``binding``: the season of the highest system peak.
    """

    seasons: pd.DataFrame
    annual: dict[str, float]
    binding: str
    results: dict[str, SimulationResult]

    @property
    def binding_result(self) -> SimulationResult:
        return self.results[self.binding]


def simulate_year(config: SimulationConfig, archetypes: ArchetypeSet,
                  station: str | None = None,
                  progress: Callable[[int, int], None] | None = None,
                  load: str | None = None) -> YearResult:
    """Simulate ``config`` (one week, ``days`` = 7) in each representative week of a
    year in the climate of ``station`` and the load of ``load``
    (:func:`representative_weeks`). The same seed
    in every week: the seasons differ by their consumption and base load only, not by
    their random draws."""
    weeks = representative_weeks(station, load)
    rows, results = [], {}
    for k, week in enumerate(weeks):
        def tick(done: int, total: int, k: int = k) -> None:
            if progress is not None:
                progress(k * total + done, len(weeks) * total)

        cfg = replace(config, base_kw_per_vehicle=config.base_kw_per_vehicle
                      * week.base_load_factor)
        res = simulate(cfg, scale_consumption(archetypes, week.consumption_factor),
                       progress=tick)
        results[week.name] = res
        rows.append({"season": week.name, "weight": week.weight, "temp_c": week.temp_c,
                     "consumption_factor": week.consumption_factor,
                     "base_load_factor": week.base_load_factor,
                     **{f: float(res.summary.get(f, np.nan)) for f in FIGURES}})
    table = pd.DataFrame(rows)
    annual = {f: float(np.average(table[f], weights=table["weight"])) for f in FIGURES}
    binding = str(table["season"].iloc[int(np.argmax(table["peak_unmanaged_kw"]))])
    return YearResult(seasons=table, annual=annual, binding=binding, results=results)


def seasons_chart(table: pd.DataFrame, path: Path) -> None:
    """Per region and season (``simulation_seasons``): charging coincidence and plug-in
    share of V2G-eligible cars at the peak, with each season's temperature."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    regions = list(dict.fromkeys(table["region"]))
    seasons = list(season_table()["season"])
    colours = dict(zip(seasons, ("#0072B2", "#009E73", "#E69F00", "#CC79A7"), strict=True))
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5), constrained_layout=True)
    width = 0.8 / len(seasons)
    panels = (("charging_coincidence_at_peak", "cars charging at the peak if unmanaged"),
              ("plug_in_share_at_peak_v2g_eligible", "V2G-eligible cars plugged in at the peak"))
    for ax, (column, title) in zip(axes, panels, strict=True):
        for k, season in enumerate(seasons):
            rows = table[table["season"] == season].set_index("region").loc[regions]
            x = np.arange(len(regions)) + (k - (len(seasons) - 1) / 2) * width
            bars = ax.bar(x, rows[column], width, color=colours[season], label=season)
            for bar, temp, binding in zip(bars, rows["temp_c"], rows["binding"], strict=True):
                label = "" if np.isnan(temp) else f"{temp:.0f}°"
                ax.annotate(label + ("*" if binding else ""),
                            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                            ha="center", va="bottom", fontsize=7)
        ax.set_xticks(range(len(regions)), regions)
        ax.set_ylabel("share of cars")
        ax.set_title(f"{title}\n(label: season's mean temperature [°C]; * binding season)",
                     fontsize=10)
        ax.grid(alpha=0.3, axis="y")
        ax.set_ylim(0, float(table[column].max()) * 1.2)
    axes[0].legend(fontsize=8, loc="upper right", ncol=len(seasons))
    fig.savefig(path, dpi=100)
    plt.close(fig)
