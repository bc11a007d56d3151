"""``results.csv``: one row per host and control, for spreadsheets and ticketing imports.

UTF-8 with a byte-order mark (so that Excel reads the accents), comma-separated, RFC 4180 quoting.
A host that could not be assessed at all (unreachable before any control ran) gets one row with an
empty control and its host status, so that no host is missing from the file.

Spreadsheet formulas cannot be smuggled in: a cell whose first non-blank character is ``=``, ``+``,
``-``, ``@``, a tab or a carriage return (OWASP "CSV injection") is prefixed with an apostrophe,
which spreadsheets show as text. Characters XML cannot carry (NUL and other C0 controls) are
dropped, as in the other reports.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from socle.record import ControlResult, HostResult, RunRecord
from socle.report.i18n import control_title
from socle.report.junit import xml_safe

__all__ = ["COLUMNS", "neutralise", "render_csv"]

COLUMNS: tuple[str, ...] = (
    "run_id",
    "mode",
    "started",
    "facility",
    "host",
    "host_status",
    "platform",
    "control",
    "measure",
    "title",
    "status",
    "changed",
    "finding",
    "expected",
    "actual",
    "message",
    "waiver_reason",
    "waiver_accepted_by",
    "waiver_expires",
    "waiver_expired",
)

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")  # and full-width forms


def neutralise(value: object) -> str:
    """One cell's text: ``None`` → empty, booleans → ``true``/``false``, formulas defused."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = xml_safe(str(value)) if not isinstance(value, int) else str(value)
    stripped = text.lstrip(" \n\x0b\x0c")
    if stripped.startswith(_FORMULA_START) or text.startswith(_FORMULA_START):
        return "'" + text
    return text


def _row(record: RunRecord, host: HostResult, control: ControlResult | None, catalogue: Any, lang: str) -> list[str]:
    waiver = control.waiver if control is not None else None
    values: list[object] = [
        record.run.id,
        record.run.mode,
        record.run.started,
        host.facility,
        host.name,
        host.status,
        host.platform,
        control.id if control else None,
        control.measure if control else None,
        control_title(catalogue, control.id, lang) if control else None,
        control.status if control else host.status,
        control.changed if control else None,
        control.finding if control else None,
        control.expected if control else None,
        control.actual if control else None,
        control.message if control else host.message,
        waiver.reason if waiver else None,
        waiver.accepted_by if waiver else None,
        waiver.expires if waiver else None,
        waiver.expired if waiver else None,
    ]
    return [neutralise(v) for v in values]


def render_csv(record: RunRecord, catalogue: Any = None, lang: str = "fr") -> str:
    """The CSV text (with its BOM) for ``record``; titles in ``lang`` from the catalogue."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for host in record.hosts.values():
        if not host.controls:
            writer.writerow(_row(record, host, None, catalogue, lang))
        for control in host.controls.values():
            writer.writerow(_row(record, host, control, catalogue, lang))
    return out.getvalue()
