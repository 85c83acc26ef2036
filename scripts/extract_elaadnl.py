"""Extract the ElaadNL session distributions and the Dutch EV models from the ev2gym wheel.

    pip download ev2gym==2.0.0 --no-deps -d /tmp/wheel
    python scripts/extract_elaadnl.py /tmp/wheel/ev2gym-2.0.0-py3-none-any.whl

Writes ``src/evflex/data/simulate/elaadnl_sessions.csv`` and ``ev_models_nl.csv``. The
wheel is read as a zip file; ev2gym itself is not installed or imported (it pins old
libraries). The tables are copied as they are, in long form, with their origin in the
header; nothing is fitted here.
"""

from __future__ import annotations

import io
import json
import sys
import zipfile
from pathlib import Path

import pandas as pd

OUT = Path(__file__).resolve().parents[1] / "src" / "evflex" / "data" / "simulate"

HEADER = """\
# ElaadNL charging-session distributions (the Netherlands), as shipped in the ev2gym 2.0.0
# wheel on PyPI (MIT licence, (c) 2024 Stavros Orfanoudakis; data files ev2gym/data/
# distribution-of-arrival.csv, distribution-of-arrival-weekend.csv,
# distribution-of-connection-time.csv, distribution-of-energy-demand.csv and
# distribution-of-charging.csv). ev2gym describes them as ElaadNL distributions
# (Orfanoudakis et al. 2024, EV2Gym, arXiv:2404.01849); the package does not state the
# years of the sessions behind them. Extracted by scripts/extract_elaadnl.py, unchanged.
# site: private (charge points at home), public, workplace.
# table arrival_weekday / arrival_weekend: x = start of a 15-minute bin [h after midnight],
#   value = share of the day type's sessions arriving in the bin [%].
# table connection_h / energy_kwh: x = share of sessions above the value [%, 0-100],
#   value = connection time [h] / energy charged [kWh] (a quantile table).
# table weekday_share: x = day of the week (0 = Monday), value = median share of a
#   week's sessions on that day [%].
"""


def _read(z: zipfile.ZipFile, name: str) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(z.read(f"ev2gym/data/{name}")), encoding="utf-8-sig")


def main(wheel: Path) -> None:
    rows = []
    with zipfile.ZipFile(wheel) as z:
        for table, name in (("arrival_weekday", "distribution-of-arrival.csv"),
                            ("arrival_weekend", "distribution-of-arrival-weekend.csv")):
            df = _read(z, name)
            hours = [int(t[:2]) + int(t[3:5]) / 60 for t in df["Arrival time"]]
            for site in df.columns[1:]:
                rows += [(table, site, x, v) for x, v in zip(hours, df[site], strict=True)]
        for table, name in (("connection_h", "distribution-of-connection-time.csv"),
                            ("energy_kwh", "distribution-of-energy-demand.csv")):
            df = _read(z, name)
            p = df["Percentage of charging events"]
            for site in df.columns[1:]:
                rows += [(table, site, x, v) for x, v in zip(p, df[site], strict=True)]
        df = _read(z, "distribution-of-charging.csv")
        for site in ("private", "public", "workplace"):
            col = f"{site} (median)"
            rows += [("weekday_share", site, d, v) for d, v in enumerate(df[col])
                     if pd.notna(v)]
        specs = json.loads(z.read("ev2gym/data/ev_specs.json"))
    out = pd.DataFrame(rows, columns=["table", "site", "x", "value"])
    with open(OUT / "elaadnl_sessions.csv", "w") as fh:
        fh.write(HEADER)
        out.to_csv(fh, index=False, float_format="%.10g")
    models = pd.DataFrame([
        {"model": k, "registrations": v["number_of_registrations"],
         "battery_kwh": v["battery_capacity"], "max_ac_kw": v["max_ac_charge_power"]}
        for k, v in specs.items()])
    with open(OUT / "ev_models_nl.csv", "w") as fh:
        fh.write("# The 13 battery-electric models most registered in the Netherlands, with their\n"
                 "# registrations, usable battery [kWh] and on-board AC charger [kW], as shipped\n"
                 "# in the ev2gym 2.0.0 wheel (ev2gym/data/ev_specs.json; MIT licence,\n"
                 "# (c) 2024 Stavros Orfanoudakis). The package does not name the registrations'\n"
                 "# source or year; its own analysis script reads them as\n"
                 "# number_of_registrations_2023_nl (Dutch registrations, 2023). Extracted by\n"
                 "# scripts/extract_elaadnl.py, unchanged.\n")
        models.to_csv(fh, index=False)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
