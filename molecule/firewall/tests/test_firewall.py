"""Verify measure 2's firewall on the lab hosts: effective ruleset, ports seen from the controller, reboot,
check-mode exactness, lockout refusal, real rollback, ufw/firewalld conflict and drift injection.

Runs as molecule's testinfra verifier, after check, converge and idempotence.
"""

from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
import time
from pathlib import Path

import pytest

from socle.testing import Scenario, flagged

LAB_DIR = Path(os.environ.get("SOCLE_LAB_DIR") or Path(__file__).resolve().parents[3] / ".lab")
HOSTS = ("fw12", "fw13")
BASELINE, MGMT, LOGGING = "M2-LNX-NFT-BASELINE", "M2-LNX-NFT-MGMT-PATH", "M2-LNX-NFT-LOGGING"
CONTROLS = {BASELINE, MGMT, LOGGING}
SCENARIO = Scenario(controls=CONTROLS)
lab_host, socle = SCENARIO.host, SCENARIO.socle
SOCLE_FILE = "/etc/nftables.d/socle.nft"


def lab() -> dict:
    return {h["name"]: h for h in json.loads((LAB_DIR / "lab.json").read_text())["hosts"]}


def published(name: str, port: int) -> int:
    return dict((c, h) for c, h in lab()[name]["published"])[port]


def new_ssh(name: str) -> subprocess.CompletedProcess:
    """A brand-new SSH connection (no control master), as a real admin would open one."""
    key = json.loads((LAB_DIR / "lab.json").read_text())["key"]
    return subprocess.run(
        ["ssh", "-o", "BatchMode=yes", "-o", "ControlMaster=no", "-o", "ControlPath=none", "-o", "ConnectTimeout=5",
         "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
         "-i", key, "-p", str(lab()[name]["port"]), "socleadm@127.0.0.1", "true"],
        capture_output=True, text=True, timeout=30, check=False,
    )


def tcp_open(port: int, timeout: float = 3.0) -> bool:
    """Does a TCP connection to the loopback-published port get an answer from the service?"""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
            return sock.recv(12).startswith(b"HTTP/")
    except OSError:
        return False


def ruleset(node) -> str:
    return node.check_output("sudo -n nft list ruleset")


# -- effective state, read with independent probes ---------------------------------------------
def test_ruleset_loaded_and_persisted(host):
    text = host.check_output("sudo -n nft list table inet socle")
    assert "type filter hook input priority filter; policy drop;" in text
    assert 'ct state established,related accept' in text and 'iif "lo" accept' in text
    assert 'ip saddr 10.88.0.0/16 tcp dport 22 accept comment "socle:mgmt"' in text
    assert 'tcp dport 8443 accept comment "socle:svc https-test"' in text
    assert 'limit rate 5/minute burst 10 packets log prefix "socle-drop: "' in text
    lines = [line.strip() for line in text.splitlines()]
    first_drop = next(i for i, line in enumerate(lines) if " drop " in line and "policy" not in line)
    assert max(i for i, line in enumerate(lines) if "socle:mgmt" in line) < first_drop
    assert lines.index(next(line for line in lines if "socle:log" in line)) == len(lines) - 3
    assert host.service("socle-nftables").is_enabled
    assert host.file(SOCLE_FILE).exists
    assert host.run("systemctl is-active --quiet socle-nft-rollback.timer").rc != 0  # disarmed


def test_closed_port_is_closed_and_allowed_port_open_from_the_controller(host):
    name = host.backend.get_hostname()
    for port in (8080, 8443):
        host.check_output(f"sudo -n systemd-run --unit=fwtest-{port} --collect "
                          f"python3 -m http.server {port} --directory /tmp")
    try:
        for _ in range(20):  # the listeners answer locally (loopback is accepted)...
            ok = host.run("python3 -c \"import urllib.request as u; u.urlopen('http://127.0.0.1:8080/', timeout=2)\"")
            if ok.rc == 0:
                break
            time.sleep(0.5)
        assert ok.rc == 0, ok.stderr
        assert tcp_open(published(name, 8443))  # ...an allowed service is reachable from the controller...
        assert not tcp_open(published(name, 8080))  # ...and a port no policy opens is not.
    finally:
        host.run("sudo -n systemctl stop fwtest-8080 fwtest-8443")


def test_ssh_still_works_over_a_new_connection(host):
    proc = new_ssh(host.backend.get_hostname())
    assert proc.returncode == 0, proc.stderr


