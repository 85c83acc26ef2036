"""A bounded load test of the real server on loopback: 500 requests, 20 at a time, each
running the engine on a new setting; no errors, and the latencies are reported."""

from __future__ import annotations

import asyncio

import pytest
from web_support import LiveServer

from evflex.web.load import load_test, request_body
from evflex.web.server import ServerProcess


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_500_requests_20_concurrent_without_errors(workers: int,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """``evflex serve [--workers 2]`` in its own process, the client in this one."""
    with ServerProcess(workers=workers) as server:
        report = asyncio.run(load_test(server.url, requests=500, concurrency=20,
                                       timeout_s=300))
    with capsys.disabled():
        print(f"\nload test, {workers} worker(s): {report.summary()}")
    assert report.errors == []
    assert len(report.latencies_ms) == 500
    assert report.p50_ms <= report.p99_ms


def test_load_test_is_bounded_to_loopback_and_counts() -> None:
    with pytest.raises(ValueError, match="loopback only"):
        asyncio.run(load_test("http://192.0.2.1:8050", requests=1))
    with pytest.raises(ValueError, match="out of bounds"):
        asyncio.run(load_test("http://127.0.0.1:9", requests=10**6))
    bodies = [request_body(i, 500) for i in range(500)]
    ends = {b["overrides"]["v2g_enrolled"]["end"] for b in bodies}  # type: ignore[index]
    assert len(ends) == 500, "each request a new setting: no result cache hit"


def test_small_load_without_errors(live_server: LiveServer) -> None:
    report = asyncio.run(load_test(live_server.url, requests=20, concurrency=5, timeout_s=60))
    assert report.errors == [] and len(report.latencies_ms) == 20
