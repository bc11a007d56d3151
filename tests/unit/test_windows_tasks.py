"""The Windows task files, rendered for a policy as Ansible would for one host (no Windows host here).

* Every implemented Windows control of the catalogue is carried by tasks of its role's
  tasks/windows.yml, and every one of those tasks is check-mode safe: a Windows module whose syntax
  tree declares check-mode support, or a controller-only action. An enforce control has a module that
  changes the host in check mode's place; a measure control a finding.
* The policy variables drive the values written (the session-lock delay becomes
  InactivityTimeoutSecs, the Linux password variables become the secedit values, ...).
* Nothing that could cut Ansible off runs before its guard; Defender is never fought when a
  third-party antivirus replaces it; values a domain GPO owns are reported, not rewritten.
"""

from __future__ import annotations

import base64
import json

import pytest
import yaml
from conftest import ROOT
from winharness import CONTROLLER_ACTIONS, load_tasks, module_of, render_role, supports_check_mode

from socle.catalogue import load_catalogue

FIXTURES = ROOT / "tests" / "fixtures" / "windows"
WINDOWS_ROLES = ("session_lock", "updates", "antivirus", "firewall", "accounts", "organisation", "backup")


def recorded(name: str):
    path = FIXTURES / name
    return json.loads(path.read_text(encoding="utf-8")) if path.suffix == ".json" else path.read_bytes()


DEFENDER = {k: v for k, v in recorded("mpcomputerstatus_ps51_fr.json").items() if not k.startswith("Cim")}
PRODUCTS = recorded("securitycenter2_antivirusproduct_fr.json")
NAMED_ADMIN_SID = "S-1-5-21-1004336348-1177238915-682003330-1001"
BUILTIN_ADMIN_SID = "S-1-5-21-1004336348-1177238915-682003330-500"
USERS = [
    {"Name": "Administrateur", "SID": BUILTIN_ADMIN_SID, "Enabled": True, "PasswordRequired": True},
    {"Name": "Invité", "SID": "S-1-5-21-1004336348-1177238915-682003330-501", "Enabled": False},
    {"Name": "socle-admin", "SID": NAMED_ADMIN_SID, "Enabled": True, "PasswordRequired": True},
]
SECEDIT_CLEAN = "[Unicode]\r\nUnicode=yes\r\n[Privilege Rights]\r\nSeDenyNetworkLogonRight = *S-1-5-32-546\r\n"


def probe(**overrides):
    """A socle_win_probe result as recorded on a French Windows 11 Pro workgroup PC."""
    data = {
        "identity": {"user_sid": NAMED_ADMIN_SID, "group_sids": ["S-1-5-32-544", "S-1-5-113"]},
        "system": {"edition_id": "Professional", "current_build": "26200", "ubr": 7309, "display_version": "25H2",
                   "part_of_domain": False, "product_type": 1, "reboot_pending": False},
        "defender": DEFENDER,
        "av_products": [PRODUCTS[0]],
        "firewall": recorded("netfirewallprofile_ps51.json"),
        "firewall_rules": recorded("netfirewallrule_activestore_fr.json"),
        **recorded("win32_userprofile_fr.json"),
        "rsop": [],
        "secedit_b64": base64.b64encode(b"\xff\xfe" + SECEDIT_CLEAN.encode("utf-16-le")).decode(),
        "users": USERS,
        "wu_history": [{"Operation": 1, "ResultCode": 2, "Date": "2026-11-20T03:00:00.0000000Z"}],
        "wu_pending": [],
    }
    data.update(overrides)
    return data


def runs_of(runs, control):
    return [run for run in runs if run.control == control]


def active(runs, control, name=None):
    return [r for r in runs_of(runs, control) if not r.skipped and (name is None or r.args.get("name") == name)]


# -- every implemented Windows control: tasks in its role, all check-mode safe -------------------------


CATALOGUE = load_catalogue()
IMPLEMENTED = {cid: e for cid, e in CATALOGUE.implemented().items() if e["platform"] == "windows"}


def test_some_windows_controls_are_implemented():
    assert len(IMPLEMENTED) >= 20, sorted(IMPLEMENTED)


@pytest.mark.parametrize("role", WINDOWS_ROLES)
def test_every_windows_task_is_check_mode_safe(role):
    unsafe = []
    for task in load_tasks(ROOT / "roles" / role / "tasks" / "windows.yml"):
        module = module_of(task)
        if not supports_check_mode(module):
            unsafe.append(f"{task.get('name')}: {module}")
    assert unsafe == []


@pytest.mark.parametrize("cid", sorted(IMPLEMENTED))
def test_implemented_windows_control_is_carried_by_a_check_mode_task_of_its_role(cid):
    entry = IMPLEMENTED[cid]
    tasks = [t for t in load_tasks(ROOT / "roles" / entry["role"] / "tasks" / "windows.yml")
             if str(t.get("name", "")).startswith(f"{cid} | ") or cid in (t.get("tags") or [])]
    assert tasks, f"{cid}: no task in roles/{entry['role']}/tasks/windows.yml"
    modules = {module_of(t) for t in tasks}
    assert all(supports_check_mode(m) for m in modules), modules
    if entry["kind"] == "enforce":
        host_modules = modules - CONTROLLER_ACTIONS
        assert host_modules, f"{cid} is an enforce control but only reports findings ({modules})"
    else:
        assert "socle_finding" in modules, f"{cid} is a measure: it needs a finding"


