"""The engine on a batch of draws, reduced to the outputs the analyses use.

One call evaluates every draw of a batch at once: the drawn numbers become parameter
arrays with a leading draw axis (:func:`evflex.scenario.evaluate.evaluate_draws`) and go
through :func:`evflex.model.compute_arrays`, which broadcasts that axis through fleet,
capability, filters, states and capacity. There is no Python loop per draw.

The reduction keeps, per draw, the World and regional figures (summed over segments):

=================  ===========================  =========================================
field              dims                         unit
=================  ===========================  =========================================
``state_share``    (draw, region, state, year)  fraction of the EV stock
``state_vehicles`` (draw, region, state, year)  vehicles
``capacity``       (draw, region, metric, year) unit of the metric (:data:`METRICS`)
=================  ===========================  =========================================

Region ``World`` (last) is the sum of the model regions' counts, shares recomputed from
those sums, never averaged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from evflex.capacity import AVAILABILITY_FIELDS, METRICS, Availability
from evflex.model import WORLD, compute_arrays
from evflex.paths import FloatArray
from evflex.scenario import Scenario
from evflex.scenario.evaluate import evaluate_draws
from evflex.states import STATES
from evflex.uncertainty.distributions import Space

FIELDS = ("state_share", "state_vehicles", "capacity")


def summarise(arrays: dict[str, FloatArray], n: int) -> dict[str, FloatArray]:
    """Reduce :func:`compute_arrays` output for ``n`` draws to :data:`FIELDS`."""
    def regions_and_world(x: FloatArray) -> FloatArray:  # (n, R, ...) → (n, R + 1, ...)
        return np.concatenate([x, x.sum(axis=1, keepdims=True)], axis=1)

    states = np.broadcast_to(arrays["states"], (n, *np.shape(arrays["states"])[-4:]))
    states = regions_and_world(states.sum(axis=2))  # (n, R+1, state, T)
    ev_stock = states.sum(axis=2)
    safe = np.where(ev_stock > 0, ev_stock, 1.0)
    share = states / safe[:, :, None, :]
    empty = (ev_stock <= 0)[:, :, None, :]
    outside = (np.arange(len(STATES)) == STATES.index("outside"))[None, None, :, None]
    share = np.where(empty, np.where(outside, 1.0, 0.0), share)
    capacity = np.stack([
        regions_and_world(np.broadcast_to(
            arrays[f"capacity_{m}"], (n, *np.shape(arrays[f"capacity_{m}"])[-3:])).sum(axis=2))
        for m in METRICS], axis=2)  # (n, R+1, metric, T)
    return {"state_share": share, "state_vehicles": states, "capacity": capacity}


@dataclass(frozen=True)
class Ensemble:
    """A scenario and its sample space: numbers in, summaries out (picklable for Dask).

    ``availability``, if given, is a table (R, 4) of availability figures in
    :data:`evflex.capacity.AVAILABILITY_FIELDS` order (e.g. from simulation replicas,
    :mod:`evflex.uncertainty.simulation`); draw ``d`` then uses row ``d mod R``.
    """

    scenario: Scenario
    space: Space
    availability: FloatArray | None = None

    @property
    def regions(self) -> list[str]:
        return [*self.scenario.regions, WORLD]

    @property
    def years(self) -> list[int]:
        return self.scenario.years_axis

    def evaluate(self, values: FloatArray,
                 draws: np.ndarray | None = None) -> dict[str, FloatArray]:
        """Summaries of a batch of draws, ``values`` (n, k) in :attr:`Space.sites` order.

        ``draws`` are the draws' indices (for the availability table); default 0..n-1.
        """
        availability = None
        if self.availability is not None:
            n = len(values)
            index = np.arange(n) if draws is None else np.asarray(draws)
            rows = self.availability[index % len(self.availability)]
            availability = Availability(
                **{f: rows[:, j].reshape(n, 1, 1, 1) for j, f in enumerate(AVAILABILITY_FIELDS)},
                source=f"{len(self.availability)} simulation replicas")
        return evaluate_numbers(self.scenario, self.space.names, values, availability)


def evaluate_numbers(scenario: Scenario, names: list[str], values: FloatArray,
                     availability: Availability | None = None) -> dict[str, FloatArray]:
    """Summaries of a batch: column ``j`` of ``values`` (n, k) sets number ``names[j]``."""
    values = np.asarray(values, dtype=float)
    values = values.reshape(len(values), -1) if values.ndim != 2 else values
    draws = {name: np.ascontiguousarray(values[:, j]) for j, name in enumerate(names)}
    params = evaluate_draws(scenario, draws)
    return summarise(compute_arrays(scenario, params, availability), len(values))


_QUANTITY = re.compile(r"^(?P<name>[a-z0-9_]+)(@(?P<region>[A-Za-z]+))?:(?P<year>\d{4})$")


@dataclass(frozen=True)
class Quantity:
    """One modelled figure: a state's share of the EV stock or a capacity metric.

    Written ``NAME[@REGION]:YEAR``, e.g. ``v2g:2100`` (World V2G share in 2100),
    ``grid_managed@Europe:2050`` or ``v2g_export_power:2050`` [GW].
    """

    name: str
    year: int
    region: str = WORLD

    @classmethod
    def parse(cls, text: str, regions: list[str], years: list[int]) -> Quantity:
        """Parse ``NAME[@REGION]:YEAR``; :class:`ValueError` names what is wrong."""
        m = _QUANTITY.match(text.strip())
        if not m:
            raise ValueError(f"not a quantity (got {text!r}, expected NAME[@REGION]:YEAR, "
                             "e.g. v2g:2100 or v2g_export_power@Europe:2050)")
        name, region = m["name"], m["region"] or WORLD
        year = int(m["year"])
        if name not in STATES and name not in METRICS:
            raise ValueError(f"unknown quantity (got {name!r}, expected a state "
                             f"{list(STATES)} or a capacity metric {list(METRICS)})")
        if region not in regions:
            raise ValueError(f"unknown region (got {region!r}, expected one of {regions})")
        if year not in years:
            raise ValueError(f"year outside the scenario (got {year}, expected "
                             f"{years[0]} to {years[-1]})")
        return cls(name, year, region)

    @property
    def unit(self) -> str:
        return "fraction" if self.name in STATES else METRICS[self.name]

    @property
    def label(self) -> str:
        where = "" if self.region == WORLD else f"@{self.region}"
        return f"{self.name}{where}:{self.year}"

    @property
    def description(self) -> str:
        what = (f"{self.name} share of EV stock" if self.name in STATES else self.name)
        return f"{what}, {self.region}, {self.year} [{self.unit}]"

    def values(self, summary: dict[str, FloatArray], regions: list[str],
               years: list[int]) -> FloatArray:
        """The quantity for each draw of a summary, shape (n,)."""
        r, t = regions.index(self.region), years.index(self.year)
        if self.name in STATES:
            return summary["state_share"][:, r, STATES.index(self.name), t]
        return summary["capacity"][:, r, list(METRICS).index(self.name), t]


#: The key outputs of ``evflex sensitivity`` (V2G share, V2G GW at the peak, managed GW).
KEY_OUTPUTS = ("v2g:2050", "v2g:2100", "v2g_export_power:2050", "v2g_export_power:2100",
               "shiftable_load:2050", "shiftable_load:2100")
