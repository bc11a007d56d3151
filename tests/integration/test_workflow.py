"""The command line on the fresh lab: bad policy refused untouched, audit, apply, audit again.

Runs after test_lab.py (which checks the lab is fresh) on the hosts `socle lab up` started.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from socle import lab
from socle.record import load_record

pytestmark = pytest.mark.lab

HOSTS = {h.name: h for h in lab.read_state()}
CONTROLS = {"M4-LNX-GNOME-LOCK", "M4-LNX-SHELL-TMOUT", "M4-LNX-SSH-IDLE"}
# Measures 6-8 (the lab's policy describes a fictional facility): settings on every host, and the
# facility's records assessed once, by one host. No lab host has GDM, nor Socle backups.
ORGANISATION = {"M6-LNX-RUNBOOK-COPY", "M7-LNX-BANNER", "M8-LNX-CHARTER-DEPLOYED"}
RECORDS = {"M6-ORG-RUNBOOK", "M6-ORG-DEGRADED-DRILL", "M7-ORG-AWARENESS-SESSIONS", "M7-ORG-NEW-STAFF-BRIEFED",
           "M7-ORG-REFERENT", "M8-ORG-ACKNOWLEDGEMENTS", "M8-ORG-CHARTER"}  # fmt: skip
FINGERPRINT = (
    "sudo -n sh -c 'find /etc -xdev -printf \"%p %y %m %u:%g %s %l\\n\" | sort;"
    " find /etc -xdev -type f -print0 | sort -z | xargs -0 sha256sum;"
    " dpkg-query -W | sort; systemctl list-unit-files --state=enabled --no-legend | sort;"
    " nft list ruleset 2>/dev/null || echo no nftables'"
)


def attestations_due(record) -> set[tuple[str, str]]:
    """(host, control) pairs whose attestation is due: drift for the exit code (2), not a setting."""
    return {(h, c) for h, host in record.hosts.items() for c, r in host.controls.items()
            if r.status == "attestation_due"}  # fmt: skip


def check_organisation(record, settings_status: str) -> None:
    """Measures 6-8 on the lab: settings on every host, records once, GDM banner not applicable."""
    for name in HOSTS:
        controls = record.hosts[name].controls
        assert {c: controls[c].status for c in ORGANISATION} == dict.fromkeys(ORGANISATION, settings_status), name
        assert controls["M7-LNX-GDM-BANNER"].status == "not_applicable", name
    reporters = [n for n in HOSTS if "M8-ORG-CHARTER" in record.hosts[n].controls]
    assert len(reporters) == 1, reporters
    controls = record.hosts[reporters[0]].controls
    assert {c: controls[c].status for c in RECORDS} == dict.fromkeys(RECORDS, "attested")
    assert all(controls[c].finding for c in RECORDS)
    restore = controls["M6-ORG-RESTORE-EXERCISE"]
    assert restore.status == "attestation_due" and "no backed-up host" in restore.actual and restore.finding
    assert attestations_due(record) == {(reporters[0], "M6-ORG-RESTORE-EXERCISE")}


def socle(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "socle", *args], capture_output=True, text=True, timeout=600)


def fingerprints() -> dict[str, str]:
    out = {}
    for name, host in HOSTS.items():
        proc = subprocess.run(lab.ssh_command(host, FINGERPRINT), capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        out[name] = proc.stdout
    return out


@pytest.fixture(scope="module")
def fresh() -> dict[str, str]:
    assert HOSTS, "no running lab: start it with `socle lab up`"
    return fingerprints()


KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBadInputTableOnly0000000000000000000000000 pc"
BAD_INPUT = [
    # variable, value (YAML), words the message must hold besides the variable's name
    ("session_lock_idle_timeout_s", "-5", "below the minimum 60"),
    ("session_lock_gnome_lock_delay_s", "3600", "above the maximum 60"),
    ("session_lock_idle_timeout_s", "quinze", "int"),
    ("session_lock_gnome_enabled", "peut-etre", "bool"),
    ("session_lock_idle_timout_s", "900", "did you mean session_lock_idle_timeout_s"),
    ("session_lock_ssh_client_alive_count_max", "0", "below the minimum 1"),
    ("accounts_password_min_length", "4", "below the minimum 8"),
    ("accounts_faillock_deny", "0", "below the minimum 1"),
    ("accounts_pass_max_days", "jamais", "int"),
    ("accounts_pwhistory_remember", "1", "below the minimum 3"),
    ("accounts_departed", '["Jean Dupont"]', "is malformed"),
    ("accounts_ssh_enabled", "oui-non", "bool"),
    ("accounts_unused_dayz", "90", "did you mean accounts_unused_days"),
    ("antivirus_scan_time", '"25:00"', "is malformed"),
    ("antivirus_scan_frequency", "hourly", "daily, weekly"),
    ("antivirus_update_checks_per_day", "0", "below the minimum 1"),
    ("antivirus_max_signature_age_h", "500", "above the maximum 168"),
    ("antivirus_quarantine", "delete", "report, move"),
    ("antivirus_scan_paths", '["home"]', "is malformed"),
    ("antivirus_scan_paths", "[]", "at least 1 needed"),
    ("antivirus_on_access_paths", "[]", "at least 1 needed"),
    ("updates_scope", "everything", "security, all"),
    ("updates_reboot", "sometimes", "never, window"),
    ("updates_reboot_time", "3h", "is malformed"),
    ("updates_max_pending_security", "-1", "below the minimum 0"),
    ("updates_max_run_age_h", "1000", "above the maximum 720"),
    ("updates_allowed_holds", '["Bad Name"]', "is malformed"),
    ("firewall_ssh_port", "70000", "above the maximum 65535"),
    ("firewall_admin_networks", '["10.0.0.0/33"]', "is malformed"),
    ("firewall_rollback_timeout_s", "5", "below the minimum 20"),
    ("firewall_allowed_services", '[{port: http}]', "int"),
    ("firewall_allowed_services", '[{port: 80, proto: icmp}]', "tcp, udp"),
    ("backup_keep_daily", "0", "below the minimum 1"),
    ("backup_offsite_ssh_port", "0", "below the minimum 1"),
    ("backup_on_calendar", '"daily; rm -rf /"', "is malformed"),
    ("backup_max_local_age_h", "100", "above the maximum 48"),
    ("offsite_target_clients", f'[{{host: "a b", key: "{KEY}"}}]', "is malformed"),
    ("offsite_target_clients", "[{host: pc01}]", "key"),
    # Secrets (checked before any host is touched, never echoed): the role used to assert them itself.
    ("backup_local_password", '"Kx7-short"\nbackup_enabled: true', "at least 12 characters"),
    ("backup_offsite_password", '"same-secret-00001"\nbackup_local_password: "same-secret-00001"\n'
     "backup_enabled: true", "must differ from backup_local_password"),
]


@pytest.mark.parametrize(("variable", "value", "words"), BAD_INPUT, ids=[f"{v}={x}"[:60] for v, x, _w in BAD_INPUT])
def test_bad_policy_stops_before_any_host_is_touched(fresh, tmp_path, variable, value, words):
    """Each bad value stops the run before any host is touched; test_audit_apply_audit, which runs next,
    proves the hosts are still exactly as fresh (fingerprints of /etc, packages, units, ruleset)."""
    inventory = tmp_path / "inventory"
    (inventory / "group_vars" / "all").mkdir(parents=True)
    (inventory / "hosts.yml").write_text(lab.inventory_path().read_text(encoding="utf-8"), encoding="utf-8")
    policy = (lab.project_root() / "inventories/lab/group_vars/all/socle.yml").read_text(encoding="utf-8")
    (inventory / "group_vars/all/socle.yml").write_text(policy + f"{variable}: {value}\n", encoding="utf-8")
    proc = socle("apply", "-q", "-i", str(inventory), "--out", str(tmp_path / "out"))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert variable.split("[")[0] in proc.stderr and words in proc.stderr, proc.stderr
    assert "nothing was changed" in proc.stderr
    record = load_record(tmp_path / "out" / "run.json")
    assert all(not h.controls for h in record.hosts.values())
    if variable.endswith("_password"):  # a secret: the message names the variable, never its value
        secret = value.split("\n")[0].strip('"')
        output = (tmp_path / "out" / "ansible-output.txt").read_text(encoding="utf-8")
        assert secret not in proc.stdout + proc.stderr + output + (tmp_path / "out" / "run.json").read_text()


def test_bad_input_table_is_large_enough():
    assert len(BAD_INPUT) >= 30 and len({v.split("_")[0] for v, _x, _w in BAD_INPUT}) >= 7


def test_audit_apply_audit(fresh, tmp_path):
    audit = socle("audit", "--out", str(tmp_path / "audit"))
    assert audit.returncode == 2, audit.stdout + audit.stderr
    assert "[audit] deb12-desk" in audit.stderr  # progress lines per host
    assert fingerprints() == fresh
    before = load_record(tmp_path / "audit" / "run.json")
    assert not before.run.errors and not before.problem_pairs(), before.problem_pairs()
    desktops = {n for n, h in HOSTS.items() if h.desktop}
    session_lock = {(h, c) for h in HOSTS for c in CONTROLS if h in desktops or c != "M4-LNX-GNOME-LOCK"}
    assert session_lock <= before.setting_drift_pairs()
    check_organisation(before, "drift")
    assert {(h, c) for h in HOSTS for c in ORGANISATION} <= before.setting_drift_pairs()
    html = (tmp_path / "audit" / "report.html").read_text(encoding="utf-8")
    assert 'lang="fr"' in html and "M4-LNX-SSH-IDLE" in html
    assert (tmp_path / "audit" / "junit.xml").exists()

    apply = socle("apply", "--out", str(tmp_path / "apply"), "--lang", "en")
    applied = load_record(tmp_path / "apply" / "run.json")
    assert not applied.problem_pairs(), applied.problem_pairs()
    assert applied.changed_pairs() == before.setting_drift_pairs()
    assert 'lang="en"' in (tmp_path / "apply" / "report.html").read_text(encoding="utf-8")
    # Findings (signature age, last update run...) stay what they measure: apply cannot make them true;
    # so do attestations (the restore exercise is due: no lab host has Socle backups).
    check_organisation(applied, "compliant")
    assert {(h, c) for h in HOSTS for c in ORGANISATION} <= applied.changed_pairs()
    due = attestations_due(applied)
    assert apply.returncode == (2 if applied.drift_pairs() or due else 0), apply.stdout + apply.stderr

    again = socle("audit", "--out", str(tmp_path / "again"))
    after = load_record(tmp_path / "again" / "run.json")
    assert after.setting_drift_pairs() == set()
    assert not after.problem_pairs(), after.problem_pairs()
    remaining = {(h, c) for h, host in after.hosts.items() for c, r in host.controls.items() if r.status == "drift"}
    assert all(after.hosts[h].controls[c].finding for h, c in remaining), remaining
    check_organisation(after, "compliant")
    assert again.returncode == (2 if remaining or attestations_due(after) else 0), again.stdout + again.stderr
    for name in HOSTS:
        for control in CONTROLS:
            expected = "not_applicable" if control == "M4-LNX-GNOME-LOCK" and name not in desktops else "compliant"
            assert after.hosts[name].controls[control].status == expected

    # The history holds the three runs; diff says what apply fixed and that nothing got worse.
    history = socle("history", "--json", "--limit", "10")
    assert history.returncode == 0, history.stderr
    assert {before.run.id, applied.run.id, after.run.id} <= {r["id"] for r in json.loads(history.stdout)}
    diff = socle("diff", "--json", str(tmp_path / "audit" / "run.json"), str(tmp_path / "again" / "run.json"))
    assert diff.returncode == 0, diff.stdout + diff.stderr
    fixed = {(c["host"], c["control"]) for c in json.loads(diff.stdout)["changes"] if c["kind"] == "fixed"}
    assert before.setting_drift_pairs() <= fixed

    # Idempotent: a second apply of the full baseline changes nothing.
    socle("apply", "-q", "--out", str(tmp_path / "apply-again"))
    second = load_record(tmp_path / "apply-again" / "run.json")
    assert second.changed_pairs() == set(), second.changed_pairs()
    assert not second.problem_pairs(), second.problem_pairs()


def test_tags_select_one_control(tmp_path):
    proc = socle("audit", "-q", "--tags", "M4-LNX-SSH-IDLE", "--out", str(tmp_path / "tag"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    record = json.loads((tmp_path / "tag" / "run.json").read_text(encoding="utf-8"))
    assert {c for h in record["hosts"].values() for c in h["controls"]} == {"M4-LNX-SSH-IDLE"}


def test_missing_inventory_is_a_clear_error(tmp_path):
    proc = socle("audit", "-i", str(tmp_path / "nope.yml"), "--out", str(tmp_path / "x"))
    assert proc.returncode == 1
    assert "nope.yml does not exist" in proc.stderr


def test_audit_playbook_refuses_to_run_without_check(tmp_path):
    root = lab.project_root()
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("ansible-playbook")), "-i", str(lab.inventory_path()),
         str(root / "playbooks/audit.yml")],
        capture_output=True, text=True, timeout=300, cwd=root,
        env={"ANSIBLE_CONFIG": str(root / "ansible.cfg"), "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin"},
    )
    assert proc.returncode != 0
    assert "must run with --check" in proc.stdout + proc.stderr
