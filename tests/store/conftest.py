"""Shared fixtures: one base and one slow_v2g run per session, and a fresh store file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from evflex.model import Results, run
from evflex.pipeline import finish


def run_tables(results: Results) -> dict[str, pd.DataFrame]:
    """The engine tables `evflex run` writes (no judgement), from the pipeline."""
    return finish(results, funnel_year=2050, judgement=False).tables


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
