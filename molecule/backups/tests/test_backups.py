"""Verify measure 3 on the lab: a Debian 12 client backing up locally and, append-only over SSH, to a Debian 13 target.

Runs as molecule's testinfra verifier, after check, converge and idempotence. The two hosts share one
network namespace (podman pod): the client reaches the target's sshd on 127.0.0.1:2222.
"""

from __future__ import annotations

import json
import os
import shlex
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from socle.history import History
from socle.report import write_reports
from socle.testing import Scenario, flagged

ROOT = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])
CLIENT, TARGET = "bak12-client", "bak13-vault"
CONTROLS = {
    "M3-LNX-RESTIC-JOB", "M3-LNX-REPO-LOCAL", "M3-LNX-REPO-OFFSITE", "M3-LNX-RETENTION", "M3-LNX-CHECK",
    "M3-LNX-LOCAL-AGE", "M3-LNX-OFFSITE-AGE", "M3-LNX-RESTORE-TEST",
}  # fmt: skip
SCENARIO = Scenario(controls=CONTROLS)
INVENTORY = SCENARIO.inventory
lab_host = SCENARIO.host
FINDINGS = {"M3-LNX-LOCAL-AGE", "M3-LNX-OFFSITE-AGE", "M3-LNX-RESTORE-TEST"}
PASSWORDS = ("molecule-test-only-local-0001", "molecule-test-only-offsite-0002")
OFFSITE_REPO = "rclone:socle:bak12-client"
SSH = ("ssh -i /etc/restic/offsite_id_ed25519 -p 2222 -o BatchMode=yes -o LogLevel=ERROR"
       " -o UserKnownHostsFile=/var/lib/restic/known_hosts -o StrictHostKeyChecking=accept-new restic@127.0.0.1")
OFFSITE_OPTION = f"rclone.program={SSH}"
TARGET_REPO = "/srv/restic-sftp/repos/bak12-client"
TIMERS = ("restic-backup.timer", "restic-offsite.timer", "restic-check.timer")


def sudo(node, command: str) -> str:
    return node.check_output(f"sudo -n sh -c {shlex.quote(command)}")


OFFSITE_RESTIC = f"restic -r {OFFSITE_REPO} -o '{OFFSITE_OPTION}' --password-file /etc/restic/offsite.pass"


def snapshots(node, offsite: bool = False) -> list[dict]:
    if offsite:
        cmd = f"{OFFSITE_RESTIC} snapshots --json"
    else:
        cmd = "set -a && . /etc/restic/env && set +a && restic snapshots --json"
    return json.loads(sudo(node, cmd))


def socle(mode: str, tmp_path: Path, extra_vars: dict | None = None):
    return SCENARIO.socle(mode, tmp_path, extra_vars=extra_vars)


# -- the records of molecule's check, converge and idempotence runs (before any backup ran) ---------

def test_check_mode_predicted_exactly_what_apply_changed():
    audit, converge, idempotence = SCENARIO.molecule_runs()
    assert not audit.run.errors and not converge.run.errors
    assert set(audit.hosts[CLIENT].controls) == CONTROLS
    # Fresh hosts: every setting control of the client drifts; the target only hosts the off-site account.
    expected = {(CLIENT, c) for c in CONTROLS - FINDINGS} | {(TARGET, "M3-LNX-REPO-OFFSITE")}
    assert audit.changed_pairs() == expected == converge.changed_pairs()
    # M3-LNX-CHECK also carries a finding (the last check's result), so it is not a pure setting.
    assert audit.setting_drift_pairs() == expected - {(CLIENT, "M3-LNX-CHECK")}
    # No backup has run yet: the measurements say so, in audit and after apply alike.
    for record in (audit, converge, idempotence):
        for control in FINDINGS:
            assert record.hosts[CLIENT].controls[control].status == "drift", control
    assert idempotence.changed_pairs() == set()
    assert idempotence.hosts[TARGET].controls["M3-LNX-LOCAL-AGE"].status == "not_applicable"


# -- effective state, read with independent probes --------------------------------------------------
def test_timers_enabled_and_active():
    host = lab_host(CLIENT)
    for timer in TIMERS:
        assert host.service(timer).is_enabled and host.service(timer).is_running, timer
    assert host.package("restic").is_installed


def test_secret_files_root_only():
    host = lab_host(CLIENT)
    for path in ("/etc/restic/local.pass", "/etc/restic/offsite.pass", "/etc/restic/offsite_id_ed25519"):
        stat = sudo(host, f"stat -c '%a %U %G' {path}")
        assert stat == "600 root root", (path, stat)
    assert sudo(host, "stat -c %a /etc/restic") == "700"
    # The environment and the units name the password files, never a password.
    text = sudo(host, "cat /etc/restic/env /etc/systemd/system/restic-*.service /etc/restic/retention.env")
    assert not any(p in text for p in PASSWORDS)
    assert "--keep-daily 7 --keep-weekly 4 --keep-monthly 12" in text