def test_the_probe_itself_declares_check_mode_and_the_detector_can_say_no():
    assert supports_check_mode("socle_win_probe")
    assert supports_check_mode("ansible.windows.win_regedit")
    assert supports_check_mode("community.windows.win_security_policy")  # legacy Parse-Args form
    assert not supports_check_mode("community.windows.win_regmerge")  # no check mode (reference §9.4)
    assert not supports_check_mode("ansible.windows.win_shell")
    assert not supports_check_mode("socle_no_such_module")


# -- measure 4 -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("policy", "seconds"), [({}, 900), ({"session_lock_idle_timeout_s": 600}, 600)])
def test_session_lock_delay_drives_inactivity_timeout(policy, seconds):
    runs = render_role("session_lock", policy)
    (run,) = runs_of(runs, "M4-WIN-INACTIVITY-LIMIT")
    assert run.module == "ansible.windows.win_regedit"
    assert run.args["name"] == "InactivityTimeoutSecs"
    assert int(run.args["data"]) == seconds
    assert run.args["type"] == "dword"


def test_session_lock_wake_password_and_grace_period():
    runs = render_role("session_lock", {"session_lock_windows_grace_period_s": 0})
    assert sorted(r.args["name"] for r in runs_of(runs, "M4-WIN-WAKE-PASSWORD")) == ["ACSettingIndex", "DCSettingIndex"]
    (grace,) = runs_of(runs, "M4-WIN-SCREENSAVER-GRACE")
    assert grace.args["data"] == "0"
    assert grace.args["type"] == "string"  # REG_SZ, as Winlogon reads it


@pytest.mark.parametrize(("policy", "timeout"), [
    ({}, None),
    ({"session_lock_windows_screensaver_enabled": True}, "900"),
    ({"session_lock_windows_screensaver_enabled": True, "session_lock_idle_timeout_s": 600}, "600"),
])
def test_screensaver_user_policy_in_every_profile_is_opt_in(policy, timeout):
    """M4-WIN-SCREENSAVER: off by default; on, four REG_SZ values in every user's hive and the Default profile."""
    runs = render_role("session_lock", policy, probe())
    writes = [r for r in runs_of(runs, "M4-WIN-SCREENSAVER") if not r.skipped]
    if timeout is None:
        assert writes == []
        assert all(r.skipped for r in runs if r.module == "socle_win_probe")
        return
    assert len(writes) == 4 * 4  # three user profiles and the Default profile
    key = "Software\\Policies\\Microsoft\\Windows\\Control Panel\\Desktop"
    logged_on = [r.args for r in writes if r.args["path"].startswith("HKU:\\")]
    assert {a["path"] for a in logged_on} == {"HKU:\\S-1-5-21-1004336348-1177238915-682003330-1001\\" + key}
    assert all("hive" not in a for a in logged_on)  # omitted: the hive is already loaded
    loaded_by_ansible = {r.args["hive"] for r in writes if r.args["path"] == "HKLM:\\ANSIBLE\\" + key}
    assert loaded_by_ansible == {"C:\\Users\\accueil\\NTUSER.DAT", "C:\\Users\\m.dupont\\NTUSER.DAT",
                                 "C:\\Users\\Default\\NTUSER.DAT"}
    values = {(r.args["name"], r.args["data"], r.args["type"]) for r in writes}
    assert values == {("ScreenSaveActive", "1", "string"), ("ScreenSaverIsSecure", "1", "string"),
                      ("ScreenSaveTimeOut", timeout, "string"), ("SCRNSAVE.EXE", "scrnsave.scr", "string")}


# -- measure 5 -------------------------------------------------------------------------------------------


def test_password_and_lockout_policy_from_the_shared_variables():
    runs = render_role("accounts", {"accounts_password_min_length": 16, "accounts_faillock_deny": 3}, probe())
    password = {r.args["key"]: r.args["value"] for r in active(runs, "M5-WIN-PASSWORD-POLICY")
                if r.module == "community.windows.win_security_policy"}
    assert password["MinimumPasswordLength"] == 16
    assert password["MaximumPasswordAge"] == -1  # accounts_pass_max_days 99999: never
    relax = [r for r in active(runs, "M5-WIN-PASSWORD-POLICY") if r.module == "ansible.windows.win_regedit"]
    assert [r.args["name"] for r in relax] == ["RelaxMinimumPasswordLengthLimits"]
    lockout = {r.args["key"]: r.args["value"] for r in active(runs, "M5-WIN-LOCKOUT-POLICY")}
    assert lockout == {"LockoutBadCount": 3, "LockoutDuration": 15, "ResetLockoutCount": 15,
                       "AllowAdministratorLockout": 1}
    default = render_role("accounts", {}, probe())
    assert not [r for r in active(default, "M5-WIN-PASSWORD-POLICY") if r.module == "ansible.windows.win_regedit"]


