"""One report per facility and the MSP overview, from one run record.

A run over the hosts of several facilities (their ``socle_facility``, stored per host in the run
record) is split into one record per facility: same run block, only that facility's hosts, and
only the run errors that name one of them (or no host at all), so a facility's report never shows
another facility's host names. Each part is rendered like any run (``facilities/<slug>/report.html``)
and ``overview.html`` puts them side by side: one row per facility with its scores and counts.

Folder names are *slugs*: ASCII letters, digits and hyphens only, so a hostile facility name cannot
climb out of ``facilities/`` (``../``), hide a folder (``.x``) or hit a reserved Windows device name.
Hosts without a facility go to ``_no-facility``, a name no slug can take.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from socle import __version__
from socle.record import MEASURES, RunRecord
from socle.report.changes import diff_records
from socle.report.html import _environment, _format_dt, score_chart
from socle.report.html import _score_band as _band
from socle.report.i18n import check_lang, measure_title, t
from socle.score import Scores, scores_of

__all__ = [
    "FACILITIES_DIR",
    "NO_FACILITY_SLUG",
    "OVERVIEW_NAME",
    "FacilityPart",
    "facility_slug",
    "render_overview",
    "split_by_facility",
    "subset_record",
]

FACILITIES_DIR = "facilities"
OVERVIEW_NAME = "overview.html"
OVERVIEW_TEMPLATE = "overview.html.j2"
#: Folder of the hosts that have no ``socle_facility`` (the underscore is never in a slug).
NO_FACILITY_SLUG = "_no-facility"
_SLUG_MAX = 60
# Device names Windows refuses as file or folder names (reports are often copied to a share).
_WINDOWS_RESERVED = frozenset(
    {"con", "prn", "aux", "nul", *(f"com{n}" for n in range(1, 10)), *(f"lpt{n}" for n in range(1, 10))}
)


def facility_slug(name: str) -> str:
    """A safe folder name for a facility: ``"EHPAD Les Tilleuls"`` → ``"ehpad-les-tilleuls"``.

    Accents are dropped, anything but ``a-z0-9`` becomes one hyphen, at most 60 characters; a name
    with nothing left gives ``"facility"``. The result never contains a dot or a slash.
    """
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii").lower()
    text = re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:_SLUG_MAX].strip("-") or "facility"
    return f"{text}-site" if text in _WINDOWS_RESERVED else text


@dataclass(frozen=True)
class FacilityPart:
    """The hosts of one facility in a run: their record, and the same facility in the previous run."""

    name: str | None
    slug: str
    record: RunRecord
    previous: RunRecord | None = None

    @property
    def folder(self) -> str:
        """Folder of the facility's files, relative to the output folder (``facilities/<slug>``)."""
        return f"{FACILITIES_DIR}/{self.slug}"


def _error_owner(message: str, names: list[str]) -> str | None:
    """The host a run error is about (the callback writes ``"<host>: <task>: <msg>"``), if any."""
    owners = [n for n in names if message.startswith(f"{n}: ")]
    return max(owners, key=len) if owners else None


def subset_record(record: RunRecord, hosts: list[str]) -> RunRecord:
    """``record`` limited to ``hosts``, with the run errors of the other hosts left out."""
    wanted = set(hosts)
    names = list(record.hosts)
    errors = tuple(e for e in record.run.errors if _error_owner(e, names) in wanted | {None})
    return dataclasses.replace(
        record,
        run=dataclasses.replace(record.run, errors=errors),
        hosts={n: h for n, h in record.hosts.items() if n in wanted},
    )


def _facility_key(name: str | None) -> tuple[int, str, str]:
    return (name is None, (name or "").casefold(), name or "")


