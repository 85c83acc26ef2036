"""Monte Carlo ensembles: quantiles of states and capacities, verdict probabilities.

>>> from evflex.uncertainty.montecarlo import run_montecarlo
>>> mc = run_montecarlo(load_scenario("uncertain"), draws=2000, seed=1)  # doctest: +SKIP
>>> mc.states_quantiles.query("region == 'World' and year == 2100")        # doctest: +SKIP

Draws come from the scenario's distributions (:class:`~evflex.uncertainty.Space`), in
chunks (:mod:`~evflex.uncertainty.execute`); each chunk is one vectorised engine call
(:class:`~evflex.uncertainty.ensemble.Ensemble`) reduced to a quantile sketch
(:mod:`~evflex.uncertainty.sketch`), so memory stays flat as the number of draws grows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import pandas as pd

from evflex.capacity import AVAILABILITY_FIELDS, METRICS
from evflex.errors import InputError
from evflex.paths import FloatArray
from evflex.scenario import Scenario
from evflex.states import STATES
from evflex.uncertainty.distributions import Space
from evflex.uncertainty.ensemble import FIELDS, Ensemble
from evflex.uncertainty.execute import BLOCK, Chunk, Executor, chunks
from evflex.uncertainty.sketch import PILOT_DRAWS, QUANTILES, Binned, Edges, Sketch
from evflex.uncertainty.verdicts import (
    ModelledVerdicts,
    QuantityRule,
    verdict_rules,
    why_no_verdicts,
)

#: Column names of the quantiles.
Q_COLUMNS = [f"p{round(q * 100):02d}" for q in QUANTILES]
DEFAULT_CHUNK = 512


class NoDistributions(ValueError):
    """The scenario has nothing to draw."""


def flatten(summary: dict[str, FloatArray]) -> FloatArray:
    """Summary fields of n draws as one (n, C) array, in :data:`FIELDS` order."""
    n = len(summary[FIELDS[0]])
    return np.concatenate([summary[f].reshape(n, -1) for f in FIELDS], axis=1)


def unflatten(flat: FloatArray, shapes: dict[str, tuple[int, ...]]) -> dict[str, FloatArray]:
    """Inverse of :func:`flatten` for arrays (m, C) → fields (m, *shape)."""
    out, start = {}, 0
    for f in FIELDS:
        size = int(np.prod(shapes[f]))
        out[f] = flat[:, start:start + size].reshape(len(flat), *shapes[f])
        start += size
    return out


@dataclass
class ChunkResult:
    """What a chunk sends back: its values on the sketch's edges, its verdict counts."""

    binned: Binned
    n: int
    verdicts: np.ndarray  # (pathway, verdict) counts


def _evaluate(ensemble: Ensemble, chunk: Chunk) -> dict[str, FloatArray]:
    return ensemble.evaluate(chunk.draw(ensemble.space),
                             np.arange(chunk.first, chunk.first + chunk.n))


def _pilot(ensemble: Ensemble, rules: ModelledVerdicts | None,
           chunk: Chunk) -> tuple[FloatArray, np.ndarray]:
    summary = _evaluate(ensemble, chunk)
    counts = rules.count(summary, ensemble) if rules is not None else np.zeros((0, 0), int)
    return flatten(summary), counts


def _sketch_chunk(ensemble: Ensemble, rules: ModelledVerdicts | None, edges: Edges,
                  chunk: Chunk) -> ChunkResult:
    summary = _evaluate(ensemble, chunk)
    counts = rules.count(summary, ensemble) if rules is not None else np.zeros((0, 0), int)
    return ChunkResult(Binned.of(flatten(summary), edges), chunk.n, counts)


@dataclass
class MonteCarloResult:
    """Quantile tables and verdict probabilities of an ensemble."""

    scenario: Scenario
    draws: int
    seed: int
    space: Space
    states_quantiles: pd.DataFrame
    states_vehicles_quantiles: pd.DataFrame
    capacity_quantiles: pd.DataFrame
    verdict_probabilities: pd.DataFrame
    base: dict[str, FloatArray]
    where: str = "in-process"
    notes: list[str] = field(default_factory=list)

    def tables(self) -> dict[str, pd.DataFrame]:
        """The tables written by ``evflex montecarlo``."""
        return {"states_quantiles": self.states_quantiles,
                "states_vehicles_quantiles": self.states_vehicles_quantiles,
                "capacity_quantiles": self.capacity_quantiles,
                "verdict_probabilities": self.verdict_probabilities,
                "distributions": distributions_table(self.scenario)}


def distributions_table(scenario: Scenario) -> pd.DataFrame:
    """Every distribution of a scenario with its parameters, base value and source."""
    rows = []
    for site in scenario.distributions():
        d = site.dist
        rows.append({"name": site.name, "parameter": site.parameter,
                     "applies_to": site.override or "default", "target": str(site.target),
                     "kind": d.kind, "base": site.base,
                     **{k: getattr(d, k) for k in ("low", "mode", "mean", "sd", "median",
                                                   "sigma", "alpha", "beta", "high")},
                     "source": d.source, "year": d.year})
    return pd.DataFrame(rows)


