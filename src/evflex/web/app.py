"""The explorer's server: the page, its assets, the JSON API and the downloads.

>>> from evflex.web.app import create_app
>>> app = create_app()                      # doctest: +SKIP
>>> # uvicorn.run(app, host="127.0.0.1", port=8050)

Routes:

- ``GET /``: the page; ``GET /static/...``: its assets, all local (plotly.js comes from
  the installed ``plotly`` package, no CDN);
- ``GET /api/scenarios``: shipped scenarios, the page's controls and the request limits;
- ``POST /api/run``: a shipped scenario with overrides → the charts' data;
- ``POST /api/checks``: the same run's denominator checks (and scorecard, where the
  judgement exists);
- ``GET /download/{workbook.xlsx|report.html|tables.zip}?<page state>``: the run's files;
- ``GET /docs``: the API described from ``/openapi.json`` by a local page.

Compute is bounded: request bodies over :data:`MAX_BODY_BYTES` get 413; at most
:data:`MAX_OVERRIDES` overrides, each inside the registry bounds; the year axis is the
shipped scenario's (a client cannot extend it); no draws are accepted; at most
:data:`ENGINE_SLOTS` engine runs and :data:`FILE_SLOTS` file builds at a time. Recent
runs are cached (:data:`RESULT_CACHE`), keyed by scenario and overrides. Only shipped
scenario names are loaded: nothing a client sends becomes a path.
"""

from __future__ import annotations

import io
import json
import math
import os
import tempfile
import time
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping, Sequence
from contextlib import asynccontextmanager
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
from anyio import CapacityLimiter, to_thread
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from evflex import __version__
from evflex.capacity import METRICS
from evflex.model import Results
from evflex.model import run as run_model
from evflex.outputs.content import region_choices, region_label
from evflex.outputs.style import DELIVERABLE_COLOUR, FUNNEL_COLOUR, STATE_COLOURS, STATE_LABELS
from evflex.pipeline import Run, finish
from evflex.regions import hierarchy
from evflex.web.api import (
    ERROR_RESPONSES,
    MAX_DRAWS,
    MIN_DRAWS,
    ChecksResponse,
    ControlInfo,
    RunRequest,
    RunResponse,
    ScenarioInfo,
    ScenariosResponse,
    UncertaintyRequest,
    UncertaintyResponse,
    errors_of,
    request_problems,
)
from evflex.web.overrides import (
    MAX_OVERRIDES,
    OverrideError,
    overridden_scenario,
    parse_site,
    shipped_names,
    shipped_scenario,
)
from evflex.web.view import controls_table, reference_view, view

#: Largest request body read [bytes]; a request with overrides on every control is ~2 kB.
MAX_BODY_BYTES = 16_384
#: Engine runs at a time, each in a worker thread. The engine's arrays are small and its
#: numpy calls hold the interpreter lock, so a second thread adds lock hand-offs, not
#: throughput (measured under 500 x 20 load: 17 vs 23 ms of server CPU per request);
#: more cores are used by more processes (``evflex serve --workers``).
ENGINE_SLOTS = 1
#: Workbook, report or zip builds at a time (each takes up to a second).
FILE_SLOTS = 1
#: Recent runs kept, keyed by scenario and overrides.
RESULT_CACHE = 64
#: Requests admitted at once (running or waiting for a slot): engine runs (``/api/run``,
#: ``/api/checks``) and heavy builds (``/api/uncertainty``, ``/download/...``). More get
#: 503 with ``Retry-After`` [s] instead of an ever longer wait.
ADMIT = {"engine": 32, "heavy": 4}
RETRY_AFTER_S = {"engine": 1, "heavy": 5}
#: Host names a loopback-bound explorer answers to (DNS-rebinding defence); ``testserver``
#: is Starlette's test client, a name no DNS resolves.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "testserver")
#: Query keys of the page state that are not overrides.
STATE_KEYS = ("scenario", "region", "year")

