"""The workbook is live: LibreOffice recalculates the Filters and States formulas.

Two copies of the base run's workbook are recalculated by LibreOffice headless in one
process: one whose every cached formula result was set to 0 (so a value read back can
only be LibreOffice's own), and one where filter inputs were changed in openpyxl. The
values read back are compared with the engine (the first) and with the engine's own
functions applied to the changed inputs (the second).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from output_helpers import convert, read_block, require_tool, zero_cached_results

from evflex.filters import CONDITIONAL_FILTERS, FUNNEL_STEPS, v2g_funnel
from evflex.model import Results
from evflex.outputs.workbook import write_workbook
from evflex.states import STATES, allocate_states

RTOL = 1e-9
#: Changes made in the second copy: (region, first year, column, new value from old).
RAISED_ENROLMENT = ("Europe", 2035, "v2g_enrolled")
LOWERED_MANAGED = ("USA", 2030, "grid_managed_enrolment")


def _raise(x: float) -> float:
    return min(1.0, x + 0.5 * (1.0 - x))


def _lower(x: float) -> float:
    return 0.5 * x


def _header_columns(ws, row: int) -> dict[str, int]:  # type: ignore[no-untyped-def]
    cols = {}
    for cell in ws[row]:
        if cell.value is None:
            break
        cols[str(cell.value)] = cell.column
    return cols


def _modify(src: Path, dst: Path) -> None:
    """Change two filter inputs in every matching row, as a reader would in Excel."""
    wb = openpyxl.load_workbook(src)
    ws = wb["Filters & Funnel"]
    cols = _header_columns(ws, 6)
    by_name = {h.split(" [")[0]: c for h, c in cols.items()}
    for row in range(7, ws.max_row + 1):
        region, year = ws.cell(row, 1).value, ws.cell(row, 3).value
        if region is None:
            break
        for target, change in ((RAISED_ENROLMENT, _raise), (LOWERED_MANAGED, _lower)):
            t_region, t_year, name = target
            if region == t_region and year >= t_year:
                cell = ws.cell(row, by_name[name])
                cell.value = change(float(cell.value))
    wb.save(dst)


@pytest.fixture(scope="module")
def recalculated(run_dir: Path, two_segment_results: Results,
                 tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Three workbooks recalculated by one LibreOffice process."""
    require_tool("soffice")
    work = tmp_path_factory.mktemp("lo")
    zeroed, modified = work / "zeroed.xlsx", work / "modified.xlsx"
    two = work / "two_segments.xlsx"
    assert zero_cached_results(run_dir / "workbook.xlsx", zeroed) > 8000
    _modify(run_dir / "workbook.xlsx", modified)
    write_workbook(work / "two.xlsx", two_segment_results, {})
    zero_cached_results(work / "two.xlsx", two)
    out = convert([zeroed, modified, two], work / "recalculated")
    return {"zeroed": out[0], "modified": out[1], "two_segments": out[2]}


def _engine_rows(results: Results) -> pd.DataFrame:
    """Engine states and funnel per (region, segment, year), in the workbook's row order."""
    ds = results.data
    order = ("region", "segment", "year")
    df = ds["states"].transpose(*order, "state").to_dataframe(name="v").unstack("state")["v"]
    fun = ds["funnel"].transpose(*order, "step").to_dataframe(name="v").unstack("step")["v"]
    return df[list(STATES)].join(fun[list(FUNNEL_STEPS)])


def _close(got: pd.Series | np.ndarray, want: pd.Series | np.ndarray, what: str) -> None:
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    rel = np.abs(got - want) / np.maximum(np.abs(want), np.finfo(float).tiny)
    exact = got == want
    worst = float(np.max(np.where(exact, 0.0, rel)))
    assert worst <= RTOL, f"{what}: worst relative difference {worst:.3g}"


def test_libreoffice_recalculates_to_the_engine(recalculated: dict[str, Path],
                                                base_results: Results) -> None:
    path = recalculated["zeroed"]
    table = read_block(path, "states_table").set_index(["region", "segment", "year"])
    flt = read_block(path, "filter_table").set_index(["region", "segment", "year"])
    engine = _engine_rows(base_results).loc[table.index]
    assert table[f"{STATES[0]} [vehicles]"].abs().sum() > 0, "values were recalculated"
    for state in STATES:
        _close(table[f"{state} [vehicles]"], engine[state], state)
    ev = engine[list(STATES)].sum(axis=1)
    for state in STATES:
        want = np.where(ev > 0, engine[state] / ev.where(ev > 0, 1.0),
                        1.0 if state == "outside" else 0.0)
        _close(table[f"{state} [share of EV stock]"], want, f"{state} share")
    _close(table["sum of shares [fraction]"], np.ones(len(table)), "sum of shares")
    for step in FUNNEL_STEPS:
        _close(flt[f"funnel: {step} [vehicles]"], engine.loc[flt.index, step], step)

    world = read_block(path, "world_states").set_index("year")
    for state in STATES:
        shares = pd.Series(base_results.world_state_shares(2050))
        _close(world.loc[2050, f"{state} [share of EV stock]"], shares[state], state)
    agg = base_results.aggregated.sel(region="World", segment="all")
    _close(world["World EV stock [vehicles]"], agg["ev_stock"].sel(year=world.index), "ev")
    for state in STATES:
        _close(world[f"{state} [share of EV stock]"],
               agg["state_share"].sel(state=state, year=world.index), f"World {state}")
    summary = openpyxl.load_workbook(path, data_only=True)["Executive Summary"]
    v2g_row = next(r for r in summary.iter_rows() if str(r[0].value).endswith("(v2g)"))
    _close(v2g_row[5].value, base_results.world_state_shares(2100)["v2g"], "summary v2g 2100")


