"""Self-contained HTML report of a run record (French by default, English on request).

The page has no script and fetches nothing: CSS is inline, the chart is inline SVG. Every
value coming from the record or the catalogue goes through Jinja2 autoescaping.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from socle import __version__
from socle.record import CONTROL_STATUSES, MEASURES, ControlResult, HostResult, RunRecord, measure_of
from socle.report.i18n import (
    check_lang,
    control_field,
    control_references,
    control_title,
    measure_title,
    status_label,
    t,
)
from socle.report.junit import xml_safe

__all__ = ["STATUS_SYMBOLS", "TEMPLATE_DIR", "build_context", "clean_html_text", "render_html"]

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"
TEMPLATE_NAME = "report.html.j2"

#: One-character marks used in the matrix so it reads in black and white too.
STATUS_SYMBOLS: dict[str, str] = {
    "compliant": "✓",
    "drift": "≠",
    "not_applicable": "–",
    "error": "!",
    "unreachable": "?",
}

# Chart geometry (SVG user units).
_CHART_LABEL_W = 330
_CHART_BAR_W = 420
_CHART_ROW_H = 26
_CHART_BAR_H = 16
_CHART_TITLE_MAX = 46


# Bidirectional embedding/override/isolate controls: shown as ``[U+202E]`` so that a hostile
# host name or message cannot reverse the text around it (the "Trojan Source" trick).
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


def clean_html_text(text: str) -> str:
    """What the page shows for a record string: XML-illegal characters dropped, bidi controls made visible."""
    return _BIDI_CONTROLS.sub(lambda m: f"[U+{ord(m.group()):04X}]", xml_safe(text))


def _finalize(value: Any) -> Any:
    """Clean every interpolated string before it is escaped (Markup is left alone)."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return clean_html_text(value)
    return value


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(  # noqa: S701 - autoescape is on for every template
        loader=FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=True,
        undefined=StrictUndefined,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    return env


# -- view model ------------------------------------------------------------------------------------
@dataclass
class Segment:
    """One coloured part of a stacked bar."""

    status: str
    count: int
    x: float
    width: float


@dataclass
class ControlRow:
    """A control as listed under its measure."""

    id: str
    title: str | None
    cells: list[tuple[str, str | None]]  # (host name, status or None if not evaluated there)


@dataclass
class MeasureView:
    """One of the eight measures."""

    number: int
    title: str
    counts: dict[str, int]
    total: int
    segments: list[Segment]
    controls: list[ControlRow] = field(default_factory=list)


@dataclass
class DiffLine:
    """One line of a unified diff with its kind (add/del/hunk/meta/ctx)."""

    kind: str
    text: str


@dataclass
class Finding:
    """A (host, control) pair worth explaining: drift, error, unreachable, or a change made."""

    anchor: str
    host: HostResult
    control: ControlResult
    title: str | None
    rationale: str | None
    check: str | None
    references: list[tuple[str, list[str]]]
    diff: list[DiffLine]


def _segments(counts: dict[str, int], width: float) -> list[Segment]:
    total = sum(counts.values())
    out: list[Segment] = []
    x = 0.0
    if not total:
        return out
    for status in CONTROL_STATUSES:
        count = counts.get(status, 0)
        if count:
            w = width * count / total
            out.append(Segment(status, count, round(x, 2), round(w, 2)))
            x += w
    return out


def _diff_lines(diff: str | None) -> list[DiffLine]:
    if not diff:
        return []
    lines = []
    for line in diff.rstrip("\n").split("\n"):
        if line.startswith(("+++", "---")):
            kind = "meta"
        elif line.startswith("@@"):
            kind = "hunk"
        elif line.startswith("+"):
            kind = "add"
        elif line.startswith("-"):
            kind = "del"
        else:
            kind = "ctx"
        lines.append(DiffLine(kind, line))
    return lines


def _format_dt(value: datetime | None, lang: str) -> str | None:
    if value is None:
        return None
    offset = value.utcoffset()
    if offset is None or offset == timedelta(0):
        zone = "UTC"
    else:
        zone = "UTC" + value.strftime("%z")[:3] + ":" + value.strftime("%z")[3:]
    pattern = "%d/%m/%Y %H:%M:%S" if lang == "fr" else "%Y-%m-%d %H:%M:%S"
    return f"{value.strftime(pattern)} {zone}"


def _format_duration(start: datetime, end: datetime | None) -> str | None:
    if end is None:
        return None
    seconds = max(0, int((end - start).total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _finding(index: int, host: HostResult, control: ControlResult, catalogue: Any, lang: str) -> Finding:
    return Finding(
        anchor=f"finding-{index}",
        host=host,
        control=control,
        title=control_title(catalogue, control.id, lang),
        rationale=control_field(catalogue, control.id, "rationale", lang),
        check=control_field(catalogue, control.id, "check", lang),
        references=control_references(catalogue, control.id),
        diff=_diff_lines(control.diff),
    )


def build_context(record: RunRecord, catalogue: Any, lang: str) -> dict[str, Any]:
    """Compute everything the template shows; the template itself does no arithmetic."""
    summary = record.summary()
    hosts = list(record.hosts.values())
    control_ids = record.control_ids()
    titles = {cid: control_title(catalogue, cid, lang) for cid in control_ids}

    measures: list[MeasureView] = []
    for number in MEASURES:
        counts = summary.measures[number]
        view = MeasureView(
            number=number,
            title=measure_title(catalogue, number, lang) or t("measure_n", lang, n=number),
            counts=counts,
            total=sum(counts.values()),
            segments=_segments(counts, _CHART_BAR_W),
        )
        for cid in control_ids:
            if measure_of(cid) == number:
                cells = [(h.name, h.controls[cid].status if cid in h.controls else None) for h in hosts]
                view.controls.append(ControlRow(cid, titles[cid], cells))
        measures.append(view)

    chart_rows = [
        {
            "y": i * _CHART_ROW_H,
            "label": _truncate(f"{m.number}. {m.title}", _CHART_TITLE_MAX),
            "full": f"{t('measure', lang)} {m.number} — {m.title}",
            "segments": m.segments,
            "total": m.total,
        }
        for i, m in enumerate(measures)
    ]

    findings: list[Finding] = []
    changes: list[Finding] = []
    for cid in control_ids:
        for host in hosts:
            control = host.controls.get(cid)
            if control is None:
                continue
            if control.status in ("drift", "error", "unreachable"):
                findings.append(_finding(len(findings) + 1, host, control, catalogue, lang))
            elif record.mode == "apply" and control.changed:
                changes.append(_finding(len(changes) + 1, host, control, catalogue, lang))
    not_applicable = [
        (host, host.controls[cid])
        for cid in control_ids
        for host in hosts
        if cid in host.controls and host.controls[cid].status == "not_applicable"
    ]
    for change in changes:
        change.anchor = change.anchor.replace("finding-", "change-")

    exit_code = record.exit_code()
    if exit_code == 1:
        verdict = ("error", t("verdict_unfinished" if record.run.finished is None else "verdict_error", lang))
    elif exit_code == 2:
        verdict = ("drift", t("verdict_drift", lang))
    else:
        verdict = ("compliant", t("verdict_ok", lang))

    run = record.run
    facilities = sorted({h.facility for h in hosts if h.facility})
    return {
        "lang": lang,
        "record": record,
        "run": run,
        "mode_label": t(f"mode_{run.mode}", lang),
        "page_title": t(f"report_title_{run.mode}", lang),
        "started": _format_dt(run.started_at, lang),
        "finished": _format_dt(run.finished_at, lang),
        "duration": _format_duration(run.started_at, run.finished_at),
        "facilities": facilities,
        "verdict": verdict,
        "exit_code": exit_code,
        "summary": summary,
        "statuses": CONTROL_STATUSES,
        "symbols": STATUS_SYMBOLS,
        "hosts": hosts,
        "control_ids": control_ids,
        "titles": titles,
        "measures": measures,
        "chart": {
            "rows": chart_rows,
            "label_w": _CHART_LABEL_W,
            "bar_w": _CHART_BAR_W,
            "bar_h": _CHART_BAR_H,
            "row_h": _CHART_ROW_H,
            "width": _CHART_LABEL_W + _CHART_BAR_W + 50,
            "height": len(chart_rows) * _CHART_ROW_H,
        },
        "findings": findings,
        "changes": changes,
        "not_applicable": not_applicable,
        "problem_hosts": [h for h in hosts if h.status != "ok"],
        "socle_report_version": __version__,
        "t": lambda key, **params: t(key, lang, **params),
        "status_label": lambda status: status_label(status, lang),
    }


def render_html(record: RunRecord, catalogue: Any = None, lang: str = "fr") -> str:
    """Render ``record`` as one self-contained HTML page in ``lang`` (``fr`` or ``en``).

    ``catalogue`` is the control catalogue (``socle.catalogue.load_catalogue()``); controls it
    does not know are shown with their raw ID. ``None`` shows raw IDs everywhere.
    """
    check_lang(lang)
    template = _environment().get_template(TEMPLATE_NAME)
    return template.render(**build_context(record, catalogue, lang))