def test_guest_blank_password_and_builtin_admin_by_policy():
    runs = render_role("accounts", {}, probe())
    assert [r.args for r in active(runs, "M5-WIN-GUEST-DISABLED")] == [
        {"section": "System Access", "key": "EnableGuestAccount", "value": 0}]
    assert active(runs, "M5-WIN-BLANK-PASSWORD-NETWORK")[0].args["name"] == "LimitBlankPasswordUse"
    assert active(runs, "M5-WIN-BUILTIN-ADMIN") == []  # the default policy leaves it alone
    runs = render_role("accounts", {"accounts_windows_builtin_admin_name": "adm-secours",
                                    "accounts_windows_builtin_admin_disabled": True}, probe())
    assert {r.args["key"]: r.args["value"] for r in active(runs, "M5-WIN-BUILTIN-ADMIN")} == {
        "NewAdministratorName": "adm-secours", "EnableAdminAccount": 0}


def _guard(runs):
    (guard,) = [r for r in runs if r.module == "ansible.builtin.assert"]
    return guard


def _guard_holds(role, policy, recorded_probe):
    return _guard(render_role(role, policy, recorded_probe)).holds


def test_the_guard_runs_before_any_change_and_is_fatal():
    for role in ("accounts", "firewall"):
        runs = render_role(role, {}, probe())
        guard = _guard(runs)
        first_change = min(r.index for r in runs if r.module not in CONTROLLER_ACTIONS | {"socle_win_probe"})
        assert guard.index < first_change, role
        assert guard.task["any_errors_fatal"] is True and guard.task["ignore_errors"] is False


@pytest.mark.parametrize(
    ("policy", "recorded_probe", "holds"),
    [
        ({}, probe(), True),
        ({"accounts_windows_builtin_admin_disabled": True}, probe(), True),
        # Ansible connects as the built-in Administrator (RID 500, "Administrateur"): never disable it.
        ({"accounts_windows_builtin_admin_disabled": True},
         probe(identity={"user_sid": BUILTIN_ADMIN_SID, "group_sids": []}), False),
        ({"accounts_windows_builtin_admin_name": "adm-secours"},
         probe(identity={"user_sid": BUILTIN_ADMIN_SID, "group_sids": []}), False),
        # A CIS baseline already denies "Local account" (S-1-5-113) network logon: WinRM would fail.
        ({}, probe(secedit_b64=base64.b64encode(recorded("secedit_export_fr.inf")).decode()), False),
    ],
)
def test_accounts_guard_on_recorded_probes(policy, recorded_probe, holds):
    assert _guard_holds("accounts", policy, recorded_probe) is holds


# -- measure 2: firewall ------------------------------------------------------------------------------


def test_winrm_stays_open_from_the_management_addresses_before_inbound_is_blocked():
    runs = render_role("firewall", {"firewall_admin_networks": ["192.168.10.0/24", "10.8.0.0/24"]}, probe())
    (rule,) = [r for r in runs if r.module == "community.windows.win_firewall_rule"]
    (block,) = [r for r in runs if r.module == "ansible.windows.win_firewall"]
    assert rule.index < block.index
    assert rule.args["localport"] == "5985,5986"
    assert rule.args["remoteip"] == "192.168.10.0/24,10.8.0.0/24"
    assert rule.args["action"] == "allow" and rule.args["direction"] == "in"
    assert block.args["inbound_action"] == "block"
    assert not _guard_holds("firewall", {"firewall_admin_networks": []}, probe())
    assert _guard_holds("firewall", {}, probe())


def test_firewall_findings_from_the_active_store():
    runs = render_role("firewall", {}, probe())
    findings = {r.control: r.args["finding"]["status"] for r in runs if r.module == "socle_finding" and not r.skipped}
    # Public profile off; the recorded rule only opens WinRM to 192.168.10.0/24 and 10.8.0.0/24, not to
    # every private range of the default firewall_admin_networks.
    assert findings == {"M2-WIN-FW-PROFILES": "drift", "M2-WIN-FW-INBOUND": "drift", "M2-WIN-FW-MGMT-PATH": "drift"}


def test_management_path_finding_follows_the_management_addresses_and_ports():
    runs = render_role("firewall", {"firewall_admin_networks": ["192.168.10.0/24", "10.8.0.0/24"]}, probe())
    (finding,) = [r for r in runs_of(runs, "M2-WIN-FW-MGMT-PATH") if r.module == "socle_finding"]
    assert finding.args["finding"]["status"] == "compliant"
    assert "WINRM-HTTP-In-TCP" in finding.args["finding"]["actual"]  # evidence: open to any address
    runs = render_role("firewall", {"firewall_admin_networks": ["192.168.10.0/24"],
                                    "firewall_windows_winrm_ports": [5985, 5987]}, probe())
    (finding,) = [r for r in runs_of(runs, "M2-WIN-FW-MGMT-PATH") if r.module == "socle_finding"]
    assert finding.args["finding"]["status"] == "drift"
    assert "5987 from 192.168.10.0/24 (Public)" in finding.args["finding"]["actual"]
    # The rule that keeps the path open carries the control too, so check mode reports its change.
    (rule,) = [r for r in runs_of(runs, "M2-WIN-FW-INBOUND") if r.module == "community.windows.win_firewall_rule"]
    assert "M2-WIN-FW-MGMT-PATH" in rule.task["tags"]


