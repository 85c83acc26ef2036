"""The workbook as written (cached values, layout, formats, charts), without LibreOffice."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from output_helpers import read_block

import evflex.outputs.workbook.writer as workbook_module
from evflex.capacity import METRICS
from evflex.filters import FUNNEL_STEPS
from evflex.model import Results
from evflex.outputs.style import STATE_COLOURS
from evflex.outputs.workbook import write_workbook
from evflex.scenario import parameter_table
from evflex.states import STATES

CORE_SHEETS = ["Executive Summary", "Assumptions", "Fleet", "Filters & Funnel", "States",
               "Capacity", "Capacity by Cell", "Denominator Checks", "Check Measures",
               "Comparator Stack", "Update Triggers", "Scorecard", "Decision Implications"]


def _sheet_frame(ws, header_row: int) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """The table of a sheet whose header is at ``header_row`` (1-based), up to a blank."""
    header = [c.value for c in ws[header_row]]
    width = next((i for i, h in enumerate(header) if h is None), len(header))
    rows = []
    for row in ws.iter_rows(min_row=header_row + 1, max_col=width, values_only=True):
        if row[0] is None:
            break
        rows.append(row)
    return pd.DataFrame(rows, columns=header[:width])


@pytest.fixture(scope="module")
def book(run_dir: Path) -> openpyxl.Workbook:
    return openpyxl.load_workbook(run_dir / "workbook.xlsx", data_only=True)


def test_sheets_in_order_and_hourly_only_when_simulated(book, full_run_dir: Path) -> None:  # type: ignore[no-untyped-def]
    assert book.sheetnames == [*CORE_SHEETS, "Sources"]
    full = openpyxl.load_workbook(full_run_dir / "workbook.xlsx", read_only=True)
    names = full.sheetnames
    assert names[:7] == CORE_SHEETS[:7]
    assert names[7] == "Hourly"
    assert names[8:] == [*CORE_SHEETS[7:], "Evidence", "Sources"]


def test_missing_judgement_table_gives_a_note_not_data(book) -> None:  # type: ignore[no-untyped-def]
    for sheet, key in (("Comparator Stack", "comparators"), ("Scorecard", "scorecard"),
                       ("Update Triggers", "triggers"),
                       ("Decision Implications", "implications")):
        ws = book[sheet]
        assert f"'{key}' table" in ws["A4"].value
        assert ws.max_row == 4


def test_judgement_sheets_hold_the_tables(full_run_dir: Path,
                                          judgement_tables: dict[str, pd.DataFrame]) -> None:
    wb = openpyxl.load_workbook(full_run_dir / "workbook.xlsx", data_only=True)
    for sheet, key in (("Comparator Stack", "comparators"), ("Scorecard", "scorecard"),
                       ("Update Triggers", "triggers"), ("Decision Implications", "implications"),
                       ("Evidence", "evidence")):
        got = _sheet_frame(wb[sheet], 4)
        want = judgement_tables[key]
        assert len(got) == len(want), sheet
        for j, column in enumerate(want.columns):
            values = got.iloc[:, j].tolist()
            expected = want[column].tolist()
            for a, b in zip(values, expected, strict=True):
                if isinstance(b, float) and np.isnan(b):
                    assert a is None
                elif isinstance(b, bool | np.bool_):
                    assert a is bool(b)
                elif isinstance(b, int | float | np.number):
                    assert a == pytest.approx(float(b), rel=1e-12)
                else:
                    assert (a or "") == str(b)
    summary = wb["Executive Summary"]
    texts = [c.value for row in summary.iter_rows() for c in row if isinstance(c.value, str)]
    verdicts = judgement_tables["scorecard"]["verdict"].tolist()
    assert all(v in texts for v in verdicts)


def test_states_and_funnel_cached_values_equal_the_csv_tables(run_dir: Path) -> None:
    states = pd.read_csv(run_dir / "states.csv")
    funnel = pd.read_csv(run_dir / "funnel.csv")
    table = read_block(run_dir / "workbook.xlsx", "states_table")
    flt = read_block(run_dir / "workbook.xlsx", "filter_table")
    regional = states[(states["region"] != "World") & (states["segment"] != "all")]
    for state in STATES:
        want = regional[regional["state"] == state].set_index(["region", "segment", "year"])
        got = table.set_index(["region", "segment", "year"])
        np.testing.assert_allclose(got[f"{state} [vehicles]"], want.loc[got.index, "vehicles"],
                                   rtol=1e-12, atol=1e-6)
        np.testing.assert_allclose(got[f"{state} [share of EV stock]"],
                                   want.loc[got.index, "share"], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(table["sum of shares [fraction]"], 1.0, rtol=0, atol=1e-12)
    fun = funnel.set_index(["region", "segment", "year", "step"])["vehicles"]
    for step in FUNNEL_STEPS:
        idx = [(r, s, y, step) for r, s, y in zip(flt["region"], flt["segment"], flt["year"],
                                                   strict=True)]
        np.testing.assert_allclose(flt[f"funnel: {step} [vehicles]"], fun.loc[idx].to_numpy(),
                                   rtol=1e-12, atol=1e-6)
    world = read_block(run_dir / "workbook.xlsx", "world_states")
    ws = states[(states["region"] == "World") & (states["segment"] == "all")]
    for state in STATES:
        want = ws[ws["state"] == state].set_index("year").loc[world["year"]]
        np.testing.assert_allclose(world[f"{state} [share of EV stock]"], want["share"],
                                   rtol=1e-12)
        np.testing.assert_allclose(world[f"{state} [vehicles]"], want["vehicles"], rtol=1e-12)


def test_world_funnel_block_equals_the_funnel_table(run_dir: Path) -> None:
    funnel = pd.read_csv(run_dir / "funnel.csv")
    energy = pd.read_csv(run_dir / "energy_funnel.csv")
    year = int(energy["year"].iloc[0])
    want = funnel[(funnel["region"] == "World") & (funnel["segment"] == "all")
                  & (funnel["year"] == year)].set_index("step")["vehicles"]
    block = read_block(run_dir / "workbook.xlsx", "world_funnel")
    np.testing.assert_allclose(block["vehicles [vehicles]"], want.loc[list(FUNNEL_STEPS)],
                               rtol=1e-12)


def test_fleet_capacity_checks_sheets_equal_the_csv_tables(book, run_dir: Path) -> None:  # type: ignore[no-untyped-def]
    fleet = pd.read_csv(run_dir / "fleet.csv")
    got = _sheet_frame(book["Fleet"], 4)
    assert len(got) == len(fleet)
    assert (got.iloc[0, 0], got.iloc[0, 1]) == ("World", "all"), "World, all segments first"
    got.columns = fleet.columns
    got = got.set_index(["region", "segment", "year"])
    want = fleet.set_index(["region", "segment", "year"]).loc[got.index]
    np.testing.assert_allclose(got.to_numpy(float), want.to_numpy(float), rtol=1e-12)

    capacity = pd.read_csv(run_dir / "capacity.csv")
    cap = _sheet_frame(book["Capacity"], 4)
    assert list(cap.columns) == ["region", "year", *[f"{m} [{u}]" for m, u in METRICS.items()]]
    long = cap.melt(id_vars=["region", "year"], var_name="metric")
    long["metric"] = long["metric"].str.split(" ").str[0]
    merged = capacity.merge(long, on=["region", "year", "metric"], suffixes=("", "_wb"))
    assert len(merged) == len(capacity)
    np.testing.assert_allclose(merged["value_wb"], merged["value"], rtol=1e-12)

    checks = pd.read_csv(run_dir / "checks.csv")
    got = _sheet_frame(book["Denominator Checks"], 4)
    assert got["check"].tolist() == checks["check"].tolist()
    assert got["status"].tolist() == checks["status"].tolist()
    np.testing.assert_allclose(got["value (measured)"].astype(float), checks["value"],
                               rtol=1e-12, atol=0)


def test_assumptions_and_sources_cover_every_parameter(book, base_results: Results) -> None:  # type: ignore[no-untyped-def]
    table = parameter_table(base_results.scenario)
    got = _sheet_frame(book["Assumptions"], 4)
    assert len(got) == len(table)
    assert got["parameter"].tolist() == table["parameter"].tolist()
    assert got["unit"].tolist() == table["unit"].tolist()
    assert got["source"].tolist() == table["source"].tolist()
    years = ["" if pd.isna(y) else str(int(y)) for y in table["year"]]
    assert [y or "" for y in got["source year"]] == years
    sources = _sheet_frame(book["Sources"], 4)
    assert set(table["source"]) <= set(sources["source"])
    sc = base_results.scenario
    assert sc.bidirectional_models.source in set(sources["source"])


def test_formats_frozen_headers_units_and_input_styles(run_dir: Path) -> None:
    wb = openpyxl.load_workbook(run_dir / "workbook.xlsx")
    for name in ("Fleet", "Filters & Funnel", "States", "Capacity", "Assumptions",
                 "Denominator Checks", "Sources"):
        assert wb[name].freeze_panes is not None, name
    flt = wb["Filters & Funnel"]
    header = [c.value for c in flt[6]]
    header = header[: header.index(None)]  # the table; blocks to its right have their own
    units = [h for h in header if h not in ("region", "segment", "year")]
    assert all(re.search(r"\[.+\]", h) for h in units), units
    col = {h: i + 1 for i, h in enumerate(header) if h}
    share = flt.cell(7, col["v2g_enrolled [fraction of EVs permitted to export]"])
    stock = flt.cell(7, col["EV stock [vehicles]"])
    step = flt.cell(7, col["funnel: v2g_enrolled [vehicles]"])
    assert share.fill.fgColor.rgb == stock.fill.fgColor.rgb != step.fill.fgColor.rgb
    assert share.font.color.rgb != step.font.color.rgb
    assert share.number_format.endswith("%") and stock.number_format == "#,##0"
    assert isinstance(step.value, str) and step.value.startswith("=")
    assert not isinstance(share.value, str)
    states = wb["States"]
    assert all(isinstance(c.value, str) and c.value.startswith("=")
               for c in states[7][3:16]), [c.value for c in states[7][3:16]]
    assert "Filters & Funnel" in states["E7"].value
    assert flt.data_validations.dataValidation, "filter inputs are validated (0 to 1)"


def test_native_charts_use_the_state_colours(run_dir: Path) -> None:
    with zipfile.ZipFile(run_dir / "workbook.xlsx") as z:
        charts = [z.read(n).decode() for n in z.namelist() if n.startswith("xl/charts/chart")]
    stacked = [c for c in charts if "<c:areaChart>" in c]
    assert len(stacked) == 3, "shares and vehicles on States, shares on the summary"
    for xml in stacked:
        assert '<c:grouping val="stacked"/>' in xml
        colours = re.findall(r'<c:ser>.*?<a:srgbClr val="([0-9A-F]{6})"', xml, flags=re.S)
        assert colours == [STATE_COLOURS[s].lstrip("#").upper() for s in STATES]
    bars = [c for c in charts if "<c:barChart>" in c]
    assert len(bars) == 2, "vehicle funnel and energy funnel"
    assert any("<c:logBase" in c for c in bars)


def test_summary_state_shares_point_at_the_world_block(run_dir: Path,
                                                       base_results: Results) -> None:
    wb = openpyxl.load_workbook(run_dir / "workbook.xlsx")
    ws = wb["Executive Summary"]
    cached = openpyxl.load_workbook(run_dir / "workbook.xlsx", data_only=True)[
        "Executive Summary"]
    header = next(row for row in ws.iter_rows() if row[0].value == "figure")
    columns = {c.value: c.column for c in header if isinstance(c.value, int)}
    assert list(columns) == [2025, 2030, 2050, 2100]
    found = 0
    for row in ws.iter_rows(min_row=header[0].row + 1):
        label = row[0].value
        for state in STATES:
            if isinstance(label, str) and label.endswith(f"({state})"):
                for year, col in columns.items():
                    formula = ws.cell(row[0].row, col).value
                    assert isinstance(formula, str) and formula.startswith("='States'!")
                    value = cached.cell(row[0].row, col).value
                    want = base_results.world_state_shares(year)[state]
                    assert value == pytest.approx(want, rel=1e-12, abs=1e-15)
                found += 1
    assert found == len(STATES)


def test_a_failed_write_keeps_the_earlier_file(tmp_path: Path, base_results: Results,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "workbook.xlsx"
    path.write_bytes(b"earlier")

    def broken(*args: object, **kwargs: object) -> None:
        Path(args[0]).write_bytes(b"half")  # type: ignore[arg-type]
        raise RuntimeError("disk full")

    monkeypatch.setattr(workbook_module, "_build", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        write_workbook(path, base_results, {})
    assert path.read_bytes() == b"earlier"
    assert [p.name for p in tmp_path.iterdir()] == ["workbook.xlsx"]


def test_tables_default_from_the_results(tmp_path: Path, base_results: Results) -> None:
    """Called with no tables, the writer computes the engine's own."""
    write_workbook(tmp_path / "w.xlsx", base_results, {})
    wb = openpyxl.load_workbook(tmp_path / "w.xlsx", read_only=True)
    assert wb.sheetnames == [*CORE_SHEETS, "Sources"]


