"""Decisions for the Windows account controls of measure 5, made on the controller.

The read-only probe (library/socle_win_probe.ps1) returns raw values: Get-LocalUser and
Get-LocalGroupMember with SIDs and ISO 8601 dates, an ``auditpol /backup`` file, the Windows LAPS
policy roots. Everything that compares, computes an age or decides lives here, unit-tested against
recorded outputs (tests/unit/test_socle_windows_accounts.py), with the same rules as the rest of
the Windows side (module_utils/socle_windows.py):

* accounts and groups by SID, never by name: the Administrators group is S-1-5-32-544 whatever its
  localised name ("Administrateurs"), the built-in Administrator RID 500 ("Administrateur", or the
  name the facility gave it);
* audit subcategories by GUID and the numeric "Setting Value" of auditpol's backup file, never the
  localised "Inclusion Setting" text ("Succès et échec");
* the same policy variables as Linux where the meaning is the same (generic names, unused-account
  threshold, departed staff).

Every ``*_finding`` returns ``{"status", "expected", "actual"}`` (compliant, drift, not_applicable).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable, Mapping
from typing import Any

ADMINISTRATORS_SID = "S-1-5-32-544"
BUILTIN_ADMIN_RID = 500
DOMAIN_ADMINS_RID = 512
DAY_S = 86400
_NEVER_YEARS = (1, 1601)


def _finding(status: str, expected: str, actual: str) -> dict[str, str]:
    return {"status": status, "expected": expected, "actual": actual}


def _as_list(value: Any) -> list:
    """ConvertTo-Json writes a one-element array as a bare object; undo that."""
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _names(items: Iterable[str]) -> str:
    return ", ".join(sorted(items)) or "none"


def sid_of(value: Any) -> str:
    """A SID as the probe writes it (a string), or as ConvertTo-Json writes a SecurityIdentifier."""
    if isinstance(value, Mapping):
        value = value.get("Value")
    return str(value or "").strip().upper()


def rid(sid: str) -> int | None:
    """The last sub-authority of an account SID (500 built-in Administrator, 512 Domain Admins)."""
    match = re.fullmatch(r"S-1-5-21-\d+-\d+-\d+-(\d+)", sid_of(sid))
    return int(match.group(1)) if match else None


def ps_date(value: Any) -> dt.datetime | None:
    """An ISO 8601 date (the probe's ``ToString('o')``) or ``/Date(ms)/`` as aware UTC; None for never."""
    if isinstance(value, Mapping):
        value = value.get("value", value.get("Value"))
    if value in (None, ""):
        return None
    text = str(value).strip()
    match = re.fullmatch(r"\\?/Date\((-?\d+)(?:[+-]\d{4})?\)\\?/", text)
    if match:
        when = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=int(match.group(1)))
    else:
        text = re.sub(r"\.(\d+)", lambda m: "." + (m.group(1) + "000000")[:6], text, count=1)
        text = text[:-1] + "+00:00" if text.endswith("Z") else text
        try:
            when = dt.datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"not a PowerShell date: {value!r}") from None
        when = when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)
    return None if when.year in _NEVER_YEARS else when


def local_users(users: Any) -> list[dict[str, Any]]:
    """Get-LocalUser entries as dicts with ``name``, ``sid``, ``rid``, ``enabled`` and the dates parsed."""
    out = []
    for user in _as_list(users):
        if not isinstance(user, Mapping):
            continue
        sid = sid_of(user.get("SID"))
        out.append({
            "name": str(user.get("Name") or ""),
            "sid": sid,
            "rid": rid(sid),
            "enabled": user.get("Enabled") is True,
            "password_required": user.get("PasswordRequired") is not False,
            "last_logon": ps_date(user.get("LastLogon")),
            "password_last_set": ps_date(user.get("PasswordLastSet")),
        })
    return out


def operator(identity: Mapping[str, Any] | None, users: Any) -> dict[str, Any] | None:
    """The local account Ansible connects as (by the SID the probe read), None for a domain account."""
    wanted = sid_of((identity or {}).get("user_sid"))
    return next((u for u in local_users(users) if wanted and u["sid"] == wanted), None)


