"""The workbook is live from the inputs to the conclusions, and agrees with `evflex run`.

An analyst halves ``v2g_enrolled`` in every row of Filters & Funnel and lowers the share
of V2G cars plugged in at the peak on Capacity by Cell, in openpyxl, and LibreOffice
recalculates the file. ``evflex run`` runs the same change written in a scenario file
(the S-curve's start and end halved, the plug-in share's value lowered). The
recalculated capacity (every region, year and metric), every check status and every
scorecard verdict of the workbook must equal the run's CSV files; capacity to 1e-9
relative. A copy of the unchanged workbook whose cached results were all set to 0 must
come back with the engine's numbers, so the values read are LibreOffice's own.
"""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import yaml
from output_helpers import (
    assert_values_match,
    convert,
    read_block,
    require_tool,
    zero_cached_results,
)
from typer.testing import CliRunner

from evflex.scenario.load import read_raw, resolve_path

RTOL = 1e-9
ENROLMENT_FACTOR = 0.5
PLUG_IN_SHARE = 0.45


def _cli_run(scenario: Path | str, out: Path) -> None:
    from evflex.cli import app

    result = CliRunner().invoke(app, ["run", str(scenario), "--out", str(out), "--quiet",
                                      "--no-report", "--allow-failed-checks"])
    assert result.exit_code == 0, result.output


def _header_columns(ws, row: int) -> dict[str, int]:  # type: ignore[no-untyped-def]
    out = {}
    for cell in ws[row]:
        if cell.value is None:
            break
        out[str(cell.value).split(" [")[0]] = cell.column
    return out


def _edit(src: Path, dst: Path) -> int:
    """The analyst's edit, on the cells; returns how many cells changed."""
    wb = openpyxl.load_workbook(src)
    changed = 0
    ws = wb["Filters & Funnel"]
    col = _header_columns(ws, 6)["v2g_enrolled"]
    for row in range(7, ws.max_row + 1):
        cell = ws.cell(row, col)
        if not isinstance(cell.value, int | float):
            break
        cell.value = cell.value * ENROLMENT_FACTOR
        changed += 1
    ws = wb["Capacity by Cell"]
    col = _header_columns(ws, 6)["plug_in_share_at_peak"]
    for row in range(7, ws.max_row + 1):
        cell = ws.cell(row, col)
        if not isinstance(cell.value, int | float):
            break
        cell.value = PLUG_IN_SHARE
        changed += 1
    wb.save(dst)
    return changed


def _changed_scenario(path: Path) -> None:
    raw = read_raw(resolve_path("base"))
    curve = raw["parameters"]["v2g_enrolled"]["scurve"]
    assert "overrides" not in raw["parameters"]["v2g_enrolled"]
    # start, end and the anchor scaled by one factor keep the midpoint: the whole curve
    # (the workbook's column of enrolment shares) scales by it
    curve["start"] *= ENROLMENT_FACTOR
    curve["end"] *= ENROLMENT_FACTOR
    if "anchor" in curve:
        curve["anchor"]["value"] *= ENROLMENT_FACTOR
    plug = raw["parameters"]["plug_in_share_at_peak"]
    assert "overrides" not in plug
    plug["value"] = PLUG_IN_SHARE
    raw["name"] = "base_changed"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    require_tool("soffice")
    work = tmp_path_factory.mktemp("chain")
    _cli_run("base", work / "base")
    scenario = work / "base_changed.yaml"
    _changed_scenario(scenario)
    _cli_run(scenario, work / "changed")
    edited, zeroed = work / "edited.xlsx", work / "zeroed.xlsx"
    assert _edit(work / "base" / "workbook.xlsx", edited) > 2 * 300
    assert zero_cached_results(work / "base" / "workbook.xlsx", zeroed) > 10000
    out = convert([edited, zeroed], work / "recalculated")
    return {"base": work / "base", "changed": work / "changed", "edited": out[0],
            "zeroed": out[1]}


def _capacity(path: Path) -> pd.DataFrame:
    wide = read_block(path, "capacity_table")
    long = wide.melt(id_vars=["region", "year"], var_name="metric")
    long["metric"] = long["metric"].str.split(" ").str[0]
    return long


def _compare_capacity(path: Path, run: Path) -> int:
    want = pd.read_csv(run / "capacity.csv")
    got = _capacity(path)
    merged = want.merge(got, on=["region", "year", "metric"], suffixes=("", "_wb"),
                        validate="one_to_one")
    assert len(merged) == len(want)
    assert_values_match(merged, RTOL)
    return int((merged["value"] != 0).sum())


def _statuses(path: Path) -> pd.Series:
    return read_block(path, "checks_table").set_index("check")["status"]


def _live_verdicts(path: Path) -> pd.Series:
    ws = openpyxl.load_workbook(path, data_only=True)["Scorecard"]
    rows = list(ws.iter_rows(values_only=True))
    at = next(i for i, r in enumerate(rows) if r[0] == "verdict (live)")
    pathways = [p for p in rows[at - 1][1:] if p is not None]
    return pd.Series(dict(zip(pathways, rows[at][1:len(pathways) + 1], strict=True)))


def test_unchanged_workbook_recalculates_to_the_run(chain: dict[str, Path]) -> None:
    assert _compare_capacity(chain["zeroed"], chain["base"]) > 1000
    checks = pd.read_csv(chain["base"] / "checks.csv").set_index("check")["status"]
    pd.testing.assert_series_equal(_statuses(chain["zeroed"]), checks, check_names=False)
    scorecard = pd.read_csv(chain["base"] / "scorecard.csv").set_index("pathway")["verdict"]
    pd.testing.assert_series_equal(_live_verdicts(chain["zeroed"]).sort_index(),
                                   scorecard.sort_index(), check_names=False)


def test_edited_inputs_move_capacity_checks_and_verdicts_as_evflex_run(
        chain: dict[str, Path]) -> None:
    before = pd.read_csv(chain["base"] / "capacity.csv")
    after = pd.read_csv(chain["changed"] / "capacity.csv")
    key = (after["region"] == "World") & (after["year"] == 2100) \
        & (after["metric"] == "v2g_export_power")
    assert after.loc[key, "value"].iloc[0] < 0.6 * before.loc[key, "value"].iloc[0], \
        "the change moves V2G export power"
    _compare_capacity(chain["edited"], chain["changed"])

    want = pd.read_csv(chain["changed"] / "checks.csv").set_index("check")["status"]
    got = _statuses(chain["edited"])
    pd.testing.assert_series_equal(got, want, check_names=False)
    base = pd.read_csv(chain["base"] / "checks.csv").set_index("check")["status"]
    flipped = want[want != base]
    assert "calibration_v2g_2100" in flipped.index, "the change breaks the 2100 calibration"
    assert (flipped == "missed").all()  # a calibration target missed is reported, not failed

    scorecard = pd.read_csv(chain["changed"] / "scorecard.csv").set_index("pathway")["verdict"]
    pd.testing.assert_series_equal(_live_verdicts(chain["edited"]).sort_index(),
                                   scorecard.sort_index(), check_names=False)
    summary = openpyxl.load_workbook(chain["edited"], data_only=True)["Executive Summary"]
    line = next(r[1] for r in summary.iter_rows(values_only=True)
                if r[0] == "Denominator checks")
    assert line == f"{(want == 'pass').sum()} of {len(want)} pass"
