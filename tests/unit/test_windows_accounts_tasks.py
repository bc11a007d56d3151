"""roles/accounts/tasks/windows.yml rendered for a policy on recorded probes (no Windows host here).

Account hygiene findings (M5-WIN-EMPTY-PASSWORDS, M5-WIN-ADMINS-MEMBERSHIP, M5-WIN-SHARED-ACCOUNTS,
M5-WIN-UNUSED-ACCOUNTS), departed staff (M5-WIN-DEPARTED-LOCKED), logon auditing (M5-WIN-LOGON-AUDIT)
and the local admin password (M5-WIN-LOCAL-ADMIN-ROTATION) on a French Windows 11 workgroup PC and a
French Windows Server 2022 in a domain.
"""

from __future__ import annotations

import base64

from test_socle_windows_accounts import AUDIT_FR, PC_ADMINS, PC_SID, PC_USERS, SRV_ADMINS, SRV_USERS
from test_windows_tasks import probe
from winharness import render_role

ANSIBLE = {"user_sid": f"{PC_SID}-1001", "group_sids": ["S-1-5-32-544", "S-1-5-113"]}
NO_LAPS = {"roots": {"csp": {}, "gpo": {}, "local": {}, "legacy": {}}, "entra_joined": False}
LAPS_PATH = "HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Policies\\LAPS"


def pc(**overrides):
    """The probe of PC-ACCUEIL, a French Windows 11 Pro workgroup PC; Ansible connects as socle-admin."""
    data = {"identity": ANSIBLE, "users": PC_USERS, "admins": PC_ADMINS, "laps": NO_LAPS,
            "audit_policy_b64": base64.b64encode(AUDIT_FR).decode()}
    return probe(**{**data, **overrides})


def server(**overrides):
    domain = "S-1-5-21-2702411093-1127938151-2716548190"
    data = {"identity": {"user_sid": f"{domain}-1188", "group_sids": ["S-1-5-32-544", f"{domain}-512"]},
            "system": {"edition_id": "ServerStandard", "part_of_domain": True, "product_type": 3},
            "users": SRV_USERS, "admins": SRV_ADMINS, "laps": NO_LAPS,
            "audit_policy_b64": base64.b64encode(AUDIT_FR).decode()}
    return probe(**{**data, **overrides})


def active(runs, control, module=None):
    return [r for r in runs if r.control == control and not r.skipped and (module is None or r.module == module)]


def findings(runs):
    return {r.control: r.args["finding"]["status"] for r in runs if r.module == "socle_finding" and not r.skipped
            and r.control.startswith("M5-WIN-")}


def test_workgroup_pc_findings_with_the_linux_policy_variables():
    runs = render_role("accounts", {"accounts_unused_days": 90}, pc())
    assert findings(runs) == {
        "M5-WIN-EMPTY-PASSWORDS": "drift",  # Accueil
        "M5-WIN-ADMINS-MEMBERSHIP": "drift",  # m.durand
        "M5-WIN-SHARED-ACCOUNTS": "drift",  # Accueil, Stagiaire2
        "M5-WIN-UNUSED-ACCOUNTS": "drift",  # Stagiaire2, j.petit
    }
    # The audit policy and the password are changed by their tasks, which carry their status: no
    # finding says "drift" about what an apply run fixes.
    assert active(runs, "M5-WIN-LOGON-AUDIT", "ansible.windows.win_audit_policy_system")
    assert active(runs, "M5-WIN-LOCAL-ADMIN-ROTATION", "socle_win_admin_password")
    # In check mode the reasons are reported too (the rotation task itself is no_log).
    audit = findings(render_role("accounts", {"ansible_check_mode": True}, pc()))
    assert audit["M5-WIN-LOGON-AUDIT"] == audit["M5-WIN-LOCAL-ADMIN-ROTATION"] == "drift"
    policy = {"accounts_windows_admins_allowed": ["m.durand"], "accounts_generic_names": ["soins"],
              "accounts_unused_days": 365}
    assert findings(render_role("accounts", policy, pc()))["M5-WIN-ADMINS-MEMBERSHIP"] == "compliant"
    assert findings(render_role("accounts", policy, pc()))["M5-WIN-SHARED-ACCOUNTS"] == "compliant"
    assert findings(render_role("accounts", policy, pc()))["M5-WIN-UNUSED-ACCOUNTS"] == "compliant"


def test_departed_accounts_are_disabled_with_win_user():
    runs = render_role("accounts", {"accounts_departed": ["j.petit", "c.martin"]}, pc())
    (disable,) = active(runs, "M5-WIN-DEPARTED-LOCKED")
    assert disable.module == "ansible.windows.win_user"
    assert disable.args == {"name": "j.petit", "account_disabled": True}  # c.martin is already disabled
    assert not active(render_role("accounts", {}, pc()), "M5-WIN-DEPARTED-LOCKED")


def test_the_account_ansible_uses_in_the_departed_list_stops_the_run_before_any_change():
    runs = render_role("accounts", {"accounts_departed": ["socle-admin"]}, pc())
    (guard,) = [r for r in runs if r.module == "ansible.builtin.assert"]
    assert guard.holds is False
    first_change = min(r.index for r in runs if r.module.startswith("ansible.windows.")
                       or r.module.startswith("community.windows."))
    assert guard.index < first_change
    assert render_role("accounts", {"accounts_departed": ["j.petit"]}, pc())[1].holds is True


