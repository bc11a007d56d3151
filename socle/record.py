"""Run record (schema version 1): loading, validation and the figures reports are built on.

A run record is the JSON file the Socle callback plugin writes at the end of every
``ansible-playbook`` run. Its schema is ``socle/schemas/run-record.schema.json`` and is
documented in ``docs/run-record.md``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema

__all__ = [
    "CONTROL_STATUSES",
    "EXIT_DRIFT",
    "EXIT_ERROR",
    "EXIT_OK",
    "HOST_STATUSES",
    "MEASURES",
    "SCHEMA_PATH",
    "SCHEMA_VERSION",
    "ControlResult",
    "HostResult",
    "RecordError",
    "RunInfo",
    "RunRecord",
    "Summary",
    "TaskResult",
    "load_record",
    "measure_of",
    "parse_record",
    "validate_record",
]

SCHEMA_VERSION = 1
SCHEMA_PATH = Path(__file__).resolve().parent / "schemas" / "run-record.schema.json"

#: Control statuses, in the order reports list them.
CONTROL_STATUSES: tuple[str, ...] = ("compliant", "drift", "not_applicable", "error", "unreachable")
#: Host statuses.
HOST_STATUSES: tuple[str, ...] = ("ok", "unreachable", "error")
#: The eight measures of the baseline.
MEASURES: tuple[int, ...] = tuple(range(1, 9))

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_DRIFT = 2

_MEASURE_RE = re.compile(r"^M([1-8])-")
_DATE_TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class RecordError(ValueError):
    """A run record could not be read or does not follow the schema.

    ``problems`` is a list of ``(json_path, message)`` pairs, e.g.
    ``('$.hosts["deb-01"].controls["M4-LNX-SSH-IDLE"].status', "'bad' is not one of [...]")``.
    """

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        lines = [f"{source}: invalid run record ({len(problems)} problem{'s' if len(problems) != 1 else ''})"]
        lines += [f"  {path}: {message}" for path, message in problems]
        super().__init__("\n".join(lines))


def measure_of(control_id: str) -> int | None:
    """Return the measure number (1-8) encoded in a control ID (``M4-LNX-SSH-IDLE`` → 4)."""
    match = _MEASURE_RE.match(control_id)
    return int(match.group(1)) if match else None


def parse_datetime(value: str | None) -> datetime | None:
    """Parse an RFC 3339 timestamp from the record; ``None`` stays ``None``."""
    if value is None:
        return None
    return datetime.fromisoformat(value.replace("z", "Z"))


@dataclass(frozen=True)
class TaskResult:
    """One Ansible task that contributed to a control."""

    name: str
    result: str  # ok | changed | skipped | failed | unreachable
    msg: str | None = None


@dataclass(frozen=True)
class ControlResult:
    """The outcome of one control on one host."""

    id: str
    status: str  # compliant | drift | not_applicable | error | unreachable
    changed: bool
    expected: str | None
    actual: str | None
    diff: str | None
    message: str | None = None
    tasks: tuple[TaskResult, ...] = ()
    finding: bool = False  # a measurement (signature age, last backup...) rather than a setting to enforce

    @property
    def measure(self) -> int | None:
        """Measure number (1-8) taken from the control ID."""
        return measure_of(self.id)


@dataclass(frozen=True)
class HostResult:
    """Everything the run found on one host."""

    name: str
    status: str  # ok | unreachable | error
    facility: str | None
    platform: str | None
    controls: dict[str, ControlResult] = field(default_factory=dict)
    message: str | None = None


@dataclass(frozen=True)
class RunInfo:
    """The ``run`` block: when, how and with what the run was made."""

    id: str
    mode: str  # audit | apply
    started: str
    finished: str | None
    ansible_version: str
    socle_version: str
    playbooks: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()

    @property
    def started_at(self) -> datetime:
        """``started`` as an aware datetime."""
        value = parse_datetime(self.started)
        assert value is not None
        return value

    @property
    def finished_at(self) -> datetime | None:
        """``finished`` as an aware datetime, or ``None`` if the run did not finish."""
        return parse_datetime(self.finished)


@dataclass(frozen=True)
class Summary:
    """Counts of control statuses, every status key always present (zero-filled).

    ``overall``: over all (host, control) pairs; ``hosts``: per host name;
    ``measures``: per measure 1..8 (all eight keys present); ``host_statuses``: hosts per
    host status (ok/unreachable/error).
    """

    overall: dict[str, int]
    hosts: dict[str, dict[str, int]]
    measures: dict[int, dict[str, int]]
    host_statuses: dict[str, int]

    @property
    def total(self) -> int:
        """Number of (host, control) results."""
        return sum(self.overall.values())

    def __getitem__(self, key: str) -> Any:
        """Mapping-style access too: ``summary["overall"]`` is ``summary.overall``."""
        if key not in ("overall", "hosts", "measures", "host_statuses"):
            raise KeyError(key)
        return getattr(self, key)

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-ready: measure keys become strings)."""
        return {
            "overall": dict(self.overall),
            "hosts": {name: dict(c) for name, c in self.hosts.items()},
            "measures": {str(m): dict(c) for m, c in self.measures.items()},
            "host_statuses": dict(self.host_statuses),
        }


