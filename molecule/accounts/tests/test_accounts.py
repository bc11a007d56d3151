"""Verify measure 5 on the lab hosts: PAM behaviour, check-mode exactness, drift detection, safety nets.

Runs as molecule's testinfra verifier, after check, converge and idempotence.
"""

from __future__ import annotations

import pytest

from socle.testing import Scenario, flagged

HOSTS = ("deb12-srv", "deb13-srv")
SETTINGS = {"M5-LNX-PWQUALITY", "M5-LNX-FAILLOCK", "M5-LNX-PWHISTORY", "M5-LNX-PASS-AGEING",
            "M5-LNX-DEPARTED-LOCKED", "M5-LNX-SSH-ROOT-LOGIN"}
FINDINGS = {"M5-LNX-EMPTY-PASSWORDS", "M5-LNX-EXTRA-UID0", "M5-LNX-SHARED-ACCOUNTS", "M5-LNX-UNUSED-ACCOUNTS",
            "M5-LNX-SYSTEM-SHELLS", "M5-LNX-SUDO-NOPASSWD"}
CONTROLS = SETTINGS | FINDINGS
SCENARIO = Scenario(controls=CONTROLS)
lab_host, socle = SCENARIO.host, SCENARIO.socle
STRONG = "Kx7#mPq2vL9zWn"


def sudo(host, command: str):
    return host.run(f"sudo -n sh -c {command!r}")


# -- effective state, by behaviour ----------------------------------------------------------------
@pytest.fixture
def testuser(host):
    sudo(host, "userdel -r pwtest 2>/dev/null; faillock --user pwtest --reset; useradd -m -s /bin/bash pwtest")
    yield "pwtest"
    sudo(host, "faillock --user pwtest --reset; userdel -r pwtest; sed -i '/^pwtest:/d' /etc/security/opasswd")


@pytest.mark.parametrize(
    ("password", "accepted"),
    [
        pytest.param("abc123", False, id="too-short"),
        pytest.param("Abcdefgh1234", False, id="12-chars-3-classes"),
        pytest.param("Xyz!1bbbbcdefg", False, id="same-character-4-times"),
        pytest.param(STRONG, True, id="strong"),
    ],
)
def test_password_quality_is_enforced_through_pam(host, testuser, password, accepted):
    # chpasswd goes through the PAM password stack; enforce_for_root applies the rule to root too.
    result = sudo(host, f"echo '{testuser}:{password}' | chpasswd")
    assert (result.rc == 0) is accepted, result.stderr


def test_previous_password_is_refused(host, testuser):
    assert sudo(host, f"echo '{testuser}:{STRONG}' | chpasswd").rc == 0
    again = sudo(host, f"echo '{testuser}:{STRONG}' | chpasswd")
    assert again.rc != 0 and "already used" in again.stderr


def test_account_locks_after_five_failures(host, testuser):
    assert sudo(host, f"echo '{testuser}:{STRONG}' | chpasswd").rc == 0
    def su(password: str):  # su run by an unprivileged account asks the password through PAM
        return host.run(f"sudo -n -u socleadm sh -c \"echo '{password}' | su {testuser} -c 'echo in'\"")

    assert su(STRONG).stdout.strip() == "in"
    for _ in range(5):
        assert su("wrong-password").rc != 0
    locked = su(STRONG)
    assert locked.rc != 0 and "in" not in locked.stdout.split()
    assert len(sudo(host, f"faillock --user {testuser}").stdout.strip().splitlines()) >= 6  # header + 5


def test_new_accounts_get_the_ageing_of_login_defs(host, testuser):
    fields = sudo(host, f"getent shadow {testuser}").stdout.strip().split(":")
    assert fields[3:6] == ["1", "99999", "7"]


def test_personal_accounts_get_the_ageing_of_the_policy(host):
    # marie existed before Socle (minimum 0 days, the distribution's default): one call aligned it.
    assert sudo(host, "getent shadow marie").stdout.strip().split(":")[3:6] == ["1", "99999", "7"]


