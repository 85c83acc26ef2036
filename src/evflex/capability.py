"""Capability by vintage: what a model year's EVs can do, carried into the stock.

A capability is a property of the vintage: a car sold without bidirectional hardware stays
without it. So three shares are kept apart:

- the share of EV *models* that are V2G-capable (22 models, under 1.5 %, IEA 2026), which
  enters only through :func:`evflex.scenario.models_to_sales_share`;
- the share of each year's *sales* that is capable (``bidirectional_share``, anchored on
  that conversion);
- the share of the *stock* that is capable, the survival-weighted sum over vintages,
  which lags the sales share.
"""

from __future__ import annotations

import numpy as np

from evflex.paths import FloatArray


def eligible_sales(ev_sales: FloatArray, phev_eligible: bool) -> FloatArray:
    """EV sales that are V2G candidates, shape (..., R, S, V) [vehicles/year].

    BEVs always; PHEVs (small packs) only when the scenario says so.
    ``ev_sales`` has shape (..., R, S, P, V) with powertrains (bev, phev); leading axes
    (e.g. Monte Carlo draws) pass through.
    """
    return ev_sales[..., 0, :] + (ev_sales[..., 1, :] if phev_eligible else 0.0)


def capable_sales(ev_sales: FloatArray, bidirectional_share: FloatArray,
                  phev_eligible: bool) -> FloatArray:
    """V2G-capable EV sales by vintage, shape (..., R, S, V) [vehicles/year]."""
    return eligible_sales(ev_sales, phev_eligible) * bidirectional_share


def smart_capable_sales(ev_sales: FloatArray, smart_share: FloatArray,
                        capable: FloatArray) -> FloatArray:
    """Smart-capable EV sales by vintage, shape (..., R, S, V) [vehicles/year].

    A bidirectional vehicle is smart-capable by definition, so the smart-capable sales are
    at least the capable ones: ``max(total x smart_share, capable)``.
    """
    total = ev_sales.sum(axis=-2)
    return np.maximum(total * smart_share, capable)


def stock_of(sales_by_vintage: FloatArray, surv_matrix: FloatArray) -> FloatArray:
    """Stock by year of a vintage quantity, (..., R, S, V) × (..., R, S, V, T) → (..., R, S, T).

    Leading axes (e.g. draws) broadcast; without them the sum is the same, term by term,
    as the plain ``rsv,rsvt->rst`` contraction.
    """
    return np.einsum("...v,...vt->...t", sales_by_vintage, surv_matrix)
