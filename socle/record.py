"""Run record (schema version 1): loading, validation and the figures reports are built on.

A run record is the JSON file the Socle callback plugin writes at the end of every
``ansible-playbook`` run. Its schema is ``socle/schemas/run-record.schema.json`` and is
documented in ``docs/run-record.md``.
"""

from __future__ import annotations

import gc
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
    "Waiver",
    "load_record",
    "measure_of",
    "parse_record",
    "validate_record",
]

SCHEMA_VERSION = 1
SCHEMA_PATH = Path(__file__).resolve().parent / "schemas" / "run-record.schema.json"

#: Control statuses, in the order reports list them.
#: ``attested`` / ``attestation_due``: organisational evidence (measures 6-8) from the inventory's records.
CONTROL_STATUSES: tuple[str, ...] = (
    "compliant", "drift", "waived", "attested", "attestation_due", "not_applicable", "error", "unreachable",
)
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


@lru_cache(maxsize=4096)
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
class Waiver:
    """An accepted exception for one control on one host, from the inventory (``socle_waivers``).

    ``expired`` is true when the run started after ``expires`` (a date, inclusive): the control then
    counts as drift again. ``source`` names the inventory variable and index it came from.
    """

    reason: str
    accepted_by: str
    expires: str  # YYYY-MM-DD, last day the waiver is valid
    expired: bool
    source: str | None = None


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
    waiver: Waiver | None = None  # the waiver that applies to this control on this host, if any

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
            for cid, control in host.controls.items():
                status = control.status
                counts[status] += 1
                measure = measure_of(cid)
                if measure is not None:
                    measures[measure][status] += 1
            for status, count in counts.items():
                overall[status] += count
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
                if control.status in ("drift", "attestation_due"):  # an attestation due is drift too
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
    import jsonschema  # only for a record the fast check finds invalid (about 40 ms to import)

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


# -- fast validation -------------------------------------------------------------------------------
# ``jsonschema`` walks a 1,000-host record (100,000 controls) in over a minute. The schema only uses a
# handful of keywords, so it is compiled once into plain Python source (one function per object or
# array in the schema) that answers "valid or not" in a fraction of a second. The code is generated
# from the schema file itself, never a hand-written copy of it, and is conservative: whenever it
# says "invalid", or the schema uses a keyword it does not know, ``jsonschema`` runs, has the last
# word and writes the messages.

_Check = Callable[[object], bool]

#: Keywords that only annotate: they never make an instance invalid.
_ANNOTATIONS = frozenset({"$schema", "$id", "$defs", "$comment", "title", "description", "default", "examples"})
_OBJECT_KEYWORDS = frozenset({"required", "properties", "additionalProperties", "propertyNames"})
_SUPPORTED = _ANNOTATIONS | _OBJECT_KEYWORDS | {"$ref", "type", "const", "enum", "pattern", "format", "items"}
_TYPE_EXPRESSIONS = {
    "object": "isinstance({x}, dict)",
    "array": "isinstance({x}, list)",
    "string": "isinstance({x}, str)",
    "boolean": "isinstance({x}, bool)",
    "null": "{x} is None",
    "integer": "_is_integer({x})",
    "number": "(isinstance({x}, (int, float)) and not isinstance({x}, bool))",
}


class _Unsupported(Exception):
    """The schema uses something the generated code does not implement."""


def _is_integer(value: object) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


