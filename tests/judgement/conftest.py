"""Fixtures of the judgement tests: the shipped ledger and two engine runs (base, slow_v2g)."""

from __future__ import annotations

import pandas as pd
import pytest

from evflex.judgement import load_evidence
from evflex.model import Results, run


@pytest.fixture(scope="session")
def ledger() -> pd.DataFrame:
    return load_evidence()


@pytest.fixture(scope="session")
def base_run() -> Results:
    return run("base")


@pytest.fixture(scope="session")
def slow_run() -> Results:
    return run("slow_v2g")
