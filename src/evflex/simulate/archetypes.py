"""Vehicle archetypes and the sampling of charging sessions.

An archetype describes one kind of vehicle day (a commuter with a home charger, a driver
without one, a depot van, a school bus): distributions of arrival time, dwell time and
energy, different on weekdays and at weekends, and of charger power, export power,
battery size, mobility reserve and departure target. The shipped set is
``evflex/data/simulate/archetypes.yaml``; every figure names its source or says
``assumption``.

Sessions are sampled per block of :data:`BLOCK` vehicles, each block with its own
generator spawned from the one seed (:class:`numpy.random.SeedSequence`), so the sessions
do not depend on how the fleet is chunked.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from evflex.errors import InputError
from evflex.paths import FloatArray
from evflex.simulate import behaviour

#: Vehicles per sampling block (each block has its own spawned generator).
BLOCK = 1000
MINUTES_PER_DAY = 1440


class SimulationInputError(InputError):
    """Bad simulation input: the field (``vehicles``, ``days``, ``step``, ``mix``, ...), the
    value and what was expected (:class:`evflex.errors.InputError`)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Normal(_Strict):
    mean: float
    sd: Annotated[float, Field(ge=0)]
    min: float
    max: float

    @model_validator(mode="after")
    def _ordered(self) -> Normal:
        if not self.min <= self.mean <= self.max:
            raise ValueError(f"need min <= mean <= max (got {self.min}, {self.mean}, {self.max})")
        return self


class Choice(_Strict):
    values: list[float] = Field(min_length=1)
    weights: list[Annotated[float, Field(ge=0)]] | None = None

    @model_validator(mode="after")
    def _weights(self) -> Choice:
        if self.weights is not None and (len(self.weights) != len(self.values)
                                         or sum(self.weights) <= 0):
            raise ValueError("weights must match values and not all be 0")
        return self


class ElaadRef(_Strict):
    """A distribution of the shipped ElaadNL sessions (:mod:`.behaviour`)."""

    table: Literal["arrival_weekday", "arrival_weekend", "connection_h", "energy_kwh"]
    site: Literal["private", "public", "workplace"]


class ModelsRef(_Strict):
    """A column of the shipped Dutch EV models, weighted by registrations."""

    column: Literal["battery_kwh", "max_ac_kw"]


class Dist(_Strict):
    """A sourced distribution: ``normal`` (clipped to [min, max]), ``choice``, ``elaad``
    (an ElaadNL session table) or ``nl_models`` (the Dutch EV models)."""

    normal: Normal | None = None
    choice: Choice | None = None
    elaad: ElaadRef | None = None
    nl_models: ModelsRef | None = None
    source: str
    year: int | None = None

    @model_validator(mode="after")
    def _one(self) -> Dist:
        given = [x is not None for x in (self.normal, self.choice, self.elaad,
                                         self.nl_models)]
        if sum(given) != 1:
            raise ValueError("give exactly one of 'normal', 'choice', 'elaad' or "
                             "'nl_models'")
        return self

    def sample(self, rng: np.random.Generator, n: int) -> FloatArray:
        if self.normal is not None:
            d = self.normal
            return np.clip(rng.normal(d.mean, d.sd, n), d.min, d.max)
        if self.elaad is not None:
            return behaviour.sample_table(rng, self.elaad.table, self.elaad.site, n)
        if self.nl_models is not None:
            models = behaviour.ev_models_nl()
            w = models["registrations"].to_numpy(float)
            values = models[self.nl_models.column].to_numpy(float)
            return np.asarray(values[rng.choice(values.size, size=n, p=w / w.sum())])
        assert self.choice is not None
        values = np.asarray(self.choice.values, dtype=float)
        if len(values) == 1:
            return np.full(n, values[0])
        w = np.asarray(self.choice.weights or [1.0] * len(values), dtype=float)
        return values[rng.choice(len(values), size=n, p=w / w.sum())]


class Sourced(_Strict):
    value: Annotated[float, Field(gt=0)]
    source: str
    year: int | None = None