Overrides = tuple[tuple[str, tuple[tuple[str, float], ...]], ...]


def static_dir() -> Path:
    """The folder of the page's own assets (package data)."""
    return Path(str(resources.files("evflex.web").joinpath("static")))


def plotly_js_path() -> Path:
    """plotly.min.js as shipped inside the installed ``plotly`` package."""
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


# ----------------------------------------------------------------------------- runs
def _key(overrides: dict[str, dict[str, float]]) -> Overrides:
    return tuple(sorted((k, tuple(sorted(v.items()))) for k, v in overrides.items()))


@lru_cache(maxsize=RESULT_CACHE)
def _cached_run(name: str, key: Overrides) -> tuple[Results, list[dict[str, Any]], float,
                                                   float]:
    start = time.perf_counter()
    scenario, changes = overridden_scenario(name, {k: dict(v) for k, v in key})
    mid = time.perf_counter()
    results = run_model(scenario)
    end = time.perf_counter()
    return results, changes, (mid - start) * 1e3, (end - mid) * 1e3


def run_request(request: RunRequest, where: str = "body"
                ) -> tuple[Results, list[dict[str, Any]], dict[str, float]]:
    """Check and run a request; raises :class:`RequestValidationError` naming the field."""
    errors = request_problems(request, where)
    if errors:
        raise RequestValidationError(errors)
    start = time.perf_counter()
    hits = _cached_run.cache_info().hits
    try:
        results, changes, t_scenario, t_engine = _cached_run(
            request.scenario, _key(request.override_numbers()))
    except OverrideError as exc:
        raise RequestValidationError(errors_of(exc, where)) from None
    cached = _cached_run.cache_info().hits > hits
    timing = {"scenario": 0.0 if cached else t_scenario, "engine": 0.0 if cached else t_engine,
              "total": (time.perf_counter() - start) * 1e3, "cached": float(cached)}
    return results, changes, timing


def request_from_query(params: MutableMapping[str, str] | Any) -> RunRequest:
    """The page state of a query string (``scenario, region, year``, ``param.target=x``)."""
    errors: list[dict[str, Any]] = []
    overrides: dict[str, dict[str, float]] = {}
    fields: dict[str, Any] = {}
    for key in params:
        value = params[key]
        if key == "year":
            fields["funnel_year"] = int(value) if value.isdigit() and len(value) <= 4 else value
        elif key in STATE_KEYS:
            fields[key] = value
        else:
            try:
                where, target = parse_site(key)
                number = float(value)
            except ValueError as exc:
                msg = (f"not a number (got {value[:40]!r}, expected a number)"
                       if "." in key and not str(exc).startswith("not a") else str(exc))
                errors.append({"loc": ("query", key[:80]), "type": "value_error",
                               "msg": msg, "input": value[:80]})
                continue
            overrides.setdefault(where, {})[target] = number
    try:
        request = RunRequest.model_validate({**fields, "overrides": overrides})
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(err["loc"])
            if loc and loc[0] == "overrides" and len(loc) >= 3:
                loc = (f"{loc[1]}.{loc[2]}",)
            elif loc == ("funnel_year",):
                loc = ("year",)
            errors.append({**err, "loc": ("query", *loc)})
        raise RequestValidationError(errors) from None
    if errors:
        raise RequestValidationError(errors)
    return request


def full_run(results: Results, funnel_year: int | None = None) -> Run:
    """The whole pipeline on a (cached) engine run: checks, energy funnel, judgement."""
    return finish(results, funnel_year=funnel_year)


def json_response(model: type[BaseModel], content: Any) -> Response:
    """``content`` validated as ``model`` and serialised to JSON in the calling thread (a
    worker's, not the event loop's: pydantic's serialiser, not ``json.dumps``)."""
    return Response(model.model_validate(content).model_dump_json(),
                    media_type="application/json")