def test_offsite_account_keys_can_only_serve_their_own_repository_append_only():
    target = lab_host(TARGET)
    effective = sudo(target, "sshd -T -C user=restic,host=localhost,addr=127.0.0.1")
    assert "allowtcpforwarding no" in effective and "permittty no" in effective
    assert "passwordauthentication no" in effective
    keys = [line for line in sudo(target, "cat /etc/ssh/socle_authorized_keys/restic").splitlines()
            if line and not line.startswith("#")]
    assert len(keys) == 1
    forced = f"rclone --config '' serve restic --stdio --append-only {TARGET_REPO}"
    assert keys[0].startswith(f'restrict,command="{forced}" ssh-ed25519 ')
    assert sudo(target, "stat -c '%U %a' /etc/ssh/socle_authorized_keys/restic") == "root 644"
    # From the client, through the shared loopback: whatever is asked, the key runs the forced command.
    client = lab_host(CLIENT)
    # The forced command speaks HTTP/2 on stdout, which is binary: keep the printable bytes only.
    shell = client.run(f"sudo -n timeout 30 {SSH} 'id; rm -rf {TARGET_REPO}' </dev/null 2>&1"
                       " | LC_ALL=C tr -c '[:print:]\\n' '.'")
    assert "uid=" not in shell.stdout
    assert target.file(TARGET_REPO).is_directory


# -- run the backup, then the restore test --------------------------------------------------------
@pytest.fixture(scope="module")
def backed_up():
    client = lab_host(CLIENT)
    sudo(client, "systemctl start restic-backup.service restic-offsite.service restic-check.service")
    return client


def test_snapshots_in_both_repositories(backed_up):
    local, offsite = snapshots(backed_up), snapshots(backed_up, offsite=True)
    assert [s["hostname"] for s in local] == [CLIENT]
    assert [s["hostname"] for s in offsite] == [CLIENT]
    assert "/etc" in local[0]["paths"] and "/var/lib/restic/canary.txt" in offsite[0]["paths"]
    # The off-site copy is really on the other machine: the target's disk holds the repository.
    target = lab_host(TARGET)
    assert int(sudo(target, "ls /srv/restic-sftp/repos/bak12-client/snapshots | wc -l")) == 1
    assert not lab_host(CLIENT).file("/srv/restic-sftp").exists


def test_offsite_copy_cannot_be_deleted_from_the_client(backed_up):
    before = snapshots(backed_up, offsite=True)
    forget = backed_up.run(f"sudo -n {OFFSITE_RESTIC} forget {before[0]['id']}")
    assert forget.rc != 0, forget.stdout
    assert [s["id"] for s in snapshots(backed_up, offsite=True)] == [s["id"] for s in before]
    target = lab_host(TARGET)
    assert int(sudo(target, f"ls {TARGET_REPO}/snapshots | wc -l")) == 1
    # Lock files are the one thing the client may delete: none is left behind by its runs.
    assert int(sudo(target, f"ls {TARGET_REPO}/locks | wc -l")) == 0


def test_check_status_recorded(backed_up):
    line = sudo(backed_up, "cat /var/lib/restic/check.status").split()
    assert line[1:] == ["success", "0"]