def test_hourly_sheet_equals_the_csv_with_live_load_columns(full_run_dir: Path) -> None:
    csv = pd.read_csv(full_run_dir / "hourly.csv")
    values = openpyxl.load_workbook(full_run_dir / "workbook.xlsx", data_only=True)["Hourly"]
    formulas = openpyxl.load_workbook(full_run_dir / "workbook.xlsx")["Hourly"]
    got = _sheet_frame(values, 4)
    assert len(got) == len(csv)
    for j, column in enumerate(csv.columns):
        assert got.columns[j].split(" [")[0] == column
        if pd.api.types.is_bool_dtype(csv[column]):
            assert got.iloc[:, j].tolist() == csv[column].tolist()
        else:
            np.testing.assert_allclose(got.iloc[:, j].astype(float), csv[column], rtol=1e-12)
    for strategy in ("unmanaged", "managed", "v2g"):
        header = f"system load with {strategy} charging [kW]"
        np.testing.assert_allclose(got[header], csv["base_kw"] + csv[f"{strategy}_kw"],
                                   rtol=1e-12)
        col = list(got.columns).index(header) + 1
        assert str(formulas.cell(5, col).value).startswith("=")
    # printed: the first rows of the load profile, up to the last strategy's charging
    from openpyxl.utils import range_boundaries

    from evflex.outputs.workbook.cells import PRINTED_CELL_ROWS

    area = str(formulas.print_area).split("!")[-1]
    first_col, first_row, last_col, last_row = range_boundaries(area)
    assert (first_col, first_row) == (1, 1)
    assert last_row == 4 + min(len(csv), PRINTED_CELL_ROWS)
    assert got.columns[last_col - 1].split(" [")[0] == "v2g_kw"