def run_view(request: RunRequest) -> dict[str, Any]:
    """The charts' data of a request (``POST /api/run``)."""
    results, changes, timing = run_request(request)
    start = time.perf_counter()
    data = view(results, request.region, request.funnel_year)
    reference = None
    if changes:
        shipped = request.model_copy(update={"overrides": {}})
        ref_results, _, _ = run_request(shipped)
        reference = reference_view(ref_results, request.region)
    timing["view"] = (time.perf_counter() - start) * 1e3
    timing["total"] += timing["view"]
    return {"scenario": request.scenario, "version": results.scenario.version,
            "region": request.region, **data, "changes": changes,
            "reference": reference, "timing_ms": timing}


def run_checks_view(request: RunRequest) -> ChecksResponse:
    """The checks and scorecard of a request (``POST /api/checks``)."""
    results, _, _ = run_request(request)
    the_run = full_run(results, request.funnel_year)
    checks, note = the_run.checks, ""
    scorecard = the_run.judgement.get("scorecard")
    rows = [{"check": str(r["check"]), "status": str(r["status"]),
             "value": None if pd.isna(r["value"]) else float(r["value"]),
             "limit": "" if pd.isna(r["limit"]) else str(r["limit"]),
             "detail": str(r["detail"])} for r in checks.to_dict("records")]
    return ChecksResponse(
        checks=rows, note=note,
        scorecard=None if scorecard is None else jsonable_encoder(
            scorecard.astype(object).where(scorecard.notna(), None).to_dict("records")))


def run_uncertainty(request: UncertaintyRequest) -> dict[str, Any]:
    """Monte Carlo quantiles of a request (``POST /api/uncertainty``)."""
    from evflex.uncertainty.montecarlo import NoDistributions, run_montecarlo
    from evflex.uncertainty.sketch import QUANTILES

    errors = request_problems(request)
    if errors:
        raise RequestValidationError(errors)
    try:
        scenario, _ = overridden_scenario(request.scenario, request.override_numbers())
    except OverrideError as exc:
        raise RequestValidationError(errors_of(exc)) from None
    if not scenario.distributions():
        with_dist = [n for n in shipped_names() if shipped_scenario(n).distributions()]
        raise RequestValidationError([{
            "loc": ("body", "scenario"), "type": "value_error", "input": request.scenario,
            "msg": f"nothing to draw in this scenario (got {request.scenario!r} with no "
            f"distributions left, expected one of {with_dist})"}])
    start = time.perf_counter()
    try:
        mc = run_montecarlo(scenario, draws=request.draws, seed=request.seed)
    except NoDistributions as exc:  # pragma: no cover - checked above
        raise RequestValidationError([{"loc": ("body", "scenario"), "msg": str(exc),
                                       "type": "value_error"}]) from None
    table = mc.states_quantiles
    table = table[table["region"] == request.region].sort_values(["state", "year"])
    names = [f"p{round(q * 100):02d}" for q in QUANTILES]
    share = {str(state): {q: [None if pd.isna(v) else float(v) for v in group[q]]
                          for q in names}
             for state, group in table.groupby("state", sort=False)}
    return {"scenario": request.scenario, "region": request.region,
            "draws": request.draws, "seed": request.seed,
            "years": list(scenario.years_axis), "quantiles": names, "share": share,
            "varied": [d.name for d in scenario.distributions()], "notes": mc.notes,
            "timing_ms": (time.perf_counter() - start) * 1e3}


def build_download(request: RunRequest, ext: str) -> tuple[bytes, list[dict[str, Any]]]:
    """The file of a request's run (``xlsx``, ``html`` or ``zip``) and its changes."""
    results, changes, _ = run_request(request, "query")
    # The workbook of a country view gives that country rows of its own (blocks and the
    # World are always there).
    own = ([request.region] if results.blocks and request.region in results.scenario.regions
           else None)
    return _build_file(ext, results, full_run(results, request.funnel_year).tables,
                       own), changes