class PlugIn(_Strict):
    """How often the vehicle plugs in: calibrated so that its sessions at the given
    ElaadNL sites charge, on average, ``daily_km x kwh_per_km`` a day
    (:func:`evflex.simulate.behaviour.plug_in_calibration`)."""

    daily_km: Sourced
    kwh_per_km: Sourced
    weekday_site: Literal["private", "public", "workplace"]
    weekend_site: Literal["private", "public", "workplace"]

    def calibration(self, archetype: Archetype | None = None
                    ) -> behaviour.PlugInCalibration:
        """Plug-in probability on each day of the week (0 = Monday), and its inputs.

        With ``archetype``, sessions are counted at the energy they really deliver:
        the mean of ``min(energy, charger x connection time, (target - reserve) x
        battery)`` over 20,000 draws of each day type (a fixed seed), so the vehicle
        charges its daily need on average.
        """
        need = self.daily_km.value * self.kwh_per_km.value
        delivered = None
        if archetype is not None:
            key = archetype.model_dump_json()
            if key not in _DELIVERED:
                _DELIVERED[key] = archetype.delivered_kwh()
            delivered = _DELIVERED[key]
        return behaviour.plug_in_calibration(need, self.weekday_site, self.weekend_site,
                                             delivered)


class DayType(_Strict):
    arrival_h: Dist
    dwell_h: Dist
    energy_kwh: Dist


class Archetype(_Strict):
    segment: Literal["cars", "vans", "buses", "trucks"]
    description: str
    v2g_eligible: bool
    weekday: DayType
    weekend: DayType
    charger_kw: Dist
    export_kw: Dist
    battery_kwh: Dist
    reserve_soc: Dist
    target_soc: Dist
    #: None: plugs in every day
    plug_in: PlugIn | None = None

    def delivered_kwh(self, draws: int = 20_000) -> tuple[float, float]:
        """Mean energy a session delivers [kWh] on weekdays and at weekends: its
        sampled energy within its charger's reach over its connection time and its
        battery's room between reserve and departure target (a fixed seed)."""
        rng = np.random.default_rng(20_240_000)
        kw = self.charger_kw.sample(rng, draws)
        room = ((self.target_soc.sample(rng, draws) - self.reserve_soc.sample(rng, draws))
                * self.battery_kwh.sample(rng, draws))
        out = []
        for daytype in (self.weekday, self.weekend):
            energy = daytype.energy_kwh.sample(rng, draws)
            reach = kw * daytype.dwell_h.sample(rng, draws)
            out.append(float(np.minimum.reduce([energy, reach, room]).mean()))
        return out[0], out[1]


#: Delivered energy per archetype (its JSON) for the plug-in calibration.
_DELIVERED: dict[str, tuple[float, float]] = {}


class ArchetypeSet(_Strict):
    version: int
    sources: dict[str, str] = Field(default_factory=dict)
    archetypes: dict[str, Archetype]
    mixes: dict[str, dict[str, Annotated[float, Field(ge=0)]]]
    mixes_source: str


@cache
def shipped_archetypes() -> ArchetypeSet:
    """The shipped archetypes (``evflex/data/simulate/archetypes.yaml``)."""
    text = resources.files("evflex.data").joinpath("simulate/archetypes.yaml").read_text()
    return ArchetypeSet.model_validate(yaml.safe_load(text))


def load_archetypes(path: Path | None = None, field: str = "archetypes") -> ArchetypeSet:
    """Archetypes from a YAML file (default: the shipped set), validated.

    Errors name ``field`` (the option or argument the path came from), the value and
    what was expected.
    """
    if path is None:
        return shipped_archetypes()
    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise SimulationInputError(field, f"cannot read (got {str(path)!r}: {reason}, "
                                   "expected an archetypes YAML file)") from None
    try:
        return ArchetypeSet.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise SimulationInputError(field, f"{path}: {loc}: {err['msg']} (got "
                                   f"{err.get('input')!r}, expected a valid value)") from None


def parse_step(step: str | int) -> int:
    """Step length in minutes from ``15min``, ``1h`` or ``15`` (1 to 60, dividing a day)."""
    text = str(step).strip().lower()
    try:
        if text.endswith("min"):
            minutes = int(text[:-3])
        elif text.endswith("h"):
            minutes = int(float(text[:-1]) * 60)
        else:
            minutes = int(text)
    except ValueError:
        raise SimulationInputError("step", f"not a duration (got {step!r}, expected e.g. "
                                   "'15min', '1h' or a number of minutes)") from None
    if not 1 <= minutes <= 60 or MINUTES_PER_DAY % minutes:
        raise SimulationInputError("step", f"unsupported step (got {minutes} min, expected "
                                   "1 to 60 minutes dividing 1440)")
    return minutes


