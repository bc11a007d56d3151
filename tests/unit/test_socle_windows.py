"""module_utils/socle_windows: the Windows decisions, on outputs recorded in the documented formats.

No Windows host and no PowerShell runtime are reachable here, so every Windows decision is tested
against what Windows writes: ConvertTo-Json of Get-MpComputerStatus and Get-NetFirewallProfile
(Windows PowerShell 5.1, and PowerShell 7 with -EnumsAsStrings), SecurityCenter2, RSOP, a secedit
export in UTF-16, Windows Update Agent numbers, with French Windows names and values. The fixtures
are in tests/fixtures/windows. Findings proven here: M1-WIN-LAST-INSTALL, M1-WIN-PENDING-UPDATES,
M1-WIN-WU-AUTO (Home edition), M2-WIN-DEFENDER-ON, M2-WIN-DEFENDER-RTP, M2-WIN-DEFENDER-BEHAVIOUR,
M2-WIN-DEFENDER-SIG-AGE, M2-WIN-THIRD-PARTY-AV, M2-WIN-FW-PROFILES, M2-WIN-FW-INBOUND,
M2-WIN-FW-LOGGING (GPO-owned values), M5-WIN-PASSWORD-POLICY, M5-WIN-LOCKOUT-POLICY,
M5-WIN-BUILTIN-ADMIN (guard by SID).
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from ansible.module_utils import socle_windows as win
from conftest import ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "windows"
NOW = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)


def fixture(name: str):
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


# -- dates as PowerShell writes them -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/Date(1764230400000)/", dt.datetime(2025, 11, 27, 8, 0, tzinfo=dt.UTC)),
        ("\\/Date(1764230400000)\\/", dt.datetime(2025, 11, 27, 8, 0, tzinfo=dt.UTC)),
        ("/Date(1764230400000+0100)/", dt.datetime(2025, 11, 27, 8, 0, tzinfo=dt.UTC)),  # suffix: no shift
        ("2026-11-27T08:15:02.1234567Z", dt.datetime(2026, 11, 27, 8, 15, 2, 123456, tzinfo=dt.UTC)),
        ("2026-11-27T09:15:02.1234567+01:00", dt.datetime(2026, 11, 27, 8, 15, 2, 123456, tzinfo=dt.UTC)),
        ("2026-11-27T08:15:02", dt.datetime(2026, 11, 27, 8, 15, 2, tzinfo=dt.UTC)),
        ({"value": "/Date(0)/", "DateTime": "jeudi 1 janvier 1970 00:00:00"}, dt.datetime(1970, 1, 1, tzinfo=dt.UTC)),
        ("0001-01-01T00:00:00.0000000", None),  # DateTime.MinValue: never
        ("1601-01-01T00:00:00Z", None),
        (None, None),
        ("", None),
    ],
)
def test_ps_datetime(text, expected):
    assert win.ps_datetime(text) == expected


@pytest.mark.parametrize("text", ["jeudi 27 novembre 2026 08:15:02", "27/11/2026 08:15", 1764230400])
def test_ps_datetime_refuses_localised_or_bare_values(text):
    with pytest.raises(ValueError, match="not a PowerShell date"):
        win.ps_datetime(text)


# -- Defender --------------------------------------------------------------------------------------


def test_defender_signature_age_from_raw_get_mpcomputerstatus():
    status = fixture("mpcomputerstatus_ps51_fr.json")
    # Signatures updated 2025-11-27 08:00 UTC; a day later they are 24 h old.
    finding = win.defender_signature_finding(status, [], 48, dt.datetime(2025, 11, 28, 8, 0, tzinfo=dt.UTC))
    assert finding["status"] == "compliant"
    assert finding["actual"].startswith("24 h old (last updated 2025-11-27 08:00 UTC, version 1.421.1234.0")
    assert win.defender_signature_finding(status, [], 48, NOW)["status"] == "drift"


def test_defender_signature_out_of_date_flag_is_drift_even_when_recent():
    status = {**fixture("mpcomputerstatus_ps51_fr.json"), "DefenderSignaturesOutOfDate": True}
    finding = win.defender_signature_finding(status, [], 48, dt.datetime(2025, 11, 27, 9, 0, tzinfo=dt.UTC))
    assert finding["status"] == "drift"
    assert "flags them out of date" in finding["actual"]


@pytest.mark.parametrize(
    ("age", "status"), [(0, "compliant"), (2, "compliant"), (3, "drift"), (65535, "drift"), (4294967295, "drift")]
)
def test_defender_signature_age_in_days_when_no_date(age, status):
    recorded = {"AMRunningMode": "Normal", "AMServiceEnabled": True, "AntivirusSignatureAge": age}
    assert win.defender_signature_finding(recorded, None, 48, NOW)["status"] == status


@pytest.mark.parametrize(
    ("status", "actual"),
    [
        (None, "Defender is not running (AMRunningMode: absent) and no other antivirus is on"),
        ({"AMRunningMode": "Not running"},
         "Defender is not running (AMRunningMode: Not running) and no other antivirus is on"),
        ({"AMRunningMode": "Normal", "AMServiceEnabled": False},
         "Defender is not running (AMRunningMode: Normal) and no other antivirus is on"),
        ({"AMRunningMode": "Mode passif"},
         "Defender is in passive mode (AMRunningMode: Mode passif) and no other antivirus is on"),
        ({"AMRunningMode": "SxS Passive Mode"},
         "Defender is in passive mode (AMRunningMode: SxS Passive Mode) and no other antivirus is on"),
    ],
)
def test_defender_not_protecting_and_no_other_antivirus_is_drift(status, actual):
    off = [{"displayName": "ESET Security", "pathToSignedProductExe": "C:\\x.exe", "productState": 0x40000}]
    assert win.defender_signature_finding(status, off, 48, NOW) == {
        "status": "drift", "expected": "Defender signatures at most 48 h old", "actual": actual}


@pytest.mark.parametrize("mode", ["Passive Mode", "SxS Passive Mode", "EDR Block Mode", "Mode passif"])
def test_passive_defender_with_an_enabled_third_party_antivirus_is_reported_not_fought(mode):
    status = {**fixture("mpcomputerstatus_ps51_fr.json"), "AMRunningMode": mode}
    products = fixture("securitycenter2_antivirusproduct_fr.json")
    assert win.defender_defers_to(status, products) == ["ESET Security"]
    for control in ("M2-WIN-DEFENDER-ON", "M2-WIN-DEFENDER-RTP", "M2-WIN-DEFENDER-BEHAVIOUR"):
        assert win.defender_runtime_finding(control, status, products)["status"] == "not_applicable"
    assert win.defender_signature_finding(status, products, 48, NOW)["status"] == "not_applicable"
    third = win.third_party_av_finding(status, products, is_server=False)
    assert third["status"] == "compliant"
    assert "ESET Security (on, up to date, productState 0x041000)" in third["actual"]


def test_defender_own_entry_is_recognised_by_path_not_by_its_french_name():
    products = fixture("securitycenter2_antivirusproduct_fr.json")
    names = [p["name"] for p in win.third_party_products(products)]
    assert names == ["ESET Security"]
    assert "Antivirus Microsoft Defender" not in names


def test_a_single_product_serialised_as_a_bare_object():
    product = fixture("securitycenter2_antivirusproduct_fr.json")[1]
    assert [p["name"] for p in win.third_party_products(product)] == ["ESET Security"]


def test_third_party_antivirus_out_of_date_or_off_is_drift():
    status = {"AMRunningMode": "Passive Mode", "AMServiceEnabled": True}
    stale = [{"displayName": "ESET Security", "pathToSignedProductExe": "C:\\x.exe", "productState": 0x41010}]
    off = [{"displayName": "ESET Security", "pathToSignedProductExe": "C:\\x.exe", "productState": 0x40000}]
    assert win.third_party_av_finding(status, stale, is_server=False)["status"] == "drift"
    assert "out of date" in win.third_party_av_finding(status, stale, is_server=False)["actual"]
    assert win.third_party_av_finding(status, off, is_server=False)["status"] == "drift"
    # Defender aside for a product that is off: Socle does not stand aside, it enforces Defender.
    assert win.defender_defers_to(status, off) == []


def test_third_party_antivirus_not_applicable_on_server_or_with_active_defender():
    status = fixture("mpcomputerstatus_ps51_fr.json")
    assert win.third_party_av_finding(status, [], is_server=True)["status"] == "not_applicable"
    assert win.third_party_av_finding(status, [], is_server=False)["status"] == "not_applicable"
    assert win.third_party_av_finding({"AMRunningMode": "Not running"}, [], is_server=False)["status"] == "drift"


def test_defender_runtime_confirms_the_policy_values():
    status = fixture("mpcomputerstatus_ps51_fr.json")
    ok = win.defender_runtime_finding("M2-WIN-DEFENDER-RTP", status, [])
    assert ok["status"] == "compliant"
    assert "tamper protection True" in ok["actual"]
    broken = {**status, "RealTimeProtectionEnabled": False, "OnAccessProtectionEnabled": None}
    bad = win.defender_runtime_finding("M2-WIN-DEFENDER-RTP", broken, [])
    assert bad["status"] == "drift"
    assert bad["actual"].startswith("RealTimeProtectionEnabled, OnAccessProtectionEnabled not true")
    with pytest.raises(ValueError, match="no runtime check"):
        win.defender_runtime_finding("M2-WIN-DEFENDER-SIG-AGE", status, [])


@pytest.mark.parametrize(("value", "status"), [(1, "compliant"), (2, "drift"), (0, "drift"), (None, "drift")])
def test_defender_pua_protection_must_block_not_audit(value, status):
    recorded = {**fixture("mpcomputerstatus_ps51_fr.json"), "PUAProtection": value}
    finding = win.defender_runtime_finding("M2-WIN-DEFENDER-PUA", recorded, [])
    assert finding["status"] == status
    assert finding["expected"] == "PUAProtection = 1 (block)"


# -- firewall (active store) -----------------------------------------------------------------------


def test_firewall_active_store_from_windows_powershell_integers():
    profiles = fixture("netfirewallprofile_ps51.json")
    enabled = win.firewall_effective_finding(profiles, "enabled")
    assert enabled["status"] == "drift"
    assert enabled["actual"] == "Domain: Enabled 1; Private: Enabled 1; Public: Enabled 0"
    assert win.firewall_effective_finding(profiles, "inbound")["status"] == "drift"  # Public: Allow (2)
    assert win.firewall_effective_finding(profiles[:2], "enabled")["status"] == "drift"  # Public missing
    fixed = [{**p, "Enabled": 1, "DefaultInboundAction": 4, "LogBlocked": 1} for p in profiles]
    for check in ("enabled", "inbound", "logging"):
        assert win.firewall_effective_finding(fixed, check)["status"] == "compliant"


def test_firewall_active_store_from_powershell_7_enum_names():
    profiles = fixture("netfirewallprofile_ps7_enums_as_strings.json")
    assert win.firewall_effective_finding(profiles, "enabled")["status"] == "compliant"
    assert win.firewall_effective_finding(profiles, "inbound")["status"] == "drift"
    assert win.firewall_effective_finding(profiles, "logging")["status"] == "drift"


# -- values a domain GPO owns (RSOP_RegistryPolicySetting) ------------------------------------------

DOMAIN_GPO = "cn={31B2F340-016D-11D2-945F-00C04FB984F9},cn=policies,cn=system,DC=ehpad-les-tilleuls,DC=local"
OTHER_GPO = "cn={6AC1786C-016F-11D2-945F-00C04FB984F9},cn=policies,cn=system,DC=ehpad-les-tilleuls,DC=local"
LOGGING = "HKLM:\\SOFTWARE\\Policies\\Microsoft\\WindowsFirewall\\DomainProfile\\Logging"
RSOP = [
    # As Select-Object | ConvertTo-Json writes them: value is uint8[] (a list of ints).
    {"registryKey": "Software\\Policies\\Microsoft\\WindowsFirewall\\DomainProfile\\Logging",
     "valueName": "LogFileSize", "valueType": 4, "value": [0, 64, 0, 0], "GPOID": DOMAIN_GPO,
     "precedence": 1, "deleted": False},
    {"registryKey": "Software\\Policies\\Microsoft\\WindowsFirewall\\DomainProfile\\Logging",
     "valueName": "LogFileSize", "valueType": 4, "value": [0, 16, 0, 0], "GPOID": OTHER_GPO,
     "precedence": 2, "deleted": False},
    {"registryKey": "Software\\Policies\\Microsoft\\WindowsFirewall\\DomainProfile\\Logging",
     "valueName": "LogFilePath", "valueType": 1,
     "value": list("%SystemRoot%\\System32\\logfiles\\firewall\\domainfw.log\0".encode("utf-16-le")),
     "GPOID": DOMAIN_GPO, "precedence": 1, "deleted": False},
    # The local policy is Socle's own: never "owned by a GPO".
    {"registryKey": "Software\\Policies\\Microsoft\\WindowsFirewall\\DomainProfile\\Logging",
     "valueName": "LogDroppedPackets", "valueType": 4, "value": [1, 0, 0, 0], "GPOID": "LocalGPO",
     "precedence": 1, "deleted": False},
]
WANTED = [
    {"path": LOGGING, "name": "LogDroppedPackets", "type": "dword", "data": 1},
    {"path": LOGGING, "name": "LogFileSize", "type": "dword", "data": 16384},
    {"path": LOGGING, "name": "LogFilePath", "type": "string",
     "data": "%SystemRoot%\\System32\\logfiles\\firewall\\domainfw.log"},
]


def test_gpo_owned_values_use_the_winning_gpo_and_ignore_local_policy():
    owned = win.gpo_owned(RSOP, WANTED)
    assert set(owned) == {f"{LOGGING}\\LogFileSize", f"{LOGGING}\\LogFilePath"}
    assert owned[f"{LOGGING}\\LogFileSize"]["value"] == 16384  # precedence 1 (0x4000), not 4096
    assert owned[f"{LOGGING}\\LogFilePath"]["value"].endswith("domainfw.log")
    finding = win.gpo_finding(owned)
    assert finding["status"] == "compliant"
    assert f"set by GPO {DOMAIN_GPO}" in finding["actual"]


def test_a_gpo_that_sets_another_value_is_drift_not_a_flapping_change():
    rsop = [{**RSOP[0], "value": [0, 16, 0, 0]}]  # 4096 KB
    finding = win.gpo_finding(win.gpo_owned(rsop, WANTED))
    assert finding["status"] == "drift"
    assert "LogFileSize = 4096 (set by GPO" in finding["actual"]


def test_gpo_keys_compare_without_hive_and_case():
    rsop = [{**RSOP[0], "registryKey": "SOFTWARE\\POLICIES\\MICROSOFT\\WINDOWSFIREWALL\\DOMAINPROFILE\\LOGGING"}]
    assert list(win.gpo_owned(rsop, WANTED)) == [f"{LOGGING}\\LogFileSize"]
    assert win.gpo_owned([{**RSOP[0], "deleted": True}], WANTED) == {}
    assert win.gpo_owned(None, WANTED) == {}
    assert win.gpo_finding({})["status"] == "not_applicable"


def test_gpo_value_for_a_value_socle_removes():
    wanted = [{"path": "HKLM:\\SOFTWARE\\Policies\\Microsoft\\Windows Defender", "name": "DisableAntiSpyware",
               "state": "absent"}]
    base = {"registryKey": "Software\\Policies\\Microsoft\\Windows Defender", "valueName": "DisableAntiSpyware",
            "valueType": 4, "GPOID": DOMAIN_GPO, "precedence": 1}
    assert win.gpo_finding(win.gpo_owned([{**base, "value": [0, 0, 0, 0]}], wanted))["status"] == "compliant"
    assert win.gpo_finding(win.gpo_owned([{**base, "value": [1, 0, 0, 0]}], wanted))["status"] == "drift"


@pytest.mark.parametrize(
    ("kind", "data", "value"),
    [
        (win.REG_DWORD, [93, 0, 0, 0], 93),
        (win.REG_QWORD, [1, 0, 0, 0, 0, 0, 0, 1], 2**56 + 1),
        (win.REG_SZ, list("Invité\0".encode("utf-16-le")), "Invité"),
        (win.REG_MULTI_SZ, list("a\0b\0\0".encode("utf-16-le")), ["a", "b"]),
        (win.REG_BINARY, [0x5D, 0x00], "5d00"),
    ],
)
def test_decode_registry_data(kind, data, value):
    assert win.decode_registry_data(kind, data) == value


# -- security policy: secedit export, the lock-out guard ----------------------------------------------

EXPORT = (FIXTURES / "secedit_export_fr.inf").read_bytes()
ADMIN_SID = "S-1-5-21-1004336348-1177238915-682003330-500"
USERS = [
    {"Name": "Administrateur", "SID": ADMIN_SID, "Enabled": True, "PasswordRequired": True},
    {"Name": "Invité", "SID": {"Value": "S-1-5-21-1004336348-1177238915-682003330-501"}, "Enabled": False},
    {"Name": "DefaultAccount", "SID": "S-1-5-21-1004336348-1177238915-682003330-503", "Enabled": False},
    {"Name": "socle-admin", "SID": "S-1-5-21-1004336348-1177238915-682003330-1001", "Enabled": True},
]
NAMED_ADMIN = {"user_sid": "S-1-5-21-1004336348-1177238915-682003330-1001",
               "group_sids": ["S-1-5-21-1004336348-1177238915-682003330-513", "S-1-1-0", "S-1-5-32-544"]}


def test_secedit_export_in_utf16_with_french_names():
    inf = win.parse_inf(EXPORT)
    assert inf["Unicode"] == {"Unicode": "yes"}
    assert inf["System Access"]["NewAdministratorName"] == "Administrateur"
    assert inf["System Access"]["NewGuestName"] == "Invité"
    assert inf["System Access"]["MaximumPasswordAge"] == "42"
    assert inf["Version"]["signature"] == "$CHICAGO$"
    assert win.privilege_sids(inf, "SeDenyNetworkLogonRight") == ["S-1-5-32-546", "S-1-5-113"]
    assert win.privilege_sids(inf, "SeDenyInteractiveLogonRight") == ["Invité"]
    assert win.privilege_sids(inf, "SeBackupPrivilege") == []


def test_parse_inf_accepts_utf8_and_big_endian_utf16():
    text = EXPORT.decode("utf-16")
    assert win.parse_inf(text.encode("utf-8-sig")) == win.parse_inf(EXPORT)
    assert win.parse_inf(b"\xfe\xff" + text.encode("utf-16-be")) == win.parse_inf(EXPORT)
    assert win.parse_inf(text.encode("utf-16-le")) == win.parse_inf(EXPORT)  # no byte-order mark


def test_builtin_accounts_are_found_by_rid_not_by_localised_name():
    assert win.builtin_account(USERS, 500)["Name"] == "Administrateur"
    assert win.builtin_account(USERS, 501)["Name"] == "Invité"
    assert win.builtin_account(USERS, 502) is None
    assert win.rid("S-1-5-32-544") is None  # a built-in group, not a local account


def test_guard_passes_for_a_named_admin_account():
    assert win.access_guard(NAMED_ADMIN, EXPORT, USERS, True, "adm-secours", ["192.168.10.0/24"]) == []


def test_guard_refuses_when_the_ansible_account_is_denied_network_logon():
    # Workgroup local accounts carry S-1-5-113 (Local account), which CIS puts in SeDenyNetworkLogonRight.
    local = {**NAMED_ADMIN, "group_sids": [*NAMED_ADMIN["group_sids"], "S-1-5-113", "S-1-5-114"]}
    problems = win.access_guard(local, EXPORT, USERS, False, "", None)
    assert len(problems) == 1
    assert "denied network logon (SeDenyNetworkLogonRight holds S-1-5-113)" in problems[0]


def test_guard_refuses_to_disable_or_rename_the_builtin_admin_ansible_uses():
    builtin = {"user_sid": ADMIN_SID, "group_sids": ["S-1-5-32-544"]}
    assert win.access_guard(builtin, EXPORT, USERS, False, "", None) == []
    assert win.access_guard(builtin, EXPORT, USERS, False, "administrateur", None) == []  # same name, any case
    disabled = win.access_guard(builtin, EXPORT, USERS, True, "", None)
    assert disabled == [
        "Ansible connects as the built-in Administrator (Administrateur) and the policy disables it: "
        "create a named admin account, put it in the inventory, then disable the built-in one"
    ]
    renamed = win.access_guard(builtin, EXPORT, USERS, False, "adm-secours", None)
    assert "renames it to adm-secours" in renamed[0]


def test_guard_refuses_to_disable_the_builtin_admin_without_a_named_admin():
    not_admin = {**NAMED_ADMIN, "group_sids": ["S-1-5-32-545"]}
    assert win.access_guard(not_admin, None, USERS, False, "", None) == []
    (problem,) = win.access_guard(not_admin, None, USERS, True, "", None)
    assert "not in the Administrators group (S-1-5-32-544)" in problem


def test_guard_refuses_an_inbound_block_without_management_addresses():
    assert win.access_guard(NAMED_ADMIN, None, USERS, False, "", []) == [
        "firewall_admin_networks is empty: blocking inbound traffic would cut WinRM"
    ]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((12, 24, 99999, 1), {"MinimumPasswordLength": 12, "PasswordComplexity": 1, "PasswordHistorySize": 24,
                              "MaximumPasswordAge": -1, "MinimumPasswordAge": 1, "ClearTextPassword": 0}),
        ((16, 400, 90, 1), {"MinimumPasswordLength": 16, "PasswordComplexity": 1, "PasswordHistorySize": 24,
                            "MaximumPasswordAge": 90, "MinimumPasswordAge": 1, "ClearTextPassword": 0}),
        ((14, 3, 1, 30), {"MinimumPasswordLength": 14, "PasswordComplexity": 1, "PasswordHistorySize": 3,
                          "MaximumPasswordAge": 1, "MinimumPasswordAge": 0, "ClearTextPassword": 0}),
    ],
)
def test_password_policy_from_the_shared_policy_variables(args, expected):
    assert win.password_policy(*args) == expected


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((5, 900, 900), {"LockoutBadCount": 5, "LockoutDuration": 15, "ResetLockoutCount": 15,
                         "AllowAdministratorLockout": 1}),
        ((3, 60, 3600), {"LockoutBadCount": 3, "LockoutDuration": 1, "ResetLockoutCount": 1,
                         "AllowAdministratorLockout": 1}),
        ((10, 90, 61), {"LockoutBadCount": 10, "LockoutDuration": 2, "ResetLockoutCount": 2,
                        "AllowAdministratorLockout": 1}),
    ],
)
def test_lockout_policy_in_whole_minutes_window_within_duration(args, expected):
    assert win.lockout_policy(*args) == expected


# -- Windows Update Agent ----------------------------------------------------------------------------

HISTORY = [
    # Operation 1 = installation, 2 = uninstallation; ResultCode 2 succeeded, 3 with errors, 4 failed.
    {"Operation": 1, "ResultCode": 4, "Date": "2026-11-25T03:10:00.0000000Z"},
    {"Operation": 2, "ResultCode": 2, "Date": "2026-11-20T03:10:00.0000000Z"},
    {"Operation": 1, "ResultCode": 2, "Date": "\\/Date(1762570200000)\\/"},  # 2025-11-08 02:50 UTC
    {"Operation": 1, "ResultCode": 3, "Date": "2026-11-01T12:00:00.0000000+01:00"},
]


def test_last_install_uses_numeric_codes_only():
    finding = win.last_install_finding(HISTORY, 35, NOW)
    assert finding["status"] == "compliant"
    assert finding["actual"] == "last successful installation 2026-11-01 11:00 UTC (27 days ago)"
    assert win.last_install_finding(HISTORY, 20, NOW)["status"] == "drift"
    assert win.last_install_finding(HISTORY[:2], 35, NOW)["status"] == "drift"
    never = win.last_install_finding(None, 35, NOW)
    assert never["actual"] == "no successful installation in the Windows Update history"


PENDING = [
    {"UpdateID": "a", "KBArticleIDs": ["5046617"], "CategoryIDs": [win.WU_CATEGORY_SECURITY.upper()],
     "LastDeploymentChangeTime": "2026-10-08T00:00:00Z"},  # 51 days ago: late
    {"UpdateID": "b", "KBArticleIDs": ["5047001"], "CategoryIDs": [win.WU_CATEGORY_CRITICAL],
     "LastDeploymentChangeTime": "2026-11-20T00:00:00Z"},  # 8 days: within the month
    {"UpdateID": "c", "KBArticleIDs": ["890830"], "CategoryIDs": ["28bc880e-0592-4cbf-8f95-c79b17911d5f"],
     "LastDeploymentChangeTime": "2026-09-01T00:00:00Z"},  # Update Rollups: not a security category
]


def test_pending_updates_by_category_guid_and_publication_date():
    finding = win.pending_updates_finding(PENDING, False, 0, 30, NOW)
    assert finding["status"] == "drift"
    assert finding["actual"] == "2 security update(s) pending, 1 past the deadline; late: KB5046617 (2026-10-08)"
    assert win.pending_updates_finding(PENDING, False, 1, 30, NOW)["status"] == "compliant"
    assert win.pending_updates_finding(PENDING[1:], True, 0, 30, NOW) == {
        "status": "compliant",
        "expected": "at most 0 security update(s) pending for more than 30 days",
        "actual": "1 security update(s) pending, 0 past the deadline; a reboot is pending to finish an installation",
    }


@pytest.mark.parametrize(
    ("edition", "status"),
    [("Core", "drift"), ("CoreSingleLanguage", "drift"), ("Professional", "compliant"),
     ("Enterprise", "compliant"), ("ServerStandard", "compliant")],
)
def test_home_edition_ignores_update_policies(edition, status):
    assert win.home_edition_finding({"edition_id": edition})["status"] == status


# -- M1-WIN-OS-SUPPORTED: release and end of support from EditionID, CurrentBuild, ProductType ----------

TODAY = NOW.date()  # 2026-11-28


@pytest.mark.parametrize(
    ("system", "status", "words"),
    [
        # Home and Pro get 24 months, Enterprise and Education 36: the same build, two answers.
        ({"edition_id": "Professional", "current_build": "26100", "ubr": 7171, "display_version": "24H2",
          "product_type": 1}, "drift", "Windows 11 24H2 (EditionID Professional, build 26100.7171, version 24H2): "
         "support ended 2026-10-13 (46 days ago)"),
        ({"edition_id": "Enterprise", "current_build": "26100", "product_type": 1}, "compliant",
         "supported until 2027-10-12"),
        ({"edition_id": "Education", "current_build": "22631", "product_type": 1}, "drift", "ended 2026-11-10"),
        ({"edition_id": "Professional", "current_build": "26200", "display_version": "25H2", "product_type": 1},
         "compliant", "Windows 11 25H2"),
        ({"edition_id": "CoreSingleLanguage", "current_build": "22631", "product_type": 1}, "drift",
         "ended 2025-11-11"),
        ({"edition_id": "Professional", "current_build": "19045", "product_type": 1}, "drift",
         "Extended Security Updates"),
        # LTSC: same build as Windows 10 21H2, another lifecycle; IoT LTSC longer still.
        ({"edition_id": "EnterpriseS", "current_build": "19044", "product_type": 1}, "compliant",
         "LTSC 2021 (EditionID EnterpriseS, build 19044): supported until 2027-01-12, in 45 days: plan the upgrade"),
        ({"edition_id": "IoTEnterpriseS", "current_build": "19044", "product_type": 1}, "compliant",
         "supported until 2032-01-13"),
        ({"edition_id": "ServerStandard", "current_build": "14393", "product_type": 3}, "compliant",
         "Windows Server 2016"),
        ({"edition_id": "ServerDatacenter", "current_build": "9600", "product_type": 2}, "drift",
         "Windows Server 2012 R2"),
        ({"edition_id": "ServerStandard", "current_build": "26100", "product_type": 3}, "compliant",
         "Windows Server 2025"),
        # Not in the table: a later release is assumed supported, an Insider or old build is not.
        ({"edition_id": "Professional", "current_build": "26300", "product_type": 1}, "compliant",
         "newer than every release in Socle's table of 2026-11-28"),
        ({"edition_id": "Professional", "current_build": "26120", "product_type": 1}, "drift",
         "preview or out of support"),
        ({"edition_id": "Professional", "current_build": "18363", "product_type": 1}, "drift", "out of support"),
        ({}, "drift", "EditionID unknown, build 0"),
    ],
)
def test_os_supported_from_the_dated_table(system, status, words):
    finding = win.os_supported_finding(system, TODAY)
    assert finding["status"] == status
    assert words in finding["actual"], finding["actual"]


def test_os_support_table_is_dated_and_ordered():
    assert win.LIFECYCLE_AS_OF <= TODAY
    for name, home, enterprise in win.CLIENT_RELEASES.values():
        assert home <= enterprise, name
    release = win.windows_release({"edition_id": "Enterprise", "current_build": "26100.7171"})
    assert release["end"] == dt.date(2027, 10, 12)


# -- M4-WIN-SCREENSAVER: the user policy in every profile, by SID --------------------------------------


def test_screensaver_values_are_strings_from_the_lock_delay():
    assert win.screensaver_values(600) == [
        {"name": "ScreenSaveActive", "type": "string", "data": "1"},
        {"name": "ScreenSaverIsSecure", "type": "string", "data": "1"},
        {"name": "ScreenSaveTimeOut", "type": "string", "data": "600"},
        {"name": "SCRNSAVE.EXE", "type": "string", "data": "scrnsave.scr"},
    ]


def test_user_hives_from_win32_userprofile():
    recorded = fixture("win32_userprofile_fr.json")
    hives = win.user_hives(recorded["profiles"], recorded["default_profile"])
    assert hives == [
        {"label": "S-1-12-1-3921842563-1254301478-2893418377-1738295517", "root": "HKLM:\\ANSIBLE",
         "hive": "C:\\Users\\m.dupont\\NTUSER.DAT"},  # Entra ID account, not logged on
        {"label": "S-1-5-21-1004336348-1177238915-682003330-1001", "root":
         "HKU:\\S-1-5-21-1004336348-1177238915-682003330-1001", "hive": None},  # logged on: its loaded hive
        {"label": "S-1-5-21-1004336348-1177238915-682003330-1002", "root": "HKLM:\\ANSIBLE",
         "hive": "C:\\Users\\accueil\\NTUSER.DAT"},
        {"label": "Default", "root": "HKLM:\\ANSIBLE", "hive": "C:\\Users\\Default\\NTUSER.DAT"},
    ]
    # One profile serialised as a bare object; no Default profile reported.
    single = recorded["profiles"][4]
    assert [h["label"] for h in win.user_hives(single, None)] == [single["SID"]]


# -- M2-WIN-FW-MGMT-PATH: WinRM open from the management addresses, in the active store -----------------

RULES = fixture("netfirewallrule_activestore_fr.json")
ADMIN = ["192.168.10.0/24", "10.8.0.0/24"]
SOCLE_RULE = "{8C5E3F0A-2B51-4D0C-9E7A-5B1F6D2C9A41}"


def test_management_path_open_through_socle_rule_with_windows_dotted_masks():
    finding = win.management_path_finding(RULES, [5985, 5986], ADMIN)
    assert finding["status"] == "compliant"
    # The built-in WinRM rule (any address) is evidence, found by its fixed Name, not its French DisplayName.
    assert finding["actual"].endswith("also open beyond the management networks by: WINRM-HTTP-In-TCP")


def test_management_path_missing_on_public_and_for_https_without_socle_rule():
    others = [r for r in RULES if r["Name"] != SOCLE_RULE]
    finding = win.management_path_finding(others, [5985, 5986], ["192.168.10.0/24"])
    assert finding["status"] == "drift"
    # Domain and Private: the built-in rule (any address) covers 5985; Public only allows LocalSubnet.
    assert "5985 from 192.168.10.0/24 (Public)" in finding["actual"]
    assert "5985 from 192.168.10.0/24 (Domain)" not in finding["actual"]
    assert "5986 from 192.168.10.0/24 (Domain)" in finding["actual"]


def test_a_narrower_rule_or_a_block_rule_cuts_the_path():
    narrow = [{**r, "RemoteAddress": "192.168.10.0-192.168.10.127"} if r["Name"] == SOCLE_RULE else r
              for r in RULES if not r["Name"].startswith("WINRM")]
    finding = win.management_path_finding(narrow, [5985], ["192.168.10.0/24"])
    assert finding["status"] == "drift" and "5985 from 192.168.10.0/24 (Domain)" in finding["actual"]
    block = {"Name": "{GPO-BLOCK-WINRM}", "DisplayName": "Bloquer WinRM", "Action": "Block", "Profile": 0,
             "Protocol": "TCP", "LocalPort": "5985-5986", "RemoteAddress": "Any"}
    finding = win.management_path_finding(RULES + [block], [5985, 5986], ADMIN)
    assert finding["status"] == "drift"
    assert "block rules on the path: {GPO-BLOCK-WINRM}" in finding["actual"]


def test_management_path_any_port_any_profile_and_ipv6():
    rules = [{"Name": "AllowAdmin", "Action": 2, "Profile": 2147483647, "Protocol": "Any", "LocalPort": "Any",
              "RemoteAddress": ["fd00:10::/64", "192.168.10.0/24"]}]
    assert win.management_path_finding(rules, [5985], ["fd00:10::/64"])["status"] == "compliant"
    assert win.management_path_finding(rules, [5985], ["fd00:20::/64"])["status"] == "drift"
    assert win.management_path_finding([], [5985], ADMIN)["status"] == "drift"


# -- M3-WIN-BACKUP-AGE, M3-WIN-OFFSITE-AGE: restic snapshots --json read on Windows, decided as on Linux ----

RESTIC_OUT = (FIXTURES / "restic_snapshots_json_windows.txt").read_text(encoding="utf-8")


def _win_filters():
    from conftest import load_project_module

    return load_project_module("filter_plugins", "socle_windows")


def test_restic_findings_reuse_the_linux_decisions():
    filters = _win_filters()
    assert filters.restic.__file__ == str(ROOT / "module_utils" / "socle_restic.py")
    assert filters.FilterModule().filters()["socle_win_restic_age"] is filters.restic_age


@pytest.mark.parametrize(
    ("result", "now", "host", "status", "actual"),
    [
        # Taken as SYSTEM ("AUTORITE NT\Système") at 12:31 Paris time: 11:31 UTC.
        ({"rc": 0, "stdout": RESTIC_OUT}, NOW, "accueil-pc", "compliant",
         "local repository: newest snapshot f3c61a7b taken 2026-11-28 11:31 UTC, 0.5 h old"),
        ({"rc": 0, "stdout": RESTIC_OUT}, NOW + dt.timedelta(days=2), "accueil-pc", "drift", "2.0 days old"),
        ({"rc": 0, "stdout": RESTIC_OUT}, NOW, "secretariat-pc", "drift", "no snapshot of this host"),
        ({"rc": 0, "stdout": "[]\n"}, NOW, "accueil-pc", "drift", "no snapshot of this host"),
        ({"rc": 10, "stdout": "", "stderr": "Fatal: repository does not exist: unable to open config file\r\n"}, NOW,
         "accueil-pc", "drift", "the repository does not exist yet (exit code 10): Fatal: repository does not exist"),
        ({"rc": 12, "stdout": "", "stderr": "Fatal: wrong password or no key found\r\n"}, NOW, "accueil-pc", "drift",
         "the password is wrong (exit code 12)"),
        ({"rc": 1, "stdout": "", "stderr": ""}, NOW, "accueil-pc", "drift", "restic failed (exit code 1)"),
        ({"restic_missing": True}, NOW, "accueil-pc", "drift", "restic is not installed yet"),
        ({"restic_missing": False, "password_missing": True}, NOW, "accueil-pc", "drift", "password file"),
    ],
)
def test_restic_snapshot_age_on_recorded_windows_output(result, now, host, status, actual):
    finding = _win_filters().restic_snapshot_finding(result, 26, "local repository", host, now)
    assert finding["status"] == status
    assert finding["expected"] == "local repository: newest snapshot at most 26 h old"
    assert actual in finding["actual"], finding["actual"]


def test_restic_output_that_is_not_json_is_an_error_not_a_finding():
    with pytest.raises(ValueError, match="did not print JSON"):
        _win_filters().restic_snapshot_finding({"rc": 0, "stdout": "Aucun instantané"}, 26, "local", "h", NOW)


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["-r", "C:\\Sauvegardes", "backup", "C:\\Users"], "-r C:\\Sauvegardes backup C:\\Users"),
        (["C:\\Données partagées"], '"C:\\Données partagées"'),
        (["C:\\Dossier avec espace\\"], '"C:\\Dossier avec espace\\\\"'),  # backslash doubled before the quote
        (["a\"b", ""], 'a\\"b ""'),
        (["--keep-daily", 7], "--keep-daily 7"),
    ],
)
def test_command_line_for_scheduled_tasks(argv, line):
    assert win.command_line(argv) == line
