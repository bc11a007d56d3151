"""Compliance scores: one per measure and one overall, with a published formula (docs/scores.md).

The formula, in full:

* A **result** is one (host, control) pair of a run. ``not_applicable`` results are left out.
* A measure's score is the share of its applicable results that are ``compliant`` (or, for the
  organisational measures, ``attested``), as a whole percent **rounded down**: 99.6 % shows 99, so
  only a measure with nothing left to do shows 100. ``drift``, ``waived``, ``error`` and
  ``unreachable`` count as not compliant: a waiver is an accepted gap, but still a gap (it keeps the
  exit code at 0, not the score at 100), and a control that could not be checked proves nothing.
* A measure with no applicable result has no score (``None``, shown as "—").
* The overall score is the mean of the scores of the measures that have one, rounded down: each of
  the eight measures of the circulaire weighs the same, whatever its number of controls.

Scores are computed from status counts only, so the history can compute them for any subset of
hosts (a facility, one host) from the counts it stores.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from socle.record import MEASURES, RunRecord, measure_of

__all__ = ["COMPLIANT_STATUSES", "EXCLUDED_STATUSES", "Scores", "measure_score", "scores_from_counts", "scores_of"]

#: Statuses that count as compliant in the numerator.
COMPLIANT_STATUSES = frozenset({"compliant", "attested"})
#: Statuses left out of the score altogether.
EXCLUDED_STATUSES = frozenset({"not_applicable"})


@dataclass(frozen=True)
class Scores:
    """Scores of one run (or a subset of its hosts): ``measures[m]`` is 0-100 or ``None``."""

    overall: int | None
    measures: dict[int, int | None]

    def as_dict(self) -> dict[str, object]:
        return {"overall": self.overall, "measures": {str(m): s for m, s in self.measures.items()}}


def measure_score(counts: Mapping[str, int]) -> int | None:
    """Score of one measure from its status counts; ``None`` when nothing applicable was assessed."""
    applicable = sum(n for status, n in counts.items() if status not in EXCLUDED_STATUSES)
    if not applicable:
        return None
    good = sum(n for status, n in counts.items() if status in COMPLIANT_STATUSES)
    return (100 * good) // applicable  # integer division: rounded down, no float surprises


def scores_from_counts(per_measure: Mapping[int, Mapping[str, int]]) -> Scores:
    """Scores from status counts per measure (missing measures have no score)."""
    measures = {m: measure_score(per_measure.get(m, {})) for m in MEASURES}
    present = [s for s in measures.values() if s is not None]
    overall = sum(present) // len(present) if present else None
    return Scores(overall=overall, measures=measures)


def scores_of(record: RunRecord, hosts: Iterable[str] | None = None) -> Scores:
    """Scores of a run record, over all its hosts or only ``hosts``."""
    wanted = None if hosts is None else set(hosts)
    counts: dict[int, dict[str, int]] = {m: {} for m in MEASURES}
    for host, control in record.results():
        if wanted is not None and host.name not in wanted:
            continue
        measure = measure_of(control.id)
        if measure is not None:
            counts[measure][control.status] = counts[measure].get(control.status, 0) + 1
    return scores_from_counts(counts)
