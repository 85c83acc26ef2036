"""Shared fixtures: one base run per test session (the engine is pure, runs are cheap)."""

from __future__ import annotations

import pytest

from evflex.model import Results, run
from evflex.scenario import Scenario, load_scenario


@pytest.fixture(scope="session")
def base_scenario() -> Scenario:
    return load_scenario("base")


@pytest.fixture(scope="session")
def base_results(base_scenario: Scenario) -> Results:
    return run(base_scenario)
