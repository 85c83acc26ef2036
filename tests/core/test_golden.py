"""Golden outputs of the small reference scenario (regenerate: scripts/regenerate_golden.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("regenerate_golden",
                                              ROOT / "scripts" / "regenerate_golden.py")
assert spec is not None and spec.loader is not None
regenerate = importlib.util.module_from_spec(spec)
spec.loader.exec_module(regenerate)


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    return regenerate.golden_tables()


@pytest.mark.parametrize("name", [*regenerate.TABLES, "checks"])
def test_matches_golden(tables: dict[str, pd.DataFrame], name: str) -> None:
    expected = pd.read_csv(regenerate.EXPECTED / f"{name}.csv")
    got = tables[name].reset_index(drop=True)
    assert list(got.columns) == list(expected.columns)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False, rtol=1e-9, atol=1e-6)


def test_reference_has_two_segments_summed_into_all(tables: dict[str, pd.DataFrame]) -> None:
    fleet = tables["fleet"]
    assert set(fleet["segment"]) == {"cars", "vans", "all"}
    by_seg = fleet[fleet["segment"] != "all"].groupby(["region", "year"])["ev_stock"].sum()
    total = fleet[fleet["segment"] == "all"].set_index(["region", "year"])["ev_stock"]
    pd.testing.assert_series_equal(by_seg.sort_index(), total.sort_index(), check_names=False,
                                   rtol=1e-12)
