"""PDF copies of the HTML reports, with WeasyPrint (the engine that renders the charter PDFs).

The pages are printed with their ``@media print`` rules (A4, no dark background, one section per
page). Nothing is fetched: the reports are self-contained, and any URL a page might still hold is
refused rather than downloaded.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["PdfUnavailable", "check_pdf", "html_to_pdf", "write_pdf"]


class PdfUnavailable(RuntimeError):
    """WeasyPrint (or the Pango library it needs) is not installed."""


def _no_fetch(url: str, *args: object, **kwargs: object) -> dict:
    raise ValueError(f"the report does not fetch anything ({url[:80]})")


def _weasyprint():
    try:
        import weasyprint
    except (ImportError, OSError) as exc:  # OSError: Pango missing on the system
        raise PdfUnavailable(f"PDF export needs WeasyPrint and Pango (make deps): {exc}") from exc
    return weasyprint


def check_pdf() -> None:
    """Raise :class:`PdfUnavailable` now if PDFs cannot be written (before any report is)."""
    _weasyprint()


def html_to_pdf(html: str) -> bytes:
    """The PDF of an HTML page."""
    return _weasyprint().HTML(string=html, url_fetcher=_no_fetch).write_pdf()


def write_pdf(html_path: Path) -> Path:
    """Write ``<name>.pdf`` next to an HTML report and return its path."""
    target = html_path.with_suffix(".pdf")
    target.write_bytes(html_to_pdf(html_path.read_text(encoding="utf-8")))
    return target
