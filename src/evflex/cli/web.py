"""``evflex serve``: the interactive explorer in the browser."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

err_console = Console(stderr=True)

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the ``evflex`` command line."""

    @app.command()
    def serve(
        host: Annotated[str, typer.Option(
            "--host", help="Address to bind; loopback by default. Anything else exposes "
            "the explorer to the network.")] = "127.0.0.1",
        port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8050,
        log_level: Annotated[str, typer.Option(
            "--log-level", help="uvicorn log level: critical, error, warning, info, debug.")
        ] = "info",
        workers: Annotated[int, typer.Option(
            "--workers", help="Worker processes: each computes one run at a time on its own "
            "core (1 to 16).")] = 1,
    ) -> None:
        """Serve the interactive explorer: move an assumption, watch the fleet re-sort."""
        try:
            from evflex.web.app import MAX_WORKERS
            from evflex.web.app import serve as run_server
        except ModuleNotFoundError as exc:
            from evflex.cli import extra_hint, missing_extra

            extra = missing_extra(exc)
            if extra is None:
                raise
            err_console.print(extra_hint("serve", extra, exc.name), markup=False,
                              highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
        if not 1 <= port <= 65535:
            err_console.print(f"--port: out of range (got {port}, expected 1 to 65535)",
                              markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(1)
        if not 1 <= workers <= MAX_WORKERS:
            err_console.print(f"--workers: out of range (got {workers}, expected 1 to "
                              f"{MAX_WORKERS})", markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(1)
        levels = ("critical", "error", "warning", "info", "debug")
        if log_level not in levels:
            err_console.print(f"--log-level: unknown level (got {log_level!r}, expected one "
                              f"of {', '.join(levels)})", markup=False, highlight=False,
                              soft_wrap=True)
            raise typer.Exit(1)
        problem = _cannot_listen(host, port)
        if problem:
            err_console.print(problem, markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(1)
        if host not in LOOPBACK:
            err_console.print(f"warning: binding {host}: the explorer is reachable from other "
                              "machines (it has no authentication)", markup=False,
                              highlight=False, soft_wrap=True)
        display = f"[{host}]" if ":" in host else host
        err_console.print(f"evflex explorer on http://{display}:{port}/ (Ctrl+C stops)",
                          markup=False, highlight=False)
        run_server(host=host, port=port, log_level=log_level, workers=workers)


def _cannot_listen(host: str, port: int) -> str | None:
    """A one-line error if ``host:port`` cannot be bound (unknown address, port in use)."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        return (f"--host: not an address of this machine (got {host!r}: {exc.strerror}, "
                "expected e.g. 127.0.0.1)")
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            return (f"--port: cannot listen on {host}:{port} (got {exc.strerror or exc}, "
                    "expected a free port)")
    return None
