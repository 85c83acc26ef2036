"""Feed energy-system models: the run's EV fleet as PyPSA components, and as NetCDF.

Flow: :mod:`.simulation` (an hourly vehicle simulation per segment, which also gives the
engine its availability) → :mod:`.fleet_profiles` (per-vehicle weekly profiles) →
:mod:`.components` (charger links, DSM store, V2G link, loads per region and year, split
by the exclusive states) → :mod:`.network` (PyPSA networks, the toy-system comparison),
:mod:`.overlay` (PyPSA-Eur config overlay) and :mod:`.cf` (the run's dataset with CF
metadata). :mod:`.bundle` ties them together; :mod:`.command` is ``evflex export``.
PyPSA is optional (``pip install 'evflex[pypsa]'``); only the NetCDF networks and the
comparison need it.
"""
