"""Verify measures 6, 7 and 8 on the lab: documents, banners, attestations, drift, bad facility data.

Runs as molecule's testinfra verifier, after check, converge and idempotence, on a Debian 12 and a
Debian 13 host of one facility (molecule.yml holds the facility's data and registers).
"""

from __future__ import annotations

import datetime as dt
import json
import shlex

import pytest

from socle.record import RunRecord
from socle.testing import Scenario

HOSTS = ("deb12-org", "deb13-org")
REPORTER = "deb12-org"  # first host of the facility by name: it reports the records
SETTINGS = {"M6-LNX-RUNBOOK-COPY", "M7-LNX-BANNER", "M8-LNX-CHARTER-DEPLOYED"}
# No host of this scenario has GDM (servers, like most Linux hosts of a facility): the login-screen
# banner is not applicable there, and GDM is never installed for it. The banner's dconf value is
# checked against GLib itself in tests/unit/test_organisation.py.
NO_GDM = {"M7-LNX-GDM-BANNER"}
RECORDS = {
    "M6-ORG-RUNBOOK",
    "M6-ORG-RESTORE-EXERCISE",
    "M6-ORG-DEGRADED-DRILL",
    "M7-ORG-AWARENESS-SESSIONS",
    "M7-ORG-NEW-STAFF-BRIEFED",
    "M7-ORG-REFERENT",
    "M8-ORG-ACKNOWLEDGEMENTS",
    "M8-ORG-CHARTER",
}
SCENARIO = Scenario(controls=SETTINGS | NO_GDM | RECORDS)
DOCS = ("charte.html", "charte.pdf", "procedures-mode-degrade.html", "procedures-mode-degrade.pdf")
FACILITY = "EHPAD « L'Oustal » d'Évreux"


def flagged(record: RunRecord) -> set[tuple[str, str]]:
    """(host, control) pairs neither compliant, attested nor not applicable."""
    return {
        (h, c)
        for h, host in record.hosts.items()
        for c, res in host.controls.items()
        if res.status not in ("compliant", "attested", "not_applicable")
    }


def sudo(node, command: str) -> str:
    return node.check_output(f"sudo -n sh -c {shlex.quote(command)}")


# -- molecule's check, converge and idempotence runs -------------------------------------------------
def test_check_mode_predicted_exactly_what_apply_changed():
    audit, converge, idempotence = SCENARIO.molecule_runs()
    assert not audit.run.errors and not converge.run.errors
    expected = {(h, c) for h in HOSTS for c in SETTINGS}
    assert audit.changed_pairs() == expected == converge.changed_pairs()
    assert audit.setting_drift_pairs() == expected
    assert idempotence.changed_pairs() == set()
    for record in (audit, converge, idempotence):
        # The facility's records are reported once, by its first host; the other host carries none.
        assert set(record.hosts[REPORTER].controls) == SETTINGS | NO_GDM | RECORDS
        assert set(record.hosts["deb13-org"].controls) == SETTINGS | NO_GDM
        for name in HOSTS:
            gdm = record.hosts[name].controls["M7-LNX-GDM-BANNER"]
            assert gdm.status == "not_applicable" and "GDM is not installed" in gdm.actual, gdm
        statuses = {c: record.hosts[REPORTER].controls[c].status for c in RECORDS}
        # No host of the facility has Socle backups: the restore exercise is due, the rest attested.
        assert statuses == {**dict.fromkeys(RECORDS, "attested"), "M6-ORG-RESTORE-EXERCISE": "attestation_due"}
    acks = idempotence.hosts[REPORTER].controls["M8-ORG-ACKNOWLEDGEMENTS"]
    assert "2/2 active staff acknowledged version 2026-1 (100%)" in acks.actual
    assert "no backed-up host" in idempotence.hosts[REPORTER].controls["M6-ORG-RESTORE-EXERCISE"].actual
    evidence = {c: idempotence.hosts[REPORTER].controls[c].actual for c in RECORDS}
    assert "last drill " in evidence["M6-ORG-DEGRADED-DRILL"] and "(100 days ago)" in evidence["M6-ORG-DEGRADED-DRILL"]
    assert evidence["M7-ORG-REFERENT"].startswith("Noël L'Hôte (02 32 00 00 01); reviewed ")
    assert "annexed to the internal rules 2026-02-01" in evidence["M8-ORG-CHARTER"]


@pytest.mark.parametrize("name", HOSTS)
def test_no_gdm_means_no_gdm_database_and_no_gdm_installed(name):
    host = SCENARIO.host(name)
    assert not host.file("/usr/sbin/gdm3").exists and not host.package("gdm3").is_installed
    assert not host.file("/etc/dconf/db/gdm.d").exists and not host.file("/etc/dconf/profile/gdm").exists


# -- effective state, read with independent probes ---------------------------------------------------
@pytest.mark.parametrize("name", HOSTS)
def test_documents_are_on_the_host_readable_by_users(name):
    host = SCENARIO.host(name)
    for doc in DOCS:
        f = host.file(f"/srv/ssi/{doc}")
        assert f.exists and f.user == "root" and f.mode == 0o644, doc
    assert host.file("/srv/ssi/charte.pdf").content[:5] == b"%PDF-"
    charter = host.file("/srv/ssi/charte.html").content_string
    assert "Charte d'utilisation des moyens informatiques" in charter
    assert "EHPAD « L&#39;Oustal » d&#39;Évreux" in charter and "Infogérance &amp; Cie" in charter
    runbook = host.file("/srv/ssi/procedures-mode-degrade.html").content_string
    assert "Classeur papier des transmissions" in runbook and "Infirmière coordinatrice" in runbook