class _CheckWriter:
    """Write the Python source of a predicate for a JSON Schema (the subset the record schema uses).

    Constants (sets, compiled patterns) are passed by name in ``namespace``; property names appear
    in the source only through ``repr``.
    """

    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root = root
        self.namespace: dict[str, Any] = {"_is_integer": _is_integer, "_is_date_time": _is_date_time}
        self.functions: list[str] = []
        self.refs: dict[str, str] = {}
        self.count = 0

    def _name(self, prefix: str) -> str:
        self.count += 1
        return f"_{prefix}{self.count}"

    def _const(self, prefix: str, value: Any) -> str:
        name = self._name(prefix)
        self.namespace[name] = value
        return name

    @staticmethod
    def _equals(value: Any, x: str) -> str:
        """``const``/``enum`` equality as JSON Schema means it (``true`` is not ``1``), scalars only."""
        if value is None or isinstance(value, bool):
            return f"{x} is {value!r}"
        if isinstance(value, str):
            return f"(isinstance({x}, str) and {x} == {value!r})"
        if isinstance(value, (int, float)) and value == value:  # NaN never equals
            return f"(isinstance({x}, (int, float)) and not isinstance({x}, bool) and {x} == {value!r})"
        raise _Unsupported(f"const/enum value {value!r}")

    def expression(self, schema: Any, x: str) -> str:
        """A Python expression true when the value named ``x`` is valid against ``schema``."""
        if schema is True:
            return "True"
        if schema is False:
            return "False"
        if not isinstance(schema, Mapping):
            raise _Unsupported(f"schema {schema!r}")
        unknown = set(schema) - _SUPPORTED
        if unknown:
            raise _Unsupported(", ".join(sorted(unknown)))
        parts: list[str] = []
        if "type" in schema:
            names = [schema["type"]] if isinstance(schema["type"], str) else list(schema["type"])
            if not names or any(name not in _TYPE_EXPRESSIONS for name in names):
                raise _Unsupported(f"type {schema['type']!r}")
            parts.append("(" + " or ".join(_TYPE_EXPRESSIONS[n].format(x=x) for n in names) + ")")
        if "const" in schema:
            parts.append(self._equals(schema["const"], x))
        if "enum" in schema:
            members = list(schema["enum"])
            if members and all(isinstance(m, str) for m in members):
                parts.append(f"(isinstance({x}, str) and {x} in {self._const('enum', frozenset(members))})")
            else:
                parts.append("(" + (" or ".join(self._equals(m, x) for m in members) or "False") + ")")
        if "pattern" in schema:
            search = self._const("pattern", re.compile(schema["pattern"]).search)
            parts.append(f"(not isinstance({x}, str) or {search}({x}) is not None)")
        if schema.get("format") == "date-time":  # the only format the validator checks (see _validator)
            parts.append(f"_is_date_time({x})")
        if "items" in schema:
            parts.append(f"{self.array(schema['items'])}({x})")
        if _OBJECT_KEYWORDS & set(schema):
            parts.append(f"{self.object(schema)}({x})")
        if "$ref" in schema:
            parts.append(f"{self.ref(schema['$ref'])}({x})")
        return " and ".join(parts) if parts else "True"

    def ref(self, ref: str) -> str:
        if not ref.startswith("#"):
            raise _Unsupported(f"$ref {ref!r}")
        if ref not in self.refs:
            name = self.refs[ref] = self._name("ref")  # before writing: recursive schemas work
            node: Any = self.root
            for part in filter(None, ref[1:].split("/")):
                node = node[part.replace("~1", "/").replace("~0", "~")]
            self.functions.append(f"def {name}(v):\n    return {self.expression(node, 'v')}\n")
        return self.refs[ref]

    def array(self, items: Any) -> str:
        name = self._name("array")
        check = self.expression(items, "x")
        self.functions.append(
            f"def {name}(v):\n"
            "    if isinstance(v, list):\n"
            "        for x in v:\n"
            f"            if not ({check}):\n"
            "                return False\n"
            "    return True\n"
        )
        return name

    def object(self, schema: Mapping[str, Any]) -> str:
        name = self._name("object")
        body = ["    if not isinstance(v, dict):", "        return True", "    keys = v.keys()"]
        required = list(schema.get("required", ()))
        properties = dict(schema.get("properties", {}))
        additional = schema.get("additionalProperties", True)
        if required:
            body += [f"    if not {self._const('required', frozenset(required))} <= keys:", "        return False"]
        if additional is False:
            body += [f"    if not keys <= {self._const('allowed', frozenset(properties))}:", "        return False"]
        for prop, sub in properties.items():
            check = self.expression(sub, "x")
            if check == "True":
                continue
            if prop in required:
                body += [f"    x = v[{prop!r}]"]
            else:
                body += [f"    x = v.get({prop!r}, _MISSING)", "    if x is not _MISSING:"]
            indent = "        " if prop not in required else "    "
            body += [f"{indent}if not ({check}):", f"{indent}    return False"]
        additional_check = "True" if additional is False else self.expression(additional, "x")
        names_check = self.expression(schema["propertyNames"], "key") if "propertyNames" in schema else "True"
        if additional_check != "True" or names_check != "True":
            body += ["    for key, x in v.items():"]
            if names_check != "True":
                seen = self._const("names", set())  # keys found valid already: control IDs repeat
                body += [
                    f"        if key not in {seen}:",
                    f"            if not ({names_check}):",
                    "                return False",
                    f"            if len({seen}) < 100000:",
                    f"                {seen}.add(key)",
                ]
            if additional_check != "True":
                props = self._const("properties", frozenset(properties))
                body += [f"        if key not in {props} and not ({additional_check}):", "            return False"]
        body += ["    return True"]
        self.functions.append(f"def {name}(v):\n" + "\n".join(body) + "\n")
        return name

    def compile(self, schema: Any) -> _Check:
        check = self.expression(schema, "v")
        self.functions.append(f"def _check(v):\n    return {check}\n")
        namespace = {**self.namespace, "_MISSING": object()}
        exec(compile("\n".join(self.functions), "<run-record schema checks>", "exec"), namespace)  # noqa: S102
        return namespace["_check"]


