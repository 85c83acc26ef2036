"""The project's vocabulary, defined once: states, envelopes, aggregates and key years.

Every module that needs a state name, an envelope (a sum of exclusive states), the name
of the World aggregate or the years the summaries report takes it from here, so that a
definition never drifts between copies.

>>> from evflex.glossary import ENVELOPES, STATES
>>> ENVELOPES["managed_envelope"]
('v2g', 'v2h_v2b', 'grid_managed')
>>> STATES[-1]
'outside'
"""

from __future__ import annotations

#: The exclusive states, highest active use case first (see :mod:`evflex.states`).
STATES: tuple[str, ...] = ("v2g", "v2h_v2b", "grid_managed", "smart_only", "outside")

#: Named envelopes as sums of states (never sums of overlapping categories).
ENVELOPES: dict[str, tuple[str, ...]] = {
    "bidirectional_active": ("v2g", "v2h_v2b"),
    "managed_envelope": ("v2g", "v2h_v2b", "grid_managed"),
    "flexible": ("v2g", "v2h_v2b", "grid_managed", "smart_only"),
}
#: The managed-charging envelope: every vehicle whose charging a grid actor can call on.
MANAGED_ENVELOPE: tuple[str, ...] = ENVELOPES["managed_envelope"]

#: The pathways the scorecard judges, in the seed's order.
PATHWAYS: tuple[str, ...] = ("smart_charging", "grid_managed", "v2h_v2b", "v2g")

#: Name of the region that sums every model region (a sum of counts, never an average).
WORLD = "World"
#: Name of the segment that sums every segment.
ALL_SEGMENTS = "all"

#: Years the console summary and the executive summary report, where the run has them.
SUMMARY_YEARS: tuple[int, ...] = (2025, 2030, 2050, 2100)
#: Default year of the energy funnel (naive battery → deliverable at the peak).
DEFAULT_FUNNEL_YEAR = 2050

