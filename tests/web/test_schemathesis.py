"""schemathesis over the explorer's OpenAPI schema: no request it generates from the
schema (valid or not) gets a 5xx, and every answer is one the schema documents (status
code, content type, body, headers).

Not checked: that every schema-valid request is accepted (``positive_data_acceptance``):
the schema cannot say that the funnel year lies inside the chosen scenario's years or
that an override stays within its parameter's bounds; those get 422 naming the field.
The default suite covers the light routes (scenarios, one engine run); ``pytest -m slow``
adds the checks and judgement, the downloads and Monte Carlo, and more examples.
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from starlette.exceptions import StarletteDeprecationWarning

from evflex.web.app import create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app())

CHECKS: dict[str, Any] = {"excluded_checks": [schemathesis.checks.positive_data_acceptance]}
LIGHT = schema.include(path_regex="^/api/(scenarios|run)$")
HEAVY = schema.include(path_regex="^/(api/(checks|uncertainty)|download/.*)$")


@LIGHT.parametrize()
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
def test_light_routes_answer_as_documented(case: Any) -> None:
    response = case.call_and_validate(**CHECKS)
    assert response.status_code < 500


@pytest.mark.slow
@HEAVY.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_heavy_routes_answer_as_documented(case: Any) -> None:
    response = case.call_and_validate(**CHECKS)
    assert response.status_code < 500


@pytest.mark.slow
@LIGHT.parametrize()
@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
def test_light_routes_answer_as_documented_long(case: Any) -> None:
    response = case.call_and_validate(**CHECKS)
    assert response.status_code < 500
