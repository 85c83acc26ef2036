"""The vehicle simulation behind an export: one hourly simulation per segment.

One seeded simulation per segment of the run gives both the engine's availability seam
(:class:`evflex.capacity.Availability`, one value per segment) and the weekly profiles
of :mod:`evflex.export.fleet_profiles`, from the same sessions, so the capacity table of
the run and the exported components agree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from evflex.capacity import AVAILABILITY_FIELDS, Availability
from evflex.export.components import ExportInputError
from evflex.export.fleet_profiles import (
    DAYS_PER_WEEK,
    GroupProfiles,
    ProfileInputError,
    fleet_groups,
)
from evflex.simulate.archetypes import (
    ArchetypeSet,
    SimulationInputError,
    _vehicle_archetypes,
    load_archetypes,
    parse_mix,
    sample_sessions,
)
from evflex.simulate.run import SimulationConfig, simulate

STEP_MINUTES = 60
#: Availability field of the engine → column of the simulation's summary.
SEAM_COLUMNS = {
    "plug_in_share_at_peak": "plug_in_share_at_peak_v2g_eligible",
    "soc_at_peak": "soc_at_peak",
    "mobility_reserve_soc": "mobility_reserve_soc",
    "charging_coincidence_at_peak": "charging_coincidence_at_peak",
}


@dataclass(frozen=True)
class ExportSimulation:
    """What an export takes from the simulation, by segment.

    ``groups[segment]``: the weekly profiles of its ``eligible`` and ``other`` vehicles;
    ``summary``: one row per segment with the simulation's figures at the peak;
    ``availability``: per-step availability table per segment (``evflex simulate``'s).
    """

    groups: dict[str, dict[str, GroupProfiles | None]]
    summary: pd.DataFrame
    availability: dict[str, pd.DataFrame]
    vehicles: int
    days: int
    seed: int

    def seam(self, segments: Sequence[str]) -> Availability:
        """The engine's availability, one value per segment (broadcast over regions, years)."""
        rows = self.summary.set_index("segment").loc[list(segments)]
        values = {f: rows[SEAM_COLUMNS[f]].to_numpy(dtype=float)[:, None]
                  for f in AVAILABILITY_FIELDS}
        return Availability(**values, source=(
            f"simulation: {self.vehicles} vehicles x {self.days} days per segment, "
            f"{STEP_MINUTES}-min steps, seed {self.seed}"))


def simulate_segments(segments: Sequence[str], vehicles: int, days: int,
                      seed: int) -> ExportSimulation:
    """Simulate each segment (hourly steps, whole weeks) for an export.

    Raises :class:`ExportInputError` naming the segment or setting that cannot be
    simulated (a segment without an archetype mix, days not whole weeks, ...).
    """
    if days % DAYS_PER_WEEK:
        raise ExportInputError(f"simulation days: not whole weeks (got {days}, expected a "
                               "multiple of 7)")
    archetypes = load_archetypes()
    groups: dict[str, dict[str, GroupProfiles | None]] = {}
    rows: list[dict[str, float | str]] = []
    tables: dict[str, pd.DataFrame] = {}
    for segment in segments:
        if segment not in archetypes.mixes:
            raise ExportInputError(
                f"simulation: missing for segment {segment!r} (no archetype mix to simulate "
                f"its availability; expected one of {sorted(archetypes.mixes)})")
        try:
            config = SimulationConfig(vehicles=vehicles, days=days, step_minutes=STEP_MINUTES,
                                      seed=seed, segment=segment, strategies=("unmanaged",),
                                      keep_sessions=False)
            result = simulate(config, archetypes)
            mix = parse_mix(None, archetypes, segment)
            sessions = sample_sessions(vehicles, days, STEP_MINUTES, seed, mix, archetypes)
            groups[segment] = fleet_groups(sessions, group_sizes(vehicles, mix, archetypes))
        except (SimulationInputError, ProfileInputError) as exc:
            raise ExportInputError(str(exc)) from None
        rows.append({"segment": segment, **{k: float(v) for k, v in result.summary.items()}})
        tables[segment] = result.availability
    summary = pd.DataFrame(rows)
    seam = summary[list(SEAM_COLUMNS.values())].to_numpy(dtype=float)
    if not np.all(np.isfinite(seam)):
        raise ExportInputError(f"simulation: availability not finite (got {seam.tolist()}, "
                               "expected numbers)")
    return ExportSimulation(groups=groups, summary=summary, availability=tables,
                            vehicles=vehicles, days=days, seed=seed)


def group_sizes(vehicles: int, mix: dict[str, float],
                archetypes: ArchetypeSet) -> dict[str, int]:
    """Vehicles of the ``eligible`` and ``other`` groups, as the simulation assigns them
    archetypes (a vehicle that never plugs in during the simulated days still counts)."""
    kinds = _vehicle_archetypes(0, vehicles, mix, tuple(mix))
    flags = np.array([archetypes.archetypes[a].v2g_eligible for a in mix], dtype=bool)
    eligible = int(flags[kinds].sum())
    return {"eligible": eligible, "other": vehicles - eligible}


def groups_table(groups: Mapping[str, Mapping[str, GroupProfiles | None]]) -> pd.DataFrame:
    """Per-segment, per-group constants of the profiles (for tracing exported numbers)."""
    rows = []
    for segment, by_group in groups.items():
        for group, g in by_group.items():
            if g is None:
                continue
            rows.append({"segment": segment, "group": group, "vehicles": g.vehicles,
                         "charger_kw": g.charger_kw, "export_kw": g.export_kw,
                         "window_kwh": g.window_kwh, "reserve_kwh": g.reserve_kwh,
                         "battery_kwh": g.battery_kwh, "daily_energy_kwh": g.daily_energy_kwh})
    return pd.DataFrame(rows)
