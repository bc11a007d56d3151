"""Reports built from a run record: a self-contained HTML page, a JUnit XML file and a CSV table.

``write_reports()`` is what the ``socle`` CLI calls after a run; ``python -m socle.report``
renders an existing record by hand. A run over several facilities also gets one set of reports per
facility under ``facilities/<slug>/`` and ``overview.html`` (see ``socle.report.facilities``); PDF
copies on request.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from socle.record import RecordError, RunRecord, load_record
from socle.report.facilities import FACILITIES_DIR, OVERVIEW_NAME, render_overview, split_by_facility
from socle.report.html import render_html
from socle.report.i18n import DEFAULT_LANG, LANGS, check_lang
from socle.report.junit import render_junit
from socle.report.pdf import PdfUnavailable
from socle.report.results_csv import render_csv

__all__ = [
    "CSV_NAME",
    "FACILITIES_DIR",
    "HTML_NAME",
    "JUNIT_NAME",
    "OVERVIEW_NAME",
    "main",
    "render_csv",
    "render_html",
    "render_junit",
    "write_reports",
]

HTML_NAME = "report.html"
JUNIT_NAME = "junit.xml"
CSV_NAME = "results.csv"

#: CLI exit code when the record cannot be read or the reports cannot be written.
EXIT_REPORT_FAILED = 3


def _load_catalogue(path: str | Path | None = None) -> Any:
    """Load the real control catalogue (imported lazily: only needed when none is given)."""
    from socle.catalogue import load_catalogue

    return load_catalogue(path)


def _write_set(
    out: Path, record: RunRecord, catalogue: Any, lang: str, previous: RunRecord | None,
    overview_href: str | None = None,
) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = {"html": out / HTML_NAME, "junit": out / JUNIT_NAME, "csv": out / CSV_NAME}
    paths["html"].write_text(
        render_html(record, catalogue, lang=lang, previous=previous, overview_href=overview_href), encoding="utf-8"
    )
    paths["junit"].write_text(render_junit(record, catalogue), encoding="utf-8")
    paths["csv"].write_text(render_csv(record, catalogue, lang=lang), encoding="utf-8", newline="")
    return paths


def write_reports(
    record_path: str | Path,
    out_dir: str | Path,
    lang: str = DEFAULT_LANG,
    catalogue: Any = None,
    record: RunRecord | None = None,
    previous: RunRecord | None = None,
    pdf: bool = False,
) -> dict[str, Path]:
    """Write ``report.html``, ``junit.xml`` and ``results.csv`` for a run record into ``out_dir``.

    Returns ``{"html": Path, "junit": Path, "csv": Path}``. Raises :class:`socle.record.RecordError`
    if the record is invalid and ``ValueError`` for an unsupported ``lang``. A caller that has
    already loaded the record from ``record_path`` passes it as ``record`` so that it is not read
    twice. ``previous`` (the latest earlier run of the same hosts, from the history) adds a "what
    changed since the previous run" section to the HTML report.

    When the run covers more than one facility (hosts without ``socle_facility`` count as one more),
    each facility also gets the three files in ``facilities/<slug>/`` (only its hosts), and
    ``overview.html`` links them; the result then has ``"overview"`` and ``"facilities"`` (the folder)
    too. With one facility the whole-run report is that facility's report: no overview is written.
    ``pdf`` adds ``report.pdf`` (and ``overview.pdf`` and one per facility) next to each HTML page
    (``"pdf"``); it raises :class:`socle.report.pdf.PdfUnavailable` without WeasyPrint.
    """
    check_lang(lang)
    if record is None:
        record = load_record(record_path)
    if catalogue is None:
        catalogue = _load_catalogue()
    out = Path(out_dir)
    paths = _write_set(out, record, catalogue, lang, previous)
    pages = [paths["html"]]
    parts = split_by_facility(record, previous)
    if len(parts) > 1:
        for part in parts:
            files = _write_set(out / part.folder, part.record, catalogue, lang, part.previous,
                               overview_href=f"../../{OVERVIEW_NAME}")
            pages.append(files["html"])
        paths["overview"] = out / OVERVIEW_NAME
        paths["overview"].write_text(render_overview(record, parts, catalogue, lang, HTML_NAME), encoding="utf-8")
        paths["facilities"] = out / FACILITIES_DIR
        pages.append(paths["overview"])
    if pdf:
        from socle.report.pdf import write_pdf

        written = [write_pdf(page) for page in pages]
        paths["pdf"] = written[0]
    return paths


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m socle.report",
        description="Render a Socle run record as report.html, junit.xml and results.csv (several facilities: "
        "also overview.html and facilities/<name>/; --pdf: PDF copies).",
    )
    parser.add_argument("record", type=Path, help="run record (JSON) written by the Socle callback plugin")
    parser.add_argument(
        "--out", type=Path, default=None, help="output directory (default: the record's directory)"
    )
    parser.add_argument("--lang", choices=LANGS, default=DEFAULT_LANG, help="report language (default: fr)")
    parser.add_argument(
        "--catalogue", type=Path, default=None, help="control catalogue (default: the bundled one)"
    )
    parser.add_argument("--pdf", action="store_true", help="also write report.pdf (and one per facility)")
    parser.add_argument(
        "--status-exit",
        action="store_true",
        help="exit with the run's status (0 compliant, 2 drift, 1 error) instead of 0",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the process exit code."""
    args = _parser().parse_args(argv)
    out_dir = args.out if args.out is not None else args.record.parent
    try:
        record = load_record(args.record)
        catalogue = _load_catalogue(args.catalogue)
        paths = write_reports(args.record, out_dir, lang=args.lang, catalogue=catalogue, record=record, pdf=args.pdf)
    except RecordError as exc:
        print(exc, file=sys.stderr)
        return EXIT_REPORT_FAILED
    except (OSError, PdfUnavailable) as exc:
        print(f"socle.report: {exc}", file=sys.stderr)
        return EXIT_REPORT_FAILED
    for path in paths.values():
        print(path)
    return record.exit_code() if args.status_exit else 0
