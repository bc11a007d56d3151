"""What changed between two runs, per host and control (``socle diff`` and the HTML report).

Each (host, control) pair found in either run gets one kind of change, from the status it had in
the older run (``before``) and in the newer one (``after``). A status is *failing* when it needs
action (``drift``, ``error``, ``unreachable``, ``attestation_due``) and *passing* otherwise
(``compliant``, ``waived``, ``not_applicable``, ``attested``). A control missing from a host that
could not be reached takes the host's status (``unreachable`` or ``error``): a host that went
away is not "fixed".

=============  ===================================================================
``regressed``  passing before, failing now (e.g. compliant → drift, or a waiver that expired)
``new``        failing now, not assessed before (a new host, or a control not run before)
``fixed``      failing before, passing now
``gone``       failing before, not assessed now (host or control left out): *not* fixed
``failing``    failing in both runs (the status may differ: drift → error)
``other``      any other change of status between passing ones (compliant → waived, ...)
=============  ===================================================================

Pairs with the same status in both runs and passing are not listed. ``worse`` is true when
anything regressed or is new: ``socle diff`` then exits 2.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from socle.record import HostResult, RunRecord, measure_of

__all__ = ["FAILING", "KINDS", "Change", "RunDiff", "diff_records", "term_safe"]

FAILING = frozenset({"drift", "error", "unreachable", "attestation_due"})
#: Kinds of change, most important first (the order reports list them in).
KINDS: tuple[str, ...] = ("regressed", "new", "fixed", "gone", "failing", "other")


@dataclass(frozen=True)
class Change:
    """One (host, control) pair whose status matters between two runs."""

    kind: str
    host: str
    control: str
    before: str | None  # status in the older run, None if not assessed
    after: str | None  # status in the newer run, None if not assessed
    facility: str | None = None

    @property
    def measure(self) -> int | None:
        return measure_of(self.control)


@dataclass
class RunDiff:
    """Every change between an older and a newer run."""

    old: RunRecord
    new: RunRecord
    changes: list[Change] = field(default_factory=list)

    def of_kind(self, kind: str) -> list[Change]:
        return [c for c in self.changes if c.kind == kind]

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(KINDS, 0)
        for change in self.changes:
            out[change.kind] += 1
        return out

    @property
    def worse(self) -> bool:
        """True when something regressed or a new failure appeared."""
        return any(c.kind in ("regressed", "new") for c in self.changes)

    def by_host(self) -> dict[str, list[Change]]:
        out: dict[str, list[Change]] = {}
        for change in self.changes:
            out.setdefault(change.host, []).append(change)
        return out


def _statuses(host: HostResult | None, control_ids: set[str]) -> dict[str, str]:
    if host is None:
        return {}
    statuses = {cid: c.status for cid, c in host.controls.items()}
    if host.status != "ok":  # controls the host never got to are failing, not "not assessed"
        for cid in control_ids - set(statuses):
            statuses[cid] = host.status
    return statuses


def _kind(before: str | None, after: str | None) -> str | None:
    if before == after:
        return "failing" if after in FAILING else None
    if before is None:
        return "new" if after in FAILING else None
    if after is None:
        return "gone" if before in FAILING else None
    if before in FAILING:
        return "failing" if after in FAILING else "fixed"
    return "regressed" if after in FAILING else "other"


def diff_records(old: RunRecord, new: RunRecord) -> RunDiff:
    """Compare two run records (``old`` is the earlier one); hosts and controls in file order."""
    result = RunDiff(old=old, new=new)
    names = list(new.hosts) + [h for h in old.hosts if h not in new.hosts]
    for name in names:
        old_host, new_host = old.hosts.get(name), new.hosts.get(name)
        ids = set(old_host.controls if old_host else ()) | set(new_host.controls if new_host else ())
        before = _statuses(old_host, ids)
        after = _statuses(new_host, ids)
        facility = (new_host or old_host).facility if (new_host or old_host) else None
        for cid in sorted(ids, key=lambda c: (measure_of(c) or 9, c)):
            kind = _kind(before.get(cid), after.get(cid))
            if kind is not None:
                result.changes.append(Change(kind, name, cid, before.get(cid), after.get(cid), facility))
    result.changes.sort(key=lambda c: KINDS.index(c.kind))  # stable: hosts and controls keep their order
    return result


# Control characters (C0, DEL, C1) and bidirectional controls: shown escaped on a terminal, so a
# hostile host name cannot move the cursor, recolour the screen or reverse the text around it.
_TERMINAL_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def term_safe(text: object) -> str:
    """``text`` for a terminal or a log: control and bidi characters become ``\\xNN`` / ``\\uNNNN``."""
    return _TERMINAL_UNSAFE.sub(
        lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}",
        str(text),
    )
