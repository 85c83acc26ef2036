"""Writing a run's results: tables (CSV and Parquet), charts, and the shared palette."""

from evflex.outputs.style import STATE_COLOURS, STATE_LABELS
from evflex.outputs.tables import energy_funnel, write_run

__all__ = ["STATE_COLOURS", "STATE_LABELS", "energy_funnel", "write_run"]