def generic_match(name: str, generic: Iterable[str]) -> str | None:
    """The generic name an account name matches, as on Linux (socle_accounts.generic_match):
    ``stagiaire`` matches stagiaire, Stagiaire2, stagiaire-2; Windows names compare case-insensitively."""
    low = name.lower()
    for word in generic:
        word = word.lower()
        if low == word or re.fullmatch(re.escape(word) + r"[-_.]?[0-9]+", low):
            return word
    return None


# --------------------------------------------------------------------------------------------------
# Account hygiene: empty passwords, Administrators members, shared and unused accounts
# --------------------------------------------------------------------------------------------------


def empty_passwords_finding(users: Any) -> dict[str, str]:
    """M5-WIN-EMPTY-PASSWORDS: no enabled account exempt from a password (PasswordRequired false)."""
    exempt = [u["name"] for u in local_users(users) if u["enabled"] and not u["password_required"]]
    return _finding("drift" if exempt else "compliant", "no enabled local account without a required password",
                    f"enabled accounts with PasswordRequired false: {_names(exempt)}")


def _allowed(member: Mapping[str, Any], allowed: Iterable[str]) -> bool:
    """A policy entry is a SID (S-1-...) compared exactly, or an account name compared, case-insensitively,
    with the member's name with or without its ``COMPUTER\\`` / ``DOMAIN\\`` prefix."""
    sid = sid_of(member.get("SID"))
    name = str(member.get("Name") or "").lower()
    short = name.rsplit("\\", 1)[-1]
    for entry in allowed:
        entry = str(entry).strip()
        if entry.upper().startswith("S-1-"):
            if entry.upper() == sid:
                return True
        elif entry.lower() in (name, short):
            return True
    return False


def admins_finding(members: Any, allowed: Iterable[str], identity: Mapping[str, Any] | None) -> dict[str, str]:
    """M5-WIN-ADMINS-MEMBERSHIP: members of S-1-5-32-544 are the built-in Administrator (RID 500),
    Domain Admins (RID 512, added by a domain join), the account Ansible connects as, or in the policy list."""
    allowed = list(allowed)
    user_sid = sid_of((identity or {}).get("user_sid"))
    expected = ("Administrators (S-1-5-32-544) limited to the built-in Administrator, Domain Admins, "
                f"the account Ansible uses and the policy list ({', '.join(allowed) or 'empty'})")
    if members is None:
        return _finding("drift", expected, "the members of S-1-5-32-544 could not be read")
    extra, seen = [], []
    for member in _as_list(members):
        if not isinstance(member, Mapping):
            continue
        sid = sid_of(member.get("SID"))
        label = f"{member.get('Name') or '?'} ({sid or 'no SID'})"
        seen.append(label)
        if rid(sid) in (BUILTIN_ADMIN_RID, DOMAIN_ADMINS_RID) or (sid and sid == user_sid) or _allowed(member, allowed):
            continue
        extra.append(label)
    actual = f"members: {_names(seen)}; not allowed: {_names(extra)}"
    return _finding("drift" if extra else "compliant", expected, actual)


def shared_finding(users: Any, generic: Iterable[str]) -> dict[str, str]:
    """M5-WIN-SHARED-ACCOUNTS: no enabled local account with a generic name of the policy list."""
    generic = list(generic)
    shared = [f"{u['name']} ({generic_match(u['name'], generic)})" for u in local_users(users)
              if u["enabled"] and generic_match(u["name"], generic)]
    return _finding("drift" if shared else "compliant",
                    f"no enabled local account with a generic name ({', '.join(generic) or 'none listed'})",
                    f"generic accounts: {_names(shared)}")


def unused_finding(users: Any, unused_days: int, now: dt.datetime, operator_sid: str = "") -> dict[str, str]:
    """M5-WIN-UNUSED-ACCOUNTS: every enabled local account logged on within ``unused_days``.

    LastLogon is kept per machine by the SAM; an account that never logged on is unused once its
    password (set when it was created) is older than the threshold, as on Linux. The account Ansible
    connects as is left out: WinRM network logons do not all update LastLogon.
    """
    limit = now - dt.timedelta(days=int(unused_days))
    unused = []
    for user in local_users(users):
        if not user["enabled"] or (operator_sid and user["sid"] == sid_of(operator_sid)):
            continue
        if user["last_logon"] is None:
            created = user["password_last_set"]
            if created is not None and created < limit:
                unused.append(f"{user['name']} (never logged on, password set {created:%Y-%m-%d})")
        elif user["last_logon"] < limit:
            unused.append(f"{user['name']} (last logon {(now - user['last_logon']).days} days ago)")
    return _finding("drift" if unused else "compliant",
                    f"every enabled local account used within {int(unused_days)} days",
                    f"unused accounts: {_names(unused)}")


