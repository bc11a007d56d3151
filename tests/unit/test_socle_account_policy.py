"""socle_account_policy: password ageing and departed accounts in one call, exact check mode, refusals."""

from __future__ import annotations

import pytest
from conftest import load_project_module

policy = load_project_module("library", "socle_account_policy")

SHADOW = """root:*:20785:0:99999:7:::
socleadm:$y$j9T$abc:20785:0:99999:7:::
marie:$y$j9T$secrethash:20000:0:99999:7:::
paul:$y$j9T$other:20000:1:99999:7:::
ancien:$6$salt$hash:20000:0:99999:7:::
parti:!$6$salt$hash:20000:0:99999:7::1:
sansage:$6$x:20000::::::
"""
AGEING = {"control": "M5-LNX-PASS-AGEING", "names": ["marie", "paul"],
          "ageing": {"min_days": 1, "max_days": 99999, "warn_days": 7}, "lock": False}
LOCK = {"control": "M5-LNX-DEPARTED-LOCKED", "names": ["ancien", "parti"], "ageing": None, "lock": True}


class FakeHost:
    """getent shadow from a text, chage and usermod applied to it, as the real commands do."""

    def __init__(self, shadow: str, fail: str | None = None):
        self.lines = [line.split(":") for line in shadow.strip().splitlines()]
        self.calls: list[list[str]] = []
        self.fail = fail

    def run_command(self, cmd, *args, **kwargs):
        tool = cmd[0].rsplit("/", 1)[-1]
        if tool == "getent":
            return 0, "\n".join(":".join(f) for f in self.lines) + "\n", ""
        self.calls.append([tool, *cmd[1:]])
        if tool == self.fail:
            return 1, "", f"{tool}: cannot lock /etc/shadow"
        fields = next(f for f in self.lines if f[0] == cmd[-1])
        words = list(cmd[1:-1])
        while words:
            flag = words.pop(0)
            if flag == "-L":
                fields[1] = "!" + fields[1]
            else:
                value = words.pop(0)
                index = {"-m": 3, "-M": 4, "-W": 5, "-e": 7}[flag]
                fields[index] = "1" if value == "1970-01-02" else value
        return 0, "", ""


@pytest.fixture
def host(monkeypatch):
    fake = FakeHost(SHADOW)
    monkeypatch.setattr(policy.AnsibleModule, "run_command", lambda self, cmd, *a, **k: fake.run_command(cmd))
    monkeypatch.setattr(policy.AnsibleModule, "get_bin_path", lambda self, name, *a, **k: f"/usr/sbin/{name}")
    return fake


def test_plan_sets_only_what_differs_and_never_shows_a_hash():
    commands, results = policy.plan([AGEING, LOCK], policy.parse_shadow(SHADOW))
    assert commands == [["chage", "-m", "1", "marie"], ["usermod", "-e", "1970-01-02", "-L", "ancien"]]
    ageing, lock = results["M5-LNX-PASS-AGEING"], results["M5-LNX-DEPARTED-LOCKED"]
    assert ageing["changed"] and lock["changed"]
    assert "marie: min 0, max 99999, warn 7 days" in ageing["diff"]["before"]
    assert "marie: min 1, max 99999, warn 7 days" in ageing["diff"]["after"]
    assert "ancien: password not locked, account never expires" in lock["actual"]
    assert "parti: password locked, account expired since 1970-01-02" in lock["expected"]
    assert "hash" not in repr(results) and "$" not in repr(results)


def test_nothing_to_do_and_empty_entries():
    converged = SHADOW.replace("marie:$y$j9T$secrethash:20000:0:", "marie:$y$j9T$secrethash:20000:1:")
    commands, results = policy.plan([AGEING, {**LOCK, "names": ["parti"]}], policy.parse_shadow(converged))
    assert commands == [] and not any(r["changed"] for r in results.values())
    # An entry without accounts is skipped for its control, as a loop over no item was.
    _c, results = policy.plan([{**LOCK, "names": []}], policy.parse_shadow(SHADOW))
    assert results == {"M5-LNX-DEPARTED-LOCKED": {"changed": False, "skipped": True}}


