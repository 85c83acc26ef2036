"""Writing a run's results: tables (CSV and Parquet), charts, and the shared palette."""

from evflex.outputs.style import STATE_COLOURS, STATE_LABELS
from evflex.outputs.tables import write_run

__all__ = ["STATE_COLOURS", "STATE_LABELS", "write_run"]
