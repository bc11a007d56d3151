"""Run record loading, validation, summary and exit codes."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from socle.record import (
    CONTROL_STATUSES,
    RecordError,
    RunRecord,
    load_record,
    measure_of,
    parse_record,
    validate_record,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "runs"
HOST = "accueil-pc01.tilleuls.lan"
HOST_PATH = '$.hosts["accueil-pc01.tilleuls.lan"]'


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


# -- synthetic records -----------------------------------------------------------------------------
def control(status: str = "compliant", changed: bool = False, **extra: Any) -> dict[str, Any]:
    data = {
        "status": status,
        "changed": changed,
        "expected": "x",
        "actual": "x",
        "diff": None,
        "message": None,
        "tasks": [{"name": "M4-LNX-SSH-IDLE | t", "result": "ok", "msg": None}],
    }
    data.update(extra)
    return data


def host(status: str = "ok", **controls: dict[str, Any]) -> dict[str, Any]:
    return {
        "status": status,
        "message": None,
        "facility": "EHPAD Test",
        "platform": "Debian 12",
        "controls": {cid.replace("_", "-"): c for cid, c in controls.items()},
    }


def record(
    hosts: dict[str, Any],
    errors: list[str] | None = None,
    finished: str | None = "2025-11-28T09:17:42Z",
    mode: str = "audit",
) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "run": {
            "id": "20251128T091500Z-3fa2c9d1",
            "mode": mode,
            "started": "2025-11-28T09:15:00Z",
            "finished": finished,
            "ansible_version": "2.19.14",
            "socle_version": "0.1.0",
            "playbooks": ["audit.yml"],
            "errors": errors or [],
        },
        "hosts": hosts,
    }


# -- loading ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["audit-drift", "apply", "audit-compliant", "hostile"])
def test_fixtures_validate_and_load(name: str) -> None:
    assert validate_record(fixture(name)) == []
    rec = load_record(FIXTURES / f"{name}.json")
    assert isinstance(rec, RunRecord)
    assert rec.schema_version == 1
    assert list(rec.hosts) == list(fixture(name)["hosts"])  # file order kept


def test_load_builds_dataclasses() -> None:
    rec = load_record(FIXTURES / "audit-drift.json")
    assert rec.mode == "audit" and rec.run.id == "20251128T091500Z-3fa2c9d1"
    assert rec.run.started_at.year == 2025 and rec.run.finished_at is not None
    h = rec.hosts["soins-pc02.tilleuls.lan"]
    assert h.platform == "Debian 12" and h.facility == "EHPAD Les Tilleuls" and h.status == "ok"
    c = h.controls["M4-LNX-SSH-IDLE"]
    assert c.id == "M4-LNX-SSH-IDLE" and c.status == "drift" and c.changed and c.measure == 4
    assert c.diff and c.diff.startswith("--- before:")
    assert c.tasks[0].name.startswith("M4-LNX-SSH-IDLE |") and c.tasks[0].result == "changed"


def _set(path: list[Any], value: Any) -> Any:
    def mutate(data: dict[str, Any]) -> None:
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


def _delete(path: list[Any]) -> Any:
    def mutate(data: dict[str, Any]) -> None:
        target = data
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return mutate


def _rename_control(data: dict[str, Any]) -> None:
    controls = data["hosts"][HOST]["controls"]
    controls["M9-LNX-NOPE"] = controls.pop("M4-LNX-SSH-IDLE")


SSH = ["hosts", HOST, "controls", "M4-LNX-SSH-IDLE"]
SSH_PATH = HOST_PATH + '.controls["M4-LNX-SSH-IDLE"]'

MALFORMED = [
    # (case id, mutation, path expected in the message, text expected in the message)
    ("no-version", _delete(["schema_version"]), "$:", "'schema_version' is a required property"),
    ("future-version", _set(["schema_version"], 2), "$.schema_version", "unsupported schema version 2"),
    ("bad-mode", _set(["run", "mode"], "check"), "$.run.mode", "'check' is not one of"),
    ("bad-run-id", _set(["run", "id"], "run-1"), "$.run.id", "does not match"),
    ("bad-date", _set(["run", "started"], "28/11/2025 09:15"), "$.run.started", "is not a 'date-time'"),
    ("date-no-zone", _set(["run", "finished"], "2025-11-28T09:17:42"), "$.run.finished", "date-time"),
    ("missing-run-field", _delete(["run", "ansible_version"]), "$.run:", "'ansible_version' is a required"),
    ("extra-top", _set(["extra"], 1), "$:", "Additional properties"),
    (
        "bad-host-status",
        _set(["hosts", HOST, "status"], "down"),
        HOST_PATH + ".status",
        "'down' is not one of",
    ),
    ("no-controls", _delete(["hosts", HOST, "controls"]), HOST_PATH + ":", "'controls' is a required"),
    ("bad-control-id", _rename_control, HOST_PATH + ".controls", "'M9-LNX-NOPE' does not match"),
    ("bad-status", _set(SSH + ["status"], "ok"), SSH_PATH + ".status", "'ok' is not one of"),
    ("changed-string", _set(SSH + ["changed"], "yes"), SSH_PATH + ".changed", "is not of type 'boolean'"),
    ("missing-diff", _delete(SSH + ["diff"]), SSH_PATH + ":", "'diff' is a required property"),
    (
        "bad-task",
        _set(SSH + ["tasks", 0, "result"], "done"),
        SSH_PATH + ".tasks[0].result",
        "'done' is not one of",
    ),
    ("extra-control-field", _set(SSH + ["severity"], "high"), SSH_PATH + ":", "Additional properties"),
]


@pytest.mark.parametrize(("mutate", "path", "text"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_malformed_records_are_rejected_with_their_path(tmp_path: Path, mutate: Any, path: str, text: str) -> None:
    data = fixture("audit-drift")
    mutate(data)
    target = tmp_path / "run.json"
    target.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(RecordError) as info:
        load_record(target)
    message = str(info.value)
    assert str(target) in message
    assert path in message, message
    assert text in message, message
    assert any(p.startswith(path.rstrip(":")) for p, _ in info.value.problems)


def test_every_problem_is_listed() -> None:
    data = fixture("audit-drift")
    data["run"]["mode"] = "dry"
    data["hosts"][HOST]["controls"]["M4-LNX-SSH-IDLE"]["status"] = "bad"
    with pytest.raises(RecordError) as info:
        parse_record(data, "mem")
    paths = [p for p, _ in info.value.problems]
    assert "$.run.mode" in paths and SSH_PATH + ".status" in paths
    assert "2 problems" in str(info.value)


@pytest.mark.parametrize(
    ("content", "text"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "is not of type 'object'"),
        ("", "not valid JSON"),
        (b"\xff\xfe{}", "not UTF-8"),
    ],
)
def test_unreadable_records(tmp_path: Path, content: str | bytes, text: str) -> None:
    target = tmp_path / "run.json"
    if isinstance(content, bytes):
        target.write_bytes(content)
    else:
        target.write_text(content, encoding="utf-8")
    with pytest.raises(RecordError, match=text):
        load_record(target)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RecordError, match="cannot read file"):
        load_record(tmp_path / "absent.json")


# -- figures ---------------------------------------------------------------------------------------
def test_summary_audit_drift() -> None:
    s = load_record(FIXTURES / "audit-drift.json").summary()
    assert s.overall == {
        "compliant": 3, "drift": 5, "waived": 0, "attested": 0, "attestation_due": 0,
        "not_applicable": 1, "error": 0, "unreachable": 0,
    }
    assert s.total == 9
    assert s.hosts["srv-dossiers.tilleuls.lan"] == {
        "compliant": 1,
        "drift": 1,
        "waived": 0,
        "attested": 0,
        "attestation_due": 0,
        "not_applicable": 1,
        "error": 0,
        "unreachable": 0,
    }
    assert list(s.measures) == list(range(1, 9))
    assert s.measures[4] == s.overall
    assert all(sum(s.measures[m].values()) == 0 for m in (1, 2, 3, 5, 6, 7, 8))
    assert s.host_statuses == {"ok": 3, "unreachable": 0, "error": 0}
    assert s["overall"] is s.overall  # mapping-style access for callers that want it
    assert json.loads(json.dumps(s.as_dict()))["measures"]["4"]["drift"] == 5


def test_summary_hostile_counts_unreachable_host_without_controls() -> None:
    s = load_record(FIXTURES / "hostile.json").summary()
    assert s.overall == {
        "compliant": 1, "drift": 1, "waived": 0, "attested": 0, "attestation_due": 0,
        "not_applicable": 1, "error": 2, "unreachable": 1,
    }
    assert s.host_statuses == {"ok": 1, "unreachable": 1, "error": 1}
    assert s.hosts["unreach'able\"&<host>"] == dict.fromkeys(CONTROL_STATUSES, 0)


EXIT_CASES = [
    ("all-compliant", record({"a": host(M4_LNX_SSH_IDLE=control())}), 0),
    (
        "compliant-and-na",
        record({"a": host(M4_LNX_SSH_IDLE=control(), M4_LNX_GNOME_LOCK=control("not_applicable"))}),
        0,
    ),
    ("no-hosts", record({}), 0),
    ("apply-changed-compliant", record({"a": host(M4_LNX_SSH_IDLE=control(changed=True))}, mode="apply"), 0),
    ("drift", record({"a": host(M4_LNX_SSH_IDLE=control("drift", True))}), 2),
    (
        "drift-on-one-host",
        record({"a": host(M4_LNX_SSH_IDLE=control()), "b": host(M4_LNX_SSH_IDLE=control("drift"))}),
        2,
    ),
    (
        "error-wins-over-drift",
        record({"a": host(M4_LNX_SSH_IDLE=control("drift")), "b": host(M4_LNX_SSH_IDLE=control("error"))}),
        1,
    ),
    ("unreachable-control", record({"a": host(M4_LNX_SSH_IDLE=control("unreachable"))}), 1),
    ("unreachable-host", record({"a": host(M4_LNX_SSH_IDLE=control()), "b": host("unreachable")}), 1),
    ("host-error", record({"a": host("error", M4_LNX_SSH_IDLE=control())}), 1),
    ("run-errors", record({"a": host(M4_LNX_SSH_IDLE=control())}, errors=["boom"]), 1),
    ("run-errors-and-drift", record({"a": host(M4_LNX_SSH_IDLE=control("drift"))}, errors=["boom"]), 1),
    ("unfinished-run", record({"a": host(M4_LNX_SSH_IDLE=control())}, finished=None), 1),
]


@pytest.mark.parametrize(("data", "code"), [c[1:] for c in EXIT_CASES], ids=[c[0] for c in EXIT_CASES])
def test_exit_code(data: dict[str, Any], code: int) -> None:
    assert parse_record(copy.deepcopy(data)).exit_code() == code


@pytest.mark.parametrize(("name", "code"), [("audit-drift", 2), ("apply", 0), ("audit-compliant", 0), ("hostile", 1)])
def test_fixture_exit_codes(name: str, code: int) -> None:
    assert load_record(FIXTURES / f"{name}.json").exit_code() == code


def test_drift_and_changed_pairs() -> None:
    audit = load_record(FIXTURES / "audit-drift.json")
    apply = load_record(FIXTURES / "apply.json")
    expected = {
        ("accueil-pc01.tilleuls.lan", "M4-LNX-GNOME-LOCK"),
        ("accueil-pc01.tilleuls.lan", "M4-LNX-SHELL-TMOUT"),
        ("soins-pc02.tilleuls.lan", "M4-LNX-GNOME-LOCK"),
        ("soins-pc02.tilleuls.lan", "M4-LNX-SSH-IDLE"),
        ("srv-dossiers.tilleuls.lan", "M4-LNX-SSH-IDLE"),
    }
    assert audit.drift_pairs() == expected
    assert audit.changed_pairs() == expected  # audit: drift = would change
    assert apply.drift_pairs() == set()
    assert apply.changed_pairs() == expected  # apply: changed and now compliant
    assert all(apply.hosts[h].controls[c].status == "compliant" for h, c in expected)
    assert load_record(FIXTURES / "audit-compliant.json").changed_pairs() == set()


def test_control_ids_sorted_by_measure() -> None:
    data = record({"a": host(M7_LNX_FW=control(), M4_LNX_SSH_IDLE=control(), M1_ORG_INVENTORY=control())})
    assert parse_record(data).control_ids() == ["M1-ORG-INVENTORY", "M4-LNX-SSH-IDLE", "M7-LNX-FW"]


@pytest.mark.parametrize(
    ("cid", "measure"),
    [("M4-LNX-SSH-IDLE", 4), ("M1-ORG-CHARTER", 1), ("M8-WIN-LOG", 8), ("X4-LNX", None), ("M9-LNX-A", None)],
)
def test_measure_of(cid: str, measure: int | None) -> None:
    assert measure_of(cid) == measure


# -- fast validation -------------------------------------------------------------------------------
def _leaves(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Paths of every value (objects and arrays included) in a decoded document."""
    out = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _leaves(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += _leaves(value, (*path, index))
    return out


def _replaced(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copy_ = copy.copy(data)
    copy_[path[0]] = _replaced(data[path[0]], path[1:], value)
    return copy_


REPLACEMENTS = [None, True, 1, 1.0, "x", "2025-11-28T09:15:00Z", "ok", "drift", [], {}]


@pytest.mark.parametrize("name", ["audit-drift", "hostile"])
def test_compiled_checks_agree_with_jsonschema(name: str) -> None:
    """The compiled predicate and jsonschema give the same verdict on many one-value mutations."""
    from socle.record import _fast_checks, _validator

    checks = _fast_checks()
    assert checks is not None, "the schema should compile to fast checks"
    fast, _ = checks
    data = fixture(name)
    assert fast(data) and _validator().is_valid(data)
    cases = 0
    for path in _leaves(data):
        for value in REPLACEMENTS:
            mutated = _replaced(data, path, value)
            assert fast(mutated) == _validator().is_valid(mutated), (path, value)
            cases += 1
        parent, key = path[:-1], path[-1] if path else None
        if isinstance(key, str):  # drop the key, and add an unknown one next to it
            container = dict(_get(data, parent))
            del container[key]
            mutated = _replaced(data, parent, container)
            assert fast(mutated) == _validator().is_valid(mutated), ("del", path)
            mutated = _replaced(data, parent, {**_get(data, parent), "unexpected": 1})
            assert fast(mutated) == _validator().is_valid(mutated), ("add", path)
            cases += 2
    assert cases > 500


def _get(data: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        data = data[key]
    return data


def test_bad_control_in_a_large_record_is_reported_with_its_path() -> None:
    hosts = {
        f"pc-{n:03d}": host(M4_LNX_SSH_IDLE=control(), M4_LNX_GNOME_LOCK=control("drift", True)) for n in range(300)
    }
    hosts["pc-250"]["controls"]["M4-LNX-GNOME-LOCK"]["status"] = "bad"
    hosts["pc-120"]["controls"]["M4-LNX-SSH-IDLE"]["tasks"][0]["result"] = "done"
    data = record(hosts, finished="yesterday")
    with pytest.raises(RecordError) as info:
        parse_record(data, "big")
    paths = [p for p, _ in info.value.problems]
    assert paths == [
        '$.hosts["pc-120"].controls["M4-LNX-SSH-IDLE"].tasks[0].result',
        '$.hosts["pc-250"].controls["M4-LNX-GNOME-LOCK"].status',
        "$.run.finished",
    ]


def test_identical_results_are_shared_and_still_equal() -> None:
    data = record({name: host(M4_LNX_SSH_IDLE=control("drift", True)) for name in ("a", "b")})
    data["hosts"]["c"] = host(M4_LNX_SSH_IDLE=control("drift", True, actual="other"))
    rec = parse_record(data)
    a, b, c = (rec.hosts[n].controls["M4-LNX-SSH-IDLE"] for n in "abc")
    assert a is b and a == b and a != c and c.actual == "other"
    assert rec.drift_pairs() == {("a", "M4-LNX-SSH-IDLE"), ("b", "M4-LNX-SSH-IDLE"), ("c", "M4-LNX-SSH-IDLE")}


def test_unsupported_schema_keyword_falls_back_to_jsonschema() -> None:
    from socle.record import _CheckWriter, _Unsupported

    with pytest.raises(_Unsupported, match="oneOf"):
        _CheckWriter({}).compile({"type": "object", "oneOf": [{"required": ["a"]}]})
    check = _CheckWriter({}).compile(
        {"type": "object", "required": ["a"], "additionalProperties": False, "properties": {"a": {"const": 1}}}
    )
    assert check({"a": 1}) and not check({"a": True}) and not check({"a": 1, "b": 2}) and not check([])