def parse_mix(mix: str | dict[str, float] | None, archetypes: ArchetypeSet,
              segment: str = "cars") -> dict[str, float]:
    """Archetype shares, from ``"a=0.8,b=0.2"``, a mapping, or the segment's default."""
    if mix is None:
        if segment not in archetypes.mixes:
            raise SimulationInputError("segment", f"no default mix (got {segment!r}, expected "
                                       f"one of {sorted(archetypes.mixes)})")
        shares = dict(archetypes.mixes[segment])
    elif isinstance(mix, str):
        shares = {}
        for part in mix.split(","):
            name, _, value = part.partition("=")
            try:
                shares[name.strip()] = float(value)
            except ValueError:
                raise SimulationInputError("mix", f"bad entry (got {part!r}, expected "
                                           "'archetype=share')") from None
    else:
        shares = dict(mix)
    for name, share in shares.items():
        if name not in archetypes.archetypes:
            raise SimulationInputError("mix", f"unknown archetype (got {name!r}, expected one "
                                       f"of {sorted(archetypes.archetypes)})")
        if share < 0:
            raise SimulationInputError("mix", f"negative share (got {name}={share}, "
                                       "expected >= 0)")
    total = sum(shares.values())
    if total <= 0:
        raise SimulationInputError("mix", f"shares sum to 0 (got {shares}, expected > 0)")
    return {k: v / total for k, v in shares.items()}


@dataclass(frozen=True)
class Sessions:
    """Charging sessions, one per vehicle per day; times in steps of a periodic horizon.

    ``arrival`` and ``departure`` are absolute step indices (``departure`` exclusive,
    may exceed the horizon: the horizon wraps around). Energies in kWh, powers in kW.
    """

    vehicle: np.ndarray
    archetype: np.ndarray  # index into ``names``
    names: tuple[str, ...]
    day: np.ndarray
    arrival: np.ndarray
    departure: np.ndarray
    energy_kwh: FloatArray
    max_kw: FloatArray
    export_kw: FloatArray
    battery_kwh: FloatArray
    reserve_kwh: FloatArray
    arrival_kwh: FloatArray
    v2g_eligible: np.ndarray
    step_minutes: int
    n_steps: int

    @property
    def dt_h(self) -> float:
        return self.step_minutes / 60.0

    @property
    def slot_wh(self) -> np.ndarray:
        """Energy a charger can deliver in one step [Wh, integer]."""
        return np.floor(self.max_kw * 1000.0 * self.dt_h + 1e-9).astype(np.int64)

    @property
    def energy_wh(self) -> np.ndarray:
        """Energy each session needs [Wh, integer]."""
        return np.round(self.energy_kwh * 1000.0).astype(np.int64)

    def __len__(self) -> int:
        return int(self.vehicle.size)


def _vehicle_archetypes(first: int, n: int, mix: dict[str, float],
                        names: tuple[str, ...]) -> np.ndarray:
    """Deterministic archetype of each vehicle: largest-remainder apportionment by index."""
    cum = np.cumsum([mix[name] for name in names])
    # vehicle k gets the archetype whose cumulative share first exceeds its position
    positions = (np.arange(first, first + n) * 0.6180339887498949) % 1.0  # low-discrepancy
    return np.searchsorted(cum / cum[-1], positions, side="right").clip(0, len(names) - 1)


