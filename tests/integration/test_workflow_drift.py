"""Drift detection table on the converged lab: one hand-made drift per host at a time, named alone.

Runs after test_workflow.py (which converged the lab); it applies the baseline once more itself so it
also holds when run alone. Each round breaks one thing on each host (three hosts, three drifts at
once, never two on the same host), audits the full baseline, and checks that every host shows exactly
its drift on top of what the converged lab already measures (the findings a lab cannot satisfy:
no ClamAV signatures, no unattended-upgrades run yet, and the restore exercise of the lab's facility,
due because no lab host has Socle backups). Then `socle apply --from-run` on that audit (or the undo
command, for measured findings that apply rightly does not touch) puts the host back, changing exactly
the drifted settings.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from socle import lab
from socle.record import RunRecord, load_record
from socle.testing import flagged

pytestmark = pytest.mark.lab

HOSTS = {h.name: h for h in lab.read_state()}
DESKTOPS = sorted(n for n, h in HOSTS.items() if h.desktop)
SERVERS = sorted(n for n, h in HOSTS.items() if not h.desktop)

# SHA-512 crypt of a throw-away test password (the account is deleted again after its round).
OPEN_PASSWORD_HASH = ("$6$SocleTst$DNZeTzPwTQ1oHb6uqqV8l/H1XwXPMjsO0agjQQUim9J8Ltvx36WHmIcKa"
                      ".7xYVfOs8H5wpx8GjeUi53uYknte1")
# control, breaker (run as root), undo (None: `socle apply` repairs it), desktop only
DRIFTS = [
    ("M4-LNX-GNOME-LOCK", "sed -i 's/idle-delay=uint32 .*/idle-delay=uint32 0/'"
     " /etc/dconf/db/local.d/00-socle-session-lock && dconf update", None, True),
    ("M4-LNX-SHELL-TMOUT", "sed -i 's/^TMOUT=.*/TMOUT=0/' /etc/profile.d/00-socle-tmout.sh", None, False),
    ("M4-LNX-SSH-IDLE", "sed -i 's/ClientAliveCountMax .*/ClientAliveCountMax 10/'"
     " /etc/ssh/sshd_config.d/00-socle-session-lock.conf", None, False),
    ("M5-LNX-PWQUALITY", "sed -i 's/^minlen = .*/minlen = 6/' /etc/security/pwquality.conf.d/50-socle.conf",
     None, False),
    ("M5-LNX-FAILLOCK", "pam-auth-update --package --disable socle-faillock-authfail", None, False),
    ("M5-LNX-PWHISTORY", "pam-auth-update --package --disable socle-pwhistory", None, False),
    ("M5-LNX-PASS-AGEING", "sed -i 's/^PASS_MIN_DAYS.*/PASS_MIN_DAYS\t0/' /etc/login.defs", None, False),
    ("M5-LNX-SSH-ROOT-LOGIN", "sed -i 's/^PermitRootLogin .*/PermitRootLogin yes/'"
     " /etc/ssh/sshd_config.d/00-socle-accounts.conf", None, False),
    ("M5-LNX-EMPTY-PASSWORDS", "useradd -m -s /bin/bash vide && passwd -d vide >/dev/null", "userdel -r vide",
     False),
    ("M5-LNX-EXTRA-UID0", "useradd -o -u 0 -g 0 -M -d /root -s /usr/sbin/nologin racine2",
     "sed -i '/^racine2:/d' /etc/passwd /etc/shadow", False),
    # An open generic account (a locked one is not reported: nobody can log in with it).
    ("M5-LNX-SHARED-ACCOUNTS", f"useradd -m -s /bin/bash -p '{OPEN_PASSWORD_HASH}' accueil", "userdel -r accueil",
     False),
    ("M5-LNX-SYSTEM-SHELLS", "usermod -s /bin/bash daemon", "usermod -s /usr/sbin/nologin daemon", False),
    ("M5-LNX-SUDO-NOPASSWD", "echo '%users ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/zz-tous",
     "rm /etc/sudoers.d/zz-tous", False),
    ("M1-LNX-APT-UNATTENDED", "systemctl disable --now --quiet apt-daily-upgrade.timer", None, False),
    ("M1-LNX-APT-ORIGINS", "sed -i 's/-security,label=Debian-Security/-proposed-updates/'"
     " /etc/apt/apt.conf.d/52socle-unattended-upgrades", None, False),
    ("M1-LNX-REBOOT-POLICY", "sed -i 's/Automatic-Reboot \"false\"/Automatic-Reboot \"true\"/'"
     " /etc/apt/apt.conf.d/53socle-reboot", None, False),
    ("M1-LNX-HELD-PACKAGES", "apt-mark hold tzdata >/dev/null", "apt-mark unhold tzdata >/dev/null", False),
    ("M1-LNX-REBOOT-REQUIRED", "echo '*** System restart required ***' > /run/reboot-required"
     " && touch -d '10 days ago' /run/reboot-required", "rm -f /run/reboot-required", False),
    ("M2-LNX-FRESHCLAM", "sed -i 's/^Checks .*/Checks 1/' /etc/clamav/freshclam.conf", None, False),
    ("M2-LNX-CLAMAV-SCAN", "systemctl disable --now --quiet socle-clamscan.timer", None, False),
    ("M2-LNX-NFT-BASELINE", "nft add rule inet socle input tcp dport 8080 accept", None, False),
    ("M2-LNX-NFT-LOGGING", "h=$(nft -a list table inet socle | grep socle:log | sed 's/.*handle //');"
     " nft delete rule inet socle input handle $h", None, False),
    # Measures 6-8 (the lab's facility): the copies of its documents and its banner, edited or removed.
    ("M6-LNX-RUNBOOK-COPY", "rm /srv/ssi/procedures-mode-degrade.pdf", None, False),
    ("M7-LNX-BANNER", "echo 'Debian GNU/Linux' >> /etc/issue.net", None, False),
    ("M8-LNX-CHARTER-DEPLOYED", "echo '<p>Clause ajoutée à la main</p>' >> /srv/ssi/charte.html", None, False),
]


FIREWALL = {"M2-LNX-NFT-BASELINE", "M2-LNX-NFT-MGMT-PATH", "M2-LNX-NFT-LOGGING"}


def socle(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "socle", *args], capture_output=True, text=True, timeout=900)


def as_root(host: str, script: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(lab.ssh_command(HOSTS[host], f"sudo -n sh -c {shlex.quote(script)}"),
                          capture_output=True, text=True, timeout=120)
    assert not check or proc.returncode == 0, (host, script, proc.stderr)
    return proc


def audit(out: Path, *options: str) -> RunRecord:
    proc = socle("audit", "-q", *options, "--out", str(out))
    assert proc.returncode in (0, 2), proc.stdout + proc.stderr
    return load_record(out / "run.json")


def answered(out: Path) -> Counter:
    """(host, socle_reused | socle_prefetched): how many results of an audit run with -v say so."""
    counts: Counter = Counter()
    host = None
    for line in (out / "ansible-output.txt").read_text(encoding="utf-8").splitlines():
        start = re.match(r"^(?:ok|changed|skipping|fatal|failed): \[([^\]]+)\]", line)
        if start:
            host = start.group(1)
        elif not line.startswith(" "):
            host = None
        elif host and line in ("    socle_reused: true", "    socle_prefetched: true"):
            counts[(host, line.strip().split(":")[0])] += 1
    return counts


def rounds() -> list[dict[str, tuple]]:
    """Drifts spread over the hosts, one per host per round; desktop-only drifts go to a desktop."""
    pending = list(DRIFTS)
    out: list[dict[str, tuple]] = []
    while pending:
        if not DESKTOPS and any(d[3] for d in pending):
            raise AssertionError("the lab has no desktop host for the desktop-only drifts")
        assigned: dict[str, tuple] = {}
        for drift in list(pending):
            hosts = DESKTOPS if drift[3] else [*SERVERS, *DESKTOPS]
            free = [h for h in hosts if h not in assigned]
            if free:
                assigned[free[0]] = drift
                pending.remove(drift)
        out.append(assigned)
    return out


def test_the_table_covers_every_measure_and_twenty_controls():
    assert len({control for control, *_ in DRIFTS}) >= 20
    assert {control[:2] for control, *_ in DRIFTS} == {"M1", "M2", "M4", "M5", "M6", "M7", "M8"}  # M3: molecule backups
    assert sum(len(r) for r in rounds()) == len(DRIFTS)


@pytest.fixture(scope="module")
def converged(tmp_path_factory) -> set[tuple[str, str]]:
    assert HOSTS, "no running lab: start it with `socle lab up`"
    out = tmp_path_factory.mktemp("converge")
    proc = socle("apply", "-q", "--out", str(out / "apply"))
    assert proc.returncode in (0, 2), proc.stdout + proc.stderr
    baseline = audit(out / "audit")
    assert baseline.setting_drift_pairs() == set(), baseline.setting_drift_pairs()
    assert all(baseline.hosts[h].controls[c].finding for h, c in flagged(baseline))
    return flagged(baseline)


@pytest.mark.parametrize("index", range(len(rounds())))
def test_each_drift_is_named_as_exactly_its_control(converged, tmp_path, index):
    plan = rounds()[index]
    try:
        for host, (_control, breaker, _undo, _desk) in plan.items():
            as_root(host, breaker)
        record = audit(tmp_path / "audit")
        expected = {(host, control) for host, (control, *_rest) in plan.items()}
        assert flagged(record) - converged == expected, {"new": flagged(record) - converged, "expected": expected}
        assert converged - flagged(record) == set()
        assert record.exit_code() == 2
        for host, control in expected:
            assert record.hosts[host].controls[control].status == "drift", (host, control)
    finally:
        # Back to the converged state whatever happened, so that one failure does not spill into the next
        # rounds: undo commands for measured findings, apply for the settings.
        for host, (_control, _breaker, undo, _desk) in plan.items():
            if undo:
                as_root(host, undo, check=False)
        settings = sorted({control for control, _breaker, undo, _desk in plan.values() if undo is None})
        if settings:
            # `apply --from-run` re-applies what that audit found drifted, on the hosts where it drifted
            # (--tags only when the audit wrote no record, so the lab is repaired whatever happened).
            drifted = tmp_path / "audit" / "run.json"
            how = ["--from-run", str(drifted)] if drifted.exists() else ["--tags", ",".join(settings)]
            proc = socle("apply", "-q", *how, "--out", str(tmp_path / "apply"))
    if settings:
        assert "--from-run" in how, "the round's audit wrote no run record"
        fixed = load_record(tmp_path / "apply" / "run.json")
        assert fixed.changed_pairs() == {(h, c) for h, (c, _b, u, _d) in plan.items() if u is None}, proc.stderr
        # Only the drifted controls ran, and only on the hosts where something drifted.
        assert set(fixed.hosts) == {h for h, (_c, _b, u, _d) in plan.items() if u is None}
        # (The firewall's three controls share the tasks that load and confirm its one table.)
        ran = {c for h in fixed.hosts.values() for c in h.controls}
        assert ran <= set(settings) | (FIREWALL if FIREWALL & set(settings) else set()), ran
    # The repair leaves no firewall rollback armed (it would restore the broken ruleset minutes later),
    # even when --tags selected only one of the firewall controls.
    for host in plan:
        armed = as_root(host, "systemctl is-active socle-nft-rollback.timer || true").stdout.strip()
        assert armed != "active", f"{host}: the firewall rollback timer is still armed after apply"


# -- reuse of check results (module_utils/socle_reuse.py) on the lab: never a drift hidden ----------------------
#: The read-only measurements socle_facts makes ahead in a scheduled audit (module_utils/socle_measure.py).
MEASURED_AHEAD = ("socle_accounts_audit", "socle_clamav_facts", "socle_nftables", "socle_updates_facts")


def test_an_unchanged_host_is_audited_from_reused_results_and_a_hidden_edit_is_still_seen(converged, tmp_path,
                                                                                          monkeypatch):
    """Two audits of the unchanged lab: the second answers socle_file, socle_sshd and socle_pam_auth_update
    from the first (every entry used), with the same record; then an edit that keeps the file's size and
    modification time is named as exactly its control, and that entry is measured again."""
    monkeypatch.setenv("SOCLE_CHECK_CACHE", str(tmp_path / "cache"))
    first = audit(tmp_path / "first")
    files = sorted((tmp_path / "cache").glob("*.json"))
    assert len(files) == len(HOSTS)
    stored = {f: json.loads(f.read_text())["entries"] for f in files}
    modules = {e["module"] for entries in stored.values() for e in entries.values()}
    assert modules == {"socle_file", "socle_sshd", "socle_pam_auth_update"}, modules
    # The read-only measurements are remembered for socle_facts to make ahead in the next audit.
    measured = {f: json.loads(f.read_text())["measures"] for f in files}
    assert all(set(m) == set(MEASURED_AHEAD) for m in measured.values()), measured
    second = audit(tmp_path / "second", "-v")
    for f, entries in stored.items():
        assert set(json.loads(f.read_text())["entries"]) == set(entries)  # nothing measured again
    # Every stored result answered its task (said at -v), and each host's measurements were made ahead.
    said = answered(tmp_path / "second")
    assert sum(n for (_h, kind), n in said.items() if kind == "socle_reused") == sum(map(len, stored.values()))
    assert {h: said[(h, "socle_prefetched")] for h in HOSTS} == dict.fromkeys(HOSTS, len(MEASURED_AHEAD))
    same = ("status", "changed", "expected", "actual", "diff", "message")
    assert {(h, c, k, str(getattr(r, k, None))) for h, x in first.hosts.items() for c, r in x.controls.items()
            for k in same} == {(h, c, k, str(getattr(r, k, None))) for h, x in second.hosts.items()
                               for c, r in x.controls.items() for k in same}
    host = SERVERS[0] if SERVERS else DESKTOPS[0]
    # Same length, modification time put back: only the change time (and the content) tells.
    hide = ("p=/etc/profile.d/00-socle-tmout.sh; t=$(stat -c %y $p);"
            " sed -i 's/^TMOUT=1/TMOUT=2/;t;s/^TMOUT=[0-9]/TMOUT=1/' $p; touch -d \"$t\" $p")
    before = as_root(host, "stat -c '%s %Y' /etc/profile.d/00-socle-tmout.sh").stdout
    as_root(host, hide)
    # And a change only a measurement sees (made ahead in this audit too): a held package.
    as_root(host, "apt-mark hold nftables")
    try:
        assert as_root(host, "stat -c '%s %Y' /etc/profile.d/00-socle-tmout.sh").stdout == before
        third = audit(tmp_path / "third", "-v")
        assert flagged(third) - converged == {(host, "M4-LNX-SHELL-TMOUT"), (host, "M1-LNX-HELD-PACKAGES")}
        assert "-TMOUT=" in (third.hosts[host].controls["M4-LNX-SHELL-TMOUT"].diff or "")
        assert "nftables" in third.hosts[host].controls["M1-LNX-HELD-PACKAGES"].actual
        # The hold was seen by the measurement made ahead, not by a round trip of the task.
        assert answered(tmp_path / "third")[(host, "socle_prefetched")] == len(MEASURED_AHEAD)
    finally:
        as_root(host, "apt-mark unhold nftables", check=False)
        proc = socle("apply", "-q", "--from-run", str(tmp_path / "third" / "run.json"), "--out", str(tmp_path / "fix"))
    assert proc.returncode in (0, 2), proc.stdout + proc.stderr
    assert load_record(tmp_path / "fix" / "run.json").changed_pairs() == {(host, "M4-LNX-SHELL-TMOUT")}
