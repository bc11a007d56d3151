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


# -- one task measuring several controls (tag socle_controls) -------------------------------------
class FakeTask:
    def __init__(self, name: str, tags: list[str]):
        self.name, self.tags = name, tags

    def get_name(self) -> str:
        return self.name


class FakeHost:
    def get_name(self) -> str:
        return "pc1"


class FakeResult:
    def __init__(self, task: FakeTask, result: dict):
        self._task, self._host, self._result = task, FakeHost(), result


MEASURE = FakeTask("updates : Measure the update state of the host (read-only)",
                   ["socle_controls", "M1-LNX-PENDING-SECURITY", "M1-LNX-LAST-RUN", "M1-LNX-APT-ORIGINS"])
FINDINGS = {"M1-LNX-PENDING-SECURITY": {"status": "drift", "expected": "0", "actual": "3 pending"},
            "M1-LNX-LAST-RUN": {"status": "compliant", "expected": "<= 48 h", "actual": "3 h ago"}}


def controls(plugin) -> dict:
    return {cid: plugin.control(tasks) for cid, tasks in plugin.tasks.get("pc1", {}).items()}


def test_each_listed_control_gets_its_finding_and_unmeasured_ones_nothing(plugin, monkeypatch):
    monkeypatch.setattr(cb.context, "CLIARGS", {"tags": ("all",), "skip_tags": ()})
    plugin.v2_runner_on_ok(FakeResult(MEASURE, {"changed": False, "socle_findings": FINDINGS}))
    got = controls(plugin)
    assert set(got) == {"M1-LNX-PENDING-SECURITY", "M1-LNX-LAST-RUN"}  # no finding for APT-ORIGINS
    assert got["M1-LNX-PENDING-SECURITY"]["status"] == "drift" and got["M1-LNX-PENDING-SECURITY"]["finding"]
    assert got["M1-LNX-PENDING-SECURITY"]["actual"] == "3 pending"
    assert got["M1-LNX-LAST-RUN"]["status"] == "compliant"
    assert plugin.hosts["pc1"]["status"] == "ok"


def test_a_failed_or_skipped_measure_gives_each_listed_control_that_outcome(plugin, monkeypatch):
    monkeypatch.setattr(cb.context, "CLIARGS", {"tags": ("all",), "skip_tags": ()})
    plugin.v2_runner_on_failed(FakeResult(MEASURE, {"failed": True, "msg": "apt-get -s upgrade failed"}))
    got = controls(plugin)
    assert {c: r["status"] for c, r in got.items()} == dict.fromkeys(
        ["M1-LNX-PENDING-SECURITY", "M1-LNX-LAST-RUN", "M1-LNX-APT-ORIGINS"], "error")
    assert "apt-get -s upgrade failed" in got["M1-LNX-LAST-RUN"]["message"]
    skipped = cb.CallbackModule()
    skipped.v2_runner_on_skipped(FakeResult(MEASURE, {"skipped": True}))
    assert {r["status"] for r in controls(skipped).values()} == {"not_applicable"}


def test_only_the_controls_the_run_selects_are_recorded(plugin, monkeypatch):
    monkeypatch.setattr(cb.context, "CLIARGS", {"tags": ("M1-LNX-LAST-RUN,M4-LNX-SSH-IDLE",), "skip_tags": ()})
    plugin.v2_runner_on_ok(FakeResult(MEASURE, {"changed": False, "socle_findings": FINDINGS}))
    assert set(controls(plugin)) == {"M1-LNX-LAST-RUN"}
    monkeypatch.setattr(cb.context, "CLIARGS", {"tags": ("all",), "skip_tags": ("M1-LNX-LAST-RUN",)})
    other = cb.CallbackModule()
    other.v2_runner_on_ok(FakeResult(MEASURE, {"changed": False, "socle_findings": FINDINGS}))
    assert set(controls(other)) == {"M1-LNX-PENDING-SECURITY"}


def test_a_no_log_measure_keeps_statuses_but_no_values(plugin, monkeypatch):
    monkeypatch.setattr(cb.context, "CLIARGS", {"tags": ("all",), "skip_tags": ()})
    plugin.v2_runner_on_ok(FakeResult(MEASURE, {"changed": False, "_ansible_no_log": True,
                                                "socle_findings": FINDINGS}))
    got = controls(plugin)
    assert {c: r["status"] for c, r in got.items()} == {"M1-LNX-PENDING-SECURITY": "drift",
                                                       "M1-LNX-LAST-RUN": "compliant"}
    assert all(r["actual"] is None and r["expected"] is None for r in got.values())


