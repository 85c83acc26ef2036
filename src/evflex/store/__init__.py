"""The run store and the diff between two scenario versions.

- :class:`RunStore` keeps every run (metadata, merged scenario, result tables) in one
  embedded DuckDB file; :func:`record_run` stores a finished run.
- :func:`evflex.store.diff.diff` compares two runs or scenarios: which assumptions
  changed, how the key outputs moved, and how much of each move is due to each changed
  assumption (Shapley values, :mod:`evflex.store.shapley`).
"""

from evflex.store.content import scenario_hash
from evflex.store.db import SCHEMA_VERSION, RunInfo, RunStore, StoreError, default_store_path
from evflex.store.record import record_run

__all__ = [
    "SCHEMA_VERSION",
    "RunInfo",
    "RunStore",
    "StoreError",
    "default_store_path",
    "record_run",
    "scenario_hash",
]
