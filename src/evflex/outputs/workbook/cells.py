"""Cells of the workbook: styles, number formats, tables, references and page setup.

Cell styles: inputs are blue on pale yellow; live formulas are black on white; values the
engine computed and wrote as numbers are black on pale grey.
"""

from __future__ import annotations

import datetime
import itertools
import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, ClassVar

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.ft2font import FT2Font
from xlsxwriter.utility import xl_cell_to_rowcol, xl_rowcol_to_cell
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from evflex.outputs.content import is_missing, plain

SHEET_SUMMARY = "Executive Summary"
SHEET_ASSUMPTIONS = "Assumptions"
SHEET_FLEET = "Fleet"
SHEET_FILTERS = "Filters & Funnel"
SHEET_STATES = "States"
SHEET_CAPACITY = "Capacity"
SHEET_CAPACITY_CELLS = "Capacity by Cell"
SHEET_CHECK_CELLS = "Check Measures"
SHEET_HOURLY = "Hourly"
SHEET_CHECKS = "Denominator Checks"
SHEET_SOURCES = "Sources"

INPUT_FILL = "#FFF2CC"
INPUT_FONT = "#1F4E9E"
VALUE_FILL = "#F2F2F2"
HEADER_FILL = "#1F3B57"
GROUP_FILL = "#D9E1EA"
PASS_FILL = "#D8EFD8"
FAIL_FILL = "#F8D0D0"

#: Number formats by unit.
NUMBER_FORMATS: dict[str, str] = {
    "vehicles": "#,##0",
    "vehicles/year": "#,##0",
    "fraction": "0.0%",
    "TWh": "#,##0.00",
    "GWh": "#,##0.00",
    "GWh/day": "#,##0.00",
    "GW": "#,##0.00",
    "kW": "#,##0.0",
    "kWh": "#,##0.0",
    "kWh/day": "#,##0.0",
    "kWh/vehicle": "#,##0.0",
    "h": "0.00",
    "year": "0",
    "years": "0.0",
}
#: Inputs of fractions show more digits than outputs.
INPUT_FRACTION_FORMAT = "0.000%"
MILLIONS_FORMAT = '#,##0.0,,"M"'
DATE_FORMAT = "yyyy-mm-dd"


def _num_format(unit: str) -> str:
    return NUMBER_FORMATS.get(unit, "General")


class _Formats:
    """The workbook's cell formats, created once and cached by (kind, number format)."""

    KINDS: ClassVar[dict[str, dict[str, Any]]] = {
        "input": {"bg_color": INPUT_FILL, "font_color": INPUT_FONT, "border": 1,
                  "border_color": "#BFBFBF", "locked": False, "valign": "top"},
        "formula": {"border": 1, "border_color": "#E0E0E0", "valign": "top"},
        "value": {"bg_color": VALUE_FILL, "border": 1, "border_color": "#E0E0E0",
                  "valign": "top"},
        "label": {"border": 1, "border_color": "#E0E0E0", "valign": "top"},
        "text": {"text_wrap": True, "valign": "top", "border": 1, "border_color": "#E0E0E0"},
    }

    def __init__(self, wb: Workbook):
        self.wb = wb
        self.title = wb.add_format({"bold": True, "font_size": 14, "font_color": HEADER_FILL})
        self.subtitle = wb.add_format({"bold": True, "font_size": 11,
                                       "font_color": HEADER_FILL})
        self.note = wb.add_format({"italic": True, "font_color": "#595959", "text_wrap": False})
        self.wrap_note = wb.add_format({"italic": True, "font_color": "#595959",
                                        "text_wrap": True, "valign": "top"})
        self.header = wb.add_format({"bold": True, "text_wrap": True, "valign": "top",
                                     "font_color": "#FFFFFF", "bg_color": HEADER_FILL,
                                     "border": 1, "border_color": "#FFFFFF"})
        self.group = wb.add_format({"bold": True, "bg_color": GROUP_FILL, "border": 1,
                                    "border_color": "#FFFFFF", "align": "left"})
        self.link = wb.add_format({"font_color": "#0563C1", "underline": 1})
        self.bold = wb.add_format({"bold": True})
        self.pass_ = wb.add_format({"bg_color": PASS_FILL})
        self.fail = wb.add_format({"bg_color": FAIL_FILL, "bold": True})
        self._cache: dict[tuple[str, str], Any] = {}

    def cell(self, kind: str, num_format: str = "General") -> Any:
        key = (kind, num_format)
        if key not in self._cache:
            self._cache[key] = self.wb.add_format({**self.KINDS[kind],
                                                   "num_format": num_format})
        return self._cache[key]


