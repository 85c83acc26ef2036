"""Segments in a shipped scenario: vans and buses with their IEA history, own filters and
capacity inputs, judged per segment by the comparator stack."""

from __future__ import annotations

import numpy as np
import pytest

from evflex.judgement import comparator_stack
from evflex.model import Results, run


@pytest.fixture(scope="module")
def segments_run() -> Results:
    return run("segments")


def test_segments_carry_their_iea_history(segments_run: Results) -> None:
    ds = segments_run.data
    assert list(ds["segment"].values) == ["cars", "vans", "buses"]
    ev = ds["ev_stock_pt"].sum(("region", "powertrain")).sel(year=2024)
    iea = ds["iea_ev_stock"].sum("region").sel(year=2024)
    for segment in ("vans", "buses"):
        assert float(iea.sel(segment=segment)) > 0
        assert float(ev.sel(segment=segment)) == pytest.approx(
            float(iea.sel(segment=segment)), rel=0.2)


def test_fleet_filters_and_capacity_inputs_differ_by_segment(segments_run: Results) -> None:
    ds = segments_run.data.sel(year=2040, region="USA")
    enrolled = ds["param_v2g_enrolled"]
    assert float(enrolled.sel(segment="buses")) > float(enrolled.sel(segment="cars"))
    export = ds["param_export_power_kw"]
    assert float(export.sel(segment="buses")) > float(export.sel(segment="cars"))
    shares = segments_run.data["states"].sum("region").sel(year=2050)
    v2g = shares.sel(state="v2g") / shares.sum("state")
    assert float(v2g.sel(segment="buses")) > float(v2g.sel(segment="cars"))


def test_the_comparator_judges_each_segment_with_its_own_costs(segments_run: Results
                                                                ) -> None:
    out = comparator_stack(segments_run, 2030)
    v2g = out[(out["option"] == "V2G") & (out["service"] == "peak capacity")]
    assert set(v2g["segment"]) == {"cars", "vans", "buses"}
    per_vehicle = v2g.groupby("segment")["cost_per_kw_year"].median()
    # a bus's bidirectional depot charger costs more per vehicle but exports 50 kW
    assert np.isfinite(per_vehicle).all()
    assert per_vehicle["buses"] < per_vehicle["cars"]
    assert "PG&E V2X commercial pilot" in " ".join(
        out[(out["option"] == "V2G") & (out["segment"] == "buses")]["source"])
