"""socle_nftables: rendering, parsing, part attribution, lockout decision, conflicts, check mode, rollback."""

from __future__ import annotations

import re
import sys

import pytest
from conftest import load_project_module

nft_mod = load_project_module("library", "socle_nftables")
nft_host = sys.modules["ansible.module_utils.socle_nftables_host"]

SPEC = {
    "table": "socle", "admin_networks": ["192.168.10.0/24", "10.1.0.0/16"], "ssh_port": 22,
    "allowed_services": [], "allow_ping": True, "log_drops": True, "log_rate_per_minute": 5,
    "log_burst": 10, "log_prefix": "socle-drop: ",
}

# What `nft list table inet socle` prints once SPEC is loaded (nft 1.0.6 on Debian 12 and 1.1.x on 13
# print the same), with the handles `nft -a` adds.
LISTED = """table inet socle { # handle 7
\tchain input { # handle 1
\t\ttype filter hook input priority filter; policy drop;
\t\tct state established,related accept comment "socle:base" # handle 2
\t\tiif "lo" accept comment "socle:base" # handle 3
\t\tip saddr { 10.1.0.0/16, 192.168.10.0/24 } tcp dport 22 accept comment "socle:mgmt" # handle 4
\t\tct state invalid drop comment "socle:base" # handle 5
\t\ticmpv6 type { nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert } accept comment "socle:base" # handle 9
\t\ticmp type echo-request accept comment "socle:base" # handle 10
\t\ticmpv6 type echo-request accept comment "socle:base" # handle 6
\t\tlimit rate 5/minute burst 10 packets log prefix "socle-drop: " comment "socle:log" # handle 8
\t}
}
"""


def spec(**changes) -> dict:
    return {**SPEC, **changes}


# -- rendering ------------------------------------------------------------------------------------
def test_render_matches_what_nft_lists():
    assert nft_host.normalise(nft_host.render_table(SPEC)) == nft_host.normalise(LISTED)


def test_render_is_deterministic_and_collapses_networks():
    a = nft_host.render_table(spec(admin_networks=["10.1.0.0/16", "192.168.10.0/24", "10.1.2.0/24"]))
    b = nft_host.render_table(spec(admin_networks=["192.168.10.0/24", "10.1.0.0/16"]))
    assert a == b


def test_render_management_rule_comes_before_any_drop_and_log_last():
    lines = nft_host.render_table(spec(admin_networks=["fd00::/8", "192.0.2.7/32"])).splitlines()
    mgmt = [i for i, line in enumerate(lines) if "socle:mgmt" in line]
    drops = [i for i, line in enumerate(lines) if " drop " in line and "policy" not in line]
    assert mgmt and max(mgmt) < min(drops)
    assert "ip saddr 192.0.2.7 tcp dport 22 accept" in lines[mgmt[0]]
    assert "ip6 saddr fd00::/8 tcp dport 22 accept" in lines[mgmt[1]]
    assert "socle:log" in lines[-3]


def test_render_services_and_options():
    text = nft_host.render_table(spec(
        allowed_services=[{"port": 443, "proto": "tcp", "sources": [], "comment": "https"},
                          {"port": 123, "proto": "udp", "sources": ["10.0.0.0/8", "fd00::/8"], "comment": "ntp"}],
        log_drops=False, allow_ping=False, ssh_port=2222))
    assert '\t\ttcp dport 443 accept comment "socle:svc https"\n' in text
    assert '\t\tip saddr 10.0.0.0/8 udp dport 123 accept comment "socle:svc ntp"\n' in text
    assert '\t\tip6 saddr fd00::/8 udp dport 123 accept comment "socle:svc ntp"\n' in text
    assert "tcp dport 2222 accept" in text
    assert "log prefix" not in text and "echo-request" not in text and "nd-neighbor-solicit" in text


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"admin_networks": []}, "at least one network"),
        ({"admin_networks": ["10.0.0.1/8"]}, "10.0.0.1/8"),
        ({"admin_networks": ["partout"]}, "not a network"),
        ({"allowed_services": [{"port": 0, "proto": "tcp"}]}, "port"),
        ({"allowed_services": [{"port": 80, "proto": "sctp"}]}, "proto"),
        ({"allowed_services": [{"port": 80, "comment": 'x" accept'}]}, "comment"),
        ({"allowed_services": [{"port": 80, "sources": ["300.1.1.1/32"]}]}, "sources"),
        ({"log_prefix": 'a"b'}, "log_prefix"),
    ],
)
def test_render_rejects_bad_policy(changes, words):
    with pytest.raises(ValueError, match=re.escape(words)):
        nft_host.render_table(spec(**changes))