@dataclass(frozen=True)
class Column:
    """One column of a table written to a sheet."""

    key: str
    header: str
    num_format: str = "General"
    kind: str = "value"  # input | formula | value | label | text
    width: float = 14.0



def _write_value(ws: Worksheet, row: int, col: int, value: Any, fmt: Any,
                 date_fmt: Any = None) -> None:
    value = plain(value)
    if is_missing(value):
        ws.write_blank(row, col, None, fmt)
    elif isinstance(value, bool):
        ws.write_boolean(row, col, value, fmt)
    elif isinstance(value, int | float):
        if math.isinf(value):
            ws.write_string(row, col, "inf" if value > 0 else "-inf", fmt)
        else:
            ws.write_number(row, col, value, fmt)
    elif isinstance(value, datetime.date):
        ws.write_datetime(row, col, value, date_fmt or fmt)
    else:
        ws.write_string(row, col, str(value), fmt)


def _write_table(ws: Worksheet, fmts: _Formats, df: pd.DataFrame, columns: Sequence[Column],
                 row: int, col: int = 0) -> tuple[int, int]:
    """Write ``df[columns]`` with a header row at ``row``; returns (first, last) data row."""
    for j, c in enumerate(columns):
        ws.write_string(row, col + j, c.header, fmts.header)
        ws.set_column(col + j, col + j, c.width)
    first = row + 1
    for j, c in enumerate(columns):
        fmt = fmts.cell(c.kind, c.num_format)
        date_fmt = fmts.cell(c.kind, DATE_FORMAT)
        values = df[c.key].tolist() if c.key in df.columns else [None] * len(df)
        for i, value in enumerate(values):
            _write_value(ws, first + i, col + j, value, fmt, date_fmt)
    return first, first + len(df) - 1


def _write_cell_labels(ws: Worksheet, first: int, labels: pd.DataFrame, label: Any,
                       year_fmt: Any) -> None:
    """The region, segment and year of each per-cell row, in columns A to C from ``first``."""
    rows = zip(labels["region"].astype(str), labels["segment"].astype(str),
               labels["year"].astype(int), strict=True)
    for i, (region, segment, year) in enumerate(rows):
        ws.write_string(first + i, 0, region, label)
        ws.write_string(first + i, 1, segment, label)
        ws.write_number(first + i, 2, year, year_fmt)


def _sheet_title(ws: Worksheet, fmts: _Formats, title: str, note: str) -> None:
    ws.write_string(0, 0, title, fmts.title)
    ws.write_string(1, 0, note, fmts.note)
    ws.set_row(0, 20)


def _define_block(wb: Workbook, name: str, sheet: str, first_row: int, first_col: int,
                  last_row: int, last_col: int) -> None:
    ref = (f"{xl_rowcol_to_cell(first_row, first_col, True, True)}:"
           f"{xl_rowcol_to_cell(last_row, last_col, True, True)}")
    wb.define_name(name, f"={_quote(sheet)}!{ref}")


def _quote(sheet: str) -> str:
    return "'" + sheet.replace("'", "''") + "'"


def _ref(sheet: str, row: int, col: int, absolute: bool = False) -> str:
    return f"{_quote(sheet)}!{xl_rowcol_to_cell(row, col, absolute, absolute)}"


