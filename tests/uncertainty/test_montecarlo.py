"""Monte Carlo: against single runs drawn one by one, seeds, chunks, and a Dask cluster."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evflex.model import run
from evflex.scenario import Scenario
from evflex.states import STATES
from evflex.uncertainty.distributions import Space
from evflex.uncertainty.execute import BLOCK, Executor, chunks
from evflex.uncertainty.montecarlo import NoDistributions, run_montecarlo
from evflex.uncertainty.solve import with_numbers


def test_quantiles_equal_single_runs_of_each_drawn_scenario(small_uncertain: Scenario) -> None:
    """An independent path: each draw written into a scenario and run alone."""
    draws, seed = 12, 5
    mc = run_montecarlo(small_uncertain, draws, seed)
    space = Space.from_scenario(small_uncertain)
    [chunk] = chunks(seed, 0, draws, draws)
    values = chunk.draw(space)
    shares, power = [], []
    for row in values:
        results = run(with_numbers(small_uncertain, dict(zip(space.names, row, strict=True))))
        shares.append([results.world_state_shares(y)["v2g"] for y in (2050, 2100)])
        cap = results.capacity_frame()
        power.append(cap[(cap["region"] == "World") & (cap["metric"] == "v2g_export_power")
                         & (cap["year"] == 2100)]["value"].iloc[0])
    q = mc.states_quantiles.set_index(["region", "year", "state"])
    for k, year in enumerate((2050, 2100)):
        got = q.loc[("World", year, "v2g"), ["p05", "p25", "p50", "p75", "p95"]].to_numpy()
        expected = np.quantile(np.array(shares)[:, k], [0.05, 0.25, 0.5, 0.75, 0.95])
        np.testing.assert_allclose(got, expected, rtol=1e-9)
    c = mc.capacity_quantiles.set_index(["region", "year", "metric"])
    got = c.loc[("World", 2100, "v2g_export_power"), ["p05", "p50", "p95"]].to_numpy()
    np.testing.assert_allclose(got, np.quantile(power, [0.05, 0.5, 0.95]), rtol=1e-9)
    assert np.ptp(np.array(shares)[:, 1]) > 0.01  # the draws do differ


def test_tables_have_the_documented_columns_and_ordered_quantiles(
        small_uncertain: Scenario) -> None:
    mc = run_montecarlo(small_uncertain, 200, 1)
    sq = mc.states_quantiles
    assert list(sq.columns) == ["region", "year", "state", "p05", "p25", "p50", "p75", "p95"]
    assert list(mc.capacity_quantiles.columns) == ["region", "year", "metric", "unit", "p05",
                                                   "p25", "p50", "p75", "p95"]
    assert set(sq["region"]) == {"China", "Europe", "USA", "RestOfWorld", "World"}
    assert set(sq["state"]) == set(STATES)
    values = sq[["p05", "p25", "p50", "p75", "p95"]].to_numpy()
    assert np.all(np.diff(values, axis=1) >= -1e-15)
    assert np.all((values >= 0) & (values <= 1))
    # medians of the states of one cell sum close to one (each draw sums to exactly one)
    med = sq[(sq["region"] == "World") & (sq["year"] == 2100)]["p50"].sum()
    assert 0.9 < med < 1.1


def test_same_seed_same_results_whatever_the_chunk_size(small_uncertain: Scenario) -> None:
    n = 1100 + 3 * BLOCK + 5  # beyond the pilot: the sketch path
    a = run_montecarlo(small_uncertain, n, 11, chunk_size=64)
    b = run_montecarlo(small_uncertain, n, 11, chunk_size=400)
    pd.testing.assert_frame_equal(a.states_quantiles, b.states_quantiles, check_exact=True)
    pd.testing.assert_frame_equal(a.capacity_quantiles, b.capacity_quantiles, check_exact=True)
    c = run_montecarlo(small_uncertain, n, 12, chunk_size=400)
    assert not a.states_quantiles.equals(c.states_quantiles)


def test_identical_on_a_dask_cluster(small_uncertain: Scenario, cluster: object) -> None:
    n = 1200
    here = run_montecarlo(small_uncertain, n, 4, chunk_size=64)
    there = run_montecarlo(small_uncertain, n, 4, chunk_size=64,
                           executor=Executor(client=cluster))
    assert there.where.startswith("Dask scheduler")
    pd.testing.assert_frame_equal(here.states_quantiles, there.states_quantiles,
                                  check_exact=True)
    pd.testing.assert_frame_equal(here.capacity_quantiles, there.capacity_quantiles,
                                  check_exact=True)


def test_progress_reaches_the_number_of_draws(small_uncertain: Scenario) -> None:
    seen: list[tuple[int, int]] = []
    run_montecarlo(small_uncertain, 1300, 2, chunk_size=128,
                   progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (1300, 1300)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_a_scenario_without_distributions_is_refused(base: Scenario) -> None:
    with pytest.raises(NoDistributions, match="has no distributions"):
        run_montecarlo(base, 10, 1)
