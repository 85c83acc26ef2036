"""The 10,000-file fuzz campaign and random valid scenarios through the run path
(``pytest -m slow tests/fuzz``; the same code as ``benchmarks/fuzz_scenarios.py``).

``EVFLEX_FUZZ_FILES`` / ``EVFLEX_FUZZ_VALID`` size the campaigns (default 10,000 files,
300 valid scenarios: a full run with judgement takes about a second, so 10,000 of them
are for the benchmark script with ``--workers``).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

_SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "fuzz_scenarios.py"


def _bench():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("fuzz_scenarios", _SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fuzzed_files_give_no_traceback_and_no_hang() -> None:
    n = int(os.environ.get("EVFLEX_FUZZ_FILES", "10000"))
    r = _bench().campaign(_bench().file_batch, n, 16, 1, 60.0)
    c = r["counts"]
    assert c["valid"] + c["rejected"] == n, r["examples"][:5]
    assert c["traceback"] == 0 and c["hang"] == 0, r["examples"][:5]
    assert c["rejected"] > n // 2  # the fuzzer does break most files


def test_random_valid_scenarios_run_to_the_end() -> None:
    n = int(os.environ.get("EVFLEX_FUZZ_VALID", "300"))
    r = _bench().campaign(_bench().valid_batch, n, 16, 1, 120.0)
    c = r["counts"]
    assert c["crash"] == 0 and c["hang"] == 0 and c["violation"] == 0, r["examples"][:5]
    assert c["ran"] > n // 2
