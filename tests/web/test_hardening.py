"""The explorer sheds load, checks Host, takes strict types and never answers 5xx to any
body (issue 16): hand-made cases plus hypothesis over the JSON API."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evflex.web.app import Admission, allowed_hosts, host_of

#: Statuses a well-behaved explorer may answer: fine, bad input, too large, wrong host, busy.
ALLOWED = {200, 413, 421, 422, 503}


@pytest.mark.parametrize(("body", "field"), [
    ({"overrides": {"v2g_enrolled": {"end": True}}}, "overrides.v2g_enrolled.end"),
    ({"overrides": {"v2g_enrolled": {"end": "0.5"}}}, "overrides.v2g_enrolled.end"),
    ({"funnel_year": True}, "funnel_year"),
    ({"funnel_year": 2050.5}, "funnel_year"),
    ({"region": 7}, "region"),
])
def test_types_are_strict(client: Any, body: dict[str, Any], field: str) -> None:
    r = client.post("/api/run", json=body)
    assert r.status_code == 422
    assert any(m.startswith(field) for m in r.json()["messages"]), r.json()["messages"]


def test_json_integers_are_numbers(client: Any) -> None:
    r = client.post("/api/run", json={"overrides": {"v2g_enrolled": {"end": 1}}})
    assert r.status_code == 200


@pytest.mark.parametrize(("host", "status"), [
    ("127.0.0.1:8050", 200), ("localhost:8050", 200), ("[::1]:8050", 200),
    ("evil.example", 421), ("evil.example:8050", 421), ("127.0.0.1.evil.example", 421),
    ("", 421),
])
def test_host_header_is_checked(client: Any, host: str, status: int) -> None:
    r = client.get("/api/scenarios", headers={"host": host})
    assert r.status_code == status


def test_allowed_hosts_follow_the_bound_address() -> None:
    assert "evil.example" not in allowed_hosts("127.0.0.1")
    assert allowed_hosts("0.0.0.0") == ["*"]
    assert "192.168.1.5" in allowed_hosts("192.168.1.5")
    assert host_of("[::1]:80") == "::1" and host_of("Example.org:1") == "example.org"


def test_admission_answers_503_with_retry_after_when_full() -> None:
    """A burst over the bound is refused at once, not queued behind the slots."""
    async def slow(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await asyncio.sleep(0.3)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    async def burst() -> list[tuple[int, str | None, float]]:
        app = Admission(slow, {"engine": 3, "heavy": 1})
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            async def one(path: str) -> tuple[int, str | None, float]:
                start = time.perf_counter()
                r = await c.post(path, json={})
                return r.status_code, r.headers.get("retry-after"), time.perf_counter() - start
            return await asyncio.gather(*[one("/api/run") for _ in range(10)],
                                        *[one("/api/uncertainty") for _ in range(5)],
                                        one("/api/scenarios"))

    out = asyncio.run(burst())
    engine, heavy, light = out[:10], out[10:15], out[15]
    assert sorted(s for s, _, _ in engine) == [200] * 3 + [503] * 7
    assert sorted(s for s, _, _ in heavy) == [200] + [503] * 4
    assert all(r is not None and int(r) >= 1 for s, r, _ in engine + heavy if s == 503)
    assert all(t < 0.2 for s, _, t in engine + heavy if s == 503)  # refused at once
    assert light[0] == 200  # light requests are not counted


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70)
    | st.floats() | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=20), children, max_size=4), max_leaves=12)
_override_key = st.sampled_from(["v2g_enrolled", "ev_sales_share/USA", "export_power_kw",
                                 "charger_power_kw", "nope", "v2g_enrolled/Mars", ""])
_target = st.sampled_from(["value", "start", "end", "midpoint", "steepness", "x"])
_number = (st.floats(width=64) | st.integers(-(10**30), 10**30)
           | st.just(0) | st.just(1e308) | st.booleans() | st.text(max_size=5))
_body = st.fixed_dictionaries({}, optional={
    "scenario": st.sampled_from(["base", "slow_v2g", "uncertain", "../etc/passwd", ""]),
    "region": st.sampled_from(["World", "China", "USA", "Mars", ""]),
    "funnel_year": st.integers(1800, 2400) | st.floats() | st.booleans(),
    "overrides": st.dictionaries(_override_key, st.dictionaries(_target, _number,
                                                                max_size=3), max_size=3),
    "draws": st.integers(-5, 10**6), "seed": st.integers(-5, 2**40),
}) | _json


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(path=st.sampled_from(["/api/run", "/api/checks"]), body=_body)
def test_no_body_gets_a_server_error(raw_client: Any, path: str, body: Any) -> None:
    r = raw_client.post(path, content=json.dumps(body).encode(),
                        headers={"content-type": "application/json"})
    assert r.status_code in ALLOWED, (r.status_code, r.text[:300])
    if r.status_code == 422:
        assert r.json()["messages"]


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(query=st.dictionaries(st.sampled_from(["scenario", "region", "year", "v2g_enrolled.end",
                                              "export_power_kw.value", "x.y", "a"]),
                             st.text(max_size=12), max_size=4),
       name=st.sampled_from(["tables.zip", "report.html", "x.exe", "..%2f"]))
def test_no_download_query_gets_a_server_error(raw_client: Any, query: dict[str, str],
                                               name: str) -> None:
    r = raw_client.get(f"/download/{name}", params=query)
    assert r.status_code in ALLOWED | {404}, (r.status_code, r.text[:300])


@pytest.fixture(scope="module")
def raw_client() -> Any:
    """A client that reports server errors as 500 responses instead of raising them."""
    import warnings

    from starlette.exceptions import StarletteDeprecationWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StarletteDeprecationWarning)
        from fastapi.testclient import TestClient

    from evflex.web.app import create_app

    with TestClient(create_app(), raise_server_exceptions=False) as c:
        yield c
