"""Scenarios: the schema, loading with ``extends``, validation and path evaluation."""

from evflex.scenario.load import (
    Problem,
    ScenarioError,
    load_scenario,
    models_to_sales_share,
    parameter_table,
    registry,
    shipped_scenarios,
    validated,
)
from evflex.scenario.schema import Scenario

__all__ = [
    "Problem",
    "Scenario",
    "ScenarioError",
    "load_scenario",
    "models_to_sales_share",
    "parameter_table",
    "registry",
    "shipped_scenarios",
    "validated",
]