def test_persisted_file_replaces_only_its_table():
    text = nft_host.render_file(nft_host.render_table(SPEC), "socle")
    assert "flush ruleset" not in text
    assert "table inet socle\ndelete table inet socle\ntable inet socle {\n" in text


# -- parsing and part attribution -----------------------------------------------------------------
def test_normalise_drops_handles_and_spacing():
    assert "# handle" not in nft_host.normalise(LISTED)
    assert nft_host.normalise("  table inet socle {  \n\n}\n") == "table inet socle {\n}\n"
    assert nft_host.normalise(None) is None
    assert nft_host.pretty(nft_host.normalise(LISTED)) == nft_host.render_table(SPEC)


def _without(tag: str) -> str:
    return "".join(line + "\n" for line in LISTED.splitlines() if tag not in line)


WANTED = nft_host.render_table(SPEC)


@pytest.mark.parametrize(
    ("live", "wanted", "parts"),
    [
        pytest.param(LISTED, WANTED, set(), id="idempotent"),
        pytest.param(None, WANTED, {"baseline"}, id="table-absent-is-one-baseline-drift"),
        pytest.param(LISTED.replace("hook input", "hook forward"), WANTED, {"baseline"}, id="not-an-input-chain"),
        pytest.param(_without("socle:mgmt"), WANTED, {"mgmt"}, id="ssh-rule-deleted"),
        pytest.param(LISTED.replace("10.1.0.0/16, ", ""), WANTED, {"mgmt"}, id="admin-network-removed"),
        pytest.param(_without("socle:log"), WANTED, {"logging"}, id="log-rule-deleted"),
        pytest.param(LISTED.replace("5/minute", "50/minute"), WANTED, {"logging"}, id="log-rate-changed"),
        pytest.param(LISTED.replace("policy drop", "policy accept"), WANTED, {"baseline"}, id="policy-accept"),
        pytest.param(LISTED.replace("\t}\n}", "\t\ttcp dport 8080 accept\n\t}\n}"), WANTED, {"baseline"},
                     id="rule-added"),
        pytest.param(LISTED.replace("drop comment", "accept comment"), WANTED, {"baseline"}, id="invalid-accepted"),
        pytest.param(_without("socle:mgmt").replace("\t\tct state invalid", "\t\tct state invalid")
                     .replace('6\n\t\tlimit', '6\n' + [line for line in LISTED.splitlines() if "socle:mgmt" in line][0]
                              + '\n\t\tlimit'), WANTED, {"baseline"}, id="ssh-rule-moved-after-drop"),
    ],
)
def test_changed_parts(live, wanted, parts):
    result = nft_host.changed_parts(live, wanted)
    assert {p for p, changed in result.items() if changed} == parts


# -- lockout decision -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("10.88.0.1 47514 10.88.0.54 22", ("10.88.0.1", 22)),
        ("fe80::1%eth0 5000 fe80::2 2222", ("fe80::1", 2222)),
        ("::ffff:192.168.10.5 5000 ::ffff:192.168.10.9 22", ("::ffff:192.168.10.5", 22)),
        ("", None), (None, None), ("10.0.0.1 1 2", None), ("nobody 1 2 22", None), ("10.0.0.1 1 x y", None),
    ],
)
def test_parse_ssh_connection(value, parsed):
    assert nft_host.parse_ssh_connection(value) == parsed


SERVICES = [{"port": 8443, "proto": "tcp", "sources": ["203.0.113.0/24"]}, {"port": 9000, "proto": "udp"},
            {"port": 2200, "proto": "tcp", "sources": []}]


