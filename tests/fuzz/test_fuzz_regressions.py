"""Random valid scenarios that once failed an invariant check, taken through the run path
again (draws of ``benchmarks/fuzz_scenarios.py --seed 16``; the check each broke):

- 320, 367, 392: ``capable_stock_share_lags_sales`` where net exports of used EVs
  cancel sales to round-off (the share of what stays is unknown from sales - exports);
- 1769, 3245, 4667: the same check on stocks decayed into subnormal floats (1e-321
  vehicles), whose shares have lost their precision;
- 2714: ``model_share_not_used_as_stock_share`` on the World, whose stock share may
  exceed its own highest sales share when regions' vehicles live for different times.
"""

from __future__ import annotations

import numpy as np
import pytest
from fuzz_generators import base_raw, full_run, random_valid_raw

from evflex.judgement import load_evidence
from evflex.scenario.load import parse

SEED = 16


def _problems(i: int) -> list[str]:
    scenario = parse(random_valid_raw(np.random.default_rng([SEED, 1, i]), base_raw()))
    return full_run(scenario, load_evidence())


@pytest.mark.parametrize("i", [320, 367, 392, 1769, 2714, 3245, 4667])
def test_once_failing_scenarios_now_pass(i: int) -> None:
    assert _problems(i) == []
