"""The explorer's per-region totals are the run's own aggregates (one definition of a sum)."""

from __future__ import annotations

import numpy as np
import pytest

from evflex.glossary import ALL_SEGMENTS
from evflex.model import run


@pytest.mark.parametrize("scenario", ["base", "countries"])
def test_region_total_equals_the_aggregated_dataset(scenario: str) -> None:
    results = run(scenario)
    agg = results.aggregated
    for region in [*results.scenario.regions, *results.aggregate_regions]:
        for name, aggregated in (("states", "states"), ("sales", "sales"),
                                 ("capable_stock", "capable_stock")):
            want = agg[aggregated].sel(region=region, segment=ALL_SEGMENTS)
            if "state" in want.dims:
                want = want.transpose("state", "year")
            np.testing.assert_allclose(results.region_total(name, region), want.values,
                                       rtol=1e-12, atol=1e-9, err_msg=f"{name} {region}")
