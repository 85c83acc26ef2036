"""The evidence ledger: the shipped observations, and clear errors for bad rows."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest

from evflex.judgement import EvidenceError, load_evidence
from evflex.judgement.evidence import (
    COLUMNS,
    MEASURES,
    PATHWAYS,
    measure_of,
    read_ledger,
    shipped_ledger_path,
    validate_frame,
)

HEADER = ",".join(COLUMNS)
GOOD = 'enrolled_vehicles/test,v2g,UK,2024-06-30,120,vehicles,"Test source, 2024",'


def write(tmp_path: Path, *lines: str, name: str = "mine.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_shipped_ledger_has_25_sourced_observations_across_pathways(ledger: pd.DataFrame
                                                                    ) -> None:
    assert tuple(ledger.columns) == COLUMNS
    assert len(ledger) >= 25
    assert ledger["source"].str.strip().str.len().gt(10).all()
    assert set(ledger["pathway"]) == set(PATHWAYS)
    assert ledger["indicator"].map(measure_of).isin(list(MEASURES)).all()
    assert ledger["date"].dt.year.between(2010, 2026).all()
    # each row's unit is its measure's (prices may be in another currency)
    for rec in ledger.to_dict("records"):
        m = MEASURES[measure_of(rec["indicator"])]
        assert rec["unit"] == m.unit or m.kind == "price", rec


def test_shipped_file_has_exactly_the_columns() -> None:
    first = shipped_ledger_path().read_text(encoding="utf-8").splitlines()[0]
    assert first == HEADER


def test_every_bad_cell_is_named_with_file_line_column_value_and_expectation(tmp_path: Path
                                                                             ) -> None:
    path = write(tmp_path, HEADER, GOOD,
                 "enrolled_vehicles/x,v2x,UK,2024-13-01,abc,vehicles,,",
                 "flying_cars,v2g,,2024-01-01,-3,vehicles,src,",
                 "enrolled_share/x,grid_managed,USA,2024-01-01,1.5,fraction,src,",
                 "charger_price/x,v2g,USA,2024-01-01,100,EUROS,src,")
    with pytest.raises(EvidenceError) as err:
        load_evidence(only=path)
    text = str(err.value)
    assert isinstance(err.value, ValueError)
    got = {(p.line, p.column) for p in err.value.problems}
    assert got == {(3, "pathway"), (3, "date"), (3, "value"), (3, "source"),
                   (4, "indicator"), (4, "region"), (4, "value"),
                   (5, "value"), (6, "unit")}
    assert f"{path} line 3, column 'date': got '2024-13-01', expected an ISO date YYYY-MM-DD" \
        in text
    assert "line 3, column 'pathway': got 'v2x', expected one of smart_charging" in text
    assert "line 5, column 'value': got '1.5', expected a number between 0 and 1" in text
    assert "line 6, column 'unit': got 'EUROS'" in text


def test_missing_or_extra_columns_are_reported_on_the_header(tmp_path: Path) -> None:
    path = write(tmp_path, "indicator,pathway,region,date,value,unit,source",
                 'enrolled_vehicles/x,v2g,UK,2024-06-30,1,vehicles,src')
    with pytest.raises(EvidenceError, match=r"line 1, column '\(header\)'.*missing note"):
        load_evidence(only=path)
    path = write(tmp_path, HEADER + ",extra", GOOD + ",1", name="extra.csv")
    with pytest.raises(EvidenceError, match="unknown extra"):
        load_evidence(only=path)


def test_a_row_short_of_cells_and_an_empty_value_are_errors(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER, "enrolled_vehicles/x,v2g,UK,2024-06-30,,vehicles,src,")
    with pytest.raises(EvidenceError, match="column 'value': got '', expected a finite number"):
        load_evidence(only=path)


def test_a_duplicate_observation_names_both_lines(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER, GOOD, GOOD.replace("120", "130"))
    with pytest.raises(EvidenceError, match=r"line 3, column 'date'.*line 2 has the same"):
        load_evidence(only=path)


def test_missing_file_and_conflicting_arguments(tmp_path: Path) -> None:
    with pytest.raises(EvidenceError, match="an existing CSV file"):
        load_evidence(only=tmp_path / "nope.csv")
    path = write(tmp_path, HEADER, GOOD)
    with pytest.raises(EvidenceError, match="not both"):
        load_evidence(extra=path, only=path)


def test_extra_ledger_adds_and_replaces_rows(tmp_path: Path, ledger: pd.DataFrame) -> None:
    shipped = ledger.iloc[0]
    replaced = (f"{shipped['indicator']},{shipped['pathway']},{shipped['region']},"
                f"{shipped['date']:%Y-%m-%d},999,{shipped['unit']},my correction,")
    path = write(tmp_path, HEADER, GOOD, replaced)
    both = load_evidence(extra=path)
    assert len(both) == len(ledger) + 1
    key = ((both["indicator"] == shipped["indicator"]) & (both["region"] == shipped["region"])
           & (both["date"] == shipped["date"]))
    assert both.loc[key, "value"].tolist() == [999.0]
    assert both.loc[key, "source"].tolist() == ["my correction"]
    only = load_evidence(only=path)
    assert len(only) == 2 and set(only["source"]) == {"Test source, 2024", "my correction"}


def test_a_bad_user_ledger_leaves_the_shipped_one_untouched(tmp_path: Path) -> None:
    before = hashlib.sha256(shipped_ledger_path().read_bytes()).hexdigest()
    path = write(tmp_path, HEADER, "enrolled_vehicles/x,v2g,UK,yesterday,1,vehicles,src,")
    with pytest.raises(EvidenceError):
        load_evidence(extra=path)
    assert hashlib.sha256(shipped_ledger_path().read_bytes()).hexdigest() == before
    assert len(load_evidence()) == len(read_ledger(shipped_ledger_path()))


def test_validate_frame_accepts_a_typed_table_and_rejects_bad_cells(ledger: pd.DataFrame
                                                                    ) -> None:
    again = validate_frame(ledger)
    pd.testing.assert_frame_equal(again, ledger)
    bad = ledger.copy()
    bad.loc[0, "pathway"] = "teleport"
    with pytest.raises(EvidenceError, match="line 1, column 'pathway'"):
        validate_frame(bad)