def test_the_table_survives_a_reboot():
    container = lab()["fw13"]["container"]
    env = {**os.environ, "CONTAINERS_CONF": str(Path(__file__).resolve().parents[3] / "lab" / "containers.conf")}
    subprocess.run(["podman", "restart", "-t", "5", container], env=env, check=True, capture_output=True, timeout=120)
    for _ in range(60):
        if new_ssh("fw13").returncode == 0:
            break
        time.sleep(1)
    node = lab_host("fw13")
    assert "socle:mgmt" in ruleset(node)
    assert node.service("socle-nftables").is_running or "socle" in ruleset(node)


# -- the records of molecule's check, converge and idempotence runs ------------------------------
def test_check_mode_predicted_exactly_what_apply_changed():
    audit, converge, idempotence = SCENARIO.molecule_runs()
    assert not audit.run.errors and not converge.run.errors
    for name in HOSTS:
        assert set(audit.hosts[name].controls) == CONTROLS
    # A fresh host has no table: one root cause, reported once (the baseline), and applied once.
    assert audit.setting_drift_pairs() == {(h, BASELINE) for h in HOSTS}
    assert audit.setting_drift_pairs() == converge.changed_pairs()
    assert idempotence.changed_pairs() == set()
    assert idempotence.exit_code() == 0


# -- refusals: nothing changes --------------------------------------------------------------------
def test_a_policy_that_would_lock_ansible_out_is_refused(tmp_path):
    node = lab_host("fw12")
    before = (ruleset(node), node.file(SOCLE_FILE).sha256sum)
    record = socle("apply", tmp_path, limit="fw12", extra_vars={"firewall_admin_networks": ["192.0.2.0/24"]})
    result = record.hosts["fw12"].controls[BASELINE]
    assert result.status == "error" and "refusing to load the firewall" in (result.message or "")
    assert "Nothing was changed" in result.message
    assert (ruleset(node), node.file(SOCLE_FILE).sha256sum) == before
    assert record.changed_pairs() == set()


def test_an_active_firewalld_is_a_conflict(tmp_path):
    node = lab_host("fw13")
    node.check_output("sudo -n systemd-run --unit=firewalld --remain-after-exit true")
    try:
        record = socle("audit", tmp_path, limit="fw13")
        result = record.hosts["fw13"].controls[BASELINE]
        assert result.status == "error" and "firewalld is active" in (result.message or "")
        assert "never runs two firewalls" in result.message
    finally:
        node.check_output("sudo -n systemctl stop firewalld.service")


def test_a_real_enabled_ufw_is_a_conflict_and_nothing_changes(tmp_path):
    node = lab_host("fw13")
    initial = ruleset(node)
    assert "table ip filter" not in initial
    node.check_output("sudo -n sh -c 'DEBIAN_FRONTEND=noninteractive apt-get install -y -q ufw >/dev/null'")
    try:
        # `ufw enable` loads its rules and sets ENABLED=yes; ufw.service itself only runs at boot.
        node.check_output("sudo -n sh -c 'ufw allow 22/tcp >/dev/null && ufw --force enable'")
        assert "table ip filter" in ruleset(node)
        # ufw's iptables rules carry counters, which move with the SSH traffic: compare Socle's table.
        socle_table = "sudo -n nft list table inet socle"
        before = (node.check_output(socle_table), node.file(SOCLE_FILE).sha256sum)
        record = socle("apply", tmp_path, limit="fw13")
        result = record.hosts["fw13"].controls[BASELINE]
        assert result.status == "error" and "ufw is enabled" in (result.message or ""), result
        assert "never runs two firewalls" in result.message
        assert record.changed_pairs() == set()
        assert (node.check_output(socle_table), node.file(SOCLE_FILE).sha256sum) == before
    finally:
        # ufw disable leaves its empty chains in iptables-nft's tables, which the lab host did not have.
        node.run("sudo -n sh -c 'ufw --force disable; DEBIAN_FRONTEND=noninteractive apt-get purge -y -q ufw;"
                 " nft delete table ip filter; nft delete table ip6 filter'")
    assert ruleset(node) == initial


# -- tables Socle does not own: neither drift nor touched ---------------------------------------------
FOREIGN = ("nft add table ip othertool; nft add chain ip othertool c;"
           " nft add rule ip othertool c ip saddr 198.51.100.7 drop; nft add set ip othertool s '{ type ipv4_addr; }';"
           " nft add element ip othertool s '{ 203.0.113.9 }'")