def _col_range(sheet: str, col: int, first: int, last: int) -> str:
    return (f"{_quote(sheet)}!{xl_rowcol_to_cell(first, col, True, True)}:"
            f"{xl_rowcol_to_cell(last, col, True, True)}")


#: Page setup: A4 landscape, fit to the page width, narrow margins [inch].
PAPER_A4 = 9
MARGINS = {"left": 0.4, "right": 0.4, "top": 0.55, "bottom": 0.55}
#: Height of one line of wrapped 11-point text [pt] (Calibri's; LibreOffice's DejaVu Sans
#: takes 12.8).
LINE_HEIGHT = 15.0
#: Widest printed block [column-width units]: about 180 units fit an A4 landscape page at
#: 80 % scale where Calibri draws the text (9 points), at 60 % in LibreOffice with DejaVu
#: Sans in its place (6.6 points; :data:`COLUMN_POINTS_PER_PIXEL`).
PRINT_WIDTH = 180.0


def _setup_print(ws: Worksheet, header_row: int | None = None,
                 area: tuple[int, int, int, int] | None = None) -> None:
    """Landscape A4, fit to width, repeated header row, footer; ``area`` is the print
    area (first row, first column, last row, last column)."""
    ws.set_landscape()
    ws.set_paper(PAPER_A4)
    ws.fit_to_pages(1, 0)
    ws.set_margins(**MARGINS)
    ws.set_footer("&L&8evflex · &A&R&8page &P of &N")
    if header_row is not None:
        ws.repeat_rows(header_row)
    if area is not None:
        ws.print_area(*area)


#: Printable area of an A4 landscape page inside :data:`MARGINS` [pt] (the footer sits in
#: the bottom margin).
PAGE_WIDTH_PT = 841.89 - 72 * (MARGINS["left"] + MARGINS["right"])
PAGE_HEIGHT_PT = 595.28 - 72 * (MARGINS["top"] + MARGINS["bottom"])
#: Printed size of xlsxwriter's pixels [pt]: a row of n pixels is 0.75 n points high in
#: any spreadsheet; a column's width follows the glyphs of the font that draws Calibri.
#: With Calibri (or its metric twin Carlito) it is 0.75 n points; LibreOffice with DejaVu
#: Sans in its place draws it a third wider: n points (measured on the printed base
#: workbook, every sheet's fit-to-width scale within 4 %). The wider figure is the one
#: used, the page count a sheet gets when printed where Calibri is missing.
ROW_POINTS_PER_PIXEL = 0.75
COLUMN_POINTS_PER_PIXEL = 1.0
#: Body text size [pt] (Calibri 11) and the smallest it may print at on a sheet that is
#: squeezed onto one page fewer (:func:`squeeze_short_tail`).
BODY_PT = 11.0
SQUEEZE_MIN_PT = 7.5
_RANGE = re.compile(r"\$?([A-Z]+)?\$?(\d+):\$?([A-Z]+)?\$?(\d+)$")


def _rows_and_columns(defined: str) -> tuple[int, int, int, int] | None:
    """First row, first column, last row, last column of a sheet range as xlsxwriter
    stores it (``'Sheet'!$A$1:$K$46`` or ``'Sheet'!$4:$4``); None when unset."""
    found = _RANGE.search(defined.rsplit("!", 1)[-1])
    if found is None:
        return None
    c0, r0, c1, r1 = found.groups()
    first, last = (xl_cell_to_rowcol(f"{c}{r}") if c else (int(r) - 1, 0)
                   for c, r in ((c0, r0), (c1, r1)))
    return first[0], first[1], last[0], last[1]


@dataclass(frozen=True)
class PrintExtent:
    """How a sheet printed fit-to-width fills its pages."""

    scale: float  #: the fit-to-width print scale
    pages: int  #: pages at that scale
    height: float  #: the print area's height [pt at 100 %]
    repeat: float  #: height of the header rows repeated on every further page [pt]

    def scale_on(self, pages: int) -> float:
        """The largest scale at which the print area fits ``pages`` pages tall."""
        return pages * PAGE_HEIGHT_PT / (self.height + (pages - 1) * self.repeat)


