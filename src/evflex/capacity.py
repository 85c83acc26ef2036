"""From counts to grid capacity: the naive battery, shiftable load and V2G export.

Availability (plugged in at the peak, state of charge at the peak, the mobility reserve,
coincidence of unmanaged charging with the peak) enters through :class:`Availability`.
By default it comes from the scenario's parameters; a vehicle simulation can supply it
instead (``evflex run --simulate``), so that no figure is an assumption in one place and
a result in another.

Metrics, by region and year (summed over segments):

======================  ========  =======================================================
metric                  unit      definition
======================  ========  =======================================================
naive_battery           TWh       EV stock × battery capacity (the top of the funnel)
managed_envelope        vehicles  v2g + v2h_v2b + grid_managed
shiftable_load          GW        envelope × coincidence at peak × charger power
shiftable_energy        GWh/day   envelope × daily energy × shiftable share
v2g_plugged_at_peak     vehicles  v2g × plug-in share at peak
v2g_export_power        GW        plugged × min(export kW, energy above reserve / duration)
v2g_export_energy       GWh       plugged × min(energy above reserve, export kW × duration)
======================  ========  =======================================================
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evflex.paths import FloatArray

KWH_PER_TWH = 1e9
KWH_PER_GWH = 1e6
KW_PER_GW = 1e6

#: Metric → unit, in output order.
METRICS: dict[str, str] = {
    "naive_battery": "TWh",
    "managed_envelope": "vehicles",
    "shiftable_load": "GW",
    "shiftable_energy": "GWh/day",
    "v2g_plugged_at_peak": "vehicles",
    "v2g_export_power": "GW",
    "v2g_export_energy": "GWh",
}

AVAILABILITY_FIELDS = (
    "plug_in_share_at_peak",
    "soc_at_peak",
    "mobility_reserve_soc",
    "charging_coincidence_at_peak",
)


@dataclass(frozen=True)
class Availability:
    """Availability of vehicles at the evening peak: the seam to the vehicle simulation.

    Each field is a float or an array broadcastable to (region, segment, year).

    Attributes
    ----------
    plug_in_share_at_peak : [fraction] of active V2G vehicles plugged in at the peak.
    soc_at_peak : [fraction of battery] mean state of charge of those vehicles.
    mobility_reserve_soc : [fraction of battery] kept for driving, never exported.
    charging_coincidence_at_peak : [fraction] of managed-envelope vehicles that would be
        charging at the peak if unmanaged.
    source : where the figures come from (``scenario`` or a simulation's description).
    """

    plug_in_share_at_peak: FloatArray | float
    soc_at_peak: FloatArray | float
    mobility_reserve_soc: FloatArray | float
    charging_coincidence_at_peak: FloatArray | float
    source: str = "scenario"

    @classmethod
    def from_parameters(cls, params: dict[str, FloatArray]) -> Availability:
        """Availability from the scenario's evaluated parameters."""
        return cls(**{k: params[k] for k in AVAILABILITY_FIELDS}, source="scenario")


def energy_above_reserve(battery_kwh: FloatArray, availability: Availability) -> FloatArray:
    """Energy a plugged-in vehicle can export before reaching its reserve [kWh/vehicle]."""
    headroom = np.maximum(
        np.asarray(availability.soc_at_peak) - np.asarray(availability.mobility_reserve_soc), 0.0
    )
    return battery_kwh * headroom


def grid_capacity(*, naive_kwh: FloatArray, states: FloatArray, capable_kwh: FloatArray,
                  availability: Availability, charger_power_kw: FloatArray,
                  export_power_kw: FloatArray, peak_duration_h: FloatArray,
                  daily_energy_kwh: FloatArray,
                  shiftable_energy_share: FloatArray) -> dict[str, FloatArray]:
    """Capacity metrics by (region, segment, year) in the units of :data:`METRICS`.

    Every array may carry leading axes (e.g. Monte Carlo draws) that broadcast.

    Parameters
    ----------
    naive_kwh : (R, S, T) battery capacity of the whole EV stock [kWh].
    states : (R, S, state, T) counts by exclusive state [vehicles].
    capable_kwh : (R, S, T) mean battery of the V2G-capable stock [kWh/vehicle].
    availability : the seam; see :class:`Availability`.
    charger_power_kw, export_power_kw : (R, S, T) [kW].
    peak_duration_h : (R, S, T) [h].
    daily_energy_kwh : (R, S, T) [kWh/day per vehicle].
    shiftable_energy_share : (R, S, T) [fraction].
    """
    v2g, v2h, managed = states[..., 0, :], states[..., 1, :], states[..., 2, :]
    envelope = v2g + v2h + managed
    plugged = v2g * np.asarray(availability.plug_in_share_at_peak)
    usable = energy_above_reserve(capable_kwh, availability)
    per_vehicle_kw = np.minimum(export_power_kw, usable / peak_duration_h)
    per_vehicle_kwh = np.minimum(usable, export_power_kw * peak_duration_h)
    coincidence = np.asarray(availability.charging_coincidence_at_peak)
    return {
        "naive_battery": naive_kwh / KWH_PER_TWH,
        "managed_envelope": envelope,
        "shiftable_load": envelope * coincidence * charger_power_kw / KW_PER_GW,
        "shiftable_energy": envelope * daily_energy_kwh * shiftable_energy_share / KWH_PER_GWH,
        "v2g_plugged_at_peak": plugged,
        "v2g_export_power": plugged * per_vehicle_kw / KW_PER_GW,
        "v2g_export_energy": plugged * per_vehicle_kwh / KWH_PER_GWH,
    }
