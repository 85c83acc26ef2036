"""Uncertainty: Monte Carlo, verdict probabilities, Sobol sensitivity, "what must be true".

The flow follows the user's workflow (as SALib's ``sample/`` → ``analyze/``):

- :mod:`~evflex.uncertainty.distributions`: the scenario's distributions as one sample
  space (inverse CDFs, Gaussian copula);
- :mod:`~evflex.uncertainty.ensemble`: the engine on a batch of draws (one vectorised
  call, no loop per draw) reduced to the outputs that matter;
- :mod:`~evflex.uncertainty.sketch`: mergeable quantile sketches, so memory stays flat
  as the number of draws grows;
- :mod:`~evflex.uncertainty.execute`: chunks and their seeds, in-process or on a Dask
  distributed cluster, with identical results;
- :mod:`~evflex.uncertainty.montecarlo`, :mod:`~evflex.uncertainty.sensitivity`,
  :mod:`~evflex.uncertainty.solve`: the three analyses; :mod:`~evflex.uncertainty.charts`
  their figures; :mod:`evflex.cli.uncertainty` their commands.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Space", "ppf", "run_montecarlo", "run_sensitivity", "solve"]

_LAZY = {"Space": "distributions", "ppf": "distributions", "run_montecarlo": "montecarlo",
         "run_sensitivity": "sensitivity", "solve": "solve"}


def __getattr__(name: str) -> Any:
    """Import on first use, so that ``evflex --help`` stays quick."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"evflex.uncertainty.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'evflex.uncertainty' has no attribute {name!r}")