def _rows_height(ws: Worksheet, first: int, end: int) -> float:
    """Height of rows ``first`` to ``end - 1`` [pt] (xlsxwriter's own sizing of a row in
    pixels, a hidden row 0)."""
    return ROW_POINTS_PER_PIXEL * sum(ws._size_row(r) for r in range(first, end))


def print_extent(ws: Worksheet) -> PrintExtent | None:
    """The extent of a sheet printed fit to one page wide, from the column widths and row
    heights of its print area (hidden rows print nothing); None for a sheet without a
    print area. Rows are not split across pages, so a page holds up to one row less than
    the estimate: the pages are those of the continuous height."""
    area = _rows_and_columns(ws.print_area_range)
    if area is None:
        return None
    r0, c0, r1, c1 = area
    # xlsxwriter's own sizing of a column in pixels
    width = COLUMN_POINTS_PER_PIXEL * sum(ws._size_col(c) for c in range(c0, c1 + 1))
    height = _rows_height(ws, r0, r1 + 1)
    repeated = _rows_and_columns(ws.repeat_row_range)
    repeat = 0.0 if repeated is None else _rows_height(ws, repeated[0], repeated[2] + 1)
    scale = min(1.0, PAGE_WIDTH_PT / max(width, 1.0))
    pages = 1
    while (height + (pages - 1) * repeat) * scale > pages * PAGE_HEIGHT_PT:
        pages += 1
    return PrintExtent(scale, pages, height, repeat)


def squeeze_short_tail(ws: Worksheet) -> int | None:
    """Fit a sheet printed fit-to-width onto one page fewer when its body text stays at
    :data:`SQUEEZE_MIN_PT` or more: the last page of such a sheet holds a short tail (a
    few rows of a table, the end of a chart) that a slightly smaller scale takes onto the
    page before. A sheet with manual page breaks keeps them. Returns the pages the sheet
    is fitted to, or None when it is left as it was."""
    if (ws.fit_width, ws.fit_height) != (1, 0) or ws.hbreaks:
        return None
    extent = print_extent(ws)
    if extent is None or extent.pages < 2:
        return None
    fewer = extent.pages - 1
    if BODY_PT * min(extent.scale, extent.scale_on(fewer)) < SQUEEZE_MIN_PT:
        return None
    ws.fit_to_pages(1, fewer)
    return fewer


#: Wrapped text is measured in DejaVu Sans (shipped with matplotlib): LibreOffice draws it
#: where Calibri is missing and sizes columns by its digits; Calibri's glyphs and columns
#: are both about three quarters as wide, so a row tall enough for the one is tall enough
#: for the other.
_FONT_DIR = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
#: Pixels of a column of width 1 (a "0" of Calibri 11 at 96 dpi) and the padding
#: xlsxwriter adds to every column; a cell's text keeps this much off its two borders [pt].
_DIGIT_PX, _COLUMN_PADDING_PX = 7, 5
CELL_TEXT_INSET = 6.0
#: A line breaks at a space; in a word, after a '-' or '/' that a letter or digit follows;
#: a URL starts a line of its own unless it fits whole, then breaks only after a '-' (as
#: LibreOffice breaks them); a word wider than the column breaks where the line ends.
_SPACES = re.compile(r"(?<=\s)(?=\S)")
_IN_WORD = re.compile(r"(?<=[-/])(?=\w)")
_IN_URL = re.compile(r"(?<=-)(?=\w)")


@cache
def _font(bold: bool) -> FT2Font:
    font = FT2Font(str(_FONT_DIR / ("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf")))
    font.set_size(BODY_PT, 72)  # one pixel per point
    return font


@cache
def _glyph_width(char: str, bold: bool) -> float:
    """Advance of one character of 11-point DejaVu Sans [pt]; a wide East Asian character
    (drawn by a fallback font) takes a full em."""
    if unicodedata.east_asian_width(char) in ("W", "F"):
        return BODY_PT
    return _font(bold).load_char(ord(char)).linearHoriAdvance / 65536


