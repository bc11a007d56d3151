"""socle_record callback: how task results of one control become its status."""

from __future__ import annotations

import pytest
from conftest import load_project_module

cb = load_project_module("callback_plugins", "socle_record")


def task(result: str, *, diff=None, expected=None, actual=None, finding=None, msg=None) -> dict:
    return {"name": "M4-LNX-X | t", "result": result, "msg": msg, "expected": expected, "actual": actual,
            "diff": diff, "finding": finding}


@pytest.fixture
def plugin(monkeypatch):
    monkeypatch.delenv("SOCLE_RECORD", raising=False)
    return cb.CallbackModule()


@pytest.mark.parametrize(
    ("mode", "tasks", "status", "changed"),
    [
        ("audit", [task("ok"), task("ok")], "compliant", False),
        ("audit", [task("ok"), task("changed")], "drift", True),
        ("apply", [task("ok"), task("changed")], "compliant", True),
        ("audit", [task("skipped"), task("skipped")], "not_applicable", False),
        ("audit", [task("changed"), task("failed", msg="boom")], "error", True),
        ("audit", [task("unreachable")], "unreachable", False),
        ("audit", [task("ok", finding={"status": "drift", "expected": "<= 2 days", "actual": "9 days"})], "drift",
         False),
        ("apply", [task("ok", finding={"status": "drift", "expected": "<= 2 days", "actual": "9 days"})], "drift",
         False),
        ("audit", [task("ok", finding={"status": "compliant"})], "compliant", False),
        ("audit", [task("ok", finding={"status": "not_applicable"})], "not_applicable", False),
        ("audit", [task("ok", finding={"status": "nonsense"})], "error", False),
    ],
)
def test_status_table(plugin, mode, tasks, status, changed):
    plugin.run["mode"] = mode
    result = plugin.control(tasks)
    assert (result["status"], result["changed"]) == (status, changed)
    assert result["finding"] is any(t["finding"] for t in tasks)


def test_expected_and_actual_from_a_file_diff(plugin):
    diff = [{"before_header": "/etc/x", "after_header": "/etc/x", "before": "a=1\n", "after": "a=2\n"}]
    result = plugin.control([task("changed", diff=diff)])
    assert result["expected"] == "a=2\n" and result["actual"] == "a=1\n"
    assert "-a=1" in result["diff"] and "+a=2" in result["diff"]


def test_long_text_is_cut(plugin):
    diff = {"before": "", "after": "x" * (cb.MAX_TEXT + 10)}
    assert plugin.control([task("changed", diff=diff)])["diff"].endswith("[... cut by Socle: too long]\n")


def test_role_prefix_is_stripped_before_matching():
    name = cb.ROLE_PREFIX_RE.sub("", "session_lock : M4-LNX-SSH-IDLE | Drop idle SSH sessions")
    assert cb.CONTROL_RE.match(name).group(1) == "M4-LNX-SSH-IDLE"
    assert cb.CONTROL_RE.match("Gather the facts Socle needs") is None