def test_departed_account_is_locked_and_expired_operator_is_not(host):
    departed = sudo(host, "getent shadow ancien").stdout.strip().split(":")
    assert departed[1].startswith("!") and departed[7] == "1"
    operator = sudo(host, "getent shadow socleadm").stdout.strip().split(":")
    assert not operator[1].startswith("!") and operator[7] == "" and operator[4] in ("", "99999")
    assert host.run("sudo -n true").rc == 0


def test_sshd_refuses_root_and_bounds_attempts(host):
    effective = dict(line.split(" ", 1) for line in sudo(host, "/usr/sbin/sshd -T").stdout.splitlines() if " " in line)
    assert effective["permitrootlogin"] == "no"
    assert effective["maxauthtries"] == "4"
    assert effective["logingracetime"] == "60"


# -- the records of molecule's check, converge and idempotence runs ------------------------------
def test_check_mode_predicted_exactly_what_apply_changed():
    audit, converge, idempotence = SCENARIO.molecule_runs()
    assert not audit.run.errors and not converge.run.errors
    assert set(audit.hosts) == set(HOSTS)
    for name in HOSTS:
        assert set(audit.hosts[name].controls) == CONTROLS
    # Fresh hosts: the PAM, login.defs and sshd settings and the departed account; no hygiene finding.
    assert audit.setting_drift_pairs() == {(h, c) for h in HOSTS for c in SETTINGS}
    assert audit.drift_pairs() == audit.setting_drift_pairs()
    assert audit.setting_drift_pairs() == converge.changed_pairs()
    for name in HOSTS:  # the accounts the one account-policy call predicted it would change, by name
        ageing = audit.hosts[name].controls["M5-LNX-PASS-AGEING"].diff or ""
        assert "-marie: min 0, max 99999, warn 7 days" in ageing and "+marie: min 1, max 99999, warn 7 days" in ageing
        departed = audit.hosts[name].controls["M5-LNX-DEPARTED-LOCKED"].diff or ""
        assert "+ancien: password locked, account expired since 1970-01-02" in departed
    assert idempotence.changed_pairs() == set()
    assert idempotence.exit_code() == 0
    # Debian 12 keeps wtmp; a host with no login record at all says so (not_applicable), never guesses.
    assert idempotence.hosts["deb12-srv"].controls["M5-LNX-UNUSED-ACCOUNTS"].status == "compliant"
    unused = idempotence.hosts["deb13-srv"].controls["M5-LNX-UNUSED-ACCOUNTS"]
    assert unused.status in ("compliant", "not_applicable")
    assert unused.status == "compliant" or "no login record" in (unused.actual or "")


# -- live runs of the project's own audit and apply ------------------------------------------------
def test_bad_policy_stops_the_run_before_any_host_is_touched(tmp_path):
    record = socle("apply", tmp_path, extra_vars={"accounts_password_min_length": 4, "accounts_faillock_deny": -1})
    assert record.exit_code() == 1
    errors = " ".join([*record.run.errors, *(h.message or "" for h in record.hosts.values())])
    assert "accounts_password_min_length = 4 is below the minimum 8" in errors
    assert "accounts_faillock_deny = -1 is below the minimum 1" in errors
    assert record.changed_pairs() == set()
    assert all(not h.controls for h in record.hosts.values())


def test_policy_locking_out_the_operator_is_refused_before_any_change(tmp_path):
    nodes = {name: lab_host(name) for name in HOSTS}
    for node in nodes.values():  # something apply would change, to prove it was not
        node.check_output("sudo -n sed -i 's/^PASS_MIN_DAYS.*/PASS_MIN_DAYS\t0/' /etc/login.defs")
    record = socle("apply", tmp_path, extra_vars={"accounts_departed": ["ancien", "socleadm"]})
    assert record.exit_code() == 1
    assert record.changed_pairs() == set()
    for name, node in nodes.items():
        message = record.hosts[name].message or ""
        assert record.hosts[name].status == "error"
        assert "Refused, nothing was changed" in message and "socleadm" in message
        assert node.check_output("grep ^PASS_MIN_DAYS /etc/login.defs").split() == ["PASS_MIN_DAYS", "0"]
        assert not node.check_output("sudo -n getent shadow socleadm").split(":")[1].startswith("!")
        node.check_output("sudo -n sed -i 's/^PASS_MIN_DAYS.*/PASS_MIN_DAYS\t1/' /etc/login.defs")