def _quantile_frame(q: FloatArray, regions: list[str], labels: list[str], years: list[int],
                    label: str) -> pd.DataFrame:
    """(Q, R, L, T) quantiles → rows (region, year, label, p05..p95), region then year."""
    r, l_, t = len(regions), len(labels), len(years)
    idx = pd.MultiIndex.from_product([regions, years, labels], names=["region", "year", label])
    data = q.transpose(1, 3, 2, 0).reshape(r * t * l_, len(QUANTILES))
    return pd.DataFrame(data, index=idx, columns=Q_COLUMNS).reset_index()


def run_montecarlo(scenario: Scenario, draws: int, seed: int,
                   chunk_size: int = DEFAULT_CHUNK, executor: Executor | None = None,
                   progress: Callable[[int, int], None] | None = None,
                   replicas: pd.DataFrame | None = None,
                   rules: list[QuantityRule] | None = None) -> MonteCarloResult:
    """Monte Carlo of a scenario's distributions: ``draws`` draws from ``seed``.

    ``progress(done, total)`` is called as draws complete. Results depend only on the
    scenario, ``draws`` and ``seed``: not on ``chunk_size`` nor on where chunks run.
    ``replicas`` (from :func:`evflex.uncertainty.simulation.simulate_replicas`) give each
    draw its availability instead of the scenario's availability parameters. ``rules``
    replace the scorecard's rules over modelled quantities (see
    :mod:`evflex.uncertainty.verdicts`) for the verdict probabilities.
    """
    space = Space.from_scenario(scenario)
    notes = []
    table = None
    if replicas is not None:
        from evflex.uncertainty.simulation import availability_table

        table = availability_table(replicas)
        replaced = [n for n, s in zip(space.names, space.sites, strict=True)
                    if s.parameter in AVAILABILITY_FIELDS]
        space = space.subset([n for n in space.names if n not in replaced])
        notes.append(f"availability from {len(table)} simulation replicas (draw d uses "
                     f"replica d mod {len(table)})" + (
                         f"; replaces the distributions of {', '.join(replaced)}"
                         if replaced else ""))
    if len(space) == 0 and table is None:
        raise NoDistributions(
            f"scenario {scenario.name!r} has no distributions (got 0 'dist' entries, "
            "expected at least one; see the shipped scenario 'uncertain')")
    if draws < 2:
        raise InputError("draws", f"too few (got {draws}, expected at least 2)")
    ensemble = Ensemble(scenario, space, table)
    verdicts = verdict_rules(scenario, rules)
    executor = executor or Executor()
    report = progress or (lambda done, total: None)

    # The pilot: the first draws, whose range sets the sketch's edges.
    n_pilot = min(draws, -(-PILOT_DRAWS // BLOCK) * BLOCK)
    pilot_chunks = chunks(seed, 0, n_pilot, n_pilot)
    [(_, (pilot_values, pilot_counts))] = list(
        executor.map(partial(_pilot, ensemble, verdicts), pilot_chunks))
    edges = Edges.from_pilot(pilot_values)
    sketch = Sketch.of(pilot_values, edges, keep_exact=draws <= n_pilot)
    counts = pilot_counts
    del pilot_values
    report(n_pilot, draws)

    done = n_pilot
    rest = chunks(seed, n_pilot, draws, chunk_size) if draws > n_pilot else []
    for _, result in executor.map(partial(_sketch_chunk, ensemble, verdicts, edges), rest):
        sketch = sketch.add(result.binned)
        counts = counts + result.verdicts
        done += result.n
        report(done, draws)

    base = Ensemble(scenario, space).evaluate(space.base[None])
    shapes = {f: base[f].shape[1:] for f in FIELDS}
    q = unflatten(sketch.quantiles(QUANTILES), shapes)
    regions, years = ensemble.regions, ensemble.years
    capacity = _quantile_frame(q["capacity"], regions, list(METRICS), years, "metric")
    capacity.insert(3, "unit", capacity["metric"].map(METRICS))
    probabilities = (verdicts.table(counts, draws) if verdicts is not None
                     else pd.DataFrame(columns=["pathway", "verdict", "probability", "draws",
                                                "rule"]))
    if verdicts is None:
        notes.append(why_no_verdicts())
    if space.correlated:
        notes.append("draws are correlated through a Gaussian copula "
                     f"({len(scenario.uncertainty.correlations)} pairs)")
    return MonteCarloResult(
        scenario=scenario, draws=draws, seed=seed, space=space,
        states_quantiles=_quantile_frame(q["state_share"], regions, list(STATES), years,
                                         "state"),
        states_vehicles_quantiles=_quantile_frame(q["state_vehicles"], regions, list(STATES),
                                                  years, "state"),
        capacity_quantiles=capacity, verdict_probabilities=probabilities,
        base={f: v[0] for f, v in base.items()}, where=executor.where, notes=notes)
