"""Fixtures of the explorer's tests: an in-process client and a real server on loopback."""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.exceptions import StarletteDeprecationWarning

with warnings.catch_warnings():
    # Starlette suggests httpx2 for its test client; httpx is what we install.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

from evflex.web.app import create_app
from evflex.web.server import BackgroundServer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
#: Where screenshots of the page are kept (the CI's test artefacts).
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def require_chromium() -> str:
    """Debian's chromium; skipped locally when missing, a failure on CI."""
    path = shutil.which(CHROMIUM)
    if path is None:
        message = "chromium is not installed (apt-get install chromium; .ci/run does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def client() -> Iterator[TestClient]:
    with TestClient(create_app()) as c:  # runs the start-up warm-up
        yield c


LiveServer = BackgroundServer


@pytest.fixture(scope="session")
def live_server() -> Iterator[LiveServer]:
    with LiveServer() as server:
        yield server
