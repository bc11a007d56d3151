"""module_utils/socle_accounts: parsers (passwd, shadow, login.defs, sudoers, lastlog, wtmp) and decisions."""

from __future__ import annotations

import struct

import pytest
from conftest import load_project_module

acc = load_project_module("module_utils", "socle_accounts")

NOW = 20785 * 86400 + 3600  # 2026-11-28
PASSWD = """root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
sync:x:4:65534:sync:/bin:/bin/sync
www-data:x:33:33:www-data:/var/www:/bin/bash
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
socleadm:x:1000:1000::/home/socleadm:/bin/bash
accueil:x:1001:1001::/home/accueil:/bin/bash
stagiaire2:x:1002:1002::/home/stagiaire2:/bin/sh
toor:x:0:0::/root:/bin/bash
broken line
bad:x:notanumber:1::/:/bin/sh
"""
SHADOW = """root:*:20785:0:99999:7:::
daemon:*:20785:0:99999:7:::
socleadm:$y$j9T$abc:20785:0:99999:7:::
accueil::20000:0:99999:7:::
stagiaire2:!$y$j9T$def:20000:0:99999:7:::
toor:$6$xyz:20785::::::
"""


def test_parse_passwd_skips_malformed_lines():
    users = acc.parse_passwd(PASSWD)
    assert [u["name"] for u in users] == ["root", "daemon", "sync", "www-data", "nobody", "socleadm",
                                          "accueil", "stagiaire2", "toor"]
    assert users[0] == {"name": "root", "uid": 0, "gid": 0, "home": "/root", "shell": "/bin/bash"}


def test_parse_shadow_keeps_no_hash():
    shadow = acc.parse_shadow(SHADOW)
    assert shadow["accueil"]["state"] == "empty"
    assert shadow["stagiaire2"]["state"] == "locked"
    assert shadow["root"]["state"] == "locked"
    assert shadow["socleadm"] == {"state": "set", "lock_mark": False, "lastchg": 20785, "min": 0, "max": 99999,
                                  "warn": 7, "expire": None}
    # "!" is what usermod -L adds (and what the lock of departed accounts looks for); "*" is locked, not marked.
    assert shadow["stagiaire2"]["lock_mark"] and not shadow["root"]["lock_mark"]
    assert "$y$" not in repr(shadow)


def test_parse_login_defs_last_value_wins():
    text = "# PASS_MAX_DAYS 1\nPASS_MAX_DAYS\t99999\nUID_MIN\t\t\t 1000\nPASS_MAX_DAYS 90\nENCRYPT_METHOD \"SHA512\"\n"
    values = acc.parse_login_defs(text)
    assert values == {"PASS_MAX_DAYS": "90", "UID_MIN": "1000", "ENCRYPT_METHOD": "SHA512"}


SUDOERS = """# comment ALL ALL=(ALL) NOPASSWD: ALL
Defaults env_reset
User_Alias EVERYONE = ALL
Cmnd_Alias EVERYTHING = ALL
root ALL=(ALL:ALL) ALL
%sudo ALL=(ALL:ALL) ALL
socleadm ALL=(ALL:ALL) NOPASSWD: ALL
@includedir /etc/sudoers.d
#include /etc/sudoers.local
"""


@pytest.mark.parametrize(
    ("line", "users", "nopasswd_all"),
    [
        ("ALL ALL=(ALL) NOPASSWD: ALL", ["ALL"], True),
        ("%users ALL = (ALL:ALL) NOPASSWD:ALL", ["%users"], True),
        ("%users ALL=(ALL) NOPASSWD: /usr/bin/apt, PASSWD: ALL", ["%users"], False),
        ("%users ALL=(ALL) NOPASSWD: /usr/bin/apt, ALL", ["%users"], True),
        ("alice,bob ALL=(root) NOPASSWD: SETENV: ALL", ["alice", "bob"], True),
        ("EVERYONE ALL=(ALL) NOPASSWD: EVERYTHING", ["ALL"], True),
        ("ALL ALL=(ALL) ALL", ["ALL"], False),
        ("%users ALL=(ALL) NOPASSWD: /usr/bin/systemctl restart cups", ["%users"], False),
    ],
)
def test_sudoers_rules(line, users, nopasswd_all):
    lines = acc.sudoers_logical_lines("User_Alias EVERYONE = ALL\nCmnd_Alias EVERYTHING = ALL\n" + line + "\n")
    rules = acc.parse_sudoers_rules(lines)
    assert len(rules) == 1
    assert rules[0]["users"] == users and rules[0]["nopasswd_all"] is nopasswd_all


def test_sudoers_comments_continuations_and_includes():
    lines = acc.sudoers_logical_lines(SUDOERS + "ALL ALL=(ALL) \\\n  NOPASSWD: ALL  # trailing comment\n")
    assert "ALL ALL=(ALL) NOPASSWD: ALL" in lines
    assert not any(line.startswith("# comment") for line in lines)
    assert acc.sudoers_includes(SUDOERS) == [("dir", "/etc/sudoers.d"), ("file", "/etc/sudoers.local")]
    rules = acc.parse_sudoers_rules(lines)
    assert [r["users"] for r in rules if r["nopasswd_all"]] == [["socleadm"], ["ALL"]]


