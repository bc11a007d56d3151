"""Self-contained HTML report of a run record (French by default, English on request).

The page has no script and fetches nothing: CSS is inline, the chart is inline SVG. Every
value coming from the record or the catalogue goes through Jinja2 autoescaping.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemBytecodeCache, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape

from socle import __version__, cache
from socle.record import CONTROL_STATUSES, MEASURES, ControlResult, HostResult, RunRecord, Waiver, measure_of
from socle.report.changes import KINDS, RunDiff, diff_records
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
from socle.score import scores_of

__all__ = [
    "CHART_FILLS",
    "HOSTS_SHOWN",
    "MATRIX_MAX_HOSTS",
    "STATUS_CODES",
    "STATUS_SYMBOLS",
    "TEMPLATE_DIR",
    "build_context",
    "clean_html_text",
    "render_html",
    "score_chart",
]

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"
TEMPLATE_NAME = "report.html.j2"

#: One-character marks used in the matrix so it reads in black and white too.
STATUS_SYMBOLS: dict[str, str] = {
    "compliant": "✓",
    "drift": "≠",
    "waived": "⊘",
    "attested": "✎",
    "attestation_due": "⌛",
    "not_applicable": "–",
    "error": "!",
    "unreachable": "?",
}

#: Bar colours of the charts, the same as the ``--g-*`` CSS variables of the page. They are also
#: written as SVG presentation attributes: renderers that do not apply CSS variables inside SVG
#: (WeasyPrint, for the PDF) still draw coloured bars, not black ones.
CHART_FILLS: dict[str, str] = {
    "compliant": "#2f9e5f",
    "drift": "#ef8a17",
    "waived": "#c9a400",
    "attested": "#2f86a8",
    "attestation_due": "#d9661f",
    "not_applicable": "#b3bcc6",
    "error": "#d92d20",
    "unreachable": "#7a5af8",
    "hi": "#2f9e5f",
    "mid": "#c9a400",
    "lo": "#d92d20",
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


@lru_cache(maxsize=16384)
def _clean_escaped(text: str) -> Markup:
    return escape(clean_html_text(text))


def _finalize(value: Any) -> Any:
    """Clean and escape every interpolated string (Markup is left alone).

    Cached: a large report prints the same host names and labels thousands of times.
    """
    if isinstance(value, str) and not isinstance(value, Markup):
        return _clean_escaped(value) if type(value) is str else escape(clean_html_text(value))
    return value


def _bytecode_cache() -> FileSystemBytecodeCache | None:
    """Compiled templates kept between runs (compiling the report's templates takes about 0.15 s of every
    run); Jinja reuses one only for the same source, Jinja and Python versions."""
    folder = cache.cache_dir("templates")
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError:
        return None
    return FileSystemBytecodeCache(str(folder)) if os.access(folder, os.W_OK) else None


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
        bytecode_cache=_bytecode_cache(),
    )
    # For values joined in the template: ``join`` returns markup, which ``finalize`` leaves alone.
    env.filters["clean"] = lambda value: clean_html_text(str(value))
    return env


# -- view model ------------------------------------------------------------------------------------
#: Above this many hosts the host × control matrix (one cell per result) is replaced by a host ×
#: measure summary: 1,000 hosts × 100 controls would be 100,000 cells nobody can read.
MATRIX_MAX_HOSTS = 200
#: Hosts named in the summary of a large run (those with the most drift and errors).
TOP_HOSTS = 10
#: Host names shown at once in a group of findings; the others are in a collapsible list.
HOSTS_SHOWN = 8

#: One-letter CSS class of each status in the matrix cells (``x``: not evaluated).
STATUS_CODES: dict[str, str] = {
    "compliant": "c",
    "drift": "d",
    "waived": "w",
    "attested": "a",
    "attestation_due": "t",
    "not_applicable": "n",
    "error": "e",
    "unreachable": "u",
}
#: Order of gravity used to summarise several results in one cell (worst last).
_GRAVITY: dict[str, int] = {"not_applicable": 0, "compliant": 1, "waived": 2, "drift": 3, "unreachable": 4, "error": 5,
                            "attested": 1, "attestation_due": 3}
#: Listed under their control with expected and actual values (for attestations: the rule and the
#: evidence with its dates, so attested controls are shown too).
_PROBLEMS = ("drift", "error", "unreachable", "attestation_due")
_EVIDENCE = ("attested",)


@dataclass
class Segment:
    """One coloured part of a stacked bar."""

    status: str
    count: int
    x: float
    width: float


@dataclass
class ControlRow:
    """A control as listed under its measure: counts per status and links to its findings."""

    id: str
    title: str | None
    counts: dict[str, int]
    groups: list[FindingGroup] = field(default_factory=list)


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
class ControlInfo:
    """What the catalogue says about a control (looked up once per control, not per result)."""

    title: str | None
    rationale: str | None
    check: str | None
    references: list[tuple[str, list[str]]]


class _HostList:
    """A group of hosts shown a few at once, the rest in a collapsible part (needs a ``hosts`` list)."""

    hosts: list[HostResult]

    @property
    def shown(self) -> list[HostResult]:
        """Hosts listed at once (all of them when only a few would be hidden)."""
        return self.hosts if len(self.hosts) <= HOSTS_SHOWN + 2 else self.hosts[:HOSTS_SHOWN]

    @property
    def more(self) -> list[HostResult]:
        """Hosts listed in the collapsible part."""
        return self.hosts[len(self.shown) :]


@dataclass
class FindingGroup(_HostList):
    """One result (drift, error, unreachable, or a change made) and every host that gave exactly it.

    Hosts are grouped when their results are equal in every field (status, changed, expected,
    actual, diff, message, tasks, finding): whatever differs from one host to another gets a group
    of its own, so no per-host detail is lost.
    """

    anchor: str
    control: ControlResult
    info: ControlInfo
    diff: list[DiffLine]
    hosts: list[HostResult] = field(default_factory=list)

    @property
    def title(self) -> str | None:
        return self.info.title


@dataclass
class NotApplicableGroup(_HostList):
    """A control not applicable for the same reason on one or more hosts."""

    control_id: str
    message: str | None
    hosts: list[HostResult] = field(default_factory=list)


@dataclass
class WaiverGroup(_HostList):
    """One waiver of one control, with the hosts it covers and whether it still holds."""

    control_id: str
    waiver: Waiver
    status: str
    hosts: list[HostResult] = field(default_factory=list)


#: Rows of the "changes since the previous run" table; the counts above it are always complete.
CHANGES_SHOWN = 300


@dataclass
class ChangesView:
    """The "what changed since the previous run" section."""

    previous_id: str
    previous_mode: str
    previous_started: str | None
    counts: dict[str, int]
    rows: list[Any]
    hidden: int
    previous_score: int | None
    score: int | None
    titles: dict[str, str | None]


@dataclass
class MatrixRow:
    """One host of the matrix: ``cells`` are ``(css class, text)`` pairs, or ``None`` for a host
    that could not be evaluated at all (shown as one wide cell)."""

    host: HostResult
    cells: list[tuple[str, str]] | None


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


#: Width of the score bars (SVG user units); a score of 100 fills it.
_SCORE_BAR_W = _CHART_BAR_W


def score_chart(rows: list[tuple[str, str, int | None]]) -> dict[str, Any]:
    """Geometry of a horizontal bar chart of scores (0-100), one bar per ``(label, full label, score)``.

    Used for the score per measure (reports and overview) and the overall score per facility (overview).
    The template draws it as inline SVG; a row without a score gets an empty track and "—".
    """
    return {
        "rows": [
            {
                "y": i * _CHART_ROW_H,
                "label": _truncate(label, _CHART_TITLE_MAX),
                "full": full,
                "score": score,
                "width": 0 if score is None else round(_SCORE_BAR_W * max(0, min(score, 100)) / 100, 2),
                "band": _score_band(score),
                "fill": CHART_FILLS.get(_score_band(score), "none"),
            }
            for i, (label, full, score) in enumerate(rows)
        ],
        "label_w": _CHART_LABEL_W,
        "bar_w": _SCORE_BAR_W,
        "bar_h": _CHART_BAR_H,
        "row_h": _CHART_ROW_H,
        "width": _CHART_LABEL_W + _SCORE_BAR_W + 50,
        "height": max(1, len(rows)) * _CHART_ROW_H,
    }


def _score_band(score: int | None) -> str:
    """CSS class of a score: ``hi`` (90 and more), ``mid`` (70-89), ``lo`` (below 70), ``na`` (none)."""
    if score is None:
        return "na"
    return "hi" if score >= 90 else "mid" if score >= 70 else "lo"


def _group(
    results: list[tuple[HostResult, ControlResult]], infos: dict[str, ControlInfo], prefix: str, start: int
) -> list[FindingGroup]:
    """Group the results of one control by equal result, in order of first appearance."""
    groups: dict[ControlResult, FindingGroup] = {}
    for host, control in results:
        group = groups.get(control)
        if group is None:
            group = groups[control] = FindingGroup(
                anchor=f"{prefix}-{start + len(groups)}",
                control=control,
                info=infos[control.id],
                diff=_diff_lines(control.diff),
            )
        group.hosts.append(host)
    return list(groups.values())


def _matrix_rows(hosts: list[HostResult], control_ids: list[str]) -> list[MatrixRow]:
    """Host × control: one cell per control, a one-letter class and the status symbol."""
    cells_of = {status: (code, STATUS_SYMBOLS[status]) for status, code in STATUS_CODES.items()}
    missing = ("x", "·")
    rows = []
    for host in hosts:
        if not host.controls and host.status != "ok":
            rows.append(MatrixRow(host, None))
            continue
        controls = host.controls
        rows.append(
            MatrixRow(host, [cells_of[controls[cid].status] if cid in controls else missing for cid in control_ids])
        )
    return rows


def _summary_rows(hosts: list[HostResult], measures: list[int]) -> list[MatrixRow]:
    """Host × measure: the worst status of the measure and how many of its controls are not compliant."""
    rows = []
    for host in hosts:
        if not host.controls and host.status != "ok":
            rows.append(MatrixRow(host, None))
            continue
        worst: dict[int, str] = {}
        problems = dict.fromkeys(measures, 0)
        for cid, control in host.controls.items():
            number = measure_of(cid)
            if number is None:
                continue
            status = control.status
            if number not in worst or _GRAVITY[status] > _GRAVITY[worst[number]]:
                worst[number] = status
            if status in _PROBLEMS:
                problems[number] += 1
        cells = []
        for number in measures:
            if number not in worst:
                cells.append(("x", "·"))
            elif problems[number]:
                cells.append((STATUS_CODES[worst[number]], f"{STATUS_SYMBOLS[worst[number]]}\u00a0{problems[number]}"))
            else:
                cells.append((STATUS_CODES[worst[number]], STATUS_SYMBOLS[worst[number]]))
        rows.append(MatrixRow(host, cells))
    return rows


def build_context(
    record: RunRecord,
    catalogue: Any,
    lang: str,
    matrix_max_hosts: int = MATRIX_MAX_HOSTS,
    previous: RunRecord | None = None,
    overview_href: str | None = None,
) -> dict[str, Any]:
    """Compute everything the template shows; the template itself does no arithmetic.

    ``overview_href`` (a relative path) adds a link back to the MSP overview (facility reports).
    """
    summary = record.summary()
    scores = scores_of(record)
    hosts = list(record.hosts.values())
    control_ids = record.control_ids()
    infos = {
        cid: ControlInfo(
            title=control_title(catalogue, cid, lang),
            rationale=control_field(catalogue, cid, "rationale", lang),
            check=control_field(catalogue, cid, "check", lang),
            references=control_references(catalogue, cid),
        )
        for cid in control_ids
    }
    titles = {cid: info.title for cid, info in infos.items()}

    # One pass over every (host, control) result: counts per control and the results worth showing.
    counts_by_control = {cid: dict.fromkeys(CONTROL_STATUSES, 0) for cid in control_ids}
    problems: dict[str, list[tuple[HostResult, ControlResult]]] = {cid: [] for cid in control_ids}
    changed: dict[str, list[tuple[HostResult, ControlResult]]] = {cid: [] for cid in control_ids}
    not_applicable: dict[str, dict[str | None, NotApplicableGroup]] = {cid: {} for cid in control_ids}
    waivers: dict[tuple[str, Waiver, str], WaiverGroup] = {}
    apply_mode = record.mode == "apply"
    for host in hosts:
        for cid, control in host.controls.items():
            status = control.status
            counts_by_control[cid][status] += 1
            if control.waiver is not None:
                key = (cid, control.waiver, status)
                if key not in waivers:
                    waivers[key] = WaiverGroup(cid, control.waiver, status)
                waivers[key].hosts.append(host)
            if status in _PROBLEMS or status in _EVIDENCE:
                problems[cid].append((host, control))
            elif status == "not_applicable":
                by_reason = not_applicable[cid]
                group = by_reason.get(control.message)
                if group is None:
                    group = by_reason[control.message] = NotApplicableGroup(cid, control.message)
                group.hosts.append(host)
            elif apply_mode and control.changed:
                changed[cid].append((host, control))

    findings: list[FindingGroup] = []
    changes: list[FindingGroup] = []
    groups_by_control: dict[str, list[FindingGroup]] = {}
    for cid in control_ids:
        by_status = sorted(problems[cid], key=lambda pair: CONTROL_STATUSES.index(pair[1].status))
        groups = _group(by_status, infos, "finding", len(findings) + 1)
        findings += groups
        groups_by_control[cid] = groups
        changes += _group(changed[cid], infos, "change", len(changes) + 1)
    na_groups = [group for cid in control_ids for group in not_applicable[cid].values()]

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
                view.controls.append(ControlRow(cid, titles[cid], counts_by_control[cid], groups_by_control[cid]))
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

    measure_scores = score_chart(
        [(f"{m.number}. {m.title}", f"{t('measure', lang)} {m.number} — {m.title}", scores.measures[m.number])
         for m in measures]
    )

    detailed_matrix = len(hosts) <= matrix_max_hosts
    matrix_measures = [m.number for m in measures if m.total]
    if detailed_matrix:
        matrix_rows = _matrix_rows(hosts, control_ids)
    else:
        matrix_rows = _summary_rows(hosts, matrix_measures)

    # Large runs: the summary names the hosts with the most problems; all hosts are in the matrix.
    def problem_count(host: HostResult) -> tuple[int, int]:
        counts = summary.hosts[host.name]
        return (host.status == "ok", -sum(counts[s] for s in _PROBLEMS))

    top_hosts = [] if detailed_matrix else sorted(hosts, key=problem_count)[:TOP_HOSTS]

    exit_code = record.exit_code()
    if exit_code == 1:
        verdict = ("error", t("verdict_unfinished" if record.run.finished is None else "verdict_error", lang))
    elif exit_code == 2:
        verdict = ("drift", t("verdict_drift", lang))
    else:
        waived = summary.overall.get("waived", 0)
        verdict = ("compliant", t("verdict_ok_waived", lang, n=waived) if waived else t("verdict_ok", lang))

    run = record.run
    facilities = sorted({h.facility for h in hosts if h.facility})
    changes_view = None
    if previous is not None:
        diff: RunDiff = diff_records(previous, record)
        listed = [c for c in diff.changes if c.kind != "failing"]
        changes_view = ChangesView(
            previous_id=previous.run.id,
            previous_mode=t(f"short_{previous.run.mode}", lang),
            previous_started=_format_dt(previous.run.started_at, lang),
            counts=diff.counts(),
            rows=listed[:CHANGES_SHOWN],
            hidden=max(0, len(listed) - CHANGES_SHOWN),
            previous_score=scores_of(previous, hosts=list(record.hosts)).overall,
            score=scores.overall,
            titles={c.control: control_title(catalogue, c.control, lang) for c in listed[:CHANGES_SHOWN]},
        )
    waiver_groups = sorted(
        waivers.values(), key=lambda g: (measure_of(g.control_id) or 9, g.control_id, g.waiver.expires)
    )
    return {
        "scores": scores,
        "waiver_groups": waiver_groups,
        "waiver_results": sum(len(g.hosts) for g in waiver_groups),
        "changes_since": changes_view,
        "change_kinds": [k for k in KINDS if k != "failing"],
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
        "codes": STATUS_CODES,
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
        "score_chart": measure_scores,
        "fills": CHART_FILLS,
        "overview_href": overview_href,
        "detailed_matrix": detailed_matrix,
        "matrix_rows": matrix_rows,
        "matrix_measures": matrix_measures,
        "matrix_max_hosts": matrix_max_hosts,
        "top_hosts": top_hosts,
        "findings": findings,
        "finding_results": sum(len(g.hosts) for g in findings),
        "changes": changes,
        "change_results": sum(len(g.hosts) for g in changes),
        "not_applicable": na_groups,
        "not_applicable_results": sum(len(g.hosts) for g in na_groups),
        "problem_hosts": [h for h in hosts if h.status != "ok"],
        "socle_report_version": __version__,
        "t": lambda key, **params: t(key, lang, **params),
        "status_label": lambda status: status_label(status, lang),
    }


def render_html(
    record: RunRecord,
    catalogue: Any = None,
    lang: str = "fr",
    matrix_max_hosts: int = MATRIX_MAX_HOSTS,
    previous: RunRecord | None = None,
    overview_href: str | None = None,
) -> str:
    """Render ``record`` as one self-contained HTML page in ``lang`` (``fr`` or ``en``).

    ``catalogue`` is the control catalogue (``socle.catalogue.load_catalogue()``); controls it
    does not know are shown with their raw ID. ``None`` shows raw IDs everywhere. Runs of more
    than ``matrix_max_hosts`` hosts get a host × measure summary instead of the host × control
    matrix. ``previous``, an earlier run of the same hosts, adds a "what changed since the previous
    run" section. ``overview_href`` links the page back to the MSP overview (facility reports).
    """
    check_lang(lang)
    template = _environment().get_template(TEMPLATE_NAME)
    return template.render(**build_context(record, catalogue, lang, matrix_max_hosts, previous, overview_href))