def test_firewall_logging_values_a_domain_gpo_owns_are_reported_not_rewritten():
    rsop = [{"registryKey": "Software\\Policies\\Microsoft\\WindowsFirewall\\PublicProfile\\Logging",
             "valueName": "LogFileSize", "valueType": 4, "value": [0, 16, 0, 0], "GPOID": "cn={AB},cn=policies",
             "precedence": 1, "deleted": False}]
    runs = render_role("firewall", {"firewall_windows_log_size_kb": 20000}, probe(rsop=rsop))
    logging = runs_of(runs, "M2-WIN-FW-LOGGING")
    writes = [r for r in logging if r.module == "ansible.windows.win_regedit"]
    skipped = [r.item["path"].rsplit("\\", 2)[-2] + "\\" + r.item["name"] for r in writes if r.skipped]
    assert skipped == ["PublicProfile\\LogFileSize"]
    sizes = [r.args["data"] for r in writes if not r.skipped and r.args["name"] == "LogFileSize"]
    assert [int(size) for size in sizes] == [20000, 20000]
    (report,) = [r for r in logging if r.module == "socle_finding" and not r.skipped]
    assert report.args["finding"]["status"] == "drift"
    assert "LogFileSize = 4096 (set by GPO cn={AB},cn=policies)" in report.args["finding"]["actual"]
    assert not [r for r in render_role("firewall", {}, probe()) if r.control == "M2-WIN-FW-LOGGING"
                and r.module == "socle_finding" and not r.skipped]


# -- measure 2: antivirus ------------------------------------------------------------------------------


def test_defender_settings_enforced_when_defender_is_the_antivirus():
    runs = render_role("antivirus", {"antivirus_max_signature_age_h": 49}, probe())
    written = {r.args["name"]: r.args.get("data", r.args["state"]) for r in runs
               if r.module == "ansible.windows.win_regedit" and not r.skipped}
    assert written["DisableAntiSpyware"] == "absent"
    assert written["PUAProtection"] == 1
    assert int(written["SignatureUpdateInterval"]) == 4
    assert int(written["AVSignatureDue"]) == 3  # 49 h: three days, rounded up
    assert written["DisableRealtimeMonitoring"] == 0


def test_a_third_party_antivirus_is_reported_instead_of_fought():
    passive = {**DEFENDER, "AMRunningMode": "Passive Mode"}
    runs = render_role("antivirus", {}, probe(defender=passive, av_products=PRODUCTS))
    assert not [r for r in runs if r.module == "ansible.windows.win_regedit" and not r.skipped]
    findings = {r.name: r.args["finding"] for r in runs if r.module == "socle_finding" and not r.skipped}
    assert findings["M2-WIN-THIRD-PARTY-AV | A third-party antivirus that replaces Defender is on and up to date"][
        "status"] == "compliant"
    statuses = {name.split(" | ")[0]: f["status"] for name, f in findings.items()}
    assert statuses["M2-WIN-DEFENDER-SIG-AGE"] == "not_applicable"
    assert statuses["M2-WIN-DEFENDER-RTP"] == "not_applicable"


def test_defender_values_a_domain_gpo_owns_are_reported_not_rewritten():
    rsop = [{"registryKey": "Software\\Policies\\Microsoft\\Windows Defender", "valueName": "PUAProtection",
             "valueType": 4, "value": [2, 0, 0, 0], "GPOID": "cn={CD},cn=policies", "precedence": 1}]
    runs = render_role("antivirus", {}, probe(rsop=rsop))
    pua = runs_of(runs, "M2-WIN-DEFENDER-PUA")
    assert [r.skipped for r in pua if r.module == "ansible.windows.win_regedit"] == [True]
    (report,) = [r for r in pua if r.module == "socle_finding" and not r.skipped and "GPO" in r.name]
    assert report.args["finding"]["status"] == "drift"  # audit mode (2) is not block (1)
    (engine,) = [r for r in pua if r.module == "socle_finding" and "MSFT_MpPreference" in r.name]
    assert engine.args["finding"]["actual"].startswith("PUAProtection = None")  # not in the recorded status


# -- measure 1 --------------------------------------------------------------------------------------------


def test_update_policy_values_follow_the_policy_variables():
    runs = render_role("updates", {"updates_windows_install_hour": 13, "updates_windows_quality_deadline_days": 5},
                       probe())
    values = {r.args["name"]: int(r.args["data"]) for r in runs
              if r.module == "ansible.windows.win_regedit" and not r.skipped}
    assert values["ScheduledInstallTime"] == 13
    assert values["AUOptions"] == 4 and values["NoAutoUpdate"] == 0
    assert values["ConfigureDeadlineForQualityUpdates"] == 5
    assert values["SetDisablePauseUXAccess"] == 1
    findings = {r.control: r.args["finding"]["status"] for r in runs if r.module == "socle_finding" and not r.skipped}
    assert findings == {"M1-WIN-LAST-INSTALL": "compliant", "M1-WIN-PENDING-UPDATES": "compliant",
                        "M1-WIN-OS-SUPPORTED": "compliant"}


def test_os_supported_from_the_probed_build():
    """M1-WIN-OS-SUPPORTED: Windows 10 22H2 is out of support; Server 2025 is supported for years."""
    runs = render_role("updates", {}, probe(system={"edition_id": "Professional", "current_build": "19045",
                                                    "product_type": 1}))
    (finding,) = [r for r in runs_of(runs, "M1-WIN-OS-SUPPORTED") if not r.skipped]
    assert finding.args["finding"]["status"] == "drift"
    assert "Windows 10 22H2" in finding.args["finding"]["actual"]
    runs = render_role("updates", {}, probe(system={"edition_id": "ServerStandard", "current_build": "26100",
                                                    "product_type": 3}))
    (finding,) = [r for r in runs_of(runs, "M1-WIN-OS-SUPPORTED") if not r.skipped]
    assert finding.args["finding"]["status"] == "compliant"


