"""Exclusive states: every EV counted once, by the highest active use case it reaches.

Allocation, top down, each on what is left by the states above it:

- ``v2g``: the last step of the V2G funnel;
- ``v2h_v2b``: ``v2h_v2b_use`` × (bidirectional-charger vehicles not active in V2G);
- ``grid_managed``: ``grid_managed_enrolment`` × (smart-capable EVs not in V2G/V2H);
- ``smart_only``: ``smart_charging_use`` × (smart-capable EVs left after that);
- ``outside``: the rest of the EV stock.

So the states sum to the EV stock exactly, and nest: a V2G vehicle is inside the
managed-charging envelope (:data:`ENVELOPES`), which is a sum of states.
"""

from __future__ import annotations

import numpy as np

from evflex.glossary import ENVELOPES, STATES
from evflex.paths import FloatArray

__all__ = ["ENVELOPES", "STATES", "allocate_states", "state_shares"]


def allocate_states(ev_stock: FloatArray, v2g: FloatArray, bidirectional_installed: FloatArray,
                    smart_capable: FloatArray, v2h_v2b_use: FloatArray,
                    grid_managed_enrolment: FloatArray,
                    smart_charging_use: FloatArray) -> FloatArray:
    """Counts by exclusive state, shape (..., state, T) [vehicles].

    All arguments have shape (..., T), leading axes broadcasting; counts in vehicles,
    uses in fractions.
    ``smart_capable`` includes every bidirectional vehicle (see
    :func:`evflex.capability.smart_capable_sales`).
    """
    v2h = np.maximum(bidirectional_installed - v2g, 0.0) * v2h_v2b_use
    pool = np.maximum(np.minimum(smart_capable, ev_stock) - v2g - v2h, 0.0)
    managed = pool * grid_managed_enrolment
    smart = (pool - managed) * smart_charging_use
    outside = ev_stock - v2g - v2h - managed - smart
    return np.stack(np.broadcast_arrays(v2g, v2h, managed, smart, outside), axis=-2)


def state_shares(counts: FloatArray, total: FloatArray) -> FloatArray:
    """Shares of the EV stock by state [fraction]; ``counts`` (..., state, T).

    Where there is no EV at all, the (empty) stock is counted ``outside``, so the shares
    sum to 1 in every cell.
    """
    safe = np.where(total > 0, total, 1.0)
    shares = counts / safe[..., None, :]
    empty = total <= 0
    shares[..., :, :] = np.where(empty[..., None, :], 0.0, shares)
    shares[..., STATES.index("outside"), :] = np.where(
        empty, 1.0, shares[..., STATES.index("outside"), :])
    return shares
