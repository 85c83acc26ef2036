"""A PyPSA-Eur configuration overlay with the filtered shares per node and year.

PyPSA-Eur's ``add_EVs`` (``scripts/prepare_sector_network.py``) takes one
``sector.bev_dsm_availability`` (0.5 by default) for both the size of the DSM store and
the V2G link, for every node and year. The overlay replaces it with the shares the
funnel gives, per node and year, and keeps PyPSA-Eur's field names and units
(MW, MWh per car) so each value can be set where PyPSA-Eur reads it. Each field is
documented in ``docs/export_pypsa.md``; the hourly profiles behind the ``bev_avail_*``
and ``bev_dsm_restriction_*`` summaries are in ``timeseries.csv``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from evflex.export.network import figure

#: Overlay fields per node and year, with their unit and meaning (the docs table).
NODE_OVERLAY_FIELDS: dict[str, tuple[str, str]] = {
    "bev_dsm_availability": ("fraction", "managed envelope (v2g + v2h_v2b + grid_managed) / "
                             "EV stock: the share of cars in the DSM store"),
    "v2g_availability": ("fraction", "V2G link p_nom / all-EV charger p_nom: set the V2G "
                         "link to p_nom x this instead of p_nom x bev_dsm_availability"),
    "v2g_share": ("fraction", "v2g vehicles / EV stock"),
    "bev_charge_rate": ("MW/car", "charger power per car (charger_p_nom_all / ev_stock)"),
    "bev_energy": ("MWh/car", "DSM store per car in it: the SoC window between the "
                   "mobility reserve and the departure target"),
    "bev_avail_mean": ("fraction", "mean of the managed chargers' hourly p_max_pu"),
    "bev_avail_max": ("fraction", "maximum of the managed chargers' hourly p_max_pu"),
    "bev_dsm_restriction_value": ("fraction", "highest store e_min_pu over the week"),
    "bev_dsm_restriction_time": ("hour", "hour of the day of that highest e_min_pu"),
    "ev_stock": ("cars", "EVs at the node (all segments)"),
    "annual_energy": ("MWh/year", "grid-side EV charging energy in a year"),
}


def node_overlay(node: pd.Series, series: pd.DataFrame) -> dict[str, float]:
    """Overlay values of one node and year from its node row and hourly series."""
    avail = series["charger_p_max_pu"].to_numpy(dtype=float)
    e_min = series["store_e_min_pu"].to_numpy(dtype=float)
    ev = float(node["ev_stock"])
    env = float(node["managed_envelope"])
    all_p = float(node["charger_p_nom_all"])
    peak = int(np.argmax(e_min))
    values = {
        "bev_dsm_availability": float(node["bev_dsm_availability"]),
        "v2g_availability": float(node["v2g_p_nom"]) / all_p if all_p > 0 else 0.0,
        "v2g_share": float(node["v2g_share"]),
        "bev_charge_rate": all_p / ev if ev > 0 else 0.0,
        "bev_energy": float(node["store_e_nom"]) / env if env > 0 else 0.0,
        "bev_avail_mean": float(avail.mean()),
        "bev_avail_max": float(avail.max()),
        "bev_dsm_restriction_value": float(e_min[peak]),
        "bev_dsm_restriction_time": float(peak % 24),
        "ev_stock": ev,
        "annual_energy": float(node["annual_energy"]),
    }
    return {k: round(v, 6) for k, v in values.items()}


def overlay(nodes: pd.DataFrame, series: pd.DataFrame, meta: dict[str, Any]) -> dict[str, Any]:
    """The overlay as a plain mapping (for YAML and JSON).

    ``meta`` describes the run (scenario, version, simulation); it is copied under
    ``evflex``.
    """
    per_node: dict[str, dict[int, dict[str, float]]] = {}
    for _, row in nodes.iterrows():
        region, year = str(row["region"]), int(row["year"])
        ts = series[(series["region"] == region) & (series["year"] == year)]
        per_node.setdefault(region, {})[year] = node_overlay(row, ts.sort_values("hour"))
    eff_c, eff_d = figure("charge_efficiency"), figure("discharge_efficiency")
    return {
        "evflex": {**meta, "fields": {k: {"unit": u, "meaning": m}
                                      for k, (u, m) in NODE_OVERLAY_FIELDS.items()}},
        "replaces": {
            "sector.bev_dsm_availability": figure("pypsa_eur_bev_dsm_availability"),
            "sector.bev_charge_rate": figure("pypsa_eur_bev_charge_rate"),
            "sector.bev_energy": figure("pypsa_eur_bev_energy"),
            "sector.bev_charge_efficiency": figure("pypsa_eur_bev_charge_efficiency"),
        },
        "sector": {
            "bev_dsm": True,
            "v2g": True,
            "bev_charge_efficiency": eff_c,
            "v2g_efficiency": eff_d,
        },
        "nodes": per_node,
    }