def test_a_home_edition_is_drift_whatever_the_registry_says():
    runs = render_role("updates", {}, probe(system={"edition_id": "Core", "product_type": 1}))
    (home,) = [r for r in runs_of(runs, "M1-WIN-WU-AUTO") if r.module == "socle_finding" and not r.skipped]
    assert home.args["finding"]["status"] == "drift"


@pytest.mark.parametrize(
    ("role", "control", "policy", "values"),
    [
        ("updates", "M1-WIN-WU-AUTO", {"updates_windows_install_hour": 3},
         {"NoAutoUpdate": 0, "AUOptions": 4, "ScheduledInstallDay": 0, "ScheduledInstallTime": 3,
          "NoAutoRebootWithLoggedOnUsers": 0}),
        ("updates", "M1-WIN-WU-DEFERRALS", {"updates_windows_quality_deferral_days": 4},
         {"DeferQualityUpdates": 1, "DeferQualityUpdatesPeriodInDays": 4, "DeferFeatureUpdates": 1,
          "DeferFeatureUpdatesPeriodInDays": 180, "ManagePreviewBuilds": 1, "ManagePreviewBuildsPolicyValue": 0,
          "AllowOptionalContent": 0}),
        ("updates", "M1-WIN-WU-DEADLINES", {"updates_windows_feature_deadline_days": 21},
         {"SetComplianceDeadline": 1, "ConfigureDeadlineForQualityUpdates": 7,
          "ConfigureDeadlineForFeatureUpdates": 21, "ConfigureDeadlineGracePeriod": 2}),
        ("updates", "M1-WIN-WU-NO-PAUSE", {}, {"SetDisablePauseUXAccess": 1}),
        ("antivirus", "M2-WIN-DEFENDER-SIG-INTERVAL",
         {"antivirus_windows_signature_update_interval_h": 2, "antivirus_max_signature_age_h": 24},
         {"SignatureUpdateInterval": 2, "AVSignatureDue": 1, "ASSignatureDue": 1}),
        ("antivirus", "M2-WIN-DEFENDER-BEHAVIOUR", {}, {"DisableBehaviorMonitoring": 0, "DisableScriptScanning": 0}),
        ("antivirus", "M2-WIN-DEFENDER-RTP", {},
         {"DisableRealtimeMonitoring": 0, "DisableIOAVProtection": 0, "DisableOnAccessProtection": 0,
          "DisableScanOnRealtimeEnable": 0, "OobeEnableRtpAndSigUpdate": 1, "DisableRemovableDriveScanning": 0}),
        ("firewall", "M2-WIN-FW-LOGGING", {"firewall_log_drops": False},
         {"LogDroppedPackets": 0, "LogSuccessfulConnections": 1, "LogFileSize": 16384,
          "LogFilePath": "%SystemRoot%\\System32\\logfiles\\firewall\\publicfw.log"}),
    ],
)
def test_registry_values_written_per_control(role, control, policy, values):
    """The exact registry values each control writes (dword values as integers, per its policy)."""
    runs = render_role(role, policy, probe())
    writes = [r for r in runs_of(runs, control) if r.module == "ansible.windows.win_regedit" and not r.skipped]
    written = {}
    for run in writes:
        data = run.args["data"]
        written[run.args["name"]] = int(data) if run.args["type"] == "dword" else data
    assert written == values


@pytest.mark.parametrize("role", WINDOWS_ROLES)
def test_main_includes_the_windows_tasks_only_on_windows(role):
    """Dynamic include with `always`: no Windows task (not even skipped) on a Linux host, --tags still works."""
    tasks = load_tasks(ROOT / "roles" / role / "tasks" / "main.yml")
    (include,) = [t for t in tasks if "windows.yml" in str(t.get("ansible.builtin.include_tasks", ""))]
    assert str(include["when"]).startswith("ansible_facts['socle']['os_family'] == 'Windows'")
    assert include["tags"] == ["always"]
    assert not [t for t in tasks if "windows" in str(t.get("ansible.builtin.import_tasks", ""))]


@pytest.mark.parametrize(
    ("hostvars", "group"),
    [
        ({}, "socle_posix"),
        ({"ansible_connection": "ssh"}, "socle_posix"),
        ({"ansible_connection": "winrm"}, "socle_windows"),
        ({"ansible_connection": "ansible.builtin.psrp"}, "socle_windows"),
        ({"ansible_connection": "ssh", "ansible_shell_type": "powershell"}, "socle_windows"),
        ({"ansible_connection": "community.docker.docker"}, "socle_posix"),
    ],
)
def test_hosts_are_sorted_by_how_they_are_reached(hostvars, group):
    from conftest import load_project_module

    policy = load_project_module("action_plugins", "socle_policy")
    plays = load_tasks(ROOT / "playbooks" / "site.yml")
    (sort,) = [t for t in plays[0]["tasks"] if "socle_policy" in t]
    assert sort["socle_policy"]["platform_groups"] is True and sort["changed_when"] is False
    assert policy.platform_group(hostvars.get("ansible_connection"), hostvars.get("ansible_shell_type")) == group
    hosts = {play["name"]: play["hosts"] for play in plays if "hosts" in play}
    assert hosts["Apply the Windows baseline"] == "socle_windows"
    assert hosts["Apply the Linux baseline"] == "all:!socle_windows"