# --------------------------------------------------------------------------------------------------
# Departed staff
# --------------------------------------------------------------------------------------------------


def departed_present(users: Any, departed: Iterable[str]) -> list[str]:
    """The local accounts (their names as Windows spells them) of departed staff, enabled ones only."""
    wanted = {str(name).lower() for name in departed}
    return sorted(u["name"] for u in local_users(users) if u["name"].lower() in wanted and u["enabled"])


def departed_guard(identity: Mapping[str, Any] | None, users: Any, departed: Iterable[str],
                   ansible_user: str = "") -> list[str]:
    """Why disabling the departed accounts would cut Ansible off; [] when it is safe."""
    wanted = {str(name).lower() for name in departed}
    me = operator(identity, users)
    names = {str(ansible_user).rsplit("\\", 1)[-1].lower()} - {""}
    if me:
        names.add(me["name"].lower())
    hit = sorted(names & wanted)
    if not hit:
        return []
    return [f"Ansible connects as {', '.join(hit)}, listed in accounts_departed: disabling it would cut Socle "
            "(and you) off this host; connect with a named admin account or remove it from the list"]


# --------------------------------------------------------------------------------------------------
# Advanced audit policy (auditpol /backup)
# --------------------------------------------------------------------------------------------------

AUDIT_SUCCESS, AUDIT_FAILURE = 1, 2
#: Subcategory GUID -> (English label for reports, bits required: 1 success, 2 failure).
LOGON_AUDIT = {
    "{0CCE9215-69AE-11D9-BED3-505054503030}": ("Logon", AUDIT_SUCCESS | AUDIT_FAILURE),
    "{0CCE9216-69AE-11D9-BED3-505054503030}": ("Logoff", AUDIT_SUCCESS),
    "{0CCE9217-69AE-11D9-BED3-505054503030}": ("Account Lockout", AUDIT_FAILURE),
}
_BITS = {0: "none", 1: "success", 2: "failure", 3: "success and failure"}


