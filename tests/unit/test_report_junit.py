"""JUnit XML report: structure, counts, and hostile strings."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from socle.record import load_record
from socle.report.junit import RUN_SUITE, render_junit, xml_safe

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "runs"
ALL = ["audit-drift", "apply", "audit-compliant", "hostile"]

TITLES_EN = {
    "M4-LNX-GNOME-LOCK": "Lock GNOME sessions",
    "M4-LNX-SHELL-TMOUT": "Log out idle shells",
    "M4-LNX-SSH-IDLE": "Close idle SSH sessions",
}


@dataclass
class FakeCatalogue:
    """Stand-in for socle.catalogue: same attributes, a few controls."""

    measures: dict[int, dict[str, str]] = field(
        default_factory=lambda: {n: {"fr": f"Mesure {n}", "en": f"Measure {n}"} for n in range(1, 9)}
    )
    controls: dict[str, Any] = field(
        default_factory=lambda: {
            cid: {
                "id": cid,
                "measure": 4,
                "platform": "linux",
                "kind": "config",
                "title": {"fr": f"Titre {cid}", "en": en},
                "rationale": {"fr": "r", "en": "r"},
                "check": {"fr": "c", "en": "c"},
                "references": {"anssi": [], "pgssi_s": []},
                "implemented": True,
            }
            for cid, en in TITLES_EN.items()
        }
    )

    def title(self, control_id: str, lang: str) -> str:
        return self.controls[control_id]["title"][lang]


def junit(name: str) -> tuple[str, ET.Element]:
    text = render_junit(load_record(FIXTURES / f"{name}.json"), FakeCatalogue())
    return text, ET.fromstring(text.encode("utf-8"))


def outcome(case: ET.Element) -> str:
    for tag in ("failure", "error", "skipped"):
        if case.find(tag) is not None:
            return tag
    return "passed"


@pytest.mark.parametrize("name", ALL)
def test_parses_and_counts_match(name: str) -> None:
    text, root = junit(name)
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    assert root.tag == "testsuites"
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for suite in root.findall("testsuite"):
        cases = suite.findall("testcase")
        counts = {
            "tests": len(cases),
            "failures": sum(outcome(c) == "failure" for c in cases),
            "errors": sum(outcome(c) == "error" for c in cases),
            "skipped": sum(outcome(c) == "skipped" for c in cases),
        }
        assert {k: int(suite.get(k, "-1")) for k in counts} == counts, suite.get("name")
        for key in totals:
            totals[key] += counts[key]
    assert {k: int(root.get(k, "-1")) for k in totals} == totals


@pytest.mark.parametrize("name", ALL)
def test_fails_exactly_when_exit_code_is_not_zero(name: str) -> None:
    rec = load_record(FIXTURES / f"{name}.json")
    _, root = junit(name)
    failures, errors = int(root.get("failures", "0")), int(root.get("errors", "0"))
    code = rec.exit_code()
    assert (failures + errors == 0) == (code == 0)
    assert (errors > 0) == (code == 1)


def test_audit_drift_structure() -> None:
    rec = load_record(FIXTURES / "audit-drift.json")
    _, root = junit("audit-drift")
    assert [s.get("name") for s in root.findall("testsuite")] == list(rec.hosts)
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == (
        "9",
        "5",
        "0",
        "1",
    )
    seen_failures = set()
    for suite in root.findall("testsuite"):
        host = rec.hosts[suite.get("name", "")]
        props = {p.get("name"): p.get("value") for p in suite.iter("property")}
        assert props["facility"] == "EHPAD Les Tilleuls" and props["platform"] == "Debian 12"
        assert props["mode"] == "audit"
        for case in suite.findall("testcase"):
            assert case.get("classname") == host.name
            cid, _, title = (case.get("name") or "").partition(" ")
            assert title == TITLES_EN[cid]
            control = host.controls[cid]
            expected = {"drift": "failure", "not_applicable": "skipped", "compliant": "passed"}[
                control.status
            ]
            assert outcome(case) == expected
            if expected == "failure":
                failure = case.find("failure")
                assert failure is not None and failure.get("type") == "drift"
                body = failure.text or ""
                assert (
                    control.expected
                    and control.expected in body
                    and control.expected in failure.get("message", "")
                )
                assert control.actual and control.actual in body
                assert control.diff and control.diff.rstrip("\n") in body
                seen_failures.add((host.name, cid))
    assert seen_failures == rec.drift_pairs()


def test_apply_changes_in_system_out() -> None:
    _, root = junit("apply")
    outs = root.findall(".//testcase/system-out")
    assert len(outs) == 5
    assert all("changed: true" in (o.text or "") and "+++ after:" in (o.text or "") for o in outs)


def test_unknown_control_uses_raw_id() -> None:
    _, root = junit("hostile")
    names = [c.get("name") for c in root.iter("testcase")]
    assert "M4-LNX-UNKNOWN-CTRL" in names
    assert "M4-LNX-SSH-IDLE Close idle SSH sessions" in names


def test_without_catalogue() -> None:
    root = ET.fromstring(render_junit(load_record(FIXTURES / "audit-drift.json"), None))
    assert {c.get("name") for c in root.iter("testcase")} == set(TITLES_EN)


def test_hostile_round_trip() -> None:
    data = json.loads((FIXTURES / "hostile.json").read_text(encoding="utf-8"))
    text, root = junit("hostile")
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]", text)
    text.encode("utf-8")
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert set(suites) == {RUN_SUITE, *(xml_safe(h) for h in data["hosts"])}
    # run errors
    run_errors = [e.text for e in suites[RUN_SUITE].iter("error")]
    assert run_errors == [xml_safe(e) for e in data["run"]["errors"]]
    # unreachable host: a single 'host' test case in error, with its hostile message
    unreachable = suites["unreach'able\"&<host>"]
    (case,) = unreachable.findall("testcase")
    error = case.find("error")
    assert case.get("name") == "host" and error is not None and error.get("type") == "unreachable"
    assert data["hosts"]["unreach'able\"&<host>"]["message"] in (error.text or "")
    props = {p.get("name"): p.get("value") for p in unreachable.iter("property")}
    assert props["facility"] == 'Foyer <Les Pins> & "Cie"'
    # drift with hostile expected / actual / diff / task text, all back as text
    h1 = '<script>alert("host")</script>.lan'
    control = data["hosts"][h1]["controls"]["M4-LNX-SSH-IDLE"]
    failure = next(
        c for c in suites[h1].findall("testcase") if (c.get("name") or "").startswith("M4-LNX-SSH-IDLE")
    )
    assert failure.get("classname") == h1
    body = failure.find("failure")
    assert body is not None
    for value in [
        control["expected"],
        control["actual"],
        control["message"],
        control["tasks"][0]["name"],
        control["tasks"][0]["msg"],
        *control["diff"].rstrip("\n").split("\n"),
    ]:
        assert xml_safe(value) in (body.text or ""), value
    assert "<script>alert('expected')</script>" in (body.get("message") or "")
    # error host: host case plus one case per control (error and unreachable)
    h3 = [s for s in suites.values() if (s.get("name") or "").startswith("err-host")][0]
    assert [outcome(c) for c in h3.findall("testcase")] == ["error", "error", "error"]
    assert h3.get("name") == "err-host-\u00e9\u00e8\u202e\U0001f3e5"  # legal XML characters are kept


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        (None, ""),
        ("plain", "plain"),
        ("tab\tnl\ncr\r", "tab\tnl\ncr\r"),
        ("nul\x00bell\x07esc\x1bvt\x0b", "nulbellescvt"),
        ("\ud800lone\udfff", "lone"),
        ("non\ufffechar\uffff", "nonchar"),
        ("é 中文 \U0001f3e5 \u202e", "é 中文 \U0001f3e5 \u202e"),
        ("<&>\"'", "<&>\"'"),
    ],
)
def test_xml_safe(raw: str | None, clean: str) -> None:
    assert xml_safe(raw) == clean