@lru_cache(maxsize=1 << 16)
def _text_width(text: str, bold: bool) -> float:
    """Width of a piece of text (a word, mostly: they recur) [pt]."""
    return sum(_glyph_width(c, bold) for c in text)


#: Share of a page a section may count on when it is kept whole (the print scale is an
#: estimate).
KEEP_MARGIN = 0.95


def keep_sections_together(ws: Worksheet, starts: Sequence[int],
                           loose: Sequence[int] = ()) -> list[int]:
    """Page breaks before the sections of a sheet printed fit-to-width (each from its start
    row to the next one's, the last to the end of the print area) that would begin on one
    page and end on the next, where the section fits on a page; a section that starts at
    a row of ``loose`` (a list) may run on. Returns the break rows."""
    area = _rows_and_columns(ws.print_area_range)
    extent = print_extent(ws)
    if area is None or extent is None or not starts:
        return []
    page = KEEP_MARGIN * PAGE_HEIGHT_PT / extent.scale
    used = _rows_height(ws, area[0], starts[0]) % page
    breaks = []
    for first, end in zip(starts, [*starts[1:], area[2] + 1], strict=True):
        height = _rows_height(ws, first, end)
        if used and used + height > page and height <= page and first not in loose:
            breaks.append(first)
            used = 0.0
        used = (used + height) % page
    ws.set_h_pagebreaks(breaks)
    return breaks


def text_lines(text: str, width: float, bold: bool = False) -> int:
    """Lines a wrapped text takes in a column (or merged columns) ``width`` units wide:
    whole words on each line, a word wider than the column cut where it ends."""
    room = COLUMN_POINTS_PER_PIXEL * (int(width * _DIGIT_PX + 0.5) + _COLUMN_PADDING_PX)
    room = max(room - CELL_TEXT_INSET, BODY_PT)
    lines = 0
    for part in str(text).split("\n"):
        lines += 1
        used = 0.0
        for word in _SPACES.split(part):
            url = "://" in word
            if url and used and used + _text_width(word.rstrip(), bold) > room:
                lines, used = lines + 1, 0.0
            for piece in (_IN_URL if url else _IN_WORD).split(word):
                ink = _text_width(piece.rstrip(), bold)
                if used and used + ink > room:  # the piece starts a new line
                    lines, used = lines + 1, 0.0
                cut = max(0, math.ceil(ink / room) - 1)  # wider than the column
                lines += cut
                used += ink - cut * room + _text_width(piece[len(piece.rstrip()):], bold)
    return lines


def header_height(cols: Sequence[Column]) -> float:
    """Height of a header row that shows every line of its (bold) headers [pt]."""
    return LINE_HEIGHT * max((text_lines(c.header, c.width, bold=True) for c in cols),
                             default=1)


def column_units(ws: Worksheet, col: int) -> float:
    """Width of a column as set on the sheet [column-width units]."""
    return (ws._size_col(col) - _COLUMN_PADDING_PX) / _DIGIT_PX


def _fit_rows(ws: Worksheet, first: int, texts: Sequence[Sequence[tuple[str, float]]]) -> None:
    """Row heights that show every line of the wrapped texts of each row."""
    for i, row in enumerate(texts):
        lines = max((text_lines(t, w) for t, w in row if t), default=1)
        if lines > 1:
            ws.set_row(first + i, LINE_HEIGHT * lines)


#: Rows of a per-cell sheet that are printed (the rest is on screen).
PRINTED_CELL_ROWS = 40
#: Rows a 360-pixel chart covers at the default row height (20 px).
CHART_ROWS = 19

#: Layout of the live tables: header row and first data row (0-based).
GROUP_ROW = 4
HEADER_ROW = 5
DATA_ROW = 6