def test_judgement_tables_with_dates_and_gaps(tmp_path: Path, base_results: Results) -> None:
    import datetime

    evidence = pd.DataFrame({
        "indicator": ["v2g_programme_vehicles", "smart_charger_share"],
        "pathway": ["v2g", "smart_charging"], "region": ["Europe", None],
        "date": pd.to_datetime(["2025-06-30", None]), "value": [1200.0, np.nan],
        "unit": ["vehicles", "fraction"], "source": ["source A (2025)", "source B (2024)"],
        "note": [pd.NA, "a note"]})
    write_workbook(tmp_path / "w.xlsx", base_results, {"evidence": evidence})
    wb = openpyxl.load_workbook(tmp_path / "w.xlsx")
    ws = wb["Evidence"]
    assert [c.value for c in ws[4]] == list(evidence.columns)
    assert ws["D5"].value == datetime.datetime(2025, 6, 30)
    assert ws["D5"].number_format == "yyyy-mm-dd"
    assert ws["E5"].value == 1200.0
    assert [ws[f"{c}6"].value for c in "CDE"] == [None, None, None]
    assert [ws["H5"].value, ws["H6"].value] == [None, "a note"]
    sources = _sheet_frame(wb["Sources"], 4).set_index("source")
    assert sources.loc["source A (2025)", "year"] == "2025-06-30"
    assert sources.loc["source B (2024)", "used for"] == "smart_charger_share"


