"""The explorer served from a background thread: for tests, benchmarks and notebooks.

>>> with BackgroundServer() as server:          # doctest: +SKIP
...     print(server.url)                       # http://127.0.0.1:<free port>
"""

from __future__ import annotations

import socket
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