@pytest.mark.parametrize(
    ("networks", "client", "port", "allowed"),
    [
        (["192.168.10.0/24"], "192.168.10.5", 22, True),
        (["192.168.10.0/24"], "192.168.11.5", 22, False),
        (["192.168.10.0/24"], "192.168.10.5", 2222, False),
        (["192.168.10.0/24"], "::ffff:192.168.10.5", 22, True),
        (["fd00:1::/64"], "fd00:1::10", 22, True),
        (["fd00:1::/64"], "fd00:2::10", 22, False),
        (["192.168.10.0/24"], "fd00:1::10", 22, False),
        (["fd00:1::/64"], "192.168.10.5", 22, False),
        (["192.0.2.0/24"], "127.0.0.1", 22, True),
        (["192.0.2.0/24"], "::1", 22, True),
        (["192.0.2.0/24"], "203.0.113.9", 8443, True),
        (["192.0.2.0/24"], "198.51.100.9", 8443, False),
        (["192.0.2.0/24"], "198.51.100.9", 9000, False),
        (["192.0.2.0/24"], "198.51.100.9", 2200, True),
    ],
)
def test_connection_allowed(networks, client, port, allowed):
    ok, _rule = nft_host.connection_allowed(spec(admin_networks=networks, allowed_services=SERVICES), client, port)
    assert ok is allowed


def test_ssh_connection_is_found_in_an_ancestor(tmp_path):
    def proc(pid, ppid, env):
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "environ").write_bytes(b"\0".join(env) + b"\0")
        (tmp_path / str(pid) / "stat").write_text(f"{pid} (sudo (x)) S {ppid} 1 1\n")

    proc(300, 200, [b"PATH=/bin"])
    proc(200, 100, [b"SUDO_USER=socleadm"])
    proc(100, 1, [b"SSH_CONNECTION=10.88.0.1 5 10.88.0.2 22", b"USER=socleadm"])
    assert nft_host.find_ssh_connection({}, str(tmp_path), 300) == "10.88.0.1 5 10.88.0.2 22"
    assert nft_host.find_ssh_connection({"SSH_CONNECTION": "a"}, str(tmp_path), 300) == "a"
    assert nft_host.find_ssh_connection({}, str(tmp_path), 200) == "10.88.0.1 5 10.88.0.2 22"
    assert nft_host.find_ssh_connection({}, str(tmp_path / "none"), 300) is None


# -- conflicts ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("active", "ufw_conf", "installed", "found"),
    [
        ({}, None, False, []),
        ({"firewalld.service": True}, None, False, ["firewalld"]),
        ({"ufw.service": True}, "# comment\nENABLED=yes\nLOGLEVEL=low\n", True, ["ufw"]),
        ({"ufw.service": True}, "ENABLED=no\n", True, []),  # the unit is active but ufw is off
        ({"ufw.service": False}, "ENABLED=yes\n", False, []),  # ufw removed, not purged: its conf is left
        # `ufw enable` loads the rules without starting ufw.service (which only loads them at boot)
        ({"ufw.service": False}, "ENABLED=yes\n", True, ["ufw"]),
        ({"ufw.service": True, "firewalld.service": True}, "ENABLED='yes'\n", True, ["firewalld", "ufw"]),
    ],
)
def test_conflicts(active, ufw_conf, installed, found):
    result = nft_host.conflicts(active, ufw_conf, installed)
    assert [item.split()[0] for item in result] == found
    if found:
        assert "never runs two firewalls" in nft_host.conflict_message(result)


# -- the module, against a fake host --------------------------------------------------------------
class FakeHost:
    """The kernel table, the units and systemctl/nft/systemd-run as the module calls them."""

    def __init__(self, table=None, active=(), has_nft=True, enabled=False, load_ok=True):
        self.table, self.active, self.has_nft = table, set(active), has_nft
        self.enabled, self.load_ok, self.calls, self.timer = enabled, load_ok, [], False

    def run_command(self, args, **_kw):
        args = list(args)
        self.calls.append(args)
        if args[:2] == ["systemctl", "is-active"]:
            unit = args[-1]
            up = unit in self.active or (unit == "socle-nft-rollback.timer" and self.timer)
            return (0 if up else 3), "", ""
        if args[:2] == ["systemctl", "is-enabled"]:
            return (0, "enabled\n", "") if self.enabled else (1, "disabled\n", "")
        if args[:2] == ["systemctl", "enable"]:
            self.enabled = True
        if args[:2] == ["systemctl", "stop"]:
            self.timer = False
        if args[0] == "systemd-run":
            self.timer = True
        if args[0].endswith("nft") and args[1:3] == ["list", "table"]:
            if self.table is None:
                return 1, "", "Error: No such file or directory; did you mean table 'filter' in family inet?"
            return 0, self.table, ""
        if args[0].endswith("nft") and args[1] == "-f":
            if not self.load_ok:
                return 1, "", "Error: syntax error"
            text = open(args[2], encoding="utf-8").read()
            self.table = text[text.index("table inet socle {"):]
        return 0, "", ""


