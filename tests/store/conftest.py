"""Shared fixtures: one base and one slow_v2g run per session, and a fresh store file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from evflex.checks import run_checks
from evflex.model import Results, run
from evflex.outputs.tables import energy_funnel
from evflex.scenario import parameter_table


def run_tables(results: Results) -> dict[str, pd.DataFrame]:
    """The tables `evflex run` writes, built the same way."""
    return {**results.frames(), "checks": run_checks(results),
            "energy_funnel": energy_funnel(results, 2050),
            "assumptions": parameter_table(results.scenario)}


@pytest.fixture(scope="session")
def tables_of():  # type: ignore[no-untyped-def]
    """The function that builds a run's tables as `evflex run` does."""
    return run_tables


@pytest.fixture(scope="session")
def base_run() -> tuple[Results, dict[str, pd.DataFrame]]:
    results = run("base")
    return results, run_tables(results)


@pytest.fixture(scope="session")
def slow_run() -> tuple[Results, dict[str, pd.DataFrame]]:
    results = run("slow_v2g")
    return results, run_tables(results)


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "runs.duckdb"