def _zero() -> dict[str, int]:
    return dict.fromkeys(CONTROL_STATUSES, 0)


@dataclass(frozen=True)
class RunRecord:
    """A whole run record. Hosts keep the order of the file."""

    schema_version: int
    run: RunInfo
    hosts: dict[str, HostResult]

    # -- convenience ------------------------------------------------------------------------------
    @property
    def mode(self) -> str:
        """``audit`` or ``apply``."""
        return self.run.mode

    def results(self) -> Iterable[tuple[HostResult, ControlResult]]:
        """Every (host, control) pair, in file order."""
        for host in self.hosts.values():
            for control in host.controls.values():
                yield host, control

    def control_ids(self) -> list[str]:
        """IDs of all controls present in the run, sorted by measure then ID."""
        ids = {control.id for _, control in self.results()}
        return sorted(ids, key=lambda cid: (measure_of(cid) or 9, cid))

    # -- figures ----------------------------------------------------------------------------------
    def summary(self) -> Summary:
        """Counts per status overall, per host and per measure."""
        overall = _zero()
        hosts: dict[str, dict[str, int]] = {}
        measures: dict[int, dict[str, int]] = {m: _zero() for m in MEASURES}
        host_statuses = dict.fromkeys(HOST_STATUSES, 0)
        for name, host in self.hosts.items():
            host_statuses[host.status] = host_statuses.get(host.status, 0) + 1
            counts = hosts[name] = _zero()
            for control in host.controls.values():
                overall[control.status] += 1
                counts[control.status] += 1
                measure = control.measure
                if measure is not None:
                    measures[measure][control.status] += 1
        return Summary(overall=overall, hosts=hosts, measures=measures, host_statuses=host_statuses)

    def exit_code(self) -> int:
        """0: everything compliant or not applicable; 2: drift; 1: any error (wins over drift).

        Errors are: a run-level error, a run that did not finish (``finished`` is null), a host
        whose status is not ``ok``, or a control whose status is ``error`` or ``unreachable``.
        """
        if self.run.errors or self.run.finished is None:
            return EXIT_ERROR
        drift = False
        for host in self.hosts.values():
            if host.status != "ok":
                return EXIT_ERROR
            for control in host.controls.values():
                if control.status in ("error", "unreachable"):
                    return EXIT_ERROR
                if control.status == "drift":
                    drift = True
        return EXIT_DRIFT if drift else EXIT_OK

    def drift_pairs(self) -> set[tuple[str, str]]:
        """(host, control ID) pairs in drift."""
        return {(h.name, c.id) for h, c in self.results() if c.status == "drift"}

    def setting_drift_pairs(self) -> set[tuple[str, str]]:
        """(host, control ID) pairs in drift that apply would change (findings excluded)."""
        return {(h.name, c.id) for h, c in self.results() if c.status == "drift" and not c.finding}

    def changed_pairs(self) -> set[tuple[str, str]]:
        """(host, control ID) pairs whose ``changed`` flag is true."""
        return {(h.name, c.id) for h, c in self.results() if c.changed}

    def problem_pairs(self) -> set[tuple[str, str]]:
        """(host, control ID) pairs in error or unreachable."""
        return {(h.name, c.id) for h, c in self.results() if c.status in ("error", "unreachable")}