def test_parse_lastlog_reads_sparse_records():
    record = acc.LASTLOG_RECORD
    data = bytearray(record.size * 1002)
    record.pack_into(data, record.size * 1000, NOW - 86400, b"pts/0", b"10.0.0.1")
    assert acc.parse_lastlog(bytes(data), [0, 1000, 1001, 5000]) == {1000: NOW - 86400}
    assert acc.parse_lastlog(b"", [1000]) == {}


def utmp(kind: int, user: str, when: int) -> bytes:
    return acc.UTMP_RECORD.pack(kind, 42, b"pts/0", b"ts/0", user.encode(), b"host", 0, 0, 0, when, 0,
                                0, 0, 0, 0, b"")


def test_parse_wtmp_keeps_the_latest_user_login():
    assert acc.UTMP_RECORD.size == 384
    data = utmp(7, "alice", 100) + utmp(7, "alice", 300) + utmp(8, "alice", 900) + utmp(2, "reboot", 50)
    assert acc.parse_wtmp(data + b"\0" * 10) == {"alice": 300}


@pytest.mark.parametrize(
    ("name", "match"),
    [("accueil", "accueil"), ("Accueil", "accueil"), ("stagiaire2", "stagiaire"), ("stagiaire-12", "stagiaire"),
     ("stagiairelea", None), ("administrateur", None), ("user", "user"), ("lea.martin", None)],
)
def test_generic_match(name, match):
    assert acc.generic_match(name, ["accueil", "stagiaire", "admin", "user"]) == match


def assess(**kw):
    users = acc.parse_passwd(kw.pop("passwd", PASSWD))
    shadow = acc.parse_shadow(kw.pop("shadow", SHADOW))
    rules = acc.parse_sudoers_rules(acc.sudoers_logical_lines(kw.pop("sudoers", SUDOERS)))
    options = {"uid_min": 1000, "generic": ["accueil", "stagiaire"], "broad_groups": ["users"],
               "unused_days": 90, "now": NOW, "operator": "socleadm"}
    options.update(kw)
    logins = options.pop("logins", {"socleadm": NOW})
    return acc.assess(users, shadow, rules, logins, **options)


def test_assess_reports_each_problem_under_its_control():
    found = assess()
    assert found["M5-LNX-EMPTY-PASSWORDS"]["status"] == "drift"
    assert "accueil" in found["M5-LNX-EMPTY-PASSWORDS"]["actual"]
    assert found["M5-LNX-EXTRA-UID0"] == {"status": "drift", "expected": "root is the only UID 0 account",
                                          "actual": "other UID 0 accounts: toor"}
    # stagiaire2 is locked: closed accounts are not reported as shared
    assert found["M5-LNX-SHARED-ACCOUNTS"]["actual"] == "generic accounts: accueil (accueil)"
    assert "www-data (/bin/bash)" in found["M5-LNX-SYSTEM-SHELLS"]["actual"]
    assert "sync" not in found["M5-LNX-SYSTEM-SHELLS"]["actual"]
    # socleadm NOPASSWD ALL is a named rule, not a grant to everyone
    assert found["M5-LNX-SUDO-NOPASSWD"]["status"] == "compliant"
    # accueil never logged in and its password dates from day 20000: unused
    assert found["M5-LNX-UNUSED-ACCOUNTS"]["actual"] == "unused accounts: accueil (never logged in)"


def test_assess_clean_host_is_compliant():
    passwd = "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/:/usr/sbin/nologin\nsocleadm:x:1000:1000::/h:/bin/bash\n"
    shadow = "root:*:20785:0:99999:7:::\nsocleadm:$y$x:20785:0:99999:7:::\n"
    found = assess(passwd=passwd, shadow=shadow, sudoers="socleadm ALL=(ALL) NOPASSWD: ALL\n")
    assert {c: f["status"] for c, f in found.items()} == {c: "compliant" for c in found}
    assert len(found) == 6


def test_assess_sudo_grant_to_everyone_is_drift():
    found = assess(sudoers="%users ALL=(ALL) NOPASSWD: ALL\n")
    assert found["M5-LNX-SUDO-NOPASSWD"]["status"] == "drift"
    assert "%users ALL=(ALL) NOPASSWD: ALL" in found["M5-LNX-SUDO-NOPASSWD"]["actual"]


def test_unused_accounts_not_applicable_without_records_and_old_login_is_drift():
    assert assess(logins=None)["M5-LNX-UNUSED-ACCOUNTS"]["status"] == "not_applicable"
    found = assess(logins={"socleadm": NOW - 200 * 86400, "accueil": NOW - 10 * 86400}, operator=None)
    assert found["M5-LNX-UNUSED-ACCOUNTS"]["actual"] == "unused accounts: socleadm (last login 200 days ago)"
    # the operator is never reported as unused, and an expired account is closed
    shadow = SHADOW.replace("accueil::20000:0:99999:7:::", "accueil::20000:0:99999:7::1:")
    assert assess(shadow=shadow)["M5-LNX-UNUSED-ACCOUNTS"]["status"] == "compliant"


def test_struct_sizes_match_x86_64_glibc():
    assert struct.calcsize(acc.LASTLOG_RECORD.format) == 292