def test_logon_audit_sets_only_the_missing_subcategory_under_its_french_name():
    runs = render_role("accounts", {}, pc())
    (audit,) = active(runs, "M5-WIN-LOGON-AUDIT", "ansible.windows.win_audit_policy_system")
    assert audit.args == {"subcategory": "Verrouillage du compte", "audit_type": ["success", "failure"]}
    fixed = AUDIT_FR.replace(b"{0cce9217-69ae-11d9-bed3-505054503030},Succ\xc3\xa8s,,1",
                             b"{0cce9217-69ae-11d9-bed3-505054503030},Succ\xc3\xa8s et \xc3\xa9chec,,3")
    runs = render_role("accounts", {}, pc(audit_policy_b64=base64.b64encode(fixed).decode()))
    assert not active(runs, "M5-WIN-LOGON-AUDIT", "ansible.windows.win_audit_policy_system")
    assert findings(runs)["M5-WIN-LOGON-AUDIT"] == "compliant"


def test_workgroup_rotation_is_planned_not_laps():
    runs = render_role("accounts", {"accounts_windows_admin_password_length": 24}, pc())
    assert not active(runs, "M5-WIN-LOCAL-ADMIN-ROTATION", "ansible.windows.win_regedit")
    (rotate,) = active(runs, "M5-WIN-LOCAL-ADMIN-ROTATION", "socle_win_admin_password")
    assert rotate.task["no_log"] is True
    assert rotate.args["account"] == "Administrateur" and rotate.args["rotate"] is True
    assert int(rotate.args["length"]) == 24
    assert rotate.args["vault_file"].endswith("local_admin_passwords/accueil-pc.yml")


def test_on_awx_the_vault_folder_must_be_absolute(tmp_path):
    runs = render_role("accounts", {"awx_job_id": 42}, pc())
    assert not active(runs, "M5-WIN-LOCAL-ADMIN-ROTATION", "socle_win_admin_password")
    assert findings(runs)["M5-WIN-LOCAL-ADMIN-ROTATION"] == "drift"
    runs = render_role("accounts", {"awx_job_id": 42, "accounts_windows_admin_vault_dir": str(tmp_path)}, pc())
    assert active(runs, "M5-WIN-LOCAL-ADMIN-ROTATION", "socle_win_admin_password")


def test_rotation_is_not_planned_when_the_vault_entry_is_fresh(tmp_path):
    (tmp_path / "accueil-pc.yml").write_text("$ANSIBLE_VAULT;1.1;AES256\n")
    users = [{**PC_USERS[0], "PasswordLastSet": "2099-01-01T00:00:00Z"}, *PC_USERS[1:]]
    runs = render_role("accounts", {"accounts_windows_admin_vault_dir": str(tmp_path)}, pc(users=users))
    assert not active(runs, "M5-WIN-LOCAL-ADMIN-ROTATION", "socle_win_admin_password")
    assert findings(runs)["M5-WIN-LOCAL-ADMIN-ROTATION"] == "compliant"


def test_domain_server_gets_the_laps_policy():
    runs = render_role("accounts", {"accounts_windows_admin_password_max_age_days": 14}, server())
    written = {r.args["name"]: r.args["data"] for r in active(runs, "M5-WIN-LOCAL-ADMIN-ROTATION",
                                                               "ansible.windows.win_regedit")}
    assert {k: int(v) for k, v in written.items()} == {
        "BackupDirectory": 2, "PasswordAgeDays": 14, "PasswordLength": 20, "PasswordComplexity": 4,
        "PostAuthenticationActions": 3}
    assert not active(runs, "M5-WIN-LOCAL-ADMIN-ROTATION", "socle_win_admin_password")
    assert "M5-WIN-LOCAL-ADMIN-ROTATION" not in findings(runs)  # the writes carry the status
    assert findings(runs)["M5-WIN-ADMINS-MEMBERSHIP"] == "drift"  # GG-Admins-Serveurs, prestataire


def test_laps_values_a_domain_gpo_or_intune_owns_are_reported_not_rewritten():
    rsop = [{"registryKey": "Software\\Microsoft\\Windows\\CurrentVersion\\Policies\\LAPS",
             "valueName": "PasswordLength", "valueType": 4, "value": [14, 0, 0, 0], "GPOID": "cn={EF},cn=policies",
             "precedence": 1, "deleted": False}]
    runs = render_role("accounts", {}, server(rsop=rsop))
    written = [r.args["name"] for r in active(runs, "M5-WIN-LOCAL-ADMIN-ROTATION", "ansible.windows.win_regedit")]
    assert "PasswordLength" not in written and "BackupDirectory" in written
    (gpo,) = [r for r in active(runs, "M5-WIN-LOCAL-ADMIN-ROTATION", "socle_finding")]
    assert gpo.args["finding"]["status"] == "drift"  # the GPO's 14 is below the policy's 20
    assert "PasswordLength = 14 (set by GPO cn={EF},cn=policies)" in gpo.args["finding"]["actual"]
    intune = {**NO_LAPS, "roots": {"csp": {"BackupDirectory": 1, "PasswordAgeDays": 30, "PasswordLength": 20,
                                           "PasswordComplexity": 4}}}
    runs = render_role("accounts", {}, server(laps=intune))
    assert not active(runs, "M5-WIN-LOCAL-ADMIN-ROTATION", "ansible.windows.win_regedit")
    assert findings(runs)["M5-WIN-LOCAL-ADMIN-ROTATION"] == "compliant"