def sample_sessions(n_vehicles: int, days: int, step_minutes: int, seed: int,
                    mix: dict[str, float], archetypes: ArchetypeSet,
                    first_vehicle: int = 0) -> Sessions:
    """Sessions of vehicles ``first_vehicle .. first_vehicle + n_vehicles - 1``.

    ``first_vehicle`` must be a multiple of :data:`BLOCK` (chunks are whole blocks), so a
    vehicle's sessions are the same whatever the chunking.
    """
    if first_vehicle % BLOCK:
        raise ValueError("first_vehicle must be a multiple of BLOCK")
    names = tuple(mix)
    spd = MINUTES_PER_DAY // step_minutes
    n_steps = days * spd
    parts = []
    for b0 in range(first_vehicle, first_vehicle + n_vehicles, BLOCK):
        n = min(BLOCK, first_vehicle + n_vehicles - b0)
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(b0 // BLOCK,)))
        kinds = _vehicle_archetypes(b0, n, mix, names)
        parts.append(_sample_block(rng, b0, kinds, names, days, spd, archetypes))
    cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return Sessions(names=names, step_minutes=step_minutes, n_steps=n_steps, **cols)


def _sample_block(rng: np.random.Generator, first: int, kinds: np.ndarray,
                  names: tuple[str, ...], days: int, spd: int,
                  archetypes: ArchetypeSet) -> dict[str, np.ndarray]:
    n = kinds.size
    vehicle = np.repeat(np.arange(first, first + n), days)
    kind = np.repeat(kinds, days)
    day = np.tile(np.arange(days), n)
    weekend = (day % 7) >= 5
    out = {k: np.zeros(n * days) for k in ("arr_h", "dwell_h", "energy", "kw", "ex_kw",
                                            "batt", "reserve", "target")}
    for a, name in enumerate(names):
        arch = archetypes.archetypes[name]
        idx_v = np.flatnonzero(kinds == a)
        rows = np.flatnonzero(kind == a)
        per_vehicle = {"kw": arch.charger_kw, "ex_kw": arch.export_kw,
                       "batt": arch.battery_kwh, "reserve": arch.reserve_soc,
                       "target": arch.target_soc}
        for key, dist in per_vehicle.items():
            out[key][rows] = np.repeat(dist.sample(rng, idx_v.size), days)
        for is_weekend, daytype in ((False, arch.weekday), (True, arch.weekend)):
            r = rows[weekend[rows] == is_weekend]
            out["arr_h"][r] = daytype.arrival_h.sample(rng, r.size)
            out["dwell_h"][r] = daytype.dwell_h.sample(rng, r.size)
            out["energy"][r] = daytype.energy_kwh.sample(rng, r.size)
    # plug-in frequency: a vehicle skips a day with its archetype's probability
    present = np.ones(n * days, bool)
    for a, name in enumerate(names):
        plug_in = archetypes.archetypes[name].plug_in
        if plug_in is not None:
            rows = np.flatnonzero(kind == a)
            p = plug_in.calibration(archetypes.archetypes[name]).probability
            present[rows] = rng.uniform(size=rows.size) < p[day[rows] % 7]
    arrival = day * spd + np.floor(out["arr_h"] * spd / 24).astype(int)
    departure = arrival + np.maximum(np.round(out["dwell_h"] * spd / 24).astype(int), 1)
    # a vehicle leaves before its next session begins (the horizon wraps around)
    arr = arrival.reshape(n, days)
    pres = present.reshape(n, days)
    carry = np.where(pres.any(axis=1), arr[np.arange(n), pres.argmax(axis=1)] + days * spd,
                     np.iinfo(np.int64).max)
    nxt = np.empty_like(arr)
    for d in range(days - 1, -1, -1):
        nxt[:, d] = carry
        carry = np.where(pres[:, d], arr[:, d], carry)
    departure = np.minimum(departure, nxt.ravel())
    departure = np.maximum(departure, arrival + 1)
    dt_h = 24.0 / spd
    battery = out["batt"]
    target = out["target"] * battery
    reserve = out["reserve"] * battery
    # energy: what the day needs, within what the charger can deliver and the battery hold
    slot_wh = np.floor(out["kw"] * 1000.0 * dt_h + 1e-9)
    energy = np.minimum(out["energy"], slot_wh * (departure - arrival) / 1000.0)
    energy = np.minimum(energy, target - reserve)
    energy = np.floor(energy * 1000.0) / 1000.0  # whole Wh: energies are delivered exactly
    cols = {
        "vehicle": vehicle, "archetype": kind, "day": day, "arrival": arrival,
        "departure": departure, "energy_kwh": energy, "max_kw": out["kw"],
        "export_kw": out["ex_kw"], "battery_kwh": battery, "reserve_kwh": reserve,
        "arrival_kwh": target - energy,
        "v2g_eligible": np.array([archetypes.archetypes[names[k]].v2g_eligible
                                  for k in kind], dtype=bool),
    }
    return {k: v[present] for k, v in cols.items()}
