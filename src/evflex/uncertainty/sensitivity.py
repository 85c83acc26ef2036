"""Global sensitivity: Sobol first-order and total indices of the key outputs (SALib).

The chain, seeded end to end:

1. SALib's Sobol-sequence Saltelli design (:func:`SALib.sample.sobol.sample`) in the unit
   hypercube, ``N (k + 2)`` rows for ``k`` inputs (second-order indices not computed);
2. each column through the inverse CDF of its distribution (:meth:`Space.values`);
3. the model on chunks of rows, vectorised (:class:`Ensemble`), in-process or on Dask;
4. :func:`SALib.analyze.sobol.analyze` per output, with bootstrap confidence intervals.

Sobol indices assume independent inputs: the scenario's correlations are left out here
(and said so in the output). The same chain is checked against the Ishigami function's
analytic indices in the tests.

References
----------
Saltelli, A., Annoni, P., Azzini, I., Campolongo, F., Ratto, M., Tarantola, S. (2010).
Variance based sensitivity analysis of model output. Design and estimator for the total
sensitivity index. Computer Physics Communications 181, 259-270.
Herman, J., Usher, W. (2017). SALib: An open-source Python library for sensitivity
analysis. Journal of Open Source Software 2(9), 97.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import pandas as pd
from SALib.analyze import sobol as sobol_analyze
from SALib.sample import sobol as sobol_sample

from evflex.errors import InputError
from evflex.paths import FloatArray
from evflex.scenario import Scenario
from evflex.uncertainty.distributions import Space
from evflex.uncertainty.ensemble import KEY_OUTPUTS, Ensemble, Quantity
from evflex.uncertainty.execute import Executor

DEFAULT_SAMPLES = 256
CHUNK_ROWS = 1024
RESAMPLES = 200


def _is_power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def _model_rows(space: Space, model: Callable[[FloatArray], FloatArray],
                rows: FloatArray) -> FloatArray:
    """Uniform rows → numbers (inverse CDFs) → model outputs, shape (n, m)."""
    return np.asarray(model(space.values(rows)), dtype=float).reshape(len(rows), -1)


@dataclass(frozen=True)
class EnsembleOutputs:
    """The engine as a model of numbers → quantities (picklable for Dask)."""

    ensemble: Ensemble
    quantities: tuple[Quantity, ...]

    def __call__(self, values: FloatArray) -> FloatArray:
        summary = self.ensemble.evaluate(values)
        regions, years = self.ensemble.regions, self.ensemble.years
        return np.stack([q.values(summary, regions, years) for q in self.quantities], axis=1)


def sobol_chain(space: Space, model: Callable[[FloatArray], FloatArray], output_names: list[str],
                samples: int, seed: int, executor: Executor | None = None,
                chunk_rows: int = CHUNK_ROWS,
                progress: Callable[[int, int], None] | None = None) -> pd.DataFrame:
    """Sobol indices of a model's outputs over the inputs of ``space``.

    Returns rows ``output, input, S1, S1_conf, ST, ST_conf`` (95 % bootstrap intervals).
    ``samples`` (``N``) must be a power of two.
    """
    if not _is_power_of_two(samples):
        raise InputError("samples", f"not a power of two (got {samples}, expected e.g. "
                         f"{1 << max(samples, 1).bit_length()})")
    names = space.names
    problem = {"num_vars": len(names), "names": names, "bounds": [[0.0, 1.0]] * len(names)}
    design = sobol_sample.sample(problem, samples, calc_second_order=False, scramble=True,
                                 seed=seed)
    parts = [design[i:i + chunk_rows] for i in range(0, len(design), chunk_rows)]
    results: list[FloatArray | None] = [None] * len(parts)
    done = 0
    executor = executor or Executor()
    for i, y in executor.map(partial(_model_rows, space, model), parts):
        results[i] = y
        done += len(parts[i])
        if progress:
            progress(done, len(design))
    outputs = np.concatenate([r for r in results if r is not None])
    rows = []
    for j, output in enumerate(output_names):
        y = outputs[:, j]
        if not np.all(np.isfinite(y)):
            raise ValueError(f"output {output}: not finite in {int((~np.isfinite(y)).sum())} "
                             "rows (expected finite model outputs)")
        if np.ptp(y) <= 1e-12 * max(1.0, float(np.abs(y).max())):
            indices = {"S1": np.zeros(len(names)), "S1_conf": np.zeros(len(names)),
                       "ST": np.zeros(len(names)), "ST_conf": np.zeros(len(names))}
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                indices = sobol_analyze.analyze(problem, y, calc_second_order=False,
                                                num_resamples=RESAMPLES, seed=seed)
        for k, name in enumerate(names):
            rows.append({"output": output, "input": name,
                         **{key: float(indices[key][k])
                            for key in ("S1", "S1_conf", "ST", "ST_conf")}})
    return pd.DataFrame(rows)


@dataclass
class SensitivityResult:
    """Sobol indices of the key outputs, with what was done to get them."""

    sobol: pd.DataFrame
    samples: int
    seed: int
    rows: int
    outputs: list[Quantity]
    notes: list[str] = field(default_factory=list)


def run_sensitivity(scenario: Scenario, samples: int = DEFAULT_SAMPLES, seed: int = 1,
                    outputs: list[Quantity] | None = None, inputs: list[str] | None = None,
                    executor: Executor | None = None,
                    progress: Callable[[int, int], None] | None = None) -> SensitivityResult:
    """Sobol indices of ``outputs`` (default :data:`KEY_OUTPUTS`) over the scenario's
    distributions (or the ``inputs`` named among them)."""
    space = Space.from_scenario(scenario)
    if len(space) == 0:
        raise ValueError(f"scenario {scenario.name!r} has no distributions (got 0 'dist' "
                         "entries, expected at least one; see the shipped scenario "
                         "'uncertain')")
    notes = []
    if inputs:
        unknown = [n for n in inputs if n not in space.names]
        if unknown:
            raise InputError("input", f"no such distribution (got {unknown[0]!r}, expected "
                             f"one of {', '.join(space.names)})")
        space = space.subset(inputs)
    if space.correlated:
        notes.append("Sobol indices assume independent inputs: the scenario's correlations "
                     "are not applied in this analysis")
        space = Space(space.sites, np.eye(len(space)))
    ensemble = Ensemble(scenario, space)
    quantities = outputs or [Quantity.parse(q, ensemble.regions, ensemble.years)
                             for q in KEY_OUTPUTS]
    model = EnsembleOutputs(ensemble, tuple(quantities))
    table = sobol_chain(space, model, [q.description for q in quantities], samples, seed,
                        executor, progress=progress)
    return SensitivityResult(table, samples, seed, samples * (len(space) + 2),
                             list(quantities), notes)
