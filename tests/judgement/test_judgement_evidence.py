"""The evidence ledger: primary-sourced observations, and one clear line per bad cell."""

from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path

import pandas as pd
import pytest

from evflex.judgement import EvidenceError, load_evidence
from evflex.judgement.evidence import (
    COLUMNS,
    MEASURES,
    PATHWAYS,
    SEGMENTS,
    measure_of,
    read_ledger,
    shipped_ledger_path,
    stale_rows,
    validate_frame,
)

HEADER = ",".join(COLUMNS)
BASE = {"indicator": "enrolled_vehicles/test", "pathway": "v2g", "region": "UK",
        "country": "GB", "segment": "cars", "date": "2024-06-30", "date_basis": "as_of",
        "value": "120", "unit": "vehicles", "publisher": "Test Publisher",
        "title": "A test report", "url": "https://example.org/report", "published": "2024-07",
        "retrieved": "2025-01-15", "source_kind": "primary", "note": ""}


def line(**changes: str) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow([{**BASE, **changes}[c] for c in COLUMNS])
    return buf.getvalue()


GOOD = line()


def write(tmp_path: Path, *lines: str, name: str = "mine.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_shipped_ledger_rows_are_primary_sourced_and_dated(ledger: pd.DataFrame) -> None:
    assert tuple(ledger.columns[:len(COLUMNS)]) == COLUMNS
    assert len(ledger) >= 40
    assert set(ledger["pathway"]) == set(PATHWAYS)
    assert ledger["indicator"].map(measure_of).isin(list(MEASURES)).all()
    assert ledger["url"].str.match(r"^https?://[^/\s]+").all()
    assert ledger["publisher"].str.len().gt(2).all() and ledger["title"].str.len().gt(2).all()
    assert ledger["segment"].isin(SEGMENTS).all()
    assert (ledger["retrieved"] >= ledger["date"].where(ledger["date_basis"] != "undated",
                                                        ledger["retrieved"])).all()
    text = " ".join(ledger[["publisher", "title", "url", "note"]].to_numpy().ravel())
    assert "seed" not in text.lower() and "readme" not in text.lower()
    # an offer is dated by its availability, never by an announcement
    offers = ledger[ledger["indicator"].map(measure_of) == "commercial_offer"]
    assert not offers["date_basis"].eq("announced").any()
    for rec in ledger.to_dict("records"):
        m = MEASURES[measure_of(rec["indicator"])]
        assert rec["unit"] == m.unit or m.kind == "price", rec


def test_the_observations_the_domain_review_asked_for_are_in_the_ledger(ledger: pd.DataFrame
                                                                        ) -> None:
    have = set(ledger["indicator"])
    for indicator in ("policy_in_force/de_enwg_118_6", "policy_in_force/ferc_order_2222",
                      "policy_in_force/gb_g99_export_application",
                      "announced_vehicles/pge_v2x_residential", "commercial_offer/bmw_eon_v2g",
                      "policy_in_force/china_v2g_scale_pilots",
                      "enrolled_vehicles/smud_managed_ev", "pilot_devices/state_grid_offpeak",
                      "devices_installed/nichicon_v2h"):
        assert indicator in have, indicator
    assert {"CN", "JP", "DE", "GB", "US"} <= set(ledger["country"])


def test_shipped_file_has_exactly_the_columns() -> None:
    first = shipped_ledger_path().read_text(encoding="utf-8").splitlines()[0]
    assert first == HEADER


def test_every_bad_cell_is_one_line_naming_file_line_column_value_and_expectation(
        tmp_path: Path) -> None:
    path = write(tmp_path, HEADER, GOOD,
                 line(pathway="v2x", date="2024-13-01", value="abc", url="",
                      country="XX"),
                 line(indicator="flying_cars", region="", value="-3", segment="boats",
                      publisher="evflex seed analysis"),
                 line(indicator="enrolled_share/x", value="1.5", unit="fraction",
                      published="last year", retrieved="2023-01-01"),
                 line(indicator="commercial_offer/x", value="1", unit="offers",
                      date_basis="announced", source_kind="blog", note="see the README"))
    with pytest.raises(EvidenceError) as err:
        load_evidence(only=path)
    text = str(err.value)
    assert isinstance(err.value, ValueError)
    got = {(p.line, p.column) for p in err.value.problems}
    assert got == {(3, "pathway"), (3, "date"), (3, "value"), (3, "url"), (3, "country"),
                   (4, "indicator"), (4, "region"), (4, "value"), (4, "segment"),
                   (4, "publisher"), (5, "value"), (5, "published"), (6, "date_basis"),
                   (6, "source_kind"), (6, "note")}
    assert len(text.splitlines()) == len(got)
    assert f"{path} line 3, column 'date': got '2024-13-01', expected an ISO date YYYY-MM-DD" \
        in text
    assert "line 3, column 'country': got 'XX', expected an ISO 3166-1 alpha-2 code" in text
    assert "line 4, column 'publisher': got 'evflex seed analysis', expected a source " \
           "outside evflex" in text
    assert "line 6, column 'date_basis': got 'announced', expected the date the offer " \
           "became available" in text


def test_retrieval_before_publication_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER, line(published="2025-03-01", retrieved="2025-02-01"))
    with pytest.raises(EvidenceError, match=r"column 'retrieved'.*on or after the publication"):
        load_evidence(only=path)


