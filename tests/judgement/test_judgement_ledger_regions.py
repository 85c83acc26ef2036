"""A ledger row's country: a region evflex models, or a one-line error; a row of a country
outside the run's selection is listed by the now-cast as not judged, never dropped."""

from __future__ import annotations

import itertools
import string
from pathlib import Path

import pandas as pd
import pytest
from test_judgement_evidence import BASE, HEADER, line, write
from typer.testing import CliRunner

from evflex.judgement import EvidenceError, load_evidence
from evflex.judgement.evidence import BLOCS, read_ledger, shipped_ledger_path, validate_frame


def _countries_in_regions_csv() -> set[str]:
    """Country ids of ``regions.csv`` read as a plain CSV (not through evflex.regions)."""
    path = shipped_ledger_path().with_name("regions.csv")
    table = pd.read_csv(path, comment="#", dtype=str, keep_default_na=False)
    countries = table[table["resolution"] == "countries"]["region"]
    return {r for r in countries if len(r) == 2 and r.isupper()}


def test_every_two_letter_code_is_accepted_exactly_when_evflex_models_the_country() -> None:
    codes = ["".join(p) for p in itertools.product(string.ascii_uppercase, repeat=2)]
    frame = pd.DataFrame([{**BASE, "country": code, "indicator": f"enrolled_vehicles/{code}"}
                          for code in [*codes, *BLOCS]])
    with pytest.raises(EvidenceError) as err:
        validate_frame(frame, "(codes)")
    rejected = {p.got for p in err.value.problems}
    assert all(p.column == "country" for p in err.value.problems)
    modelled = _countries_in_regions_csv()
    assert len(modelled) > 30 and {"GB", "DE", "US", "JP", "CN"} <= modelled
    assert rejected == set(codes) - modelled - set(BLOCS)
    # the shipped ledger uses only such codes
    assert set(load_evidence()["country"]) <= modelled | set(BLOCS)


@pytest.mark.parametrize(("code", "hint"), [
    ("AR", "(Argentina has no region of its own in evflex/data/regions.csv)"),
    ("XX", "EU or WORLD"),
    ("UK", "EU or WORLD"),
])
def test_an_unknown_country_is_one_line_naming_file_line_column_and_value(
        tmp_path: Path, code: str, hint: str) -> None:
    path = write(tmp_path, HEADER, line(), line(country=code, date="2025-01-01"))
    with pytest.raises(EvidenceError) as err:
        read_ledger(path)
    (problem,) = err.value.problems
    text = str(err.value)
    assert "\n" not in text
    assert text.startswith(f"{path} line 3, column 'country': got '{code}', expected an ISO "
                           "3166-1 alpha-2 code of a country evflex models (AT, ")
    assert text.endswith(hint)
    assert problem.line == 3 and problem.got == code


def test_the_cli_refuses_an_unknown_country_in_one_line_and_writes_nothing(
        tmp_path: Path) -> None:
    from evflex.cli import app

    path = write(tmp_path, HEADER, line(country="AR"))
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["run", "countries", "--regions", "DE", "--evidence",
                                      str(path), "--out", str(out), "--quiet"])
    assert result.exit_code == 1
    lines = [x for x in result.output.splitlines() if x.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith(f"{path} line 2, column 'country': got 'AR', expected")
    assert "Traceback" not in result.output
    assert not out.exists()


def test_a_country_outside_the_selection_is_listed_as_not_judged(tmp_path: Path) -> None:
    """In a run of DE, the ledger's GB, US, JP and CN observations are listed as not
    judged, and a DE observation is judged; with every region selected, the same
    engine run judges them all."""
    from evflex.model import run
    from evflex.pipeline import finish

    mine = write(tmp_path, HEADER, line(region="Germany", country="DE", value="5",
                                             pathway="grid_managed"))
    ledger = load_evidence(extra=mine)
    results = run("countries")
    only_de = finish(results, evidence=ledger, regions=["DE"]).tables["nowcast"]
    every = finish(results, evidence=ledger).tables["nowcast"]

    assert list(only_de["indicator"]) == list(every["indicator"])  # the same rows
    de = only_de["region"] == "DE"
    assert list(only_de.loc[de, "indicator"]) == ["enrolled_vehicles/test"]
    assert set(only_de.loc[de, "status"]) <= {"pass", "fail"}
    others = only_de[~de]
    assert {"GB", "US", "JP", "CN"} <= set(others["region"])
    assert (others["status"] == "not judged").all()
    assert (others["reason"] == "not judged: region not in this run (evflex run --regions)"
            ).all()
    assert others["modelled"].isna().all()
    # the full run judges every cars row of those countries (vans are not modelled)
    cars = every[(every["region"] != "DE") & (every["segment"] == "cars")]
    assert len(cars) >= 5 and set(cars["status"]) <= {"pass", "fail"}
    vans = every[every["segment"] == "vans"]
    assert len(vans) >= 1
    assert (vans["reason"] == "not judged: segment 'vans' not modelled in this scenario").all()
