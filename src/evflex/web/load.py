"""A bounded load test of a running explorer on loopback: many ``POST /api/run``.

>>> report = asyncio.run(load_test("http://127.0.0.1:8050"))    # doctest: +SKIP
>>> report.errors, report.p50_ms, report.p99_ms                  # doctest: +SKIP

Each request sets a different number (the enrolment end value walks through its range),
so each one runs the engine rather than hitting the result cache. The count, the
concurrency and the time are bounded; only loopback addresses are accepted.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass, field
from urllib.parse import urlparse

#: Hosts the load test may target.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
#: Most requests, concurrency and seconds of one load test.
MAX_REQUESTS, MAX_CONCURRENCY, MAX_SECONDS = 5000, 100, 600.0


@dataclass
class LoadReport:
    """Outcome of a load test: latencies [ms] of the requests that completed, errors."""

    requests: int
    concurrency: int
    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def quantile(self, q: float) -> float:
        values = sorted(self.latencies_ms)
        if not values:
            return float("nan")
        return values[min(len(values) - 1, max(0, round(q * (len(values) - 1))))]

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.latencies_ms) if self.latencies_ms else float("nan")

    @property
    def p99_ms(self) -> float:
        return self.quantile(0.99)

    @property
    def throughput(self) -> float:
        """Completed requests per second."""
        return len(self.latencies_ms) / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        return (f"{self.requests} requests, {self.concurrency} concurrent: "
                f"{len(self.errors)} errors, p50 {self.p50_ms:.0f} ms, p99 {self.p99_ms:.0f} ms, "
                f"{self.throughput:.1f} requests/s over {self.seconds:.1f} s")


#: Regions the load test cycles through on the base scenario.
BASE_REGIONS = ("World", "China", "Europe", "USA", "RestOfWorld")


def request_body(i: int, n: int, scenario: str = "base",
                 regions: tuple[str, ...] = BASE_REGIONS) -> dict[str, object]:
    """The ``i``-th of ``n`` requests: a distinct enrolment end value, each region in turn."""
    return {"scenario": scenario, "region": regions[i % len(regions)],
            "overrides": {"v2g_enrolled": {"end": round(0.2 + 0.7 * i / max(n, 1), 6)}}}


async def load_test(url: str, requests: int = 500, concurrency: int = 20,
                    timeout_s: float = 300.0, scenario: str = "base",
                    regions: tuple[str, ...] = BASE_REGIONS) -> LoadReport:
    """``requests`` POSTs to ``url``/api/run, ``concurrency`` at a time, within ``timeout_s``,
    on the shipped ``scenario``, shown for each of ``regions`` in turn."""
    import httpx

    host = urlparse(url).hostname or ""
    if host not in LOOPBACK_HOSTS:
        raise ValueError(f"load tests target loopback only (got {host!r}, expected one of "
                         f"{LOOPBACK_HOSTS})")
    if not (1 <= requests <= MAX_REQUESTS and 1 <= concurrency <= MAX_CONCURRENCY
            and 0 < timeout_s <= MAX_SECONDS):
        raise ValueError(f"load test out of bounds (got {requests} requests, {concurrency} "
                         f"concurrent, {timeout_s} s; expected at most {MAX_REQUESTS}, "
                         f"{MAX_CONCURRENCY}, {MAX_SECONDS} s)")
    report = LoadReport(requests, concurrency)
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60.0) as client:
        async def one(i: int) -> None:
            async with gate:
                start = time.perf_counter()
                try:
                    r = await client.post("/api/run",
                                          json=request_body(i, requests, scenario, regions))
                except httpx.HTTPError as exc:
                    report.errors.append(f"request {i}: {type(exc).__name__}: {exc}")
                    return
                elapsed = (time.perf_counter() - start) * 1e3
                if r.status_code != 200:
                    report.errors.append(f"request {i}: HTTP {r.status_code}: {r.text[:200]}")
                    return
                body = r.json()
                total = sum(s["share"][-1] for s in body["states"])
                if abs(total - 1.0) > 1e-6:
                    report.errors.append(f"request {i}: states sum to {total} in the last year")
                    return
                report.latencies_ms.append(elapsed)

        start = time.perf_counter()
        try:
            await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(requests))),
                                   timeout=timeout_s)
        except TimeoutError:
            report.errors.append(f"stopped after {timeout_s} s")
        report.seconds = time.perf_counter() - start
    return report
