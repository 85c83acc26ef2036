"""Shared fixtures of the uncertainty tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from evflex.scenario import Scenario, load_scenario

HEADER = "extends: base\nname: child\nversion: '1'\n"


@pytest.fixture(scope="session")
def uncertain() -> Scenario:
    return load_scenario("uncertain")


@pytest.fixture(scope="session")
def base() -> Scenario:
    return load_scenario("base")


@pytest.fixture(scope="session")
def small_uncertain(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    """Base with three distributions, one correlation: quick to sample and to analyse."""
    path: Path = tmp_path_factory.mktemp("scenarios") / "small.yaml"
    path.write_text(HEADER + """
uncertainty:
  correlations:
    - {between: [v2g_enrolled.end, export_permitted.end], rho: 0.6, source: assumption}
parameters:
  v2g_enrolled:
    dist:
      end: {kind: triangular, low: 0.4, mode: 0.745, high: 0.9, source: assumption}
  export_permitted:
    dist:
      end: {kind: uniform, low: 0.7, high: 1.0, source: assumption}
  survival_mean_life:
    dist:
      value: {kind: normal, mean: 20, sd: 2, low: 15, high: 25, source: assumption}
""")
    return load_scenario(path)


@pytest.fixture(scope="module")
def cluster() -> Iterator[object]:
    """A real Dask distributed cluster on this machine: 2 workers, in-process threads."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address=None) as lc, Client(lc) as client:
        yield client