# ----------------------------------------------------------------------------- limits
class BodyLimit:
    """ASGI middleware: a request body over ``limit`` bytes gets 413, unread."""

    def __init__(self, app: Any, limit: int = MAX_BODY_BYTES):
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict[str, Any], receive: Callable[[], Awaitable[Any]],
                       send: Callable[[Any], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None:
            if not length.isdigit() or int(length) > self.limit:
                await self._reject(send)
                return
            await self.app(scope, receive, send)
            return
        # No length given (chunked): read up to the limit first, then hand the body on.
        body = b""
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message]), send)
                return
            body += message.get("body", b"")
            if len(body) > self.limit:
                await self._reject(send)
                return
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay([{"type": "http.request", "body": body,
                                        "more_body": False}], receive), send)

    async def _reject(self, send: Callable[[Any], Awaitable[None]]) -> None:
        body = json.dumps({"detail": [{"loc": ["body"], "type": "too_large",
                                       "msg": f"request body over {self.limit} bytes"}],
                           "messages": [f"body: request body over {self.limit} bytes"]}
                          ).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def _json_response(status: int, message: str, kind: str,
                   headers: list[tuple[bytes, bytes]] | None = None
                   ) -> tuple[dict[str, Any], dict[str, Any]]:
    body = json.dumps({"detail": [{"loc": ["request"], "type": kind, "msg": message}],
                       "messages": [message]}).encode()
    start = {"type": "http.response.start", "status": status,
             "headers": [(b"content-type", b"application/json"),
                         (b"content-length", str(len(body)).encode()), *(headers or [])]}
    return start, {"type": "http.response.body", "body": body}


def _class_of(path: str) -> str | None:
    if path in ("/api/run", "/api/checks"):
        return "engine"
    if path == "/api/uncertainty" or path.startswith("/download/"):
        return "heavy"
    return None


class Admission:
    """ASGI middleware: a bounded number of engine and heavy requests in the server.

    A request over the bound (:data:`ADMIT`) is answered at once with 503 and
    ``Retry-After``, so a burst cannot queue without end behind the engine slots.
    """

    def __init__(self, app: Any, admit: dict[str, int] | None = None):
        self.app = app
        self.admit = dict(admit or ADMIT)
        self.in_flight = dict.fromkeys(self.admit, 0)

    async def __call__(self, scope: dict[str, Any], receive: Callable[[], Awaitable[Any]],
                       send: Callable[[Any], Awaitable[None]]) -> None:
        kind = _class_of(scope.get("path", "")) if scope["type"] == "http" else None
        if kind is None:
            await self.app(scope, receive, send)
            return
        if self.in_flight[kind] >= self.admit[kind]:
            retry = RETRY_AFTER_S[kind]
            for message in _json_response(
                    503, f"busy: {self.admit[kind]} {kind} requests in progress; retry in "
                    f"{retry} s", "busy", [(b"retry-after", str(retry).encode())]):
                await send(message)
            return
        self.in_flight[kind] += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight[kind] -= 1


