"""module_utils/socle_windows_accounts: the Windows account decisions of measure 5, on recorded outputs.

No Windows host is reachable here: the fixtures (tests/fixtures/windows) are written in the formats
the probe returns (ConvertTo-Json of Get-LocalUser and Get-LocalGroupMember with SIDs and ISO 8601
dates, an ``auditpol /backup`` CSV), for a French Windows 11 workgroup PC (PC-ACCUEIL) and a French
Windows Server 2022 joined to a domain (SRV-FICHIERS in EHPAD-LILAS). Findings proven here:
M5-WIN-EMPTY-PASSWORDS, M5-WIN-ADMINS-MEMBERSHIP, M5-WIN-SHARED-ACCOUNTS, M5-WIN-UNUSED-ACCOUNTS,
M5-WIN-DEPARTED-LOCKED (and its guard), M5-WIN-LOGON-AUDIT, M5-WIN-LOCAL-ADMIN-ROTATION.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from ansible.module_utils import socle_accounts as linux
from ansible.module_utils import socle_windows_accounts as acc
from conftest import ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "windows"
NOW = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)
GENERIC = ["accueil", "infirmerie", "soins", "stagiaire", "admin", "user"]


def fixture(name: str):
    path = FIXTURES / name
    return json.loads(path.read_text(encoding="utf-8")) if path.suffix == ".json" else path.read_bytes()


PC_USERS = fixture("localusers_win11_fr_workgroup.json")
PC_ADMINS = fixture("localgroupmember_administrators_win11_fr_workgroup.json")
SRV_USERS = fixture("localusers_server2022_fr_domain.json")
SRV_ADMINS = fixture("localgroupmember_administrators_server2022_fr_domain.json")
AUDIT_FR = fixture("auditpol_backup_win11_fr.csv")
PC_SID = "S-1-5-21-3623811015-3361044348-30300820"
ANSIBLE = {"user_sid": f"{PC_SID}-1001", "group_sids": ["S-1-5-32-544"]}


# -- account hygiene -------------------------------------------------------------------------------


def test_empty_passwords_only_count_enabled_accounts():
    finding = acc.empty_passwords_finding(PC_USERS)
    # Invité and DefaultAccount are exempt too, but disabled: only Accueil counts.
    assert finding["status"] == "drift"
    assert finding["actual"] == "enabled accounts with PasswordRequired false: Accueil"
    assert acc.empty_passwords_finding(SRV_USERS)["status"] == "compliant"
    assert acc.empty_passwords_finding(PC_USERS[0])["status"] == "compliant"  # a bare object: one account


def test_administrators_members_by_sid_never_by_localised_name():
    finding = acc.admins_finding(PC_ADMINS, [], ANSIBLE)
    assert finding["status"] == "drift"
    assert finding["actual"].endswith(f"not allowed: PC-ACCUEIL\\m.durand ({PC_SID}-1003)")
    # Allowed by name (with or without the computer prefix) or by SID.
    for allowed in (["m.durand"], ["PC-ACCUEIL\\m.durand"], [f"{PC_SID.lower()}-1003"]):
        assert acc.admins_finding(PC_ADMINS, allowed, ANSIBLE)["status"] == "compliant", allowed
    # Without the Ansible identity, the account Ansible uses is one more member to list.
    assert "socle-admin" in acc.admins_finding(PC_ADMINS, ["m.durand"], {})["actual"].split("not allowed:")[1]
    assert acc.admins_finding(None, [], ANSIBLE)["status"] == "drift"


def test_domain_server_admins_renamed_builtin_and_domain_admins_are_allowed():
    domain = "S-1-5-21-2702411093-1127938151-2716548190"
    finding = acc.admins_finding(SRV_ADMINS, [f"{domain}-1107"], {"user_sid": f"{domain}-1188"})
    # adm-secours is the built-in Administrator (RID 500) renamed; Admins du domaine is RID 512.
    assert finding["status"] == "drift"
    assert finding["actual"].endswith(f"not allowed: EHPAD-LILAS\\prestataire ({domain}-1254)")
    assert acc.admins_finding(SRV_ADMINS, [f"{domain}-1107", "EHPAD-LILAS\\prestataire"], {})["status"] == "compliant"


def test_shared_accounts_use_the_linux_generic_names_case_insensitively():
    finding = acc.shared_finding(PC_USERS, GENERIC)
    assert finding["status"] == "drift"
    assert finding["actual"] == "generic accounts: Accueil (accueil), Stagiaire2 (stagiaire)"
    assert acc.shared_finding(PC_USERS, [])["status"] == "compliant"
    for name in ("accueil", "stagiaire2", "soins-1", "admin_3", "administrateur", "m.durand"):
        assert acc.generic_match(name, GENERIC) == linux.generic_match(name, GENERIC), name


def test_unused_accounts_last_logon_and_never_logged_on():
    finding = acc.unused_finding(PC_USERS, 90, NOW, ANSIBLE["user_sid"])
    # j.petit: last logon 148 days ago; Stagiaire2 never logged on, created 222 days ago; c.martin is
    # disabled; socle-admin (Ansible, never an interactive logon) is left out.
    assert finding["status"] == "drift"
    assert finding["actual"] == ("unused accounts: Stagiaire2 (never logged on, password set 2026-04-20), "
                                 "j.petit (last logon 147 days ago)")
    assert "socle-admin" in acc.unused_finding(PC_USERS, 90, NOW)["actual"]
    assert acc.unused_finding(PC_USERS, 365, NOW)["status"] == "compliant"
    # A never-logged-on account with no password date is not guessed at (as on Linux).
    assert acc.unused_finding([{"Name": "x", "SID": f"{PC_SID}-1010", "Enabled": True}], 90, NOW)["status"] == (
        "compliant")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-27T07:58:02.9071250Z", dt.datetime(2026, 11, 27, 7, 58, 2, 907125, tzinfo=dt.UTC)),
        ("/Date(1764230400000)/", dt.datetime(2025, 11, 27, 8, 0, tzinfo=dt.UTC)),
        ({"value": "/Date(1764230400000)/", "DateTime": "jeudi 27 novembre 2025 09:00:00"},
         dt.datetime(2025, 11, 27, 8, 0, tzinfo=dt.UTC)),
        (None, None),
        ("0001-01-01T00:00:00.0000000", None),
    ],
)
def test_dates_as_the_probe_and_convertto_json_write_them(value, expected):
    assert acc.ps_date(value) == expected


# -- departed staff ----------------------------------------------------------------------------------


def test_departed_accounts_present_and_enabled_case_insensitively():
    assert acc.departed_present(PC_USERS, ["j.petit", "c.martin", "absent"]) == ["j.petit"]  # c.martin: disabled
    assert acc.departed_present(PC_USERS, ["M.DURAND"]) == ["m.durand"]
    assert acc.departed_present(PC_USERS, []) == []


def test_the_account_ansible_uses_in_the_departed_list_is_refused():
    assert acc.departed_guard(ANSIBLE, PC_USERS, ["j.petit"]) == []
    (problem,) = acc.departed_guard(ANSIBLE, PC_USERS, ["socle-admin"])
    assert "Ansible connects as socle-admin, listed in accounts_departed" in problem
    # Also from the inventory's ansible_user, with a computer prefix, when the SID is not a local one.
    assert acc.departed_guard({"user_sid": "S-1-5-21-9-9-9-1100"}, PC_USERS, ["socle-admin"],
                              "PC-ACCUEIL\\socle-admin")


# -- logon auditing --------------------------------------------------------------------------------


def test_audit_backup_parsed_by_guid_whatever_the_language():
    parsed = acc.parse_audit_backup(AUDIT_FR)
    assert parsed["{0CCE9215-69AE-11D9-BED3-505054503030}"] == {"name": "Ouvrir la session", "value": 3}
    assert parsed["{0CCE9217-69AE-11D9-BED3-505054503030}"] == {"name": "Verrouillage du compte", "value": 1}
    assert not [guid for guid in parsed if not guid.startswith("{")]  # the CrashOnAuditFail option row
    utf16 = b"\xff\xfe" + AUDIT_FR.decode("utf-8-sig").encode("utf-16-le")
    assert acc.parse_audit_backup(utf16) == parsed


def test_audit_changes_add_the_missing_bits_under_the_hosts_own_name():
    changes = acc.audit_changes(AUDIT_FR)
    # Windows 11's default audits Account Lockout on success only: failure is added, success kept.
    assert changes == [{"guid": "{0CCE9217-69AE-11D9-BED3-505054503030}", "label": "Account Lockout",
                        "subcategory": "Verrouillage du compte", "audit_type": ["success", "failure"]}]
    finding = acc.audit_finding(AUDIT_FR)
    assert finding["status"] == "drift"
    assert "Account Lockout {0CCE9217-69AE-11D9-BED3-505054503030}: success" in finding["actual"]
    fixed = AUDIT_FR.replace("Verrouillage du compte,{0cce9217-69ae-11d9-bed3-505054503030},Succès,,1".encode(),
                             "Verrouillage du compte,{0cce9217-69ae-11d9-bed3-505054503030},Échec,,2".encode())
    assert acc.audit_changes(fixed) == []
    assert acc.audit_finding(fixed)["status"] == "compliant"


def test_audit_nothing_set_and_nothing_read():
    empty = ("Machine Name,Policy Target,Subcategory,Subcategory GUID,Inclusion Setting,Exclusion Setting,"
             "Setting Value\n")
    assert [c["audit_type"] for c in acc.audit_changes(empty)] == [["success", "failure"], ["success"], ["failure"]]
    assert acc.audit_changes(None) == []
    assert acc.audit_finding(None)["status"] == "drift"


# -- local administrator password ------------------------------------------------------------------

WORKGROUP = {"part_of_domain": False, "product_type": 1}
NO_LAPS = {"roots": {"csp": {}, "gpo": {}, "local": {}, "legacy": {}}, "entra_joined": False}


def test_rotation_targets_the_builtin_administrator_by_rid_500_whatever_its_name():
    assert acc.rotation_target(PC_USERS, "")["name"] == "Administrateur"
    assert acc.rotation_target(SRV_USERS, "")["name"] == "adm-secours"
    assert acc.rotation_target(PC_USERS, "SOCLE-ADMIN")["name"] == "socle-admin"
    assert acc.rotation_target(PC_USERS, "absent") is None


@pytest.mark.parametrize(
    ("users", "vault", "rotate", "status", "words"),
    [
        # The built-in Administrator, disabled, never got a password date: rotate it (break-glass).
        (PC_USERS, True, True, "drift", "was never set"),
        ([{**PC_USERS[0], "PasswordLastSet": "2026-11-20T02:00:00Z"}], True, False, "compliant", "8 days ago"),
        ([{**PC_USERS[0], "PasswordLastSet": "2026-11-20T02:00:00Z"}], False, True, "drift", "vault holds no"),
        ([{**PC_USERS[0], "PasswordLastSet": "2026-09-20T02:00:00Z"}], True, True, "drift", "69 days old"),
    ],
)
def test_workgroup_rotation_plan(users, vault, rotate, status, words):
    plan = acc.rotation_plan(ANSIBLE, users, WORKGROUP, NO_LAPS, "", 30, NOW, vault)
    assert (plan["rotate"], plan["finding"]["status"]) == (rotate, status)
    assert words in plan["finding"]["actual"]
    assert plan["account"] == "Administrateur"


def test_never_rotated_into_a_vault_that_does_not_outlive_the_run():
    plan = acc.rotation_plan(ANSIBLE, PC_USERS, WORKGROUP, NO_LAPS, "", 30, NOW, False, vault_lasting=False)
    assert plan["rotate"] is False and plan["finding"]["status"] == "drift"
    assert "set accounts_windows_admin_vault_dir to a lasting absolute folder" in plan["finding"]["actual"]


def test_the_account_ansible_uses_is_never_rotated():
    plan = acc.rotation_plan(ANSIBLE, PC_USERS, WORKGROUP, NO_LAPS, "socle-admin", 30, NOW, False)
    assert plan["rotate"] is False
    assert plan["finding"]["status"] == "drift"
    assert "never rotates the password of the account it uses" in plan["finding"]["actual"]
    builtin = {"user_sid": f"{PC_SID}-500"}
    assert acc.rotation_plan(builtin, PC_USERS, WORKGROUP, NO_LAPS, "", 30, NOW, False)["rotate"] is False


def test_joined_devices_use_windows_laps_not_rotation():
    domain = {"part_of_domain": True, "product_type": 3}
    plan = acc.rotation_plan({}, SRV_USERS, domain, NO_LAPS, "", 30, NOW, False)
    assert plan["rotate"] is False and plan["finding"]["status"] == "not_applicable"
    entra = {**NO_LAPS, "entra_joined": True}
    assert acc.join_state(WORKGROUP, entra) == "entra"
    values = {v["name"]: v["data"] for v in acc.laps_values("entra", 30, 20, "")}
    assert values == {"BackupDirectory": 1, "PasswordAgeDays": 30, "PasswordLength": 20, "PasswordComplexity": 4,
                      "PostAuthenticationActions": 3}
    assert {v["path"] for v in acc.laps_values("ad", 30, 20, "adm-secours")} == {
        "HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Policies\\LAPS"}
    assert acc.laps_values("ad", 30, 20, "adm-secours")[-1] == {
        "path": "HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Policies\\LAPS",
        "name": "AdministratorAccountName", "data": "adm-secours", "type": "string"}
    assert acc.laps_values("workgroup", 30, 20, "") == []


def test_laps_finding_reads_the_first_root_that_has_a_value():
    gpo = {"BackupDirectory": 2, "PasswordAgeDays": 30, "PasswordLength": 14, "PasswordComplexity": 4}
    laps = {"roots": {"csp": {}, "gpo": gpo, "local": {}, "legacy": {"AdmPwdEnabled": 1}}}
    finding = acc.laps_finding("ad", laps, 30, 15)
    assert finding["status"] == "drift"
    assert finding["actual"].startswith("policy root gpo: BackupDirectory = 2")
    assert finding["actual"].endswith("not as required: PasswordLength")
    assert acc.laps_finding("ad", {"roots": {"gpo": {**gpo, "PasswordLength": 20}}}, 30, 15)["status"] == "compliant"
    # Intune (CSP) wins over the GPO root, never merged with it.
    csp = {"BackupDirectory": 1, "PasswordAgeDays": 7, "PasswordLength": 24, "PasswordComplexity": 4}
    assert acc.laps_effective({"roots": {"csp": csp, "gpo": gpo}}) == ("csp", csp)
    assert acc.laps_finding("ad", NO_LAPS, 30, 15)["actual"] == "no Windows LAPS policy on this device"
    legacy = acc.laps_finding("ad", {"roots": {"legacy": {"AdmPwdEnabled": 1}}}, 30, 15)
    assert legacy["status"] == "drift" and "legacy" in legacy["actual"]