def _table_sheet(ws: Worksheet, fmts: _Formats, df: pd.DataFrame, cols: Sequence[Column],
                 header_row: int = 3, freeze_cols: int = 0,
                 print_rows: int | None = None) -> int:
    """A sheet whose body is one table: header, frozen panes, filter, print setup.

    Wrapped text sets each row's height; the header's height fits its longest header.
    ``print_rows`` limits the print area to that many data rows.
    """
    cols = balance_widths(cols, df, print_rows)
    first, last = _write_table(ws, fmts, df, cols, header_row)
    ws.set_row(header_row, header_height(cols))
    wrapped = [c for c in cols if c.kind == "text" and c.key in df.columns]
    if wrapped:
        texts = zip(*[[("" if is_missing(plain(v)) else str(v), c.width) for v in df[c.key]]
                      for c in wrapped], strict=True)
        _fit_rows(ws, first, list(texts))
    ws.freeze_panes(header_row + 1, freeze_cols)
    if len(df):
        ws.autofilter(header_row, 0, last, len(cols) - 1)
    end = last if print_rows is None else min(last, header_row + print_rows)
    _setup_print(ws, header_row, (0, 0, max(end, header_row), len(cols) - 1))
    return last


def balance_widths(cols: Sequence[Column], df: pd.DataFrame, rows: int | None = None,
                   step: float = 2.0, least: float = 10.0) -> list[Column]:
    """The wrapped-text columns' widths shared out anew, the table keeping its width, so
    that its first ``rows`` rows (every row by default) and its header take the fewest
    lines: ``step`` units move from one text column to another while that lowers the
    total (coordinate descent from the widths given; none narrower than ``least``)."""
    texts = [c for c in cols if c.kind == "text" and c.key in df.columns]
    if len(texts) < 2:
        return list(cols)
    values = {c.key: ["" if is_missing(plain(v)) else str(v) for v in df[c.key][:rows]]
              for c in texts}
    headers = {c.key: c.header for c in texts}
    known: dict[tuple[str, float], np.ndarray] = {}

    def lines(key: str, width: float) -> np.ndarray:
        if (key, width) not in known:
            known[key, width] = np.array([text_lines(headers[key], width, bold=True)]
                                         + [text_lines(t, width) for t in values[key]])
        return known[key, width]

    def total(widths: dict[str, float]) -> int:
        most = np.max([lines(k, w) for k, w in widths.items()], axis=0)
        return int(most.sum())

    widths = {c.key: c.width for c in texts}
    best, improved = total(widths), True
    while improved:
        improved = False
        for give, take in itertools.permutations(widths, 2):
            if widths[give] - step < least:
                continue
            trial = {**widths, give: widths[give] - step, take: widths[take] + step}
            if (cost := total(trial)) < best:
                widths, best, improved = trial, cost, True
    return [replace(c, width=widths[c.key]) if c.key in widths else c for c in cols]


def fit_widths(cols: list[Column], total: float = PRINT_WIDTH, least: float = 18.0
               ) -> list[Column]:
    """Narrow the wrapped-text columns so the table's width is at most ``total`` units
    (never below ``least``); the other columns keep theirs."""
    fixed = sum(c.width for c in cols if c.kind != "text")
    texts = [c for c in cols if c.kind == "text"]
    if not texts or fixed + sum(c.width for c in texts) <= total:
        return cols
    each = max(least, (total - fixed) / len(texts))
    return [replace(c, width=min(c.width, each)) if c.kind == "text" else c for c in cols]


def _unit_from_name(name: str) -> str:
    for suffix, unit in (("_kwh", "kWh"), ("_kw", "kW"), ("_gw", "GW"), ("_gwh", "GWh"),
                         ("_share", "fraction"), ("share", "fraction")):
        if name.endswith(suffix):
            return unit
    if name == "hour":
        return "h"
    return ""


def _guess_format(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series):
        return "General"
    if pd.api.types.is_integer_dtype(series):
        return "0"
    if pd.api.types.is_float_dtype(series):
        return "#,##0.000"
    return "General"


def _sheet(wb: Workbook, name: str) -> Worksheet:
    """The worksheet ``name``: the one the writer created in its place, or a new one."""
    return wb.get_worksheet_by_name(name) or wb.add_worksheet(name)