def host_of(header: str) -> str:
    """The host name of a ``Host`` header, without port (``[::1]:8050`` → ``::1``)."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class HostCheck:
    """ASGI middleware: answer only requests whose ``Host`` names this server.

    A page on another site can make a browser send requests to a loopback port through
    a DNS name it controls (DNS rebinding); such requests carry that name in ``Host``
    and get 421. ``*`` in ``allowed`` accepts any host (a server bound to all interfaces).
    """

    def __init__(self, app: Any, allowed: Sequence[str]):
        self.app = app
        self.allowed = {h.strip("[]").lower() for h in allowed}

    async def __call__(self, scope: dict[str, Any], receive: Callable[[], Awaitable[Any]],
                       send: Callable[[Any], Awaitable[None]]) -> None:
        if scope["type"] not in ("http", "websocket") or "*" in self.allowed:
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        host = host_of(headers.get(b"host", b"").decode("latin-1"))
        if host not in self.allowed:
            for message in _json_response(421, f"unknown host (got {host[:80]!r}, expected "
                                          f"one of {sorted(self.allowed)})", "host"):
                await send(message)
            return
        await self.app(scope, receive, send)


def allowed_hosts(host: str) -> list[str]:
    """Host names to answer for a server bound to ``host``."""
    if host in ("0.0.0.0", "::", ""):
        return ["*"]
    if host in LOOPBACK_HOSTS:
        return list(LOOPBACK_HOSTS)
    return [host, *LOOPBACK_HOSTS]


def _replay(messages: list[Any], then: Callable[[], Awaitable[Any]] | None = None
            ) -> Callable[[], Awaitable[Any]]:
    """An ASGI ``receive`` that gives ``messages`` first, then waits on ``then``."""
    queue = list(messages)

    async def receive() -> Any:
        if queue:
            return queue.pop(0)
        if then is None:
            return {"type": "http.disconnect"}
        return await then()

    return receive


def _json_safe(value: Any, depth: int = 0) -> Any:
    """A client's input echoed back: non-finite numbers as text, long text cut, shallow."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str):
        return value[:80]
    if depth > 3:
        return "..."
    if isinstance(value, dict):
        return {str(k)[:80]: _json_safe(v, depth + 1) for k, v in list(value.items())[:50]}
    if isinstance(value, list | tuple):
        return [_json_safe(v, depth + 1) for v in value[:50]]
    return value


def _messages(errors: list[Any]) -> list[str]:
    """One line per problem: ``field.path: message``."""
    out = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ())]
        if loc and loc[0] in ("body", "query"):
            loc = loc[1:]
        msg = str(err.get("msg", "")).removeprefix("Value error, ")
        out.append(f"{'.'.join(loc) or 'request'}: {msg}")
    return out