def split_by_facility(record: RunRecord, previous: RunRecord | None = None) -> list[FacilityPart]:
    """One part per facility of the run, sorted by name (hosts without a facility last).

    Slugs are unique: two names with the same slug get ``-2``, ``-3``... in that order. ``previous``
    (an earlier run) is split the same way, by facility name, for each part's comparison.
    """
    by_name: dict[str | None, list[str]] = {}
    for host in record.hosts.values():
        by_name.setdefault(host.facility or None, []).append(host.name)
    before: dict[str | None, list[str]] = {}
    if previous is not None:
        for host in previous.hosts.values():
            before.setdefault(host.facility or None, []).append(host.name)
    parts: list[FacilityPart] = []
    taken: set[str] = set()
    for name in sorted(by_name, key=_facility_key):
        if name is None:
            slug = NO_FACILITY_SLUG
        else:
            base = slug = facility_slug(name)
            n = 1
            while slug in taken:
                n += 1
                slug = f"{base}-{n}"
        taken.add(slug)
        prev = subset_record(previous, before[name]) if previous is not None and before.get(name) else None
        parts.append(FacilityPart(name, slug, subset_record(record, by_name[name]), prev))
    return parts


@dataclass
class OverviewRow:
    """One facility in the overview."""

    name: str | None
    href: str
    hosts: int
    hosts_not_ok: int
    scores: Scores
    band: str
    bands: dict[int, str]
    drift: int
    waived: int
    errors: int
    exit_code: int
    previous_score: int | None
    worse: int | None
    fixed: int | None


def _row(part: FacilityPart, href: str) -> OverviewRow:
    record = part.record
    counts = record.summary().overall
    scores = scores_of(record)
    previous_score = worse = fixed = None
    if part.previous is not None:
        diff = diff_records(part.previous, record)
        found = diff.counts()
        previous_score = scores_of(part.previous).overall
        worse, fixed = found["regressed"] + found["new"], found["fixed"]
    return OverviewRow(
        name=part.name,
        href=href,
        hosts=len(record.hosts),
        hosts_not_ok=sum(1 for h in record.hosts.values() if h.status != "ok"),
        scores=scores,
        band=_band(scores.overall),
        bands={m: _band(s) for m, s in scores.measures.items()},
        drift=counts["drift"] + counts["attestation_due"],
        waived=counts["waived"],
        errors=counts["error"] + counts["unreachable"],
        exit_code=record.exit_code(),
        previous_score=previous_score,
        worse=worse,
        fixed=fixed,
    )


def build_overview_context(
    record: RunRecord,
    parts: list[FacilityPart],
    catalogue: Any,
    lang: str,
    report_name: str = "report.html",
) -> dict[str, Any]:
    """Everything the overview template shows (hrefs are relative to the output folder)."""
    rows = [_row(part, f"{part.folder}/{report_name}") for part in parts]
    scores = scores_of(record)
    titles = {m: measure_title(catalogue, m, lang) or t("measure_n", lang, n=m) for m in MEASURES}
    no_facility = t("no_facility", lang)
    run = record.run
    exit_code = record.exit_code()
    return {
        "lang": lang,
        "run": run,
        "page_title": t("overview_title", lang),
        "mode_label": t(f"mode_{run.mode}", lang),
        "started": _format_dt(run.started_at, lang),
        "rows": rows,
        "no_facility": no_facility,
        "measures": list(MEASURES),
        "titles": titles,
        "scores": scores,
        "hosts": len(record.hosts),
        "exit_code": exit_code,
        "verdict": ("error" if exit_code == 1 else "drift" if exit_code == 2 else "compliant"),
        "verdict_text": t(
            "verdict_error" if exit_code == 1 else "verdict_drift" if exit_code == 2 else "verdict_ok", lang
        ),
        "report_name": report_name,
        "facility_chart": score_chart(
            [(row.name or no_facility, row.name or no_facility, row.scores.overall) for row in rows]
        ),
        "measure_chart": score_chart(
            [(f"{m}. {titles[m]}", f"{t('measure', lang)} {m} — {titles[m]}", scores.measures[m]) for m in MEASURES]
        ),
        "socle_report_version": __version__,
        "t": lambda key, **params: t(key, lang, **params),
    }


def render_overview(
    record: RunRecord, parts: list[FacilityPart], catalogue: Any = None, lang: str = "fr",
    report_name: str = "report.html",
) -> str:
    """The MSP overview page: one row per facility part, linking to ``<folder>/<report_name>``."""
    check_lang(lang)
    template = _environment().get_template(OVERVIEW_TEMPLATE)
    return template.render(**build_overview_context(record, parts, catalogue, lang, report_name))