@lru_cache(maxsize=1)
def _fast_checks() -> tuple[_Check, _Check | None] | None:
    """``(whole record, one host)`` predicates compiled from the schema, or ``None`` if unsupported."""
    schema = _schema()
    try:
        record = _CheckWriter(schema).compile(schema)
        host_schema = schema.get("properties", {}).get("hosts", {}).get("additionalProperties")
        host = _CheckWriter(schema).compile(host_schema) if isinstance(host_schema, Mapping) else None
    except (_Unsupported, KeyError, TypeError, ValueError, SyntaxError, re.error):
        return None
    return record, host


def _problems(
    errors: Iterable[jsonschema.ValidationError], prefix: tuple[str | int, ...] = ()
) -> list[tuple[str, str]]:
    out = []
    for error in errors:
        message = error.message
        if len(message) > 300:
            message = message[:297] + "..."
        out.append((_json_path((*prefix, *error.absolute_path)), message))
    return out


def validate_record(data: object) -> list[tuple[str, str]]:
    """Return the schema problems of a decoded record as ``(json_path, message)``, sorted.

    A valid record is recognised by the compiled predicates; only an invalid one goes through
    ``jsonschema`` for the messages, host by host so that one bad host in a large record is
    reported quickly.
    """
    fast = _fast_checks()
    if fast is None:
        return sorted(set(_problems(_validator().iter_errors(data))))
    record_ok, host_ok = fast
    if record_ok(data):
        return []
    hosts = data.get("hosts") if isinstance(data, dict) else None
    if host_ok is None or not isinstance(hosts, dict):
        return sorted(set(_problems(_validator().iter_errors(data))))
    # The run block and top level on their own (hosts emptied: a shallow copy), then each bad host.
    problems = _problems(_validator().iter_errors({**data, "hosts": {}}))
    host_validator = _host_validator()
    for name, host in hosts.items():
        if not host_ok(host):
            problems += _problems(host_validator.iter_errors(host), ("hosts", name))
    return sorted(set(problems))


@lru_cache(maxsize=1)
def _host_validator() -> jsonschema.protocols.Validator:
    import jsonschema

    schema = _schema()
    host_schema = {**schema["properties"]["hosts"]["additionalProperties"], "$defs": schema.get("$defs", {})}
    cls = jsonschema.validators.validator_for(schema)
    return cls(host_schema, format_checker=_validator().format_checker)


def _waiver_key(data: Mapping[str, Any] | None) -> tuple[Any, ...] | None:
    if data is None:
        return None
    return (data["reason"], data["accepted_by"], data["expires"], data["expired"], data.get("source"))


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
    # Results are frozen, so identical ones (the same control found the same way on many hosts) are
    # built once and shared: a large run loads in far less time and memory.
    tasks_seen: dict[tuple[str, str, str | None], TaskResult] = {}
    controls_seen: dict[tuple[Any, ...], ControlResult] = {}
    hosts: dict[str, HostResult] = {}
    for name, host in data["hosts"].items():
        controls: dict[str, ControlResult] = {}
        for cid, c in host["controls"].items():
            task_keys = tuple([(t["name"], t["result"], t.get("msg")) for t in c["tasks"]])
            key = (
                cid,
                c["status"],
                c["changed"],
                c["expected"],
                c["actual"],
                c["diff"],
                c.get("message"),
                task_keys,
                c.get("finding", False),
                _waiver_key(c.get("waiver")),
            )
            result = controls_seen.get(key)
            if result is None:
                tasks = []
                for task_key in task_keys:
                    task = tasks_seen.get(task_key)
                    if task is None:
                        task = tasks_seen[task_key] = TaskResult(*task_key)
                    tasks.append(task)
                result = controls_seen[key] = ControlResult(
                    id=cid,
                    status=key[1],
                    changed=key[2],
                    expected=key[3],
                    actual=key[4],
                    diff=key[5],
                    message=key[6],
                    tasks=tuple(tasks),
                    finding=key[8],
                    waiver=Waiver(*key[9]) if key[9] is not None else None,
                )
            controls[cid] = result
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
    # A large record is hundreds of thousands of small dicts and lists, none of them in a reference
    # cycle: the cyclic garbage collector would only walk them again and again while they are built.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise RecordError(
                source, [("$", f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})")]
            ) from exc
        return parse_record(data, source)
    finally:
        if gc_was_enabled:
            gc.enable()
