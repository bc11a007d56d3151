"""JUnit XML rendering of a run record, for CI systems and ticketing tools.

One ``<testsuite>`` per host, one ``<testcase classname="HOST" name="ID English title">`` per
control. Drift is a ``<failure>``, error and unreachable are ``<error>``, not applicable and
waived (the waiver in the message) are ``<skipped>``. A host whose status is not ``ok`` gets an
extra ``host`` test case in error, and run-level errors get a ``(run)`` test suite, so the XML
fails exactly when the exit code is not 0.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

from socle.record import ControlResult, HostResult, RunRecord
from socle.report.i18n import control_title

__all__ = ["RUN_SUITE", "render_junit", "xml_safe"]

#: Name of the synthetic test suite that carries run-level errors.
RUN_SUITE = "(run)"

# Characters XML 1.0 forbids (C0 controls other than tab/LF/CR, lone surrogates, U+FFFE/U+FFFF).
_ILLEGAL_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_MESSAGE_MAX = 500


def xml_safe(text: str | None) -> str:
    """Return ``text`` without the characters XML 1.0 (and HTML) cannot carry; ``None`` → ``""``."""
    if text is None:
        return ""
    return _ILLEGAL_XML.sub("", str(text))


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MESSAGE_MAX else text[: _MESSAGE_MAX - 1] + "…"


def _details(control: ControlResult) -> str:
    parts = [
        f"status: {control.status}",
        f"changed: {'true' if control.changed else 'false'}",
        f"expected: {control.expected if control.expected is not None else '(none)'}",
        f"actual: {control.actual if control.actual is not None else '(none)'}",
    ]
    if control.message:
        parts.append(f"message: {control.message}")
    if control.waiver is not None:
        w = control.waiver
        state = "expired" if w.expired else "in force"
        parts.append(f"waiver ({state}): {w.reason} - accepted by {w.accepted_by}, expires {w.expires}")
    if control.diff:
        parts.append("diff:\n" + control.diff.rstrip("\n"))
    if control.tasks:
        parts.append("tasks:")
        for task in control.tasks:
            line = f"  - [{task.result}] {task.name}"
            if task.msg:
                line += f": {task.msg}"
            parts.append(line)
    return "\n".join(parts)


def _message(control: ControlResult) -> str:
    if control.status in ("drift", "attestation_due"):
        base = f"{control.status}: expected {control.expected or '(none)'}, found {control.actual or '(none)'}"
        if control.message:
            base += f" ({control.message})"
        return base
    return f"{control.status}: {control.message or 'no message'}"


def _el(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, {k: xml_safe(v) for k, v in attrs.items()})
    if text is not None:
        element.text = xml_safe(text)
    return element


def _testcase(suite: ET.Element, host: HostResult, control: ControlResult, catalogue: Any) -> str:
    """Add one control's test case; return its outcome (passed/failure/error/skipped)."""
    title = control_title(catalogue, control.id, "en")
    name = f"{control.id} {title}" if title else control.id
    case = _el(suite, "testcase", classname=host.name, name=name, time="0")
    if control.status in ("drift", "attestation_due"):
        _el(case, "failure", _details(control), message=_short(_message(control)), type=control.status)
        return "failure"
    if control.status in ("error", "unreachable"):
        _el(case, "error", _details(control), message=_short(_message(control)), type=control.status)
        return "error"
    if control.status == "not_applicable":
        _el(case, "skipped", message=_short(f"not applicable: {control.message or 'no message'}"))
        return "skipped"
    if control.status == "waived" and control.waiver is not None:
        w = control.waiver
        message = f"waived until {w.expires} (accepted by {w.accepted_by}): {w.reason}"
        _el(case, "skipped", _details(control), message=_short(message))
        return "skipped"
    if control.changed or control.diff:
        _el(case, "system-out", _details(control))
    return "passed"


def _set_counts(element: ET.Element, counts: dict[str, int]) -> None:
    element.set("tests", str(sum(counts.values())))
    element.set("failures", str(counts["failure"]))
    element.set("errors", str(counts["error"]))
    element.set("skipped", str(counts["skipped"]))


def render_junit(record: RunRecord, catalogue: Any = None) -> str:
    """Render ``record`` as a JUnit XML document (a ``str`` starting with the XML declaration)."""
    root = ET.Element("testsuites", {"name": xml_safe(f"socle {record.run.mode} {record.run.id}")})
    totals = {"passed": 0, "failure": 0, "error": 0, "skipped": 0}

    if record.run.errors:
        suite = _el(root, "testsuite", name=RUN_SUITE, timestamp=record.run.started)
        counts = {"passed": 0, "failure": 0, "error": 0, "skipped": 0}
        for index, error in enumerate(record.run.errors, start=1):
            case = _el(suite, "testcase", classname=RUN_SUITE, name=f"run error {index}", time="0")
            _el(case, "error", error, message=_short(error), type="run")
            counts["error"] += 1
        _set_counts(suite, counts)
        for key, value in counts.items():
            totals[key] += value

    for host in record.hosts.values():
        suite = _el(root, "testsuite", name=host.name, hostname=host.name, timestamp=record.run.started)
        props = _el(suite, "properties")
        for key, value in (
            ("run_id", record.run.id),
            ("mode", record.run.mode),
            ("facility", host.facility),
            ("platform", host.platform),
            ("host_status", host.status),
        ):
            if value is not None:
                _el(props, "property", name=key, value=value)
        counts = {"passed": 0, "failure": 0, "error": 0, "skipped": 0}
        if host.status != "ok":
            case = _el(suite, "testcase", classname=host.name, name="host", time="0")
            message = f"host {host.status}: {host.message or 'no message'}"
            _el(case, "error", message, message=_short(message), type=host.status)
            counts["error"] += 1
        for control in host.controls.values():
            counts[_testcase(suite, host, control, catalogue)] += 1
        _set_counts(suite, counts)
        suite.set("time", "0")
        for key, value in counts.items():
            totals[key] += value

    _set_counts(root, totals)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
