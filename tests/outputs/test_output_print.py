"""The workbook prints: LibreOffice renders it to PDF in a bounded number of readable pages.

The PDF of the workbook ``evflex run base`` writes (with the judgement), and of the one
``evflex run countries --regions GB,DE,FR`` writes (three countries with rows of their
own, slow), is rendered by LibreOffice headless together with a reference: one sheet with
one line of text at the workbook's body font and size, printed at 100 %. The height of a
word's box on the reference page gives points of box per point of font; every page's body
text, measured the same way (``pdftotext -bbox``), then gives that page's print scale.
Each sheet must print on its own pages (its name is in the footer), within a page budget,
at a scale at which 11-point text stays at 6 points or more, with no word printed over
another (a row too short for its wrapped text); a sheet the writer fitted onto one page
fewer (``squeeze_short_tail``) fills exactly the pages it asked for, at 7.5 points or
more as its estimate promised.
"""

from __future__ import annotations

import re
import statistics
import subprocess
from pathlib import Path

import pytest
import xlsxwriter
from output_helpers import convert, require_tool
from typer.testing import CliRunner

#: Body font size of the workbook [pt] (XlsxWriter's default, Calibri 11).
BODY_PT = 11.0
#: Smallest printed size of body text [pt].
MIN_BODY_PT = 6.0
#: Page budget: for the whole base workbook and for any one sheet.
MAX_PAGES = 40
MAX_PAGES_PER_SHEET = 5
FOOTER = re.compile(r"evflex · (.+?) page (\d+) of (\d+)")
WORD = re.compile(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">'
                  r"(.*?)</word>")
PAGE = re.compile(r'<page width="[\d.]+" height="([\d.]+)">(.*?)</page>', re.S)


def _reference(path: Path) -> None:
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("reference")
    ws.write_string(0, 0, "Reference line of body text at one hundred percent")
    wb.close()


def _overlapping_words(pdf: Path) -> list[tuple[int, str, str]]:
    """Pairs of words printed over each other (page, word, word): boxes that share more
    than a point of width and over 30 % of a line's height, as text does that a row too
    short for its wrapped lines pushes into the next row."""
    html = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout
    out = []
    for number, (_, body) in enumerate(PAGE.findall(html), start=1):
        boxes = [(float(x0), float(y0), float(x1), float(y1), t)
                 for x0, y0, x1, y1, t in WORD.findall(body)]
        for i, (x0, y0, x1, y1, word) in enumerate(boxes):
            for u0, v0, u1, v1, other in boxes[i + 1:]:
                if (min(x1, u1) - max(x0, u0) > 1.0
                        and min(y1, v1) - max(y0, v0) > 0.3 * (y1 - y0)):
                    out.append((number, word, other))
    return out


def _pages(pdf: Path) -> list[tuple[str, str, list[float]]]:
    """Per page: its footer, its text, and the heights of the boxes of its words above
    the footer [pt]."""
    html = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout
    out = []
    for height, body in PAGE.findall(html):
        words = [(float(x0), float(y0), float(y1), t.replace("&amp;", "&"))
                 for x0, y0, _, y1, t in WORD.findall(body)]
        # the footer sits in the bottom margin, its size scaled with the page's
        bottom = float(height) - 40
        footer = " ".join(t for _, _, t in sorted((x, y0, t) for x, y0, _, t in words
                                                 if y0 >= bottom))
        text = " ".join(t for _, y0, _, t in words if y0 < bottom)
        out.append((footer, text, [y1 - y0 for _, y0, y1, _ in words if y0 < bottom]))
    return out


#: The printed runs: ``evflex run`` arguments.
CASES = {
    "base": ["base"],
    "three countries": ["countries", "--regions", "GB,DE,FR", "--allow-failed-checks"],
}


@pytest.fixture(scope="module", params=[
    "base", pytest.param("three countries", marks=pytest.mark.slow)])