# -- measures 6, 7, 8 (organisation role, under organisation_enabled) -------------------------------------


def _organisation(policy=None):
    """The organisation role's Windows tasks, with the documents the controller-side render step returns."""
    import sys

    from conftest import load_project_module

    org = sys.modules.get("socle_organisation_for_windows") or load_project_module("action_plugins",
                                                                                    "socle_organisation")
    sys.modules["socle_organisation_for_windows"] = org
    facility = {
        "name": "EHPAD Les Tilleuls", "finess": "010003820", "address": "3 place de la Mairie, 27000 Évreux",
        "director": "Hélène Martin", "security_referent": {"name": "Noël L'Hôte", "phone": "02 32 00 00 01"},
        "dpo": {"name": "Zoé Müller", "email": "dpo@tilleuls.example"},
        "msp": {"name": "Infogérance & Cie", "phone": "02 32 00 00 02"},
        "critical_applications": [{"name": "Dossier de soins", "fallback": "Classeur papier",
                                   "decides": "Infirmière coordinatrice"}],
        "backup_locations": ["Baie du bureau infirmier"],
    }
    docs = org.render_documents(str(ROOT / "roles" / "organisation" / "templates"), "fr", {
        "facility": facility, "charter_version": "3", "charter_date": "2026-09-01", "dir": "/srv/ssi",
        "windows_dir": "C:\\ProgramData\\SSI", "backups": [], "restore_test_record": "",
    })
    variables = {
        "organisation_enabled": True, "organisation_facility": facility,
        "__organisation_charter": "charte", "__organisation_runbook": "procedures-mode-degrade",
        "__organisation_documents": {
            "files": {f"{kind}_{ext}": f"/tmp/socle-organisation/ab/{kind}.{ext}"
                      for kind in ("charter", "runbook") for ext in ("html", "pdf")},
            "banner_windows": docs["banner_windows"],
        },
    }
    return render_role("organisation", {**variables, **(policy or {})}, probe())


def test_organisation_documents_and_shortcut_on_windows():
    runs = _organisation()
    copies = {r.args["dest"]: r.args["src"] for r in runs if r.module == "ansible.windows.win_copy"}
    assert copies == {
        "C:\\ProgramData\\SSI\\charte.html": "/tmp/socle-organisation/ab/charter.html",
        "C:\\ProgramData\\SSI\\charte.pdf": "/tmp/socle-organisation/ab/charter.pdf",
        "C:\\ProgramData\\SSI\\procedures-mode-degrade.html": "/tmp/socle-organisation/ab/runbook.html",
        "C:\\ProgramData\\SSI\\procedures-mode-degrade.pdf": "/tmp/socle-organisation/ab/runbook.pdf",
    }
    assert {r.control for r in runs if r.module == "ansible.windows.win_copy"} == {
        "M8-WIN-CHARTER-DEPLOYED", "M6-WIN-RUNBOOK-COPY"}
    (shortcut,) = [r for r in runs_of(runs, "M8-WIN-CHARTER-DEPLOYED") if r.module == "community.windows.win_shortcut"]
    assert shortcut.args["src"] == "C:\\ProgramData\\SSI\\charte.html"
    assert shortcut.args["dest"] == "%PUBLIC%\\Desktop\\Charte informatique.lnk"
    (english,) = [r for r in _organisation({"organisation_lang": "en"}) if r.module == "community.windows.win_shortcut"]
    assert english.args["dest"].endswith("\\IT usage charter.lnk")


def test_organisation_legal_notice_recalls_the_charter_with_windows_paths():
    notice = {r.args["name"]: r.args for r in runs_of(_organisation(), "M7-WIN-LEGAL-NOTICE") if not r.skipped}
    assert notice["LegalNoticeCaption"]["data"] == "EHPAD Les Tilleuls"
    text = notice["LegalNoticeText"]["data"]
    assert "C:\\ProgramData\\SSI\\charte.html" in text and "version 3" in text
    assert "Noël L'Hôte" in text  # accents kept: REG_SZ is UTF-16
    assert {a["type"] for a in notice.values()} == {"string"}
    assert notice["LegalNoticeText"]["path"] == "HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Policies\\System"
    assert not [r for r in runs_of(_organisation({"organisation_banner_enabled": False}), "M7-WIN-LEGAL-NOTICE")
                if not r.skipped]


def test_organisation_is_wired_into_the_windows_play_under_organisation_enabled():
    plays = load_tasks(ROOT / "playbooks" / "site.yml")
    (windows,) = [p for p in plays if p.get("hosts") == "socle_windows"]
    assert "organisation" in imported_roles(windows)
    tasks = load_tasks(ROOT / "roles" / "organisation" / "tasks" / "main.yml")
    (include,) = [t for t in tasks if t.get("ansible.builtin.include_tasks") == "windows.yml"]
    assert str(include["when"]).endswith("and organisation_enabled")
    assert [t.get("ansible.builtin.import_tasks") for t in tasks] == ["posix.yml", None]
    (render,) = [t for t in load_tasks(ROOT / "roles" / "organisation" / "tasks" / "posix.yml")
                 if "socle_organisation" in t]
    assert {"M6-WIN-RUNBOOK-COPY", "M7-WIN-LEGAL-NOTICE", "M8-WIN-CHARTER-DEPLOYED"} <= set(render["tags"])


