"""The explorer served from a background thread (tests, notebooks) or from a child
process running ``evflex serve`` (benchmarks: the server a user gets).

>>> with BackgroundServer() as server:          # doctest: +SKIP
...     print(server.url)                       # http://127.0.0.1:<free port>
>>> with ServerProcess(workers=2) as server:    # doctest: +SKIP
...     print(server.url)
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any

from evflex.web.app import create_app

#: Longest wait for the server to start (the first engine run happens then) [s].
START_TIMEOUT_S = 60.0


def free_port(host: str = "127.0.0.1") -> int:
    """A port free on ``host`` now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class BackgroundServer:
    """uvicorn serving the explorer in a daemon thread on a free loopback port."""

    def __init__(self, host: str = "127.0.0.1", port: int | None = None):
        import uvicorn

        self.host = host
        self.port = port or free_port(host)
        self.url = f"http://{host}:{self.port}"
        config = uvicorn.Config(create_app(), host=host, port=self.port,
                                log_level="warning", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True,
                                       name="evflex-explorer")

    def __enter__(self) -> BackgroundServer:
        self.thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                self.server.should_exit = True
                raise RuntimeError(f"the explorer did not start on {self.url}")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


class ServerProcess:
    """``evflex serve`` in a child process on a free loopback port: the server a user
    runs, with its own interpreter (a client in this process does not share its lock)."""

    def __init__(self, workers: int = 1, host: str = "127.0.0.1", port: int | None = None):
        self.host, self.workers = host, workers
        self.port = port or free_port(host)
        self.url = f"http://{host}:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ServerProcess:
        import httpx

        self.process = subprocess.Popen(
            [sys.executable, "-m", "evflex.cli", "serve", "--host", self.host,
             "--port", str(self.port), "--log-level", "warning",
             "--workers", str(self.workers)], stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                if httpx.get(self.url + "/api/scenarios", timeout=5).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.__exit__()
                raise RuntimeError(f"evflex serve did not start on {self.url}")
            time.sleep(0.1)

    def __exit__(self, *exc: Any) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGINT)  # as Ctrl+C: workers stop with it
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