def _inputs(path: Path) -> pd.DataFrame:
    flt = read_block(path, "filter_table")
    flt.columns = [str(c).split(" [")[0] for c in flt.columns]
    return flt


def test_a_changed_filter_moves_the_states_which_still_sum_to_one(
        recalculated: dict[str, Path], run_dir: Path) -> None:
    before = read_block(run_dir / "workbook.xlsx", "states_table")
    after = read_block(recalculated["modified"], "states_table")
    inputs = _inputs(recalculated["modified"])
    old_inputs = _inputs(run_dir / "workbook.xlsx")
    assert (after[["region", "segment", "year"]].values
            == before[["region", "segment", "year"]].values).all()

    # The changed inputs are what the test set, and only there (LibreOffice saves numbers
    # with 15 significant digits, hence the tolerance).
    for (region, year0, name), change in ((RAISED_ENROLMENT, _raise), (LOWERED_MANAGED, _lower)):
        hit = (inputs["region"] == region) & (inputs["year"] >= year0)
        assert hit.sum() > 50
        np.testing.assert_allclose(inputs.loc[hit, name],
                                   old_inputs.loc[hit, name].map(change), rtol=1e-14)
        np.testing.assert_allclose(inputs.loc[~hit, name], old_inputs.loc[~hit, name],
                                   rtol=1e-14)

    # Still 100 % everywhere, and exactly the engine's algebra on the changed inputs.
    _close(after["sum of shares [fraction]"], np.ones(len(after)), "sum of shares")
    counts = after[[f"{s} [vehicles]" for s in STATES]].to_numpy(float)
    ev = inputs["EV stock"].to_numpy(float)
    _close(counts.sum(axis=1), ev, "states add up to the EV stock")
    funnel = v2g_funnel(ev, inputs["V2G-capable stock"].to_numpy(float),
                        {f: inputs[f].to_numpy(float) for f in CONDITIONAL_FILTERS})
    want = allocate_states(
        ev, funnel[FUNNEL_STEPS.index("v2g_active")],
        funnel[FUNNEL_STEPS.index("bidirectional_charger")],
        inputs["smart-capable stock"].to_numpy(float), inputs["v2h_v2b_use"].to_numpy(float),
        inputs["grid_managed_enrolment"].to_numpy(float),
        inputs["smart_charging_use"].to_numpy(float))
    for k, state in enumerate(STATES):
        _close(counts[:, k], want[k], f"{state} after the change")

    # The expected directions.
    def moved(region: str, year0: int, state: str) -> pd.Series:
        rows = (after["region"] == region) & (after["year"] >= year0) \
            & (before[f"{state} [vehicles]"] > 1.0)
        return (after.loc[rows, f"{state} [share of EV stock]"]
                - before.loc[rows, f"{state} [share of EV stock]"])

    region, year0, _ = RAISED_ENROLMENT
    assert (moved(region, year0, "v2g") > 0).all() and len(moved(region, year0, "v2g")) > 20
    assert (moved(region, year0, "v2h_v2b") < 0).all()
    assert (moved(region, year0, "grid_managed") < 0).all()
    region, year0, _ = LOWERED_MANAGED
    assert (moved(region, year0, "grid_managed") < 0).all()
    assert (moved(region, year0, "smart_only") > 0).all()
    assert (moved(region, year0, "outside") > 0).all()
    assert (moved(region, year0, "v2g").abs() < 1e-14).all()
    untouched = ~after["region"].isin([RAISED_ENROLMENT[0], LOWERED_MANAGED[0]])
    np.testing.assert_allclose(after.loc[untouched, "v2g [vehicles]"],
                               before.loc[untouched, "v2g [vehicles]"], rtol=1e-12)

    # The World block follows.
    w_before = read_block(run_dir / "workbook.xlsx", "world_states").set_index("year")
    w_after = read_block(recalculated["modified"], "world_states").set_index("year")
    assert w_after.loc[2100, "v2g [share of EV stock]"] > w_before.loc[2100,
                                                                      "v2g [share of EV stock]"]
    _close(w_after["sum of shares [fraction]"], np.ones(len(w_after)), "World sum")


def test_world_sums_every_region_and_segment(recalculated: dict[str, Path],
                                             two_segment_results: Results) -> None:
    path = recalculated["two_segments"]
    table = read_block(path, "states_table").set_index(["region", "segment", "year"])
    assert set(table.index.get_level_values("segment")) == {"cars", "buses"}
    engine = _engine_rows(two_segment_results).loc[table.index]
    for state in STATES:
        _close(table[f"{state} [vehicles]"], engine[state], state)
    world = read_block(path, "world_states").set_index("year")
    agg = two_segment_results.aggregated.sel(region="World", segment="all")
    _close(world["World EV stock [vehicles]"], agg["ev_stock"].sel(year=world.index), "ev")
    for state in STATES:
        _close(world[f"{state} [vehicles]"],
               agg["states"].sel(state=state, year=world.index), f"World {state}")
        _close(world[f"{state} [share of EV stock]"],
               agg["state_share"].sel(state=state, year=world.index), f"World {state} share")
