"""The conditional filter stack and its funnel.

Each filter is a share *of the step before it* (its denominator is named in the
parameter registry), never a headline percentage of some other population. The V2G
funnel, in order:

=====================  =================================================================
step                   vehicles at this step
=====================  =================================================================
ev_stock               all plug-in EVs in the stock
v2g_capable            V2G-capable vehicles (vintage property, BEV unless PHEVs eligible)
charging_access        … with home or depot charging where they park
bidirectional_charger  … with a bidirectional charger installed
export_permitted       … whose interconnection permits export
v2g_enrolled           … enrolled and compensated in a V2G programme
warranty_covers        … whose warranty covers the cycling
v2g_active             … actively dispatched: the ``v2g`` state
=====================  =================================================================
"""

from __future__ import annotations

import numpy as np

from evflex.paths import FloatArray

FUNNEL_STEPS: tuple[str, ...] = (
    "ev_stock",
    "v2g_capable",
    "charging_access",
    "bidirectional_charger",
    "export_permitted",
    "v2g_enrolled",
    "warranty_covers",
    "v2g_active",
)
#: The conditional filters, in funnel order; each is the parameter of the same name.
CONDITIONAL_FILTERS: tuple[str, ...] = FUNNEL_STEPS[2:]
#: What each conditional filter keeps, in words (charts, workbook, explorer sliders).
FILTER_LABELS: dict[str, str] = {
    "charging_access": "home/depot charging",
    "bidirectional_charger": "bidirectional charger",
    "export_permitted": "export permitted",
    "v2g_enrolled": "enrolled & compensated",
    "warranty_covers": "warranty covers cycling",
    "v2g_active": "actively dispatched (v2g)",
}


def v2g_funnel(ev_stock: FloatArray, capable_stock: FloatArray,
               shares: dict[str, FloatArray]) -> FloatArray:
    """Vehicles remaining at each funnel step, shape (..., step, T) [vehicles].

    Parameters
    ----------
    ev_stock, capable_stock : arrays (..., T)
        EV stock and V2G-capable stock [vehicles].
    shares : mapping of filter name → array (..., T)
        The conditional shares of :data:`CONDITIONAL_FILTERS` [fraction].

    Leading axes (e.g. draws) broadcast between the arguments.
    """
    steps = [ev_stock, np.minimum(capable_stock, ev_stock)]
    for name in CONDITIONAL_FILTERS:
        steps.append(steps[-1] * shares[name])
    return np.stack(np.broadcast_arrays(*steps), axis=-2)


def removed_by_step(funnel: FloatArray) -> FloatArray:
    """Vehicles each step removes from the one before (0 for the first) [vehicles]."""
    first = np.zeros_like(funnel[..., :1, :])
    return np.concatenate([first, funnel[..., :-1, :] - funnel[..., 1:, :]], axis=-2)