# -- one task setting several controls: each control its own share of the changes --------------------
SET = FakeTask("accounts : Set the files of the password and lockout policy",
               ["socle_controls", "M5-LNX-PWQUALITY", "M5-LNX-FAILLOCK", "M5-LNX-PASS-AGEING"])
FILE_DIFF = {"before_header": "/etc/security/faillock.conf", "after_header": "/etc/security/faillock.conf",
             "before": "deny = 50\n", "after": "deny = 5\n"}
SHARES = {"M5-LNX-PWQUALITY": {"changed": False, "diff": []},
          "M5-LNX-FAILLOCK": {"changed": True, "diff": [FILE_DIFF]}}


@pytest.mark.parametrize(("mode", "status"), [("audit", "drift"), ("apply", "compliant")])
def test_each_control_of_a_setting_call_gets_its_own_change_and_diff(plugin, monkeypatch, mode, status):
    monkeypatch.setattr(cb.context, "CLIARGS", {"tags": ("all",), "skip_tags": ()})
    plugin.run["mode"] = mode
    plugin.v2_runner_on_ok(FakeResult(SET, {"changed": True, "socle_results": SHARES}))
    got = controls(plugin)
    assert set(got) == {"M5-LNX-PWQUALITY", "M5-LNX-FAILLOCK"}  # PASS-AGEING: not in this call's results
    assert (got["M5-LNX-FAILLOCK"]["status"], got["M5-LNX-FAILLOCK"]["changed"]) == (status, True)
    assert "-deny = 50" in got["M5-LNX-FAILLOCK"]["diff"] and got["M5-LNX-FAILLOCK"]["expected"] == "deny = 5\n"
    assert (got["M5-LNX-PWQUALITY"]["status"], got["M5-LNX-PWQUALITY"]["changed"]) == ("compliant", False)
    assert got["M5-LNX-PWQUALITY"]["diff"] is None


def test_a_failed_setting_call_is_an_error_of_each_listed_control(plugin, monkeypatch):
    monkeypatch.setattr(cb.context, "CLIARGS", {"tags": ("M5-LNX-FAILLOCK",), "skip_tags": ()})
    plugin.v2_runner_on_failed(FakeResult(SET, {"failed": True, "msg": "M5-LNX-FAILLOCK: could not write"}))
    got = controls(plugin)
    assert {c: r["status"] for c, r in got.items()} == {"M5-LNX-FAILLOCK": "error"}


def test_no_log_setting_call_keeps_changed_but_no_diff(plugin, monkeypatch):
    monkeypatch.setattr(cb.context, "CLIARGS", {"tags": ("all",), "skip_tags": ()})
    plugin.run["mode"] = "audit"
    plugin.v2_runner_on_ok(FakeResult(SET, {"changed": True, "_ansible_no_log": True, "socle_results": SHARES}))
    got = controls(plugin)
    assert got["M5-LNX-FAILLOCK"]["status"] == "drift" and got["M5-LNX-FAILLOCK"]["diff"] is None


ACCOUNTS = FakeTask("accounts : Align the password ageing of personal accounts, lock the accounts of departed staff",
                    ["socle_controls", "M5-LNX-PASS-AGEING", "M5-LNX-DEPARTED-LOCKED"])


def test_a_control_the_call_skipped_is_recorded_as_a_skipped_task(plugin, monkeypatch):
    # socle_account_policy with personal accounts but no departed one present: that control is skipped (as a
    # loop over no item was), not compliant; the other control keeps the result of its other tasks.
    monkeypatch.setattr(cb.context, "CLIARGS", {"tags": ("all",), "skip_tags": ()})
    plugin.run["mode"] = "audit"
    plugin.v2_runner_on_ok(FakeResult(ACCOUNTS, {"changed": False, "socle_results": {
        "M5-LNX-PASS-AGEING": {"changed": False, "diff": {}, "expected": "marie: min 1", "actual": "marie: min 1"},
        "M5-LNX-DEPARTED-LOCKED": {"changed": False, "skipped": True}}}))
    got = controls(plugin)
    assert got["M5-LNX-DEPARTED-LOCKED"]["status"] == "not_applicable"
    assert got["M5-LNX-PASS-AGEING"]["status"] == "compliant"