@pytest.fixture
def host(monkeypatch, tmp_path):
    for where in (nft_mod, nft_host):  # the module's apply, and the check it shares with socle_facts
        monkeypatch.setattr(where, "RUN_DIR", str(tmp_path / "run"))
    monkeypatch.setattr(nft_host, "UNIT_DIR", str(tmp_path / "units"))
    (tmp_path / "units").mkdir()
    monkeypatch.setenv("SSH_CONNECTION", "192.168.10.5 50000 192.168.10.9 22")
    monkeypatch.setattr(nft_host, "read_text", lambda path, _real=nft_host.read_text:
                        None if path == "/etc/ufw/ufw.conf" else _real(path))

    def make(**kw):
        fake = FakeHost(**kw)
        monkeypatch.setattr(nft_mod.AnsibleModule, "run_command", lambda self, a, **k: fake.run_command(a, **k))
        monkeypatch.setattr(nft_mod.AnsibleModule, "get_bin_path",
                            lambda self, n, *a, **k: "/usr/sbin/nft" if fake.has_nft else None)
        fake.path = str(tmp_path / "socle.nft")
        return fake

    return make


def margs(fake, **extra) -> dict:
    return {"admin_networks": SPEC["admin_networks"], "path": fake.path, "proc_root": "/nonexistent", **extra}


def changing(fake) -> list[list[str]]:
    return [c for c in fake.calls if c[0] == "systemd-run" or (c[0].endswith("nft") and c[1] == "-f")
            or c[1:2] in (["enable"], ["daemon-reload"])]


def test_check_mode_on_a_fresh_host_without_nft(run_module, host):
    fake = host(has_nft=False)
    result = run_module(nft_mod, margs(fake), check_mode=True)
    assert result["changed"] is True and not result.get("failed")
    assert result["socle_parts"] == {"baseline": True, "mgmt": False, "logging": False}
    assert 'tcp dport 22 accept comment "socle:mgmt"' in result["diff"][0]["after"]
    assert changing(fake) == [] and fake.table is None


def test_apply_then_idempotent_then_confirm(run_module, host):
    fake = host()
    first = run_module(nft_mod, margs(fake))
    assert first["changed"] is True and first["rollback"]["armed"] is True and fake.timer
    assert nft_host.normalise(fake.table) == nft_host.normalise(WANTED) and fake.enabled
    assert ["/usr/sbin/nft", "-c", "-f"] == fake.calls[[c[1] for c in fake.calls].index("-c")][:3]
    # Order: validate, then arm the rollback timer, then load the ruleset (one atomic nft -f).
    steps = [("check" if c[1] == "-c" else "load") if c[0].endswith("nft") and "-f" in c[1:3] else "arm"
             for c in fake.calls if c[0] == "systemd-run" or (c[0].endswith("nft") and "-f" in c[1:3])]
    assert steps == ["check", "arm", "load"], fake.calls
    confirmed = run_module(nft_mod, {"state": "confirm", "part": "mgmt", "report": first})
    assert confirmed["changed"] is False and confirmed["disarmed"] is True and not fake.timer
    fake.calls.clear()
    second = run_module(nft_mod, margs(fake))
    assert second["changed"] is False and second["rollback"]["armed"] is False
    assert changing(fake) == []


def test_drift_is_attributed_and_confirm_reports_its_part(run_module, host):
    fake = host(table=_without("socle:log"), enabled=True)
    run_module(nft_mod, margs(fake))  # writes file and unit
    fake.table = _without("socle:log")
    check = run_module(nft_mod, margs(fake), check_mode=True)
    assert check["socle_parts"] == {"baseline": False, "mgmt": False, "logging": True}
    logging = run_module(nft_mod, {"state": "confirm", "part": "logging", "report": check}, check_mode=True)
    assert logging["changed"] is True and "socle:log" in logging["diff"]["after"]
    mgmt = run_module(nft_mod, {"state": "confirm", "part": "mgmt", "report": check}, check_mode=True)
    assert mgmt["changed"] is False