def test_missing_or_extra_columns_are_reported_on_the_header(tmp_path: Path) -> None:
    path = write(tmp_path, "indicator,pathway,region,date,value,unit,source,note",
                 "enrolled_vehicles/x,v2g,UK,2024-06-30,1,vehicles,src,")
    with pytest.raises(EvidenceError, match=r"line 1, column '\(header\)'.*missing country"):
        load_evidence(only=path)
    path = write(tmp_path, HEADER + ",extra", GOOD + ",1", name="extra.csv")
    with pytest.raises(EvidenceError, match="unknown extra"):
        load_evidence(only=path)


def test_an_empty_value_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER, line(value=""))
    with pytest.raises(EvidenceError, match="column 'value': got '', expected a finite number"):
        load_evidence(only=path)


def test_a_duplicate_observation_names_both_lines(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER, GOOD, line(value="130"))
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
    replaced = line(**{c: str(shipped[c]) for c in ("indicator", "pathway", "region",
                                                   "country", "segment", "unit")},
                    date=f"{shipped['date']:%Y-%m-%d}", value="999",
                    publisher="My correction")
    path = write(tmp_path, HEADER, GOOD, replaced)
    both = load_evidence(extra=path)
    assert len(both) == len(ledger) + 1
    key = ((both["indicator"] == shipped["indicator"]) & (both["region"] == shipped["region"])
           & (both["date"] == shipped["date"]))
    assert both.loc[key, "value"].tolist() == [999.0]
    assert both.loc[key, "publisher"].tolist() == ["My correction"]
    only = load_evidence(only=path)
    assert len(only) == 2 and set(only["publisher"]) == {"Test Publisher", "My correction"}
    assert only["source"].str.contains("https://example.org/report").all()


def test_a_bad_user_ledger_leaves_the_shipped_one_untouched(tmp_path: Path) -> None:
    before = hashlib.sha256(shipped_ledger_path().read_bytes()).hexdigest()
    path = write(tmp_path, HEADER, line(date="yesterday"))
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


def test_stale_rows_are_those_older_than_the_age_at_the_ledgers_retrieval(tmp_path: Path
                                                                          ) -> None:
    path = write(tmp_path, HEADER, line(date="2018-01-01", published="2018"),
                 line(date="2024-06-30", indicator="enrolled_vehicles/new"),
                 line(date="2025-01-15", indicator="commercial_offer/x", unit="offers",
                      value="1", date_basis="undated", published="undated"))
    ledger = load_evidence(only=path)
    old = stale_rows(ledger, 3.0)
    assert set(old["indicator"]) == {"enrolled_vehicles/test", "commercial_offer/x"}
    assert set(stale_rows(ledger, 10.0)["indicator"]) == {"commercial_offer/x"}  # undated
    assert stale_rows(ledger, 3.0, as_of=pd.Timestamp("2020-01-01"))["indicator"].tolist() \
        == ["commercial_offer/x"]
