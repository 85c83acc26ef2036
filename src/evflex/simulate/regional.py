"""The simulation per region: each region's fleet, year and availability.

A region's simulated car fleet differs from another's by what the scenario says of it
(read here, not repeated in the simulation's data):

- ``charging_access`` (in the scenario's last historical year): the share of drivers
  with a home charger (``commuter_home``); the others charge at work and in public
  (``no_home_charger``);
- ``daily_energy_kwh`` (same year): the fleet's mean daily driving energy; each
  archetype's sourced daily distance is scaled so that the mix's mean need equals it
  (their ratio, 49.7 km against 32.9 km in the Netherlands, is kept);
- its climate (:mod:`evflex.simulate.seasons`): seasonal consumption.

Other segments with an archetype mix (vans, buses: depot fleets) are simulated per
region as shipped, with the region's climate; a segment without one keeps the
scenario's availability. Each region's year is simulated in four representative weeks;
the availability the capacity layer uses is the *binding* season's (the season of the
highest system peak, what a planner counts on), and the assumption rows record it with
the annual means. Regions with the same inputs share one simulation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from evflex.capacity import AVAILABILITY_FIELDS, Availability
from evflex.scenario import Scenario
from evflex.scenario.evaluate import evaluate
from evflex.simulate.archetypes import ArchetypeSet, SimulationInputError, load_archetypes
from evflex.simulate.run import SimulationConfig
from evflex.simulate.seasons import YearResult, climate_of, load_of, simulate_year

#: Archetypes of a car fleet with and without a home charger.
HOME, NO_HOME = "commuter_home", "no_home_charger"
#: Summary figure of the simulation behind each availability field.
SUMMARY_OF = {"plug_in_share_at_peak": "plug_in_share_at_peak_v2g_eligible",
              "soc_at_peak": "soc_at_peak", "mobility_reserve_soc": "mobility_reserve_soc",
              "charging_coincidence_at_peak": "charging_coincidence_at_peak"}


@dataclass(frozen=True)
class RegionProfile:
    """What the simulation of one region's segment takes from the scenario (cars: home
    charger share and daily energy; other segments: their archetypes as shipped, so
    ``None``) and its climate."""

    home_share: float | None          # charging_access [fraction]
    daily_energy_kwh: float | None    # daily_energy_kwh [kWh/day per vehicle]
    climate: str | None               # station of its seasons, None: no climatology
    load: str | None = None           # power system of its seasonal base load


def region_profiles(scenario: Scenario, segment: str = "cars") -> dict[str, RegionProfile]:
    """Each region's profile for ``segment``, in the scenario's last historical year."""
    if segment != "cars":
        return {r: RegionProfile(None, None, climate_of(r), load_of(r))
                for r in scenario.regions}
    year = np.array([float(scenario.years.history_end)])
    j = list(scenario.segments).index(segment) if segment in scenario.segments else 0
    access = evaluate(scenario, "charging_access", year)[:, j, 0]
    energy = evaluate(scenario, "daily_energy_kwh", year)[:, j, 0]
    return {r: RegionProfile(float(a), float(e), climate_of(r), load_of(r))
            for r, a, e in zip(scenario.regions, access, energy, strict=True)}


def regional_archetypes(archetypes: ArchetypeSet, profile: RegionProfile) -> ArchetypeSet:
    """The archetypes with the region's car mix and daily energy (as shipped for a
    profile without them)."""
    if profile.home_share is None or profile.daily_energy_kwh is None:
        return archetypes
    mix = {HOME: profile.home_share, NO_HOME: 1.0 - profile.home_share}
    need = {n: a.plug_in.daily_km.value * a.plug_in.kwh_per_km.value
            for n, a in archetypes.archetypes.items() if n in mix and a.plug_in is not None}
    if set(need) != set(mix):
        raise SimulationInputError("archetypes", f"per-region simulation needs {sorted(mix)} "
                                   "with a plug_in calibration (got "
                                   f"{sorted(archetypes.archetypes)})")
    scale = profile.daily_energy_kwh / sum(mix[n] * need[n] for n in mix)
    out = dict(archetypes.archetypes)
    for name in mix:
        a = out[name]
        assert a.plug_in is not None
        km = a.plug_in.daily_km
        out[name] = a.model_copy(update={"plug_in": a.plug_in.model_copy(update={
            "daily_km": km.model_copy(update={
                "value": km.value * scale,
                "source": f"{km.source}; x {scale:.3f} to the region's daily_energy_kwh"})})})
    return archetypes.model_copy(update={"archetypes": out,
                                         "mixes": {**archetypes.mixes, "cars": mix}})


@dataclass
class RegionalSimulation:
    """Per-region simulated availability and the tables that record it.

    ``availability``: arrays of shape (region, segment, 1) in the scenario's order (a
    segment without an archetype mix keeps the scenario's values, shape (region,
    segment, year) then); ``seasons``: per region, segment and season, the inputs and
    figures (:class:`evflex.simulate.seasons.YearResult`), with ``binding`` marking the
    season used; ``assumptions``: rows in the form of the scenario's assumption table,
    one per simulated region, segment and availability field; ``hourly``: each simulated
    region and segment's binding week.
    """

    availability: Availability
    seasons: pd.DataFrame
    assumptions: pd.DataFrame
    hourly: pd.DataFrame


def simulate_regions(scenario: Scenario, config: SimulationConfig,
                     archetypes: ArchetypeSet | None = None,
                     progress: Callable[[int, int], None] | None = None
                     ) -> RegionalSimulation:
    """Simulate every region and segment of ``scenario`` that has an archetype mix
    (``config``: vehicles, days, seed, ...; its ``segment`` is not used)."""
    arch = archetypes or load_archetypes()
    segments = [s for s in scenario.segments if s in arch.mixes]
    if not segments:
        raise SimulationInputError("segment", f"no archetype mix for the scenario's segments "
                                   f"(got {list(scenario.segments)}, expected one of "
                                   f"{sorted(arch.mixes)})")
    profiles = {seg: region_profiles(scenario, seg) for seg in segments}
    distinct = list(dict.fromkeys((seg, p) for seg in segments for p in profiles[seg].values()))
    years: dict[tuple[str, RegionProfile], YearResult] = {}
    for k, (segment, profile) in enumerate(distinct):
        def tick(done: int, total: int, k: int = k) -> None:
            if progress is not None:
                progress(k * total + done, len(distinct) * total)

        cfg = replace(config, segment=segment, mix=None)
        try:
            years[segment, profile] = simulate_year(
                cfg, regional_archetypes(arch, profile), profile.climate, tick,
                load=profile.load)
        except ValueError as exc:
            if isinstance(exc, SimulationInputError):
                raise
            where = [r for r, p in profiles[segment].items() if p == profile]
            raise SimulationInputError("daily_energy_kwh", f"too high for the simulated "
                                       f"sessions in {', '.join(where)} (got "
                                       f"{profile.daily_energy_kwh:g} kWh/day: {exc})"
                                       ) from None
    shape = (len(scenario.regions), len(scenario.segments), 1)
    values = {f: np.empty(shape) for f in AVAILABILITY_FIELDS}
    if len(segments) < len(scenario.segments):  # the scenario's own values for the rest
        values = {f: evaluate(scenario, f) for f in AVAILABILITY_FIELDS}
    seasons, rows, hourly = [], [], []
    period = "weeks" if config.days == 7 else f"periods of {config.days} days"
    desc = (f"{config.vehicles} vehicles x 4 representative {period}, "
            f"{config.step_minutes}-min steps, seed {config.seed}")
    seg_index = {s: j for j, s in enumerate(scenario.segments)}
    for segment in segments:
        for i, (region, profile) in enumerate(profiles[segment].items()):
            year = years[segment, profile]
            t = year.seasons.copy()
            t.insert(0, "region", region)
            t.insert(1, "segment", segment)
            t.insert(3, "binding", t["season"] == year.binding)
            t.insert(4, "home_share", profile.home_share)
            t.insert(5, "daily_energy_kwh", profile.daily_energy_kwh)
            t.insert(6, "climate", profile.climate or "")
            t.insert(7, "load", profile.load or "assumed")
            seasons.append(t)
            binding = t[t["binding"]].iloc[0]
            cell = region if len(scenario.segments) == 1 else f"{region}/{segment}"
            inputs = ("archetypes as shipped" if profile.home_share is None else
                      f"home charger share {profile.home_share:.3f} and "
                      f"{profile.daily_energy_kwh:g} kWh/day from the scenario in "
                      f"{scenario.years.history_end}")
            for f in AVAILABILITY_FIELDS:
                key = SUMMARY_OF[f]
                values[f][i, seg_index[segment], :] = float(binding[key])
                rows.append({
                    "parameter": f, "applies_to": cell, "used_by": cell,
                    "unit": "fraction", "group": "availability", "denominator": "",
                    "path": (f"simulated {binding[key]:.4f} ({year.binding} week; annual "
                             f"mean {year.annual[key]:.4f})"),
                    "source": (f"simulation ({desc}, segment {segment}): {inputs}, climate "
                               f"{profile.climate or 'none'}, seasonal load "
                               f"{profile.load or 'assumed'}"),
                    "year": scenario.years.history_end,
                    "note": "replaces the scenario's value in this run"})
            res = year.binding_result
            h = res.profile.merge(res.availability, on=["step", "hour"])
            h.insert(0, "region", region)
            h.insert(1, "segment", segment)
            h.insert(2, "season", year.binding)
            hourly.append(h)
    availability = Availability(**values, source=f"simulation per region: {desc}")
    return RegionalSimulation(availability=availability,
                              seasons=pd.concat(seasons, ignore_index=True),
                              assumptions=pd.DataFrame(rows),
                              hourly=pd.concat(hourly, ignore_index=True))
