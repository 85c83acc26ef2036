"""Vehicle simulation replicas on the scheduler, feeding availability into Monte Carlo."""

from __future__ import annotations

import pandas as pd
import pytest

from evflex.capacity import AVAILABILITY_FIELDS
from evflex.scenario import Scenario
from evflex.simulate.run import SimulationConfig
from evflex.uncertainty.execute import Executor
from evflex.uncertainty.montecarlo import run_montecarlo
from evflex.uncertainty.simulation import simulate_replicas
from evflex.uncertainty.solve import with_numbers

CONFIG = SimulationConfig(vehicles=1000, days=2, seed=9, strategies=("unmanaged",),
                          keep_sessions=False)


def test_replicas_are_the_same_here_and_on_a_dask_cluster(cluster: object) -> None:
    here = simulate_replicas(CONFIG, 4)
    there = simulate_replicas(CONFIG, 4, Executor(client=cluster))
    pd.testing.assert_frame_equal(here, there, check_exact=True)
    assert here["seed"].nunique() == 4
    assert here["plug_in_share_at_peak"].nunique() > 1  # independent samples differ
    for field in AVAILABILITY_FIELDS:
        assert here[field].between(0, 1).all()


def test_each_draw_takes_its_replicas_availability(small_uncertain: Scenario) -> None:
    """With one replica, the ensemble equals the scenario with those figures written in."""
    figures = {"plug_in_share_at_peak": 0.42, "soc_at_peak": 0.81,
               "mobility_reserve_soc": 0.27, "charging_coincidence_at_peak": 0.31}
    replicas = pd.DataFrame([{"replica": 0, "seed": 0, **figures}])
    with_replicas = run_montecarlo(small_uncertain, 300, 3, replicas=replicas)
    written = with_numbers(small_uncertain, {f"{k}.value": v for k, v in figures.items()})
    reference = run_montecarlo(written, 300, 3)
    pd.testing.assert_frame_equal(with_replicas.capacity_quantiles,
                                  reference.capacity_quantiles, rtol=1e-12)
    assert any("1 simulation replicas" in n for n in with_replicas.notes)


def test_replica_count_is_checked() -> None:
    with pytest.raises(ValueError, match="replicas: too few"):
        simulate_replicas(CONFIG, 0)