def decode_text(data: bytes) -> str:
    """auditpol writes its backup in UTF-16 with a byte-order mark on some builds, UTF-8 on others."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    if len(data) >= 2 and data[1:2] == b"\0":
        return data.decode("utf-16-le")
    return data.decode("utf-8-sig")


def parse_audit_backup(data: bytes | str) -> dict[str, dict[str, Any]]:
    """``auditpol /backup`` CSV -> GUID (upper case, braces) -> {name, value}.

    Columns by position (the header row is skipped, whatever its language): Machine Name, Policy
    Target, Subcategory, Subcategory GUID, Inclusion Setting, Exclusion Setting, Setting Value. Rows
    without a GUID (global options such as CrashOnAuditFail) are left out.
    """
    text = decode_text(data) if isinstance(data, bytes) else data
    rows = list(csv.reader(io.StringIO(text)))
    out = {}
    for row in rows[1:]:
        if len(row) < 7 or not row[3].strip().startswith("{"):
            continue
        try:
            value = int(row[6].strip() or 0)
        except ValueError:
            continue
        out[row[3].strip().upper()] = {"name": row[2].strip(), "value": value}
    return out


def audit_changes(backup: bytes | str | None) -> list[dict[str, Any]]:
    """The subcategories to set, each with the host's own label for it and the audit types to enable.

    What is already audited is kept (the required bits are added, never removed). The label is the
    host's, read from its backup by GUID: win_audit_policy_system takes a name, and on French Windows
    that name is French.
    """
    if not backup:
        return []
    current = parse_audit_backup(backup)
    changes = []
    for guid, (label, required) in LOGON_AUDIT.items():
        entry = current.get(guid, {"name": label, "value": 0})
        value = entry["value"]
        if value & required == required:
            continue
        wanted = value | required
        types = [t for bit, t in ((AUDIT_SUCCESS, "success"), (AUDIT_FAILURE, "failure")) if wanted & bit]
        changes.append({"guid": guid, "label": label, "subcategory": entry["name"] or label, "audit_type": types})
    return changes


def audit_finding(backup: bytes | str | None) -> dict[str, str]:
    """M5-WIN-LOGON-AUDIT, as evidence: the required audit bits per subcategory, read by GUID."""
    expected = "; ".join(f"{label}: {_BITS[bits]} at least" for label, bits in LOGON_AUDIT.values())
    if not backup:
        return _finding("drift", expected, "the audit policy could not be read (auditpol /backup)")
    current = parse_audit_backup(backup)
    parts, missing = [], False
    for guid, (label, bits) in LOGON_AUDIT.items():
        value = current.get(guid, {}).get("value", 0)
        missing = missing or value & bits != bits
        parts.append(f"{label} {guid}: {_BITS.get(value, value)}")
    return _finding("drift" if missing else "compliant", expected, "; ".join(parts))


# --------------------------------------------------------------------------------------------------
# Local administrator password: Windows LAPS where joined, rotation from the controller otherwise
# --------------------------------------------------------------------------------------------------

#: LAPS policy roots in the order LAPS reads them: the first with any value wins, never merged.
LAPS_ROOTS = (
    ("csp", "HKLM:\\SOFTWARE\\Microsoft\\Policies\\LAPS"),
    ("gpo", "HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Policies\\LAPS"),
    ("local", "HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\LAPS\\Config"),
    ("legacy", "HKLM:\\SOFTWARE\\Policies\\Microsoft Services\\AdmPwd"),
)
LAPS_GPO_PATH = dict(LAPS_ROOTS)["gpo"]
LAPS_BACKUP_ENTRA, LAPS_BACKUP_AD = 1, 2
LAPS_COMPLEXITY_ALL = 4  # upper case, lower case, digits, specials
LAPS_RESET_AND_LOGOFF = 3  # PostAuthenticationActions: reset the password and log the account off
# Reset and log off (3, the default when absent), reset and reboot (5), reset, log off and end processes (11).
LAPS_POST_AUTH_OK = (3, 5, 11)


def join_state(system: Mapping[str, Any] | None, laps: Mapping[str, Any] | None) -> str:
    """``ad`` (domain-joined), ``entra`` (Entra ID-joined) or ``workgroup``."""
    if (system or {}).get("part_of_domain") is True:
        return "ad"
    if (laps or {}).get("entra_joined") is True:
        return "entra"
    return "workgroup"


def laps_values(join: str, age_days: int, length: int, account: str) -> list[dict[str, Any]]:
    """The Windows LAPS policy values Socle writes under the policy root (GPO path) of a joined device."""
    if join == "workgroup":
        return []
    values = [
        ("BackupDirectory", LAPS_BACKUP_AD if join == "ad" else LAPS_BACKUP_ENTRA),
        ("PasswordAgeDays", int(age_days)),
        ("PasswordLength", int(length)),
        ("PasswordComplexity", LAPS_COMPLEXITY_ALL),
        ("PostAuthenticationActions", LAPS_RESET_AND_LOGOFF),
    ]
    out = [{"path": LAPS_GPO_PATH, "name": name, "data": data, "type": "dword"} for name, data in values]
    if account:
        out.append({"path": LAPS_GPO_PATH, "name": "AdministratorAccountName", "data": account, "type": "string"})
    return out


def laps_effective(laps: Mapping[str, Any] | None) -> tuple[str | None, dict[str, Any]]:
    """The policy root LAPS uses (the first with any value) and its values; (None, {}) when none has any."""
    roots = (laps or {}).get("roots") or {}
    for key, _path in LAPS_ROOTS:
        values = roots.get(key) or {}
        if values:
            return key, dict(values)
    return None, {}


def laps_finding(join: str, laps: Mapping[str, Any] | None, age_days: int, length: int) -> dict[str, str]:
    """M5-WIN-LOCAL-ADMIN-ROTATION on a joined device: the effective LAPS policy backs the password up
    and rotates it as the policy says."""
    expected = (f"Windows LAPS: BackupDirectory {LAPS_BACKUP_AD if join == 'ad' else LAPS_BACKUP_ENTRA}, "
                f"PasswordAgeDays at most {age_days}, PasswordLength at least {length}, "
                f"PasswordComplexity {LAPS_COMPLEXITY_ALL}")
    root, values = laps_effective(laps)
    if root is None:
        return _finding("drift", expected, "no Windows LAPS policy on this device")
    if root == "legacy":
        return _finding("drift", expected, "only the legacy Microsoft LAPS (AdmPwd) policy is set")

    def num(name: str) -> int | None:
        try:
            return int(values.get(name))
        except (TypeError, ValueError):
            return None

    bad = []
    if num("BackupDirectory") not in (LAPS_BACKUP_ENTRA, LAPS_BACKUP_AD):
        bad.append("BackupDirectory")
    if num("PasswordAgeDays") is None or num("PasswordAgeDays") > age_days:
        bad.append("PasswordAgeDays")
    if num("PasswordLength") is None or num("PasswordLength") < length:
        bad.append("PasswordLength")
    if num("PasswordComplexity") is None or num("PasswordComplexity") < LAPS_COMPLEXITY_ALL:
        bad.append("PasswordComplexity")
    post = values.get("PostAuthenticationActions")
    if post is not None and num("PostAuthenticationActions") not in LAPS_POST_AUTH_OK:
        bad.append("PostAuthenticationActions")
    shown = ", ".join(f"{k} = {values.get(k)}" for k in
                      ("BackupDirectory", "PasswordAgeDays", "PasswordLength", "PasswordComplexity"))
    actual = f"policy root {root}: {shown}" + (f"; not as required: {', '.join(bad)}" if bad else "")
    return _finding("drift" if bad else "compliant", expected, actual)


def rotation_target(users: Any, account: str) -> dict[str, Any] | None:
    """The local admin account whose password Socle rotates: the one the policy names, or the built-in
    Administrator found by RID 500 (whatever it is called now)."""
    for user in local_users(users):
        if (account and user["name"].lower() == account.lower()) or (not account and user["rid"] == BUILTIN_ADMIN_RID):
            return user
    return None


def rotation_plan(identity: Mapping[str, Any] | None, users: Any, system: Mapping[str, Any] | None,
                  laps: Mapping[str, Any] | None, account: str, max_age_days: int, now: dt.datetime,
                  vault_present: bool, vault_lasting: bool = True) -> dict[str, Any]:
    """What the workgroup rotation would do: ``{"rotate", "account", "reason", "finding"}``.

    Rotation is due when the password is older than ``max_age_days``, was never set, or the vault
    holds no entry for the host. Never the account Ansible connects as (its password is in the
    inventory), and never into a vault folder that does not outlive the run (``vault_lasting`` false:
    an AWX job's project copy): both are drift, and nothing is rotated.
    """
    join = join_state(system, laps)
    expected = f"local admin password unique to the host, changed within {max_age_days} days, kept in the vault"
    plan = {"rotate": False, "account": "", "reason": "", "join": join}
    if join != "workgroup":
        plan["finding"] = _finding("not_applicable", expected, f"{join}-joined: Windows LAPS manages it")
        return plan
    target = rotation_target(users, account)
    if target is None:
        wanted = account or "the built-in Administrator (RID 500)"
        plan["finding"] = _finding("drift", expected, f"no local account {wanted} on this host")
        return plan
    plan["account"] = target["name"]
    me = operator(identity, users)
    if me and me["sid"] == target["sid"]:
        plan["finding"] = _finding(
            "drift", expected,
            f"Ansible connects as {target['name']}: Socle never rotates the password of the account it uses; "
            "connect with another admin account")
        return plan
    changed = target["password_last_set"]
    if changed is None:
        reason = f"the password of {target['name']} was never set"
    elif now - changed > dt.timedelta(days=int(max_age_days)):
        reason = f"the password of {target['name']} is {(now - changed).days} days old"
    elif not vault_present:
        reason = f"the vault holds no password for {target['name']} on this host"
    else:
        plan["finding"] = _finding("compliant", expected,
                                   f"{target['name']}: password set {(now - changed).days} days ago, in the vault")
        return plan
    if not vault_lasting:
        plan["finding"] = _finding(
            "drift", expected,
            f"{reason}, but the vault folder is inside the job's copy of the project, which does not outlive "
            "the run: set accounts_windows_admin_vault_dir to a lasting absolute folder; nothing is rotated")
        return plan
    plan.update(rotate=True, reason=reason)
    plan["finding"] = _finding("drift", expected, reason)
    return plan