# ----------------------------------------------------------------------------- the app
SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'self'; script-src 'self'; "
                                "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
                                "connect-src 'self'; object-src 'none'; base-uri 'none'; "
                                "frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class SecurityHeaders:
    """ASGI middleware: :data:`SECURITY_HEADERS` on every response that lacks them (plain
    ASGI: no extra task and stream per request, as ``@app.middleware`` would cost)."""

    def __init__(self, app: Any):
        self.app = app
        self.headers = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]

    async def __call__(self, scope: dict[str, Any], receive: Callable[[], Awaitable[Any]],
                       send: Callable[[Any], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                message = {**message, "headers": [
                    *message.get("headers", []),
                    *((k, v) for k, v in self.headers if k not in present)]}
            await send(message)

        await self.app(scope, receive, with_headers)


def warm_up() -> None:
    """Load every shipped scenario and run the default one (imports, caches)."""
    for name in shipped_names():
        shipped_scenario(name)
    _cached_run("base" if "base" in shipped_names() else shipped_names()[0], ())


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    await to_thread.run_sync(warm_up)
    yield


def create_app(hosts: Sequence[str] = LOOPBACK_HOSTS) -> FastAPI:
    """The explorer as an ASGI app (the first engine run happens at start-up).

    ``hosts``: the ``Host`` names it answers to (:func:`allowed_hosts` of the bound
    address); ``("*",)`` answers any.
    """
    app = FastAPI(
        lifespan=_lifespan,
        title="evflex explorer",
        version=__version__,
        description=("Move an assumption, watch the EV fleet re-sort: each request runs the "
                     "engine on a shipped scenario with overrides. Invalid input gets 422 "
                     "with one message per field (`messages`)."),
        docs_url=None, redoc_url=None,  # their pages load scripts from a CDN; see /docs
    )
    # Compute runs in worker threads, at most this many at a time; the rest wait in the
    # event loop (not in blocked threads that would fight for the interpreter).
    engine, files = CapacityLimiter(ENGINE_SLOTS), CapacityLimiter(FILE_SLOTS)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        """Every other refusal (unreadable body, unknown route or method) in the same
        shape as the validation errors: ``detail`` and one line in ``messages``."""
        where = "body" if exc.status_code == 400 else "request"
        return JSONResponse(status_code=exc.status_code, headers=exc.headers, content={
            "detail": [{"loc": [where], "type": "http_error", "msg": str(exc.detail)}],
            "messages": [f"{where}: {exc.detail}"]})

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        for err in errors:
            err.pop("url", None)
            if isinstance(err.get("ctx"), dict):
                err["ctx"] = {k: str(v) for k, v in err["ctx"].items()}
            if "input" in err:
                err["input"] = _json_safe(err["input"])
        return JSONResponse(status_code=422, content=jsonable_encoder(
            {"detail": errors, "messages": _messages(errors)}))

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(static_dir() / "index.html", media_type="text/html")

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    def docs() -> FileResponse:
        return FileResponse(static_dir() / "docs.html", media_type="text/html")

    @app.get("/static/plotly.min.js", include_in_schema=False)
    def plotly_js() -> FileResponse:
        return FileResponse(plotly_js_path(), media_type="text/javascript",
                            headers={"Cache-Control": "public, max-age=86400"})

    app.mount("/static", StaticFiles(directory=static_dir()), name="static")

    @app.get("/api/scenarios", response_model=ScenariosResponse, tags=["api"],
             responses=ERROR_RESPONSES)
    def scenarios() -> ScenariosResponse:
        """The shipped scenarios, the page's controls and the limits of a request."""
        infos = []
        for name in shipped_names():
            sc = shipped_scenario(name)
            targets = sc.calibration.states
            infos.append(ScenarioInfo(
                name=name, version=sc.version, description=" ".join(sc.description.split()),
                regions=list(sc.regions),
                aggregates=list(hierarchy().aggregates(sc.regions)),
                region_labels={r: region_label(r) for r in (
                    region_choices(sc.regions, [])[1:] if hierarchy().aggregates(sc.regions)
                    else sc.regions)},
                years={"start": sc.years.start, "history_end": sc.years.history_end,
                       "end": sc.years.end},
                state_targets=None if targets is None else {
                    "year": targets.year, "v2g": targets.v2g, "v2h_v2b": targets.v2h_v2b,
                    "grid_managed": targets.grid_managed, "smart_only": targets.smart_only,
                    "outside": targets.outside},
                distributions=len(sc.distributions())))
        return ScenariosResponse(
            scenarios=infos, controls=[ControlInfo(**c) for c in controls_table()],
            limits={"max_body_bytes": MAX_BODY_BYTES, "max_overrides": MAX_OVERRIDES,
                    "min_draws": MIN_DRAWS, "max_draws": MAX_DRAWS},
            style={"states": STATE_COLOURS, "labels": STATE_LABELS, "funnel": FUNNEL_COLOUR,
                   "deliverable": DELIVERABLE_COLOUR, "capacity_units": METRICS})

    @app.post("/api/run", response_model=RunResponse, tags=["api"], responses=ERROR_RESPONSES)
    async def api_run(request: RunRequest) -> Response:
        """Run the engine on a shipped scenario with overrides; the charts' data."""
        return await to_thread.run_sync(
            lambda: json_response(RunResponse, run_view(request)), limiter=engine)

    @app.post("/api/checks", response_model=ChecksResponse, tags=["api"],
              responses=ERROR_RESPONSES)
    async def api_checks(request: RunRequest) -> Response:
        """The denominator checks of the same run (and the scorecard, where it exists)."""
        return await to_thread.run_sync(
            lambda: json_response(ChecksResponse, run_checks_view(request)), limiter=engine)

    @app.post("/api/uncertainty", response_model=UncertaintyResponse, tags=["api"],
              responses={**ERROR_RESPONSES, 422: {
                  **ERROR_RESPONSES[422], "description": "Invalid input, or a scenario "
                  "without distributions; `messages` names each field."}})
    async def api_uncertainty(request: UncertaintyRequest) -> dict[str, Any]:
        """Monte Carlo of the view (bounded draws): quantiles of the state shares."""
        return await to_thread.run_sync(run_uncertainty, request, limiter=files)

    @app.get("/download/{name}", tags=["downloads"],
             responses={**ERROR_RESPONSES,
                        200: {"content": {"application/octet-stream": {}}}})
    async def download(name: str, request: Request) -> Response:
        """The run of the page state in the query string as ``workbook.xlsx``,
        ``report.html`` or ``tables.zip`` (CSV tables)."""
        kinds = {"workbook.xlsx": ("xlsx", "application/vnd.openxmlformats-officedocument."
                                   "spreadsheetml.sheet"),
                 "report.html": ("html", "text/html; charset=utf-8"),
                 "tables.zip": ("zip", "application/zip")}
        if name not in kinds:
            raise RequestValidationError([{
                "loc": ("path", "name"), "type": "value_error", "input": name[:80],
                "msg": f"unknown download (got {name[:80]!r}, expected one of {list(kinds)})"}])
        req = request_from_query(request.query_params)
        ext, media = kinds[name]
        body, changes = await to_thread.run_sync(build_download, req, ext, limiter=files)
        label = req.scenario + ("_explorer" if changes else "")
        return Response(body, media_type=media, headers={
            "Content-Disposition": f'attachment; filename="evflex_{label}.{ext}"'})

    app.add_middleware(SecurityHeaders)
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)
    app.add_middleware(Admission)
    app.add_middleware(HostCheck, allowed=list(hosts))
    return app


def _build_file(ext: str, results: Results, tables: dict[str, pd.DataFrame],
                regions: list[str] | None = None) -> bytes:
    if ext == "zip":
        from evflex.outputs.tables import csv_text

        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
            for key, df in tables.items():
                zf.writestr(f"{key}.csv", csv_text(df))
        return buffer.getvalue()
    from evflex.outputs.report import write_report
    from evflex.outputs.workbook import write_workbook

    with tempfile.TemporaryDirectory(prefix="evflex-web-") as folder:
        path = Path(folder) / f"run.{ext}"
        if ext == "xlsx":
            write_workbook(path, results, tables, regions=regions)
        else:
            write_report(path, results, tables)
        return path.read_bytes()


#: Environment variable that hands the allowed ``Host`` names to each worker process.
HOSTS_ENV = "EVFLEX_EXPLORER_HOSTS"
#: Most worker processes of ``evflex serve --workers``.
MAX_WORKERS = 16


def app_from_environment() -> FastAPI:
    """The app of one worker process of ``evflex serve --workers N`` (hosts from
    :data:`HOSTS_ENV`, loopback names if unset)."""
    hosts = os.environ.get(HOSTS_ENV)
    return create_app(json.loads(hosts) if hosts else LOOPBACK_HOSTS)


def serve(host: str = "127.0.0.1", port: int = 8050, log_level: str = "info",
          workers: int = 1) -> None:
    """Run the explorer with uvicorn until interrupted, in ``workers`` processes.

    One process computes one engine run at a time (:data:`ENGINE_SLOTS`); each further
    worker process uses another core. Workers do not share their result caches.
    """
    import uvicorn

    if not 1 <= workers <= MAX_WORKERS:
        raise ValueError(f"workers out of range (got {workers}, expected 1 to {MAX_WORKERS})")
    if workers == 1:
        uvicorn.run(create_app(allowed_hosts(host)), host=host, port=port, log_level=log_level)
        return
    os.environ[HOSTS_ENV] = json.dumps(allowed_hosts(host))
    uvicorn.run(f"{__name__}:app_from_environment", factory=True, workers=workers, host=host,
                port=port, log_level=log_level)
