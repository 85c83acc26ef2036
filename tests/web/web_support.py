"""What the explorer's tests share besides fixtures: the browser, the artefacts folder and
the live server (imported by name, so it does not live in ``conftest``, which other test
folders also have)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

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



LiveServer = BackgroundServer
