"""socle_accounts_audit: one read-only call, one finding per control, login records merged."""

from __future__ import annotations

import sqlite3
import sys

import pytest
from conftest import load_project_module

audit = load_project_module("library", "socle_accounts_audit")
acc = load_project_module("module_utils", "socle_accounts")
host_side = sys.modules["ansible.module_utils.socle_accounts_host"]  # what the module runs

PASSWD = ("root:x:0:0:root:/root:/bin/bash\nsocleadm:x:1000:1000::/home/socleadm:/bin/bash\n"
          "lea:x:1001:1001::/home/lea:/bin/bash\n")
SHADOW = "root:*:20785:0:99999:7:::\nsocleadm:$y$a:20785:0:99999:7:::\nlea:$y$b:20785:0:99999:7:::\n"


@pytest.fixture
def host(monkeypatch, tmp_path):
    def make(passwd=PASSWD, shadow=SHADOW, sudoers="socleadm ALL=(ALL) NOPASSWD: ALL\n", getent_rc=0):
        etc = tmp_path / "etc"
        (etc / "sudoers.d").mkdir(parents=True, exist_ok=True)
        (etc / "sudoers").write_text(sudoers + f"@includedir {etc / 'sudoers.d'}\n")
        (etc / "login.defs").write_text("UID_MIN 1000\n")
        calls = []

        def run_command(self, args, **_kw):
            calls.append(list(args))
            return (getent_rc, passwd if args[1] == "passwd" else shadow, "boom")

        monkeypatch.setattr(audit.AnsibleModule, "run_command", run_command)
        monkeypatch.setattr(host_side, "SUDOERS", str(etc / "sudoers"))
        monkeypatch.setattr(host_side, "LASTLOG", str(tmp_path / "lastlog"))
        monkeypatch.setattr(host_side, "WTMP", str(tmp_path / "wtmp"))
        monkeypatch.setattr(host_side, "WTMPDB", str(tmp_path / "wtmp.db"))
        monkeypatch.setattr(host_side, "LASTLOG2", str(tmp_path / "lastlog2.db"))
        real_read = host_side.read_text
        monkeypatch.setattr(host_side, "read_text",
                            lambda p: real_read(str(etc / "login.defs")) if p == "/etc/login.defs" else real_read(p))
        monkeypatch.setenv("SUDO_USER", "socleadm")
        return tmp_path, etc, calls

    return make


def test_clean_host_all_compliant_and_no_login_record_is_not_applicable(host, run_module):
    _tmp, _etc, calls = host()
    result = run_module(audit, {}, check_mode=True)
    assert result["changed"] is False
    assert result["operator"] == "socleadm"
    assert result["human_accounts"] == ["lea", "socleadm"]
    statuses = {c: f["status"] for c, f in result["socle_findings"].items()}
    assert statuses.pop("M5-LNX-UNUSED-ACCOUNTS") == "not_applicable"
    assert set(statuses.values()) == {"compliant"}
    assert calls == [["getent", "passwd"], ["getent", "shadow"]]


def test_same_result_in_check_mode_and_apply(host, run_module):
    host()
    assert run_module(audit, {}, check_mode=True)["socle_findings"] == run_module(audit, {})["socle_findings"]


def test_included_sudoers_file_is_read_and_dotted_names_are_skipped(host, run_module):
    _tmp, etc, _calls = host()
    (etc / "sudoers.d" / "everyone").write_text("ALL ALL=(ALL) NOPASSWD: ALL\n")
    (etc / "sudoers.d" / "skipped.bak").write_text("%users ALL=(ALL) NOPASSWD: ALL\n")
    finding = run_module(audit, {})["socle_findings"]["M5-LNX-SUDO-NOPASSWD"]
    assert finding["status"] == "drift"
    assert finding["actual"] == "rules: ALL ALL=(ALL) NOPASSWD: ALL"


def test_wtmp_wtmpdb_and_lastlog2_are_merged(host, run_module):
    tmp, _etc, _calls = host()
    old = 1_000_000
    (tmp / "wtmp").write_bytes(acc.UTMP_RECORD.pack(7, 1, b"pts/0", b"ts/0", b"lea", b"h", 0, 0, 0, old, 0,
                                                    0, 0, 0, 0, b""))
    db = sqlite3.connect(tmp / "wtmp.db")
    db.execute("CREATE TABLE wtmp (ID INTEGER PRIMARY KEY, Type INTEGER, User TEXT, Login INTEGER, Logout INTEGER,"
               " TTY TEXT, RemoteHost TEXT, Service TEXT)")
    db.execute("INSERT INTO wtmp (Type, User, Login) VALUES (3, 'socleadm', 1700000000000000)")
    db.commit()
    db.close()
    db = sqlite3.connect(tmp / "lastlog2.db")
    db.execute("CREATE TABLE Lastlog2 (Name TEXT PRIMARY KEY, Time INTEGER, TTY TEXT, RemoteHost TEXT, Service TEXT)")
    db.execute("INSERT INTO Lastlog2 VALUES ('root', 1700000000, 'tty1', '', 'login')")
    db.commit()
    db.close()
    result = run_module(audit, {"unused_days": 30})
    assert result["login_sources"] == [str(tmp / "wtmp"), str(tmp / "wtmp.db"), str(tmp / "lastlog2.db")]
    finding = result["socle_findings"]["M5-LNX-UNUSED-ACCOUNTS"]
    assert finding["status"] == "drift"
    assert finding["actual"].startswith("unused accounts: lea (last login ")


def test_departed_present_lists_only_existing_accounts(host, run_module):
    host()
    assert run_module(audit, {"departed": ["lea", "ghost"]})["departed_present"] == ["lea"]


@pytest.mark.parametrize(
    ("kwargs", "args", "message"),
    [
        ({}, {"unused_days": 0}, "unused_days must be at least 1"),
        ({"getent_rc": 1}, {}, "getent passwd failed"),
        ({"passwd": ""}, {}, "no account"),
        ({}, {"generic_names": "accueil", "bogus": 1}, "Unsupported parameters"),
    ],
)
def test_bad_arguments_and_failures(host, run_module, kwargs, args, message):
    host(**kwargs)
    result = run_module(audit, args)
    assert result["failed"] is True and message in result["msg"]