def test_tables_socle_does_not_own_are_left_alone(tmp_path):
    node = lab_host("fw13")
    node.check_output(f"sudo -n sh -c {shlex.quote(FOREIGN)}")
    try:
        before = node.check_output("sudo -n nft list table ip othertool")
        assert flagged(socle("audit", tmp_path / "clean", limit="fw13")) == set()
        node.check_output("sudo -n nft delete table inet socle")
        audit = socle("audit", tmp_path, limit="fw13")
        assert flagged(audit) == {("fw13", BASELINE)}, flagged(audit)
        fixed = socle("apply", tmp_path, limit="fw13")
        assert fixed.changed_pairs() == {("fw13", BASELINE)} and fixed.problem_pairs() == set()
        assert node.check_output("sudo -n nft list table ip othertool") == before
        assert "198.51.100.7" in before and "203.0.113.9" in before
    finally:
        node.run("sudo -n nft delete table ip othertool")


# -- the rollback, for real: a ruleset that cuts SSH comes back out by itself ----------------------
def test_a_ruleset_that_cuts_ssh_is_rolled_back(tmp_path):
    node = lab_host("fw12")
    before = ruleset(node)
    record = socle("apply", tmp_path, limit="fw12", extra_vars={
        "firewall_admin_networks": ["192.0.2.0/24"], "firewall_lockout_guard_enabled": False,
        "firewall_rollback_timeout_s": 20})
    # The new table was loaded (so the lockout really happened), then Ansible could not come back.
    # (Whether SSH is still cut now depends on how long the run took; /run/socle/rolled-back, written
    # by the rollback unit, proves below that the timer had to restore the ruleset.)
    assert record.hosts["fw12"].controls[MGMT].status in ("error", "unreachable")
    for _ in range(60):
        if new_ssh("fw12").returncode == 0:
            break
        time.sleep(1)
    assert new_ssh("fw12").returncode == 0, "the rollback timer did not restore SSH"
    node = lab_host("fw12")
    assert ruleset(node) == before
    assert "10.88.0.0/16" in node.check_output(f"sudo -n cat {SOCLE_FILE}")
    assert node.file("/run/socle/rolled-back").exists
    assert socle("audit", tmp_path / "after", limit="fw12").exit_code() == 0


# -- break one thing on each host: the audit names exactly that control ---------------------------
def _replace_mgmt_rule() -> str:
    """SSH accepted from anywhere (keeps the lab reachable, but the management path is no longer limited)."""
    return ("h=$(nft -a list table inet socle | grep socle:mgmt | head -1 | sed 's/.*handle //'); "
            "nft replace rule inet socle input handle $h tcp dport 22 accept comment '\"socle:mgmt\"'")


def _delete_rule(tag: str) -> str:
    return (f"h=$(nft -a list table inet socle | grep {tag} | sed 's/.*handle //'); "
            "nft delete rule inet socle input handle $h")


# Two rounds, both hosts broken at once (and twice on one host), to keep the scenario short.
PAIRS = [
    pytest.param({"fw12": [("nft add rule inet socle input tcp dport 8080 accept", BASELINE),
                           (_delete_rule("socle:log"), LOGGING)],
                  "fw13": [("nft delete table inet socle", BASELINE)]},
                 id="rule-added+log-rule-deleted+table-deleted"),
    pytest.param({"fw12": [("nft flush ruleset", BASELINE)],
                  "fw13": [(_replace_mgmt_rule(), MGMT), ("systemctl disable --quiet socle-nftables", BASELINE)]},
                 id="ruleset-flushed+ssh-open-to-all+boot-unit-disabled"),
]


@pytest.mark.parametrize("breakers", PAIRS)
def test_each_breakage_is_named_alone(tmp_path, breakers):
    for name, steps in breakers.items():
        for breaker, _control in steps:
            lab_host(name).check_output(f"sudo -n sh -c {shlex.quote(breaker)}")
    expected = {(name, control) for name, steps in breakers.items() for _b, control in steps}
    audit = socle("audit", tmp_path)
    assert flagged(audit) == expected, flagged(audit)
    assert audit.exit_code() == 2
    for name, control in expected:
        assert audit.hosts[name].controls[control].diff
    fixed = socle("apply", tmp_path)
    assert fixed.changed_pairs() == expected
    assert fixed.problem_pairs() == set()


def test_everything_is_compliant_at_the_end(tmp_path):
    audit = socle("audit", tmp_path)
    assert audit.exit_code() == 0, flagged(audit)
