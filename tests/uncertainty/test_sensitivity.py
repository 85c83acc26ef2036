"""Sobol indices: the seeded chain against the Ishigami function's analytic indices."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from evflex.scenario import Scenario
from evflex.scenario.schema import Distribution, DistSite
from evflex.uncertainty.ensemble import Quantity
from evflex.uncertainty.execute import Executor
from evflex.uncertainty.sensitivity import run_sensitivity, sobol_chain

A_ISHIGAMI, B_ISHIGAMI = 7.0, 0.1


def ishigami(x: np.ndarray) -> np.ndarray:
    """Ishigami & Homma (1990): sin x1 + a sin² x2 + b x3⁴ sin x1."""
    return (np.sin(x[:, 0]) + A_ISHIGAMI * np.sin(x[:, 1]) ** 2
            + B_ISHIGAMI * x[:, 2] ** 4 * np.sin(x[:, 0]))


def ishigami_indices() -> tuple[np.ndarray, np.ndarray]:
    """Analytic first-order and total indices for x_i ~ U(-π, π) (Sobol' & Levitan 1999)."""
    a, b, pi = A_ISHIGAMI, B_ISHIGAMI, np.pi
    v1 = 0.5 * (1 + b * pi**4 / 5) ** 2
    v2 = a**2 / 8
    v13 = b**2 * pi**8 * (1 / 18 - 1 / 50)
    v = v1 + v2 + v13
    return np.array([v1, v2, 0.0]) / v, np.array([v1 + v13, v2, v13]) / v


def _space() -> object:
    from evflex.uncertainty.distributions import Space

    dist = Distribution(kind="uniform", low=-np.pi, high=np.pi, source="assumption")
    return Space(tuple(DistSite(f"x{i}", None, "value", dist, 0.0) for i in (1, 2, 3)),
                 np.eye(3))


def test_chain_recovers_the_analytic_ishigami_indices() -> None:
    table = sobol_chain(_space(), ishigami, ["y"], 8192, seed=42, chunk_rows=5000)
    s1, st = ishigami_indices()
    np.testing.assert_allclose(table["S1"], s1, atol=0.02)
    np.testing.assert_allclose(table["ST"], st, atol=0.02)
    # the confidence intervals are honest about that precision
    assert np.all(table["ST_conf"] < 0.05)


def test_chain_is_identical_on_a_dask_cluster(cluster: object) -> None:
    here = sobol_chain(_space(), ishigami, ["y"], 512, seed=3, chunk_rows=700)
    there = sobol_chain(_space(), ishigami, ["y"], 512, seed=3, chunk_rows=700,
                        executor=Executor(client=cluster))
    pd.testing.assert_frame_equal(here, there, check_exact=True)


def test_samples_must_be_a_power_of_two() -> None:
    message = "not a power of two (got 1000, expected e.g. 1024"
    with pytest.raises(ValueError, match=re.escape(message)):
        sobol_chain(_space(), ishigami, ["y"], 1000, seed=1)


def test_engine_indices_find_what_drives_each_output(small_uncertain: Scenario) -> None:
    regions, years = [*small_uncertain.regions, "World"], small_uncertain.years_axis
    outputs = [Quantity.parse(q, regions, years) for q in ("v2g:2100", "smart_only:2030")]
    result = run_sensitivity(small_uncertain, 256, seed=1, outputs=outputs)
    assert result.notes and "independent inputs" in result.notes[0]
    table = result.sobol.set_index(["output", "input"])
    v2g = outputs[0].description
    # V2G in 2100: both V2G filters matter, more than the survival curve
    assert table.loc[(v2g, "v2g_enrolled.end"), "ST"] > 0.3
    assert table.loc[(v2g, "export_permitted.end"), "ST"] > 0.1
    assert (table.loc[(v2g, "survival_mean_life.value"), "ST"]
            < table.loc[(v2g, "v2g_enrolled.end"), "ST"])
    # smart charging in 2030 cannot depend on the V2G filters' 2100 end values... much:
    # the V2G state removes vehicles from the smart pool, so only survival matters
    smart = outputs[1].description
    assert table.loc[(smart, "survival_mean_life.value"), "ST"] > 0.9
    assert table.loc[(smart, "v2g_enrolled.end"), "ST"] < 0.05