# -- validation and loading ------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _schema() -> dict[str, Any]:
    with SCHEMA_PATH.open(encoding="utf-8") as fh:
        return json.load(fh)


def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _DATE_TIME_RE.match(value):
        return False
    try:
        parse_datetime(value)
    except ValueError:
        return False
    return True


@lru_cache(maxsize=1)
def _validator() -> jsonschema.protocols.Validator:
    checker = jsonschema.FormatChecker(formats=())
    checker.checks("date-time")(_is_date_time)
    cls = jsonschema.validators.validator_for(_schema())
    return cls(_schema(), format_checker=checker)


def _json_path(parts: Iterable[str | int]) -> str:
    out = "$"
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _IDENT_RE.match(part):
            out += f".{part}"
        else:
            out += "[" + json.dumps(part, ensure_ascii=False) + "]"
    return out


def validate_record(data: object) -> list[tuple[str, str]]:
    """Return the schema problems of a decoded record as ``(json_path, message)``, sorted."""
    problems = []
    for error in _validator().iter_errors(data):
        message = error.message
        if len(message) > 300:
            message = message[:297] + "..."
        problems.append((_json_path(error.absolute_path), message))
    return sorted(set(problems))


def parse_record(data: object, source: str = "<record>") -> RunRecord:
    """Validate a decoded JSON document and build a :class:`RunRecord`; raise :class:`RecordError`."""
    if isinstance(data, Mapping) and data.get("schema_version") not in (None, SCHEMA_VERSION):
        raise RecordError(
            source,
            [
                (
                    "$.schema_version",
                    f"unsupported schema version {data.get('schema_version')!r}; "
                    f"this Socle reads version {SCHEMA_VERSION}",
                )
            ],
        )
    problems = validate_record(data)
    if problems:
        raise RecordError(source, problems)
    assert isinstance(data, Mapping)
    run = data["run"]
    info = RunInfo(
        id=run["id"],
        mode=run["mode"],
        started=run["started"],
        finished=run["finished"],
        ansible_version=run["ansible_version"],
        socle_version=run["socle_version"],
        playbooks=tuple(run["playbooks"]),
        errors=tuple(run.get("errors", ())),
    )
    hosts: dict[str, HostResult] = {}
    for name, host in data["hosts"].items():
        controls = {
            cid: ControlResult(
                id=cid,
                status=c["status"],
                changed=c["changed"],
                expected=c["expected"],
                actual=c["actual"],
                diff=c["diff"],
                message=c.get("message"),
                tasks=tuple(TaskResult(t["name"], t["result"], t.get("msg")) for t in c["tasks"]),
                finding=c.get("finding", False),
            )
            for cid, c in host["controls"].items()
        }
        hosts[name] = HostResult(
            name=name,
            status=host["status"],
            facility=host["facility"],
            platform=host["platform"],
            controls=controls,
            message=host.get("message"),
        )
    return RunRecord(schema_version=data["schema_version"], run=info, hosts=hosts)


def load_record(path: str | Path) -> RunRecord:
    """Read, validate and parse a run record file; raise :class:`RecordError` on any problem."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise RecordError(source, [("$", f"cannot read file: {exc.strerror or exc}")]) from exc
    except UnicodeDecodeError as exc:
        raise RecordError(source, [("$", f"not UTF-8 text: {exc}")]) from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RecordError(
            source, [("$", f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})")]
        ) from exc
    return parse_record(data, source)
