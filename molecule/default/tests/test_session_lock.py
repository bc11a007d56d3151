"""Verify measure 4 on the lab hosts: effective state, check-mode exactness, tamper detection.

Runs as molecule's testinfra verifier, after check, converge and idempotence.
"""

from __future__ import annotations

import pytest

from socle.testing import Scenario, flagged

CONTROLS = {"M4-LNX-GNOME-LOCK", "M4-LNX-SHELL-TMOUT", "M4-LNX-SSH-IDLE"}
SCENARIO = Scenario(controls=CONTROLS)
lab_host, socle = SCENARIO.host, SCENARIO.socle
HOSTS = {"deb12-desk": True, "deb13-desk": True, "deb13-srv": False}  # name -> GNOME desktop
KEYFILE = "/etc/dconf/db/local.d/00-socle-session-lock"
DROPIN = "/etc/ssh/sshd_config.d/00-socle-session-lock.conf"


def is_desktop(host) -> bool:
    return HOSTS[host.backend.get_hostname()]


# -- effective state, read with independent probes ---------------------------------------------
def test_gnome_lock_effective_for_a_user(host):
    if not is_desktop(host):
        assert not host.file(KEYFILE).exists
        assert not host.package("dconf-cli").is_installed
        return
    def read(key: str) -> str:
        return host.check_output(f"sudo -n -u socleadm env HOME=/home/socleadm dconf read {key}")
    assert read("/org/gnome/desktop/session/idle-delay") == "uint32 900"
    assert read("/org/gnome/desktop/screensaver/lock-enabled") == "true"
    assert read("/org/gnome/desktop/screensaver/lock-delay") == "uint32 5"
    locks = host.check_output("sudo -n -u socleadm dconf list-locks /org/gnome/desktop/screensaver/").split()
    assert "/org/gnome/desktop/screensaver/lock-enabled" in locks
    assert "/org/gnome/desktop/screensaver/lock-delay" in locks
    assert "/org/gnome/desktop/session/idle-delay" in host.check_output(
        "sudo -n -u socleadm dconf list-locks /org/gnome/desktop/session/").split()


def test_login_shell_gets_a_readonly_tmout(host):
    assert host.check_output("sudo -n -u socleadm bash -lc 'echo $TMOUT'") == "900"
    attempt = host.run("sudo -n -u socleadm bash -lc 'TMOUT=0'")
    assert attempt.rc != 0 and "readonly" in attempt.stderr


def test_sshd_effective_idle_limits(host):
    effective = dict(
        line.split(" ", 1) for line in host.check_output("sudo -n /usr/sbin/sshd -T").splitlines() if " " in line
    )
    assert effective["clientaliveinterval"] == "300"
    assert effective["clientalivecountmax"] == "3"
    assert "session:shell=900" in effective["channeltimeout"]


# -- the records of molecule's check, converge and idempotence runs ------------------------------
def test_check_mode_predicted_exactly_what_apply_changed():
    audit, converge, idempotence = SCENARIO.molecule_runs()
    assert not audit.run.errors and not converge.run.errors
    assert set(audit.hosts) == set(HOSTS)
    for name, desktop in HOSTS.items():
        assert set(audit.hosts[name].controls) == CONTROLS
        gnome = audit.hosts[name].controls["M4-LNX-GNOME-LOCK"].status
        assert gnome == ("drift" if desktop else "not_applicable")
    drift = audit.drift_pairs()
    assert drift == {(h, c) for h, d in HOSTS.items() for c in CONTROLS if d or c != "M4-LNX-GNOME-LOCK"}
    assert drift == converge.changed_pairs()
    assert idempotence.changed_pairs() == set()
    assert idempotence.exit_code() == 0


# -- break one setting: the audit names exactly that control -------------------------------------
TAMPER = [
    pytest.param("deb12-desk", "M4-LNX-GNOME-LOCK", "drift",
                 f"sed -i 's/idle-delay=uint32 900/idle-delay=uint32 0/' {KEYFILE} && dconf update",
                 None, id="gnome-keyfile-edited"),
    pytest.param("deb13-desk", "M4-LNX-GNOME-LOCK", "drift",
                 "rm /etc/dconf/db/local.d/locks/00-socle-session-lock && dconf update",
                 None, id="gnome-lock-removed"),
    pytest.param("deb12-desk", "M4-LNX-GNOME-LOCK", "drift",
                 "mkdir -p /tmp/empty && dconf compile /etc/dconf/db/local /tmp/empty",
                 None, id="gnome-database-stale"),
    pytest.param("deb13-desk", "M4-LNX-GNOME-LOCK", "error",
                 "printf '[org/gnome/desktop/session]\\nidle-delay=uint32 0\\n' > /etc/dconf/db/local.d/zz-local"
                 " && dconf update",
                 "rm /etc/dconf/db/local.d/zz-local && dconf update", id="gnome-overridden-by-other-keyfile"),
    pytest.param("deb13-srv", "M4-LNX-SHELL-TMOUT", "drift",
                 "sed -i 's/^TMOUT=.*/TMOUT=0/' /etc/profile.d/00-socle-tmout.sh",
                 None, id="tmout-zeroed"),
    pytest.param("deb12-desk", "M4-LNX-SSH-IDLE", "drift",
                 f"sed -i 's/ClientAliveCountMax 3/ClientAliveCountMax 10/' {DROPIN}",
                 None, id="sshd-dropin-edited"),
    pytest.param("deb13-srv", "M4-LNX-SSH-IDLE", "error",
                 "printf 'ClientAliveInterval 0\\n' > /etc/ssh/sshd_config.d/00-aaa-local.conf",
                 "rm /etc/ssh/sshd_config.d/00-aaa-local.conf", id="sshd-overridden-by-other-dropin"),
]


@pytest.mark.parametrize(("target", "control", "status", "breaker", "undo"), TAMPER)
def test_one_broken_setting_is_named_alone(tmp_path, target, control, status, breaker, undo):
    node = lab_host(target)
    node.check_output(f"sudo -n sh -c {breaker!r}")
    audit = socle("audit", tmp_path)
    assert flagged(audit) == {(target, control)}, flagged(audit)
    assert audit.hosts[target].controls[control].status == status
    if status == "error":
        assert audit.exit_code() == 1
        message = audit.hosts[target].controls[control].message or ""
        assert "set in" in message or "set first in" in message, message
        node.check_output(f"sudo -n sh -c {undo!r}")
    else:
        assert audit.exit_code() == 2
        assert audit.hosts[target].controls[control].diff
        fixed = socle("apply", tmp_path)
        assert fixed.changed_pairs() == {(target, control)}
    clean = socle("audit", tmp_path / "after")
    assert clean.exit_code() == 0, clean.drift_pairs()