# Four breakages at once, on two hosts: one audit must name each as exactly its control.
BREAKAGES = [
    ("deb12-srv", "M5-LNX-EMPTY-PASSWORDS", "useradd -m -s /bin/bash vide && passwd -d vide",
     "userdel -r vide"),
    ("deb12-srv", "M5-LNX-PWQUALITY",
     "sed -i 's/^minlen = .*/minlen = 6/' /etc/security/pwquality.conf.d/50-socle.conf", None),
    ("deb13-srv", "M5-LNX-EXTRA-UID0",
     "useradd -o -u 0 -g 0 -M -d /root -s /usr/sbin/nologin racine2",
     "sed -i '/^racine2:/d' /etc/passwd /etc/shadow"),
    ("deb13-srv", "M5-LNX-FAILLOCK", "pam-auth-update --package --disable socle-faillock-authfail", None),
]


def test_each_breakage_is_named_as_exactly_its_control(tmp_path):
    for target, _control, breaker, _undo in BREAKAGES:
        lab_host(target).check_output(f"sudo -n sh -c {breaker!r}")
    audit = socle("audit", tmp_path / "audit")
    assert flagged(audit) == {(t, c) for t, c, _b, _u in BREAKAGES}, flagged(audit)
    assert audit.exit_code() == 2
    assert {(t, c) for t, c, _b, undo in BREAKAGES if undo is None} == audit.setting_drift_pairs()
    assert "minlen = 6" in (audit.hosts["deb12-srv"].controls["M5-LNX-PWQUALITY"].diff or "")
    assert "racine2" in (audit.hosts["deb13-srv"].controls["M5-LNX-EXTRA-UID0"].actual or "")
    assert "vide" in (audit.hosts["deb12-srv"].controls["M5-LNX-EMPTY-PASSWORDS"].actual or "")

    # apply repairs the settings; the measured findings stay drift until a person acts
    fixed = socle("apply", tmp_path / "apply")
    assert fixed.changed_pairs() == audit.setting_drift_pairs()
    assert fixed.drift_pairs() == {(t, c) for t, c, _b, undo in BREAKAGES if undo is not None}
    for target, _control, _breaker, undo in BREAKAGES:
        if undo:
            lab_host(target).check_output(f"sudo -n sh -c {undo!r}")
    clean = socle("audit", tmp_path / "after")
    assert clean.exit_code() == 0, clean.drift_pairs()


# One call sets the files of three controls and one call their PAM profiles: --tags must still change
# only the selected control.
def test_apply_of_one_control_leaves_the_others_of_a_shared_call_alone(tmp_path):
    node = lab_host("deb12-srv")
    node.check_output("sudo -n sh -c \"sed -i 's/^minlen = .*/minlen = 6/' /etc/security/pwquality.conf.d/50-socle.conf"
                      " && sed -i 's/^deny = .*/deny = 50/' /etc/security/faillock.conf"
                      " && pam-auth-update --package --disable socle-pwhistory\"")
    only = socle("apply", tmp_path / "faillock", limit="deb12-srv", tags=["M5-LNX-FAILLOCK"])
    assert set(only.hosts["deb12-srv"].controls) == {"M5-LNX-FAILLOCK"}
    assert only.changed_pairs() == {("deb12-srv", "M5-LNX-FAILLOCK")}
    assert "-deny = 50" in (only.hosts["deb12-srv"].controls["M5-LNX-FAILLOCK"].diff or "")
    assert "minlen = 6" in node.check_output("cat /etc/security/pwquality.conf.d/50-socle.conf")
    audit = socle("audit", tmp_path / "audit", limit="deb12-srv")
    assert audit.setting_drift_pairs() == {("deb12-srv", "M5-LNX-PWQUALITY"), ("deb12-srv", "M5-LNX-PWHISTORY")}
    fixed = socle("apply", tmp_path / "apply", limit="deb12-srv")
    assert fixed.changed_pairs() == audit.setting_drift_pairs()
    assert socle("audit", tmp_path / "after", limit="deb12-srv").exit_code() == 0