def test_lockout_is_refused_before_anything_changes(run_module, host, monkeypatch):
    monkeypatch.setenv("SSH_CONNECTION", "172.20.0.4 50000 172.20.0.9 22")
    fake = host()
    result = run_module(nft_mod, margs(fake))
    assert result["failed"] is True
    assert "172.20.0.4" in result["msg"] and "Nothing was changed" in result["msg"]
    assert changing(fake) == [] and fake.table is None


def test_lockout_on_the_ssh_port(run_module, host, monkeypatch):
    monkeypatch.setenv("SSH_CONNECTION", "192.168.10.5 50000 192.168.10.9 2222")
    result = run_module(nft_mod, margs(host()), check_mode=True)
    assert result["failed"] is True and "port 2222" in result["msg"]


def test_lockout_guard_off_for_the_rollback_test(run_module, host, monkeypatch):
    monkeypatch.setenv("SSH_CONNECTION", "172.20.0.4 50000 172.20.0.9 22")
    fake = host()
    result = run_module(nft_mod, margs(fake, lockout_guard=False))
    assert result["changed"] is True and result["lockout"]["allowed_by"] is None and fake.timer


def test_conflicting_firewall_fails_before_anything_changes(run_module, host):
    fake = host(active={"firewalld.service"})
    result = run_module(nft_mod, margs(fake), check_mode=True)
    assert result["failed"] is True and "firewalld is active" in result["msg"]
    assert changing(fake) == []


def test_rejected_load_restores_and_disarms(run_module, host, tmp_path):
    fake = host(table=None, load_ok=False)
    result = run_module(nft_mod, margs(fake))
    assert result["failed"] is True and "previous table and file restored" in result["msg"]
    assert ["/bin/sh", str(tmp_path / "run" / "rollback.sh")] in fake.calls
    assert not fake.timer
    script = (tmp_path / "run" / "rollback.sh").read_text()
    assert f"rm -f {fake.path}" in script and "-f " + str(tmp_path / "run" / "rollback.nft") in script


def test_rollback_file_restores_the_previous_table(run_module, host, tmp_path):
    fake = host(table=LISTED, enabled=True)
    result = run_module(nft_mod, margs(fake, admin_networks=["192.168.10.0/24"]))
    assert result["socle_parts"]["mgmt"] is True
    backup = (tmp_path / "run" / "rollback.nft").read_text()
    assert backup.startswith("table inet socle\ndelete table inet socle\n") and "10.1.0.0/16" in backup


def test_confirm_after_a_rollback_fails(run_module, host, tmp_path):
    fake = host()
    first = run_module(nft_mod, margs(fake))
    fake.timer = False
    (tmp_path / "run" / "rolled-back").write_text("")
    result = run_module(nft_mod, {"state": "confirm", "part": "mgmt", "report": first})
    assert result["failed"] is True and "restored" in result["msg"]


def test_confirm_of_a_failed_load_is_an_error(run_module, host):
    host()
    result = run_module(nft_mod, {"state": "confirm", "report": {"failed": True, "msg": "refusing"}})
    assert result["failed"] is True and "refusing" in result["msg"]


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ({"table": "Socle!"}, "table"),
        ({"ssh_port": 70000}, "ssh_port"),
        ({"rollback_timeout_s": 5}, "rollback_timeout_s"),
        ({"log_rate_per_minute": 0}, "log_rate_per_minute"),
        ({"admin_networks": []}, "admin_networks"),
        ({"allowed_services": [{"port": 80, "proto": "icmp"}]}, "proto"),
    ],
)
def test_bad_arguments(run_module, host, extra, words):
    fake = host()
    result = run_module(nft_mod, margs(fake, **extra), check_mode=True)
    assert result["failed"] is True and words in result["msg"]
    assert changing(fake) == []


def test_the_connection_given_by_the_role_wins_over_the_environment(run_module, host, monkeypatch):
    monkeypatch.delenv("SSH_CONNECTION")
    refused = run_module(nft_mod, margs(host(), ssh_connection="172.20.0.4 5 172.20.0.9 22\n"), check_mode=True)
    assert refused["failed"] is True and "172.20.0.4" in refused["msg"]
    allowed = run_module(nft_mod, margs(host(), ssh_connection="10.1.2.3 5 10.1.0.9 22"), check_mode=True)
    assert allowed["lockout"]["allowed_by"] == "management rule"
    unknown = run_module(nft_mod, margs(host()), check_mode=True)  # console or local connection: no guard
    assert unknown["lockout"] == {"connection": None, "allowed_by": None} and not unknown.get("failed")