def test_unset_ageing_fields_count_as_minus_one():
    unset = {**AGEING, "names": ["sansage"], "ageing": {"min_days": -1, "max_days": -1, "warn_days": 7}}
    commands, _r = policy.plan([unset], policy.parse_shadow(SHADOW))
    assert commands == [["chage", "-W", "7", "sansage"]]


@pytest.mark.parametrize(("entry", "message"), [
    ({**AGEING, "names": ["inconnu"]}, "no account 'inconnu' on this host (nothing is created)"),
    ({**LOCK, "names": ["-o root"]}, "'-o root' is not a valid account name"),
    ({**AGEING, "lock": True}, "give ageing or lock: true"),
    ({**LOCK, "lock": False}, "give ageing or lock: true"),
    ({**AGEING, "ageing": {"min_days": -5, "max_days": 1, "warn_days": 1}}, "-1 (unset) or more"),
])
def test_refusals_happen_before_any_command(host, run_module, entry, message):
    result = run_module(policy, {"entries": [LOCK, entry]})
    assert result["failed"] and message in result["msg"] and "nothing was changed" in result["msg"]
    assert host.calls == []


def test_check_mode_predicts_exactly_what_apply_changes(host, run_module):
    check = run_module(policy, {"entries": [AGEING, LOCK]}, check_mode=True)
    assert host.calls == []
    applied = run_module(policy, {"entries": [AGEING, LOCK]})
    assert host.calls == [["chage", "-m", "1", "marie"], ["usermod", "-e", "1970-01-02", "-L", "ancien"]]
    assert check["changed"] and applied["changed"]
    assert check["socle_results"] == applied["socle_results"] and check["diff"] == applied["diff"]
    again = run_module(policy, {"entries": [AGEING, LOCK]})
    assert not again["changed"] and len(host.calls) == 2
    fields = {f[0]: f for f in host.lines}
    assert fields["ancien"][1].startswith("!") and fields["ancien"][7] == "1"
    assert fields["marie"][3:6] == ["1", "99999", "7"]


def test_a_failing_command_fails_the_task_and_says_which(monkeypatch, run_module):
    fake = FakeHost(SHADOW, fail="usermod")
    monkeypatch.setattr(policy.AnsibleModule, "run_command", lambda self, cmd, *a, **k: fake.run_command(cmd))
    monkeypatch.setattr(policy.AnsibleModule, "get_bin_path", lambda self, name, *a, **k: f"/usr/sbin/{name}")
    result = run_module(policy, {"entries": [LOCK]})
    assert result["failed"] and "usermod -e 1970-01-02 -L ancien failed (rc 1)" in result["msg"]


@pytest.mark.parametrize(("nsswitch", "local"), [
    ("passwd: files systemd\nshadow:         files systemd\n", True),
    ("shadow: files # local only\n", True),
    ("shadow: compat\n", True),
    ("passwd: files\n", True),  # no shadow line: glibc reads files
    (None, True),
    ("shadow: files sss\n", False),
    ("shadow: files [NOTFOUND=return] ldap\n", False),
])
def test_a_check_result_is_reusable_only_when_shadow_is_local(nsswitch, local):
    assert policy.shadow_is_local(nsswitch) is local


def test_check_mode_names_what_it_read_for_reuse(host, run_module, monkeypatch):
    monkeypatch.setattr(policy, "NSSWITCH", "/nonexistent/nsswitch.conf")
    check = run_module(policy, {"entries": [AGEING, LOCK]}, check_mode=True)
    assert set(check["socle_inputs"]) >= {"/etc/shadow", "/nonexistent/nsswitch.conf"}
    applied = run_module(policy, {"entries": [AGEING, LOCK]})
    assert "socle_inputs" not in applied  # only check results are ever reused