# -- measure 3 (backup role): restic with VSS on a scheduled task, ages decided by socle_restic ----------

BACKUP_POLICY = {
    "backup_enabled": True, "backup_local_password": "local-secret-0123456789",
    "backup_offsite_password": "offsite-secret-9876543210", "backup_offsite_ssh_host": "sauvegarde.example.org",
    "backup_offsite_ssh_private_key": "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----",
    "ansible_check_mode": False,
}
NOT_YET = {"restic_missing": True, "changed": False}


def _backup(policy=None, registered=None):
    return render_role("backup", {**BACKUP_POLICY, **(policy or {})}, probe(), {
        "__backup_win_download": {"changed": False},
        "__backup_win_local_snapshots": NOT_YET, "__backup_win_offsite_snapshots": NOT_YET,
        **(registered or {}),
    })


def _task(runs, name):
    (run,) = [r for r in runs if r.module == "community.windows.win_scheduled_task" and not r.skipped
              and r.args["name"] == name]
    return run.args


def test_restic_comes_from_the_pinned_checksummed_release():
    runs = _backup()
    (download,) = [r for r in runs_of(runs, "M3-WIN-RESTIC-TASK") if r.module == "ansible.windows.win_get_url"]
    assert download.args["url"] == ("https://github.com/restic/restic/releases/download/v0.18.1/"
                                    "restic_0.18.1_windows_amd64.zip")
    assert download.args["checksum"] == "0c1a713440578cb400d2e76208feb24f1b339426b075a21f73b6b2132692515d"
    assert download.args["checksum_algorithm"] == "sha256"
    (unzip,) = [r for r in runs if r.module == "community.windows.win_unzip"]
    assert unzip.args["creates"] == "C:\\ProgramData\\Socle\\restic\\bin\\restic_0.18.1_windows_amd64.exe"
    # Check mode on a fresh host: nothing to extract yet, the download already reports the drift.
    fresh = _backup({"ansible_check_mode": True}, {"__backup_win_download": {"changed": True}})
    assert [r.skipped for r in fresh if r.module == "community.windows.win_unzip"] == [True]
    # The secrets folder comes first, before anything is written into it.
    (private,) = [r for r in runs if r.module == "socle_win_private_dir"]
    assert private.index < download.index and private.args == {"path": "C:\\ProgramData\\Socle\\restic"}


def test_backup_task_runs_restic_with_vss_as_system_then_the_retention():
    task = _task(_backup({"backup_keep_daily": 10, "backup_windows_start_time": "12:45"}), "Socle restic backup")
    assert (task["username"], task["logon_type"], task["run_level"]) == ("SYSTEM", "service_account", "highest")
    assert task["triggers"] == [{"type": "daily", "start_boundary": "2026-01-01T12:45:00"}]
    assert task["disallow_start_if_on_batteries"] is False and task["start_when_available"] is True
    backup, forget = task["actions"]
    assert backup["path"] == forget["path"] == "C:\\ProgramData\\Socle\\restic\\bin\\restic_0.18.1_windows_amd64.exe"
    assert backup["arguments"] == (
        "-r C:\\ProgramData\\Socle\\restic\\repository --password-file C:\\ProgramData\\Socle\\restic\\local.pass "
        "--cache-dir C:\\ProgramData\\Socle\\restic\\cache backup --use-fs-snapshot --host accueil-pc --tag socle "
        "--exclude=*.tmp --exclude=C:\\Users\\*\\AppData\\Local\\Temp "
        "--exclude=C:\\Users\\*\\AppData\\Local\\Microsoft\\Windows\\INetCache C:\\Users")
    assert forget["arguments"].endswith(
        "forget --prune --host accueil-pc --keep-daily 10 --keep-weekly 4 --keep-monthly 12")


def test_paths_with_spaces_are_quoted_as_windows_reads_them():
    task = _task(_backup({"backup_windows_paths": ["C:\\Données partagées\\", "D:\\Soins"],
                          "backup_windows_exclude": []}), "Socle restic backup")
    # A trailing backslash before the closing quote is doubled (Microsoft C runtime rules, as Go reads them).
    assert task["actions"][0]["arguments"].endswith('--tag socle "C:\\Données partagées\\\\" D:\\Soins')


def test_offsite_task_uses_the_append_only_target_over_windows_openssh():
    """M3-WIN-REPO-OFFSITE: the same off-site repository as Linux, reached with the OpenSSH built into Windows."""
    runs = _backup()
    task = _task(runs, "Socle restic off-site")
    assert task["state"] == "present"
    args = task["actions"][0]["arguments"]
    assert args.startswith("-r rclone:socle:accueil-pc --password-file C:\\ProgramData\\Socle\\restic\\offsite.pass")
    assert ('"rclone.program=C:/Windows/System32/OpenSSH/ssh.exe -i C:/ProgramData/Socle/restic/offsite_id_ed25519 '
            '-p 22 -o BatchMode=yes') in args
    assert "restic@sauvegarde.example.org" in args and "backup --use-fs-snapshot --host accueil-pc" in args
    sftp = _task(_backup({"backup_offsite_append_only": False}), "Socle restic off-site")["actions"][0]["arguments"]
    assert sftp.startswith("-r sftp:restic@sauvegarde.example.org:/repos/accueil-pc ")
    assert 'restic@sauvegarde.example.org -s sftp"' in sftp
    off = _backup({"backup_offsite_enabled": False})
    assert _task(off, "Socle restic off-site")["state"] == "absent"
    assert all(r.skipped for r in runs_of(off, "M3-WIN-OFFSITE-AGE"))