def printed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
            ) -> dict[str, object]:
    require_tool("soffice")
    require_tool("pdftotext")
    import openpyxl

    from evflex.cli import app

    work = tmp_path_factory.mktemp("print")
    result = CliRunner().invoke(app, ["run", *CASES[request.param], "--out",
                                      str(work / "run"), "--quiet", "--no-report",
                                      "--no-parquet"])
    assert result.exit_code == 0, result.output
    _reference(work / "reference.xlsx")
    pdfs = convert([work / "run" / "workbook.xlsx", work / "reference.xlsx"], work / "pdf",
                   to="pdf")
    book = openpyxl.load_workbook(work / "run" / "workbook.xlsx")
    # pages tall each sheet is fitted to (0: as many as fit-to-width takes; None: 1)
    fitted = {ws.title: ws.page_setup.fitToHeight for ws in book.worksheets}
    return {"pages": _pages(pdfs[0]), "reference": _pages(pdfs[1]), "sheets": book.sheetnames,
            "fitted": fitted, "overlaps": _overlapping_words(pdfs[0])}


def _per_sheet(printed: dict[str, object]) -> dict[str, list[float]]:
    """Each sheet's pages in print order, as the body text size of each page [pt]."""
    (_, ref_text, ref_heights), = printed["reference"]  # type: ignore[misc]
    assert "Reference" in ref_text
    box_per_pt = statistics.median(ref_heights) / BODY_PT
    out: dict[str, list[float]] = {}
    for footer, text, heights in printed["pages"]:  # type: ignore[attr-defined]
        found = FOOTER.search(footer)
        assert found, f"a page without the evflex footer: {text[:80]!r}"
        out.setdefault(found.group(1), []).append(statistics.median(heights) / box_per_pt)
    return out


def test_every_sheet_prints_within_the_page_budget(printed: dict[str, object]) -> None:
    per_sheet = {sheet: len(pages) for sheet, pages in _per_sheet(printed).items()}
    assert set(per_sheet) == set(printed["sheets"])  # type: ignore[arg-type]
    assert sum(per_sheet.values()) <= MAX_PAGES, per_sheet
    too_long = {s: n for s, n in per_sheet.items() if n > MAX_PAGES_PER_SHEET}
    assert not too_long, too_long


def test_printed_text_stays_readable(printed: dict[str, object]) -> None:
    smallest = min((size, sheet) for sheet, sizes in _per_sheet(printed).items()
                   for size in sizes)
    assert smallest[0] >= MIN_BODY_PT, f"body text printed at {smallest[0]:.1f} pt: {smallest[1]}"
    # the measure sees the scaling: wide sheets print smaller than the reference
    assert smallest[0] < 0.95 * BODY_PT


def test_sheets_fitted_onto_fewer_pages_fill_them_at_a_readable_size(
        printed: dict[str, object]) -> None:
    """The writer's estimate of a sheet's pages (``print_extent``) decides which sheets to
    fit onto one page fewer; LibreOffice's own print must bear it out: the pages asked
    for, at :data:`SQUEEZE_MIN_PT` or more (0.3 pt for the rows that do not split)."""
    from evflex.outputs.workbook.cells import SQUEEZE_MIN_PT

    per_sheet = _per_sheet(printed)
    fitted = {s: n or 1 for s, n in printed["fitted"].items()  # type: ignore[attr-defined]
              if n != 0}
    assert fitted, "no sheet was fitted onto fewer pages"
    got = {s: len(per_sheet[s]) for s in fitted}
    assert got == fitted
    small = {s: round(min(per_sheet[s]), 1) for s in fitted
             if min(per_sheet[s]) < SQUEEZE_MIN_PT - 0.3}
    assert not small, small


def test_no_printed_text_runs_into_other_text(printed: dict[str, object]) -> None:
    """Every row is tall enough for its wrapped text (``text_lines`` measures it in the
    font LibreOffice draws): no word is printed over another."""
    assert printed["overlaps"] == []


def test_the_summary_prints_its_scorecard_on_one_page(printed: dict[str, object]) -> None:
    """The Executive Summary's sections are not cut across pages
    (``keep_sections_together``): the final scorecard's rows, a pathway and its verdict
    each, print on the page of its heading (a verdict and the rule beside it may come out
    as one word)."""
    pages = [text for footer, text, _ in printed["pages"]  # type: ignore[attr-defined]
             if "Executive Summary" in footer]
    (page,) = [text for text in pages if "Final scorecard" in text]
    pathways = ("smart_charging", "grid_managed", "v2h_v2b", "v2g")
    assert set(pathways) <= set(page.split())
    verdicts = re.findall(r"scaling|progressing|niche-valid|activity-only|stalled", page)
    assert len(verdicts) >= len(pathways), page[:300]
