"""A process that writes runs into a store in a loop (used by the crash and concurrency tests).

    python store_writer.py STORE N ROWS [GO_FILE]

Writes N runs (forever if N is 0), each with three tables of ROWS rows, and prints
``writing RUN_ID TABLE`` before each table and ``commit RUN_ID`` after each run, flushed.
With GO_FILE, prints ``ready`` and waits for that file to exist before the first run.
"""

from __future__ import annotations

import itertools
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd

import evflex.store.db as db


def main() -> None:
    store_path, n, rows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    if len(sys.argv) > 4:
        print("ready", flush=True)
        while not Path(sys.argv[4]).exists():
            time.sleep(0.005)
    real = db._insert_table

    def announced(con, run_id, name, df):  # type: ignore[no-untyped-def]
        print(f"writing {run_id} {name}", flush=True)
        real(con, run_id, name, df)

    db._insert_table = announced  # type: ignore[assignment]
    store = db.RunStore(store_path, timeout=60)
    rng = np.random.default_rng()
    for i in itertools.count():
        if n and i >= n:
            break
        run_id = uuid.uuid4().hex[:12]
        tables = {name: pd.DataFrame({"year": np.arange(rows) % 91 + 2010,
                                      "region": np.where(np.arange(rows) % 2, "USA", "China"),
                                      "value": rng.random(rows)})
                  for name in ("states", "funnel", "capacity")}
        store.add(scenario_name="writer", scenario_version=str(i), scenario_hash="x",
                  scenario_yaml=None, tables=tables, run_id=run_id)
        print(f"commit {run_id}", flush=True)


if __name__ == "__main__":
    main()