def test_restore_test_restores_and_records(backed_up):
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}
    playbook = Path(sys.executable).with_name("ansible-playbook")
    proc = subprocess.run([str(playbook), "-i", str(INVENTORY), str(ROOT / "playbooks/restore-test.yml")],
                          capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert not any(p in proc.stdout + proc.stderr for p in PASSWORDS)
    record = json.loads(sudo(backed_up, "cat /var/lib/restic/restore-test.json"))
    assert record["result"] == "success"
    original = sudo(backed_up, "sha256sum /var/lib/restic/canary.txt").split()[0]
    assert record["sha256"] == original
    assert sudo(backed_up, "ls -d /tmp/socle-restore-* 2>/dev/null | wc -l") == "0"


def test_audit_after_backup_and_restore_is_clean(backed_up, tmp_path):
    audit = socle("audit", tmp_path)
    assert flagged(audit) == set(), flagged(audit)
    assert audit.exit_code() == 0
    text = (tmp_path / "audit" / "run.json").read_text()
    assert not any(p in text for p in PASSWORDS)
    assert "newest snapshot" in (audit.hosts[CLIENT].controls["M3-LNX-OFFSITE-AGE"].actual or "")
    # No password in the client's journal either (units, restic, sshd).
    journal = sudo(backed_up, "journalctl --no-pager -o cat")
    assert not any(p in journal for p in PASSWORDS)


def test_no_secret_in_any_output_up_to_vvv(backed_up, tmp_path):
    """The repository passwords and the SSH private key never reach the record, the reports or Ansible's
    own output, for apply (which writes them) and audit (which reads the repositories), at -vvv."""
    key_lines = (SCENARIO.ephemeral / "backup_id_ed25519").read_text().strip().splitlines()[1:-1]
    canaries = [*PASSWORDS, *(line for line in key_lines if len(line) > 20)]
    assert len(canaries) >= 4
    for mode in ("apply", "audit"):
        record = SCENARIO.socle(mode, tmp_path, verbosity=3)
        assert not record.run.errors and record.changed_pairs() == set(), record.changed_pairs()
        write_reports(tmp_path / mode / "run.json", tmp_path / mode, lang="fr", record=record)  # as the CLI does
        files = {p.relative_to(tmp_path): p.read_bytes().decode("utf-8", "replace")
                 for p in (tmp_path / mode).rglob("*") if p.is_file()}
        names = {p.name for p in files}
        assert {"run.json", "report.html", "junit.xml", "results.csv", "ansible-output.txt"} <= names, names
        output = next(text for p, text in files.items() if p.name == "ansible-output.txt")
        assert "<127.0.0.1>" in output or "ESTABLISH" in output, output[:500]  # really -vvv
        leaks = [(str(p), c[:12]) for p, text in files.items() for c in canaries if c in text]
        assert leaks == []
        # The history database: every table, and the stored record decompressed.
        history = History(tmp_path / "history.sqlite")
        history.store_file(tmp_path / mode / "run.json")
        stored = history.raw(record.run.id).decode("utf-8")
        with sqlite3.connect(tmp_path / "history.sqlite") as conn:
            dump = "\n".join(conn.iterdump())
        assert record.run.id in dump and record.run.id in stored
        assert [c[:12] for c in canaries if c in stored or c in dump] == []


# -- break one thing: the audit names exactly that control -----------------------------------------
OLD_SNAPSHOT = (
    "set -a && . /etc/restic/env && set +a && "
    "restic backup --host bak12-client --tag old --time \"$(date -d '10 days ago' '+%Y-%m-%d %H:%M:%S')\""
    " /var/lib/restic/canary.txt >/dev/null && "
    "restic forget $(restic snapshots --tag socle --json | python3 -c "
    "'import json,sys; print(\" \".join(s[\"id\"] for s in json.load(sys.stdin)))') >/dev/null"
)
# The last check, an hour ago (whatever the clock says today), failed.
CHECK_FAILED = "printf '%s exit-code 1\\n' \"$(date -u -d '1 hour ago' +%s)\" > /var/lib/restic/check.status"

DRIFT = [
    pytest.param("M3-LNX-RESTIC-JOB", "systemctl disable --now restic-backup.timer", None, id="backup-timer-disabled"),
    pytest.param("M3-LNX-LOCAL-AGE", OLD_SNAPSHOT, "systemctl start restic-backup.service", id="last-snapshot-old"),
    pytest.param("M3-LNX-RETENTION", "sed -i 's/--keep-daily 7/--keep-daily 1/' /etc/restic/retention.env", None,
                 id="retention-edited"),
    pytest.param("M3-LNX-CHECK", CHECK_FAILED, "systemctl start restic-check.service", id="check-failed"),
]


@pytest.mark.parametrize(("control", "breaker", "undo"), DRIFT)
def test_one_breakage_is_named_alone(backed_up, tmp_path, control, breaker, undo):
    sudo(backed_up, breaker)
    audit = socle("audit", tmp_path)
    assert flagged(audit) == {(CLIENT, control)}, flagged(audit)
    assert audit.exit_code() == 2
    if undo is None:
        fixed = socle("apply", tmp_path)
        assert fixed.changed_pairs() == {(CLIENT, control)}
    else:
        sudo(backed_up, undo)
    clean = socle("audit", tmp_path / "after")
    assert clean.exit_code() == 0, flagged(clean)


def test_zero_retention_stops_the_run_before_any_host_is_touched(tmp_path):
    record = socle("apply", tmp_path, {"backup_keep_daily": 0})
    assert record.exit_code() == 1
    errors = " ".join([*record.run.errors, *(h.message or "" for h in record.hosts.values())])
    assert "backup_keep_daily = 0 is below the minimum 1" in errors
    assert record.changed_pairs() == set()
