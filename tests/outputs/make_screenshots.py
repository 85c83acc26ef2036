"""Regenerate the README's screenshots of the report and the workbook into ``docs/img``.

    python tests/outputs/make_screenshots.py [--from-run RUN_DIR] [OUT_DIR]

With ``--from-run``, photographs the ``report.html`` and ``workbook.xlsx`` of a run folder
written by ``evflex run``. Without it, runs what ``evflex run --simulate`` runs (base
scenario, availability and hourly profiles from a simulated fleet) and writes both files
first. The report is photographed in headless Chromium, the workbook through
LibreOffice's PDF export and ``pdftoppm``.
Needs the same system tools as the tests (chromium, libreoffice-calc, poppler-utils).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
from output_helpers import convert

from evflex.outputs.report import write_report
from evflex.outputs.workbook import write_workbook
from evflex.pipeline import run
from evflex.simulate.run import SimulationConfig

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
#: Pages of the workbook's PDF (one page per sheet): sheet page, crop in pixels at DPI.
WORKBOOK_SHOTS = {"workbook.png": (1, None), "workbook_filters.png": (4, (0, 0, 1900, 760))}
DPI = 80


def tables_of_a_run() -> tuple[object, dict[str, pd.DataFrame]]:
    the_run = run("base", simulate=SimulationConfig(
        vehicles=1000, days=7, seed=1, keep_sessions=False,
        strategies=("unmanaged", "managed", "v2g")))
    return the_run.results, the_run.tables


def shoot_report(report: Path, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(report.resolve().as_uri(), wait_until="load")
        page.wait_for_function("Array.from(document.querySelectorAll('div.chart'))"
                               ".every(d => d.querySelector('.main-svg'))")
        page.screenshot(path=str(out / "report.png"))
        for section in ("states", "funnel", "hourly"):
            page.locator(f"#{section}").screenshot(path=str(out / f"report_{section}.png"))
        browser.close()


def shoot_workbook(workbook: Path, work: Path, out: Path) -> None:
    (pdf,) = convert([workbook], work / "pdf", to='pdf:calc_pdf_Export:{"SinglePageSheets":'
                     '{"type":"boolean","value":"true"}}')
    for name, (page, crop) in WORKBOOK_SHOTS.items():
        cmd = ["pdftoppm", "-png", "-r", str(DPI), "-f", str(page), "-l", str(page),
               "-singlefile"]
        if crop is not None:
            x, y, w, h = crop
            cmd += ["-x", str(x), "-y", str(y), "-W", str(w), "-H", str(h)]
        subprocess.run([*cmd, str(pdf), str(out / Path(name).stem)], check=True)


def main(out: Path, from_run: Path | None = None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        folder = from_run
        if folder is None:
            folder = work
            results, tables = tables_of_a_run()
            write_workbook(work / "workbook.xlsx", results, tables)  # type: ignore[arg-type]
            write_report(work / "report.html", results, tables)  # type: ignore[arg-type]
        shoot_report(folder / "report.html", out)
        shoot_workbook(folder / "workbook.xlsx", work, out)
    for path in sorted(out.glob("*.png")):
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


if __name__ == "__main__":
    args = sys.argv[1:]
    run_dir = None
    if args[:1] == ["--from-run"]:
        run_dir, args = Path(args[1]), args[2:]
    main(Path(args[0]) if args else ROOT / "docs" / "img", run_dir)