def test_simulated_availability_becomes_the_capacity_inputs(tmp_path: Path) -> None:
    """A run whose availability came from elsewhere (a simulation) shows that availability
    as the inputs of Capacity by Cell, and the capacity the engine computed from it."""
    from evflex.capacity import Availability
    from evflex.model import run

    avail = Availability(plug_in_share_at_peak=0.5, soc_at_peak=0.72, mobility_reserve_soc=0.31,
                         charging_coincidence_at_peak=0.27, source="simulation: a test")
    results = run("base", availability=avail)
    write_workbook(tmp_path / "w.xlsx", results, {})
    cells = read_block(tmp_path / "w.xlsx", "capacity_cells")
    for name in ("plug_in_share_at_peak", "soc_at_peak", "mobility_reserve_soc",
                 "charging_coincidence_at_peak"):
        column = next(c for c in cells.columns if c.startswith(f"{name} ["))
        assert (cells[column] == getattr(avail, name)).all(), name
    want = results.data["capacity_v2g_export_power"].transpose("region", "segment", "year")
    np.testing.assert_allclose(cells["v2g_export_power [GW]"].astype(float),
                               want.values.reshape(-1), rtol=1e-12)


def test_balanced_text_columns_keep_the_width_and_take_no_more_lines(
        base_results: Results) -> None:
    """The Assumptions' wrapped-text columns, shared out anew: the table keeps its width,
    no column is narrower than the least, and its rows take fewer lines than before (the
    sum over rows of the tallest cell, as ``text_lines`` measures it)."""
    from evflex.outputs.workbook.cells import Column, balance_widths, text_lines

    table = parameter_table(base_results.scenario)
    cols = [Column("parameter", "parameter", kind="label", width=24),
            Column("denominator", "denominator (share of)", kind="text", width=16),
            Column("path", "value or path", kind="text", width=26),
            Column("source", "source", kind="text", width=42),
            Column("note", "note", kind="text", width=18)]

    def lines(columns: list[Column]) -> int:
        texts = [c for c in columns if c.kind == "text"]
        return sum(max(text_lines("" if pd.isna(rec[c.key]) else str(rec[c.key]), c.width)
                       for c in texts)
                   for rec in table.to_dict("records"))

    balanced = balance_widths(cols, table)
    assert sum(c.width for c in balanced) == sum(c.width for c in cols)
    assert balanced[0] == cols[0] and min(c.width for c in balanced) >= 10
    assert lines(balanced) < lines(cols)