def test_secrets_never_reach_a_task_argument_or_a_log():
    runs = _backup()
    secrets = (BACKUP_POLICY["backup_local_password"], BACKUP_POLICY["backup_offsite_password"], "AAAA")
    for run in runs:
        if run.skipped:
            continue
        text = json.dumps(run.args, default=str)
        if any(secret in text for secret in secrets):
            assert run.task.get("no_log") is True, run.name
            assert run.module == "ansible.windows.win_copy", run.name
    copies = [r for r in runs if r.module == "ansible.windows.win_copy" and not r.skipped]
    assert {r.args["dest"] for r in copies if r.task.get("no_log")} == {
        "C:\\ProgramData\\Socle\\restic\\local.pass", "C:\\ProgramData\\Socle\\restic\\offsite.pass",
        "C:\\ProgramData\\Socle\\restic\\offsite_id_ed25519"}


@pytest.mark.parametrize(
    ("policy", "holds"),
    [({}, True), ({"backup_local_password": "court"}, False),
     ({"backup_offsite_password": BACKUP_POLICY["backup_local_password"]}, False),
     ({"backup_offsite_enabled": False, "backup_offsite_password": ""}, True)],
)
def test_backup_refuses_missing_or_weak_passwords(policy, holds):
    # The Windows tasks hold no password check of their own: socle_policy's backup rules refuse these before
    # any host is touched (site.yml's first play, or the role's main.yml used on its own).
    from conftest import load_project_module

    rules = load_project_module("action_plugins", "socle_policy")
    defaults = yaml.safe_load((ROOT / "roles" / "backup" / "defaults" / "main.yml").read_text(encoding="utf-8"))
    assert (rules.ROLE_RULES["backup"]({**defaults, **BACKUP_POLICY, **policy}) == []) is holds
    assert not [r for r in _backup(policy) if r.module == "ansible.builtin.assert"]
    (check,) = [t for t in load_tasks(ROOT / "roles" / "backup" / "tasks" / "main.yml") if "socle_policy" in t]
    assert check["socle_policy"] == {"roles": ["backup"]} and check["tags"] == ["always"]


def test_backup_age_findings_in_check_mode_on_a_fresh_host():
    runs = _backup({"ansible_check_mode": True}, {"__backup_win_download": {"changed": True}})
    findings = {r.control: r.args["finding"] for r in runs if r.module == "socle_finding" and not r.skipped}
    assert findings["M3-WIN-BACKUP-AGE"] == {"status": "drift",
                                             "expected": "local repository: newest snapshot at most 26 h old",
                                             "actual": "local repository: restic is not installed yet"}
    assert findings["M3-WIN-OFFSITE-AGE"]["expected"] == "off-site repository: newest snapshot at most 192 h old"


def test_main_includes_the_windows_backup_only_where_backup_is_enabled():
    tasks = load_tasks(ROOT / "roles" / "backup" / "tasks" / "main.yml")
    (include,) = [t for t in tasks if t.get("ansible.builtin.include_tasks") == "windows.yml"]
    assert str(include["when"]).endswith("and backup_enabled")
    plays = load_tasks(ROOT / "playbooks" / "site.yml")
    (windows,) = [p for p in plays if p.get("hosts") == "socle_windows"]
    assert "backup" in imported_roles(windows)


def imported_roles(play: dict) -> list[str]:
    """The roles a play runs (import_role or include_role tasks, whose main entry point holds the Windows tasks)."""
    found = [t[key] for t in play.get("tasks", []) for key in ("ansible.builtin.import_role",
                                                              "ansible.builtin.include_role") if key in t]
    assert all(i.get("tasks_from", "main") == "main" for i in found), "the Windows play needs each role's main.yml"
    return [i["name"] for i in found]


@pytest.mark.parametrize(
    ("hostvars", "ends"),
    [({"backup_enabled": True}, False), ({"backup_enabled": False}, True),
     ({"backup_enabled": True, "ansible_connection": "winrm"}, True),
     ({"backup_enabled": True, "ansible_connection": "ssh", "ansible_shell_type": "powershell"}, True)],
)
def test_the_linux_restore_test_playbook_leaves_windows_hosts_alone(hostvars, ends):
    """M3-WIN-RESTORE-TEST is not implemented: playbooks/restore-test.yml must not run its shell on Windows."""
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar
    from winharness import _trust

    (play,) = load_tasks(ROOT / "playbooks" / "restore-test.yml")
    first = play["tasks"][0]
    assert first["ansible.builtin.meta"] == "end_host"
    templar = Templar(loader=DataLoader(), variables=_trust(hostvars))
    assert templar.evaluate_conditional(_trust(str(first["when"]))) is ends
