"""Vehicle simulations on the same scheduler: replicas of the fleet's days for availability.

The availability at the evening peak (plug-in share, state of charge, reserve, charging
coincidence) is a sample statistic of a simulated fleet (:mod:`evflex.simulate`). Running
``R`` independent replicas of that simulation (seeds spawned from one seed with
:class:`numpy.random.SeedSequence`) gives its sampling spread. The replicas run where the
Monte Carlo chunks run: in this process or on the Dask cluster (``--scheduler``), and
give the same figures either way.

In a Monte Carlo with replicas, draw ``d`` takes its availability from replica
``d mod R`` instead of from the scenario's availability parameters (whose distributions
are then left out of the sample space), so every draw carries a simulated availability.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from evflex.capacity import AVAILABILITY_FIELDS
from evflex.errors import InputError
from evflex.uncertainty.execute import Executor

if TYPE_CHECKING:
    from evflex.simulate.run import SimulationConfig

#: Summary figure of a simulation → the availability field of the engine it feeds.
FROM_SUMMARY = {
    "plug_in_share_at_peak": "plug_in_share_at_peak_v2g_eligible",
    "soc_at_peak": "soc_at_peak",
    "mobility_reserve_soc": "mobility_reserve_soc",
    "charging_coincidence_at_peak": "charging_coincidence_at_peak",
}


def _replica(config: SimulationConfig, seed: int) -> dict[str, float]:
    from evflex.simulate.run import simulate

    result = simulate(replace(config, seed=seed, keep_sessions=False))
    return {k: float(v) for k, v in result.summary.items()}


def replica_seeds(seed: int, replicas: int) -> list[int]:
    """One seed per replica, spawned from ``seed``."""
    return [int(child.generate_state(1)[0])
            for child in np.random.SeedSequence(seed).spawn(replicas)]


def simulate_replicas(config: SimulationConfig, replicas: int, executor: Executor | None = None,
                      progress: Callable[[int, int], None] | None = None) -> pd.DataFrame:
    """``replicas`` independent simulations of ``config`` (an
    :class:`evflex.simulate.run.SimulationConfig`), one row of summary figures each.

    Columns ``replica``, ``seed``, the engine's availability fields
    (:data:`evflex.capacity.AVAILABILITY_FIELDS`), then every figure of the simulation's
    summary.
    """
    if replicas < 1:
        raise InputError("replicas", f"too few (got {replicas}, expected >= 1)")
    config.check()
    seeds = replica_seeds(config.seed, replicas)
    rows: list[dict[str, float] | None] = [None] * replicas
    executor = executor or Executor()
    done = 0

    for i, summary in executor.map(_ReplicaTask(config), seeds):
        rows[i] = summary
        done += 1
        if progress:
            progress(done, replicas)
    table = pd.DataFrame([r for r in rows if r is not None])
    out = pd.DataFrame({"replica": np.arange(replicas), "seed": seeds})
    for field, key in FROM_SUMMARY.items():
        out[field] = table[key].to_numpy()
    extra = [c for c in table.columns if c not in ("seed",)]
    return pd.concat([out, table[extra].add_prefix("sim_")], axis=1)


class _ReplicaTask:
    """Picklable ``seed → summary`` of one replica (for Dask workers)."""

    def __init__(self, config: SimulationConfig):
        self.config = config

    def __call__(self, seed: int) -> dict[str, float]:
        return _replica(self.config, seed)


def availability_table(replicas: pd.DataFrame) -> np.ndarray:
    """Availability of each replica, shape (R, 4) in :data:`AVAILABILITY_FIELDS` order."""
    return replicas[list(AVAILABILITY_FIELDS)].to_numpy(dtype=float)