@pytest.mark.parametrize("name", HOSTS)
def test_sshd_shows_the_banner_before_authentication(name):
    host = SCENARIO.host(name)
    assert "banner /etc/issue.net" in sudo(host, "sshd -T").splitlines()
    # A real client that offers no credential: sshd sends the banner, then refuses (ssh exits 255).
    out = sudo(
        host,
        "ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
        "-o PreferredAuthentications=none -p 22 nobody@127.0.0.1 true 2>&1; echo rc=$?",
    )
    assert out.rstrip().endswith("rc=255") and "Permission denied" in out
    assert FACILITY in out and "/srv/ssi/charte.html" in out and "Noël L'Hôte" in out
    for path in ("/etc/issue", "/etc/issue.net", "/etc/motd"):
        text = host.file(path).content_string
        assert "version 2026-1" in text and "\\" not in text, path


# -- drift: each breakage reported as exactly its control ---------------------------------------------
def test_edited_banner_and_expired_acknowledgement_are_exactly_their_controls(tmp_path):
    node = SCENARIO.host("deb13-org")
    before = sudo(node, "cat /etc/issue.net")
    sudo(node, "echo 'Bienvenue sur Debian GNU/Linux' >> /etc/issue.net")
    # Bruno's only acknowledgement is of the previous version: it is due again.
    older = [
        {"name": "Alice Martin", "date": "2026-01-20", "version": "2026-1"},
        {"name": "Bruno N'Diaye", "date": "2025-06-01", "version": "2025-1"},
    ]
    try:
        audit = SCENARIO.socle("audit", tmp_path, extra_vars={"organisation_charter_acknowledgements": older})
        always_due = {(REPORTER, "M6-ORG-RESTORE-EXERCISE")}  # no backed-up host in this facility
        breakages = {("deb13-org", "M7-LNX-BANNER"), (REPORTER, "M8-ORG-ACKNOWLEDGEMENTS")}
        assert flagged(audit) == always_due | breakages, {
            (h, c, r.status, r.actual) for h, x in audit.hosts.items() for c, r in x.controls.items()
        }
        acks = audit.hosts[REPORTER].controls["M8-ORG-ACKNOWLEDGEMENTS"]
        assert acks.status == "attestation_due" and "due: Bruno N'Diaye" in acks.actual
        assert audit.hosts["deb13-org"].controls["M7-LNX-BANNER"].status == "drift"
        assert audit.exit_code() == 2
    finally:
        fixed = SCENARIO.socle("apply", tmp_path / "fix")
    assert fixed.changed_pairs() == {("deb13-org", "M7-LNX-BANNER")}
    assert sudo(node, "cat /etc/issue.net") == before


def test_bad_finess_stops_the_run_before_any_host_is_touched(tmp_path):
    facility = {
        "name": "EHPAD",
        "finess": "010003821",
        "address": "x",
        "director": "x",
        "security_referent": {"name": "x", "phone": "1", "reviewed": "2026-13-01"},
        "dpo": {"name": "x", "email": "a@b.fr"},
        "msp": {"name": "x", "phone": "1"},
        "critical_applications": [{"name": "x", "fallback": "x", "decides": "x"}],
        "backup_locations": ["x"],
    }
    record = SCENARIO.socle("apply", tmp_path, extra_vars={"organisation_facility": facility})
    assert record.exit_code() == 1
    errors = " ".join([*record.run.errors, *(h.message or "" for h in record.hosts.values())])
    assert "organisation_facility.finess: '010003821' is not a FINESS number" in errors
    assert "organisation_facility.security_referent.reviewed: '2026-13-01' is not a date" in errors
    assert all(not h.controls for h in record.hosts.values())


def test_restore_test_records_of_the_backed_up_hosts_are_read(tmp_path):
    """With backups declared on both hosts, the restore-test record of each one is the evidence."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for name, result in (("deb12-org", "success"), ("deb13-org", "failure")):
        record = json.dumps({"date": stamp, "result": result, "sample": "/var/lib/restic/canary.txt"})
        sudo(
            SCENARIO.host(name),
            f"mkdir -p /var/lib/restic && printf '%s' {shlex.quote(record)} > /var/lib/restic/restore-test.json",
        )
    try:
        # Backups on need their repository password (socle_policy refuses the run without one); test-only.
        audit = SCENARIO.socle("audit", tmp_path, extra_vars={
            "backup_enabled": True, "backup_local_password": "molecule-test-only-local-0003",
            "backup_offsite_enabled": False})
    finally:
        for name in HOSTS:
            sudo(SCENARIO.host(name), "rm -rf /var/lib/restic")
    control = audit.hosts[REPORTER].controls["M6-ORG-RESTORE-EXERCISE"]
    assert control.status == "attestation_due", control
    assert "deb12-org: success on " in control.actual and "deb13-org: failure on " in control.actual
    # The runbook documents the backups from the backup role's variables: declaring them changes it.
    assert {(h, "M6-LNX-RUNBOOK-COPY") for h in HOSTS} <= flagged(audit)
