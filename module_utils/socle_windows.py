"""Decisions for the Windows controls, made on the controller from what a Windows host reports.

What runs on Windows stays thin and read-only (library/socle_win_probe.ps1 returns raw values:
CIM properties, registry data, a secedit export, Windows Update Agent numbers). Everything that
compares, computes an age or decides compliance lives here, in Python, and is unit-tested against
recorded outputs in the documented formats (tests/unit/test_socle_windows.py).

Rules that keep it right on French Windows, the norm for Socle's users:

* never read English text: accounts and groups by SID (RID 500 = built-in Administrator, whatever
  its localised name, "Administrateur"), update categories by GUID, results by numeric code;
* dates as PowerShell's ConvertTo-Json writes them: ``/Date(1732780800000)/`` (Windows PowerShell
  5.1) or ISO 8601 with up to 7 fraction digits (PowerShell 7, ``ToString('o')``);
* secedit exports are UTF-16 with a byte-order mark.

Every ``*_finding`` function returns ``{"status", "expected", "actual"}`` with a status among
compliant, drift and not_applicable: the ``socle_finding`` action reports it under its control.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

# --------------------------------------------------------------------------------------------------
# Values as ConvertTo-Json writes them
# --------------------------------------------------------------------------------------------------

_MS_DATE_RE = re.compile(r"^\\?/Date\((?P<ms>-?\d+)(?P<tz>[+-]\d{4})?\)\\?/$")
_ISO_FRACTION_RE = re.compile(r"\.(\d+)")
# WUA and CIM use these for "never" (DateTime.MinValue and its FILETIME cousin).
_NEVER_YEARS = (1, 1601)


def ps_datetime(value: Any) -> dt.datetime | None:
    """A date as Windows PowerShell 5.1 or 7 serialises it, as an aware UTC datetime; None if absent.

    Accepts ``/Date(ms)/`` (5.1, optionally with a ``+0100`` suffix, which does not shift the
    instant), ISO 8601 with or without offset and with up to 7 fraction digits (7.x and
    ``ToString('o')``; no offset means UTC), and the ``{"value": ..., "DateTime": ...}`` wrapper 5.1
    writes for some objects. DateTime.MinValue and 1601-01-01 (never) give None.
    """
    if isinstance(value, Mapping):
        value = value.get("value", value.get("Value"))
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ValueError(f"not a PowerShell date: {value!r}")
    text = value.strip()
    match = _MS_DATE_RE.match(text)
    if match:
        when = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=int(match["ms"]))
    else:
        iso = _ISO_FRACTION_RE.sub(lambda m: "." + (m.group(1) + "000000")[:6], text, count=1)
        iso = iso[:-1] + "+00:00" if iso.endswith("Z") else iso
        try:
            when = dt.datetime.fromisoformat(iso)
        except ValueError:
            raise ValueError(f"not a PowerShell date: {value!r}") from None
        when = when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)
    return None if when.year in _NEVER_YEARS else when


def _bool(value: Any) -> bool | None:
    """CIM booleans arrive as JSON true/false; GpoBoolean enums as 1/0 (2 = not configured)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def _finding(status: str, expected: str, actual: str) -> dict[str, str]:
    return {"status": status, "expected": expected, "actual": actual}


def _as_list(value: Any) -> list:
    """ConvertTo-Json writes a one-element array as a bare object; undo that."""
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _hours(delta: dt.timedelta) -> float:
    return delta.total_seconds() / 3600


# --------------------------------------------------------------------------------------------------
# Microsoft Defender (MSFT_MpComputerStatus) and third-party antivirus (SecurityCenter2)
# --------------------------------------------------------------------------------------------------

# AMRunningMode is a fixed token set by the engine, not a localised text; compare case-insensitively.
DEFENDER_ACTIVE_MODES = frozenset({"normal"})
# pathToSignedProductExe of Defender's own SecurityCenter2 entry, whatever its displayName language.
DEFENDER_PRODUCT_PATH = "windowsdefender://"
SIGNATURE_AGE_NEVER = (65535, 4294967295)


def defender_mode(status: Mapping[str, Any] | None) -> str:
    """``active`` (Defender protects the host), ``passive`` (another antivirus is primary), or ``off``."""
    if not status:
        return "off"
    mode = str(status.get("AMRunningMode") or "").strip().lower()
    service = _bool(status.get("AMServiceEnabled"))
    if mode in DEFENDER_ACTIVE_MODES and service is not False:
        return "active"
    if "passive" in mode or "passif" in mode or "edr" in mode:
        return "passive"
    return "off"


def third_party_products(products: Any) -> list[dict[str, Any]]:
    """SecurityCenter2 AntivirusProduct entries other than Defender, decoded.

    productState is undocumented; the community decoding the catalogue cites: bits 0xF000 give the
    scanner state (0x1000 = on), bits 0xF0 the signatures (0x00 = up to date, 0x10 = out of date).
    """
    out = []
    for product in _as_list(products):
        if not isinstance(product, Mapping):
            continue
        path = str(product.get("pathToSignedProductExe") or "").lower()
        if path.startswith(DEFENDER_PRODUCT_PATH):
            continue
        state = int(product.get("productState") or 0)
        out.append(
            {
                "name": str(product.get("displayName") or "?"),
                "enabled": (state & 0xF000) == 0x1000,
                "up_to_date": (state & 0xF0) == 0x00,
                "state": f"0x{state:06X}",
            }
        )
    return out


def defender_defers_to(status: Mapping[str, Any] | None, products: Any) -> list[str]:
    """Names of the enabled third-party antivirus products Defender stands aside for ([] = enforce)."""
    if defender_mode(status) == "active":
        return []
    return [p["name"] for p in third_party_products(products) if p["enabled"]]


def defender_signature_finding(
    status: Mapping[str, Any] | None, products: Any, max_age_h: int, now: dt.datetime
) -> dict[str, str]:
    """M2-WIN-DEFENDER-SIG-AGE: signature age within the policy, or not applicable under a third-party AV."""
    expected = f"Defender signatures at most {max_age_h} h old"
    others = defender_defers_to(status, products)
    if others:
        return _finding("not_applicable", expected, f"Defender is not the active antivirus ({', '.join(others)})")
    mode = defender_mode(status)
    if mode != "active":
        running = (status or {}).get("AMRunningMode") or "absent"
        state = "is in passive mode" if mode == "passive" else "is not running"
        return _finding("drift", expected, f"Defender {state} (AMRunningMode: {running}) and no other antivirus is on")
    updated = ps_datetime(status.get("AntivirusSignatureLastUpdated"))
    version = status.get("AntivirusSignatureVersion") or "?"
    if updated is not None:
        age_h = max(0.0, _hours(now - updated))
        source = f"last updated {updated:%Y-%m-%d %H:%M} UTC"
    else:
        days = status.get("AntivirusSignatureAge")
        if days is None or int(days) in SIGNATURE_AGE_NEVER:
            return _finding("drift", expected, "no signature update recorded")
        age_h = int(days) * 24.0
        source = f"AntivirusSignatureAge {int(days)} day(s)"
    actual = f"{age_h:.0f} h old ({source}, version {version})"
    stale = age_h > max_age_h or _bool(status.get("DefenderSignaturesOutOfDate")) is True
    if _bool(status.get("DefenderSignaturesOutOfDate")) is True:
        actual += "; Defender itself flags them out of date"
    return _finding("drift" if stale else "compliant", expected, actual)


DEFENDER_RUNTIME_CHECKS = {
    "M2-WIN-DEFENDER-ON": ("AMServiceEnabled", "AntivirusEnabled"),
    "M2-WIN-DEFENDER-RTP": ("RealTimeProtectionEnabled", "IoavProtectionEnabled", "OnAccessProtectionEnabled"),
    "M2-WIN-DEFENDER-BEHAVIOUR": ("BehaviorMonitorEnabled",),
    # MSFT_MpPreference.PUAProtection: 0 off, 1 block, 2 audit only.
    "M2-WIN-DEFENDER-PUA": ("PUAProtection",),
}
PUA_BLOCK = 1


def defender_runtime_finding(control: str, status: Mapping[str, Any] | None, products: Any) -> dict[str, str]:
    """The effective state behind a Defender setting control, read from MSFT_MpComputerStatus.

    A policy value can be right while the engine is off (tamper protection, a third-party product,
    a broken install): this confirms it. IsTamperProtected is attached as evidence.
    """
    try:
        fields = DEFENDER_RUNTIME_CHECKS[control]
    except KeyError:
        raise ValueError(f"no runtime check for {control!r}") from None
    expected = ", ".join(f"{name} = true" for name in fields)
    others = defender_defers_to(status, products)
    if others:
        return _finding("not_applicable", expected, f"Defender is not the active antivirus ({', '.join(others)})")
    status = status or {}
    if control == "M2-WIN-DEFENDER-PUA":
        expected = f"PUAProtection = {PUA_BLOCK} (block)"
        off = [] if str(status.get("PUAProtection")) == str(PUA_BLOCK) else ["PUAProtection"]
    else:
        off = [name for name in fields if _bool(status.get(name)) is not True]
    tamper = _bool(status.get("IsTamperProtected"))
    evidence = f"AMRunningMode {status.get('AMRunningMode') or 'absent'}, tamper protection {tamper}"
    if off and control == "M2-WIN-DEFENDER-PUA":
        return _finding("drift", expected, f"PUAProtection = {status.get('PUAProtection')}; {evidence}")
    if off:
        return _finding("drift", expected, f"{', '.join(off)} not true; {evidence}")
    return _finding("compliant", expected, f"all true; {evidence}")


def third_party_av_finding(status: Mapping[str, Any] | None, products: Any, is_server: bool) -> dict[str, str]:
    """M2-WIN-THIRD-PARTY-AV: when Defender stands aside, the product that replaces it is on and current."""
    expected = "a third-party antivirus enabled with up-to-date signatures"
    if is_server:
        return _finding("not_applicable", expected, "Windows Server publishes no SecurityCenter2 antivirus list")
    if defender_mode(status) == "active":
        return _finding("not_applicable", expected, "Defender is the active antivirus")
    others = third_party_products(products)
    if not others:
        return _finding("drift", expected, "Defender is not active and no other antivirus is registered")
    good = [p for p in others if p["enabled"] and p["up_to_date"]]
    listing = "; ".join(
        f"{p['name']} ({'on' if p['enabled'] else 'off'}, "
        f"{'up to date' if p['up_to_date'] else 'out of date'}, productState {p['state']})"
        for p in others
    )
    return _finding("compliant" if good else "drift", expected, listing)


# --------------------------------------------------------------------------------------------------
# Policy registry values owned by a domain GPO (RSOP_RegistryPolicySetting)
# --------------------------------------------------------------------------------------------------

LOCAL_GPO_IDS = frozenset({"localgpo", ""})
REG_SZ, REG_EXPAND_SZ, REG_BINARY, REG_DWORD, REG_MULTI_SZ, REG_QWORD = 1, 2, 3, 4, 7, 11
REG_TYPES = {"string": REG_SZ, "expandstring": REG_EXPAND_SZ, "binary": REG_BINARY, "dword": REG_DWORD,
             "multistring": REG_MULTI_SZ, "qword": REG_QWORD}


def _norm_key(key: str) -> str:
    """``HKLM:\\SOFTWARE\\Policies\\X`` and ``SOFTWARE\\Policies\\X`` compare equal, case-insensitively."""
    key = key.replace("/", "\\").strip("\\")
    key = re.sub(r"^(HKLM:?|HKEY_LOCAL_MACHINE)\\", "", key, flags=re.IGNORECASE)
    return key.lower()


def decode_registry_data(value_type: int, data: Any) -> Any:
    """RSOP_RegistryPolicySetting.value (uint8[], a JSON list of ints) as a Python value."""
    raw = bytes(_as_list(data))
    if value_type == REG_DWORD:
        return int.from_bytes(raw[:4].ljust(4, b"\0"), "little")
    if value_type == REG_QWORD:
        return int.from_bytes(raw[:8].ljust(8, b"\0"), "little")
    if value_type in (REG_SZ, REG_EXPAND_SZ):
        return raw.decode("utf-16-le").split("\0", 1)[0]
    if value_type == REG_MULTI_SZ:
        return [part for part in raw.decode("utf-16-le").split("\0") if part]
    return raw.hex()


def gpo_owned(rsop: Any, values: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The wanted registry values (``path``, ``name``) that a domain GPO sets, keyed ``path\\name``.

    ``rsop`` is the list of RSOP_RegistryPolicySetting instances (registryKey, valueName, valueType,
    value, GPOID, precedence). Local policy (GPOID LocalGPO) does not count: Socle owns it. Where
    several GPOs set a value, the one with precedence 1 wins. Writing a value a domain GPO owns only
    flaps at the next refresh, so the tasks skip those and report the GPO's value instead.
    """
    winning: dict[tuple[str, str], Mapping[str, Any]] = {}
    for entry in _as_list(rsop):
        if not isinstance(entry, Mapping) or entry.get("deleted"):
            continue
        if str(entry.get("GPOID") or "").strip().lower() in LOCAL_GPO_IDS:
            continue
        key = (_norm_key(str(entry.get("registryKey") or "")), str(entry.get("valueName") or "").lower())
        rank = int(entry.get("precedence") or 1)
        if key not in winning or rank < int(winning[key].get("precedence") or 1):
            winning[key] = entry
    owned = {}
    for want in values:
        key = (_norm_key(str(want["path"])), str(want["name"]).lower())
        if key in winning:
            entry = winning[key]
            absent = want.get("state") == "absent"
            owned[f"{want['path']}\\{want['name']}"] = {
                "gpo": str(entry.get("GPOID")),
                "value": decode_registry_data(int(entry.get("valueType") or 0), entry.get("value")),
                "wanted": "absent or 0" if absent else want.get("data"),
            }
    return owned


def _gpo_value_ok(entry: Mapping[str, Any]) -> bool:
    if entry["wanted"] == "absent or 0":
        return str(entry["value"]) == "0"
    return str(entry["value"]) == str(entry["wanted"])


def gpo_finding(owned: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """A control's values set by a domain GPO: compliant when the GPO sets what the policy wants."""
    expected = "; ".join(f"{key} = {entry['wanted']}" for key, entry in sorted(owned.items()))
    actual = "; ".join(f"{key} = {entry['value']} (set by GPO {entry['gpo']})" for key, entry in sorted(owned.items()))
    differ = [key for key, entry in owned.items() if not _gpo_value_ok(entry)]
    if not owned:
        return _finding("not_applicable", "", "no value set by a domain GPO")
    return _finding("drift" if differ else "compliant", expected, actual)


# --------------------------------------------------------------------------------------------------
# Windows Firewall (Get-NetFirewallProfile -PolicyStore ActiveStore)
# --------------------------------------------------------------------------------------------------

FIREWALL_PROFILES = ("Domain", "Private", "Public")
# NetSecurity Action enum: NotConfigured 0, Allow 2, Block 4. GpoBoolean: False 0, True 1, NotConfigured 2.
ACTION_BLOCK, ACTION_ALLOW = 4, 2
_ACTION_NAMES = {"block": ACTION_BLOCK, "allow": ACTION_ALLOW, "notconfigured": 0}


def _action(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        return _ACTION_NAMES.get(value.strip().lower())
    return None


def firewall_effective_finding(profiles: Any, check: str) -> dict[str, str]:
    """The firewall's active store for every profile: ``enabled``, ``inbound`` (default block) or ``logging``.

    The active store merges local settings and GPOs: it is what the firewall actually does.
    """
    by_name = {str(p.get("Name")): p for p in _as_list(profiles) if isinstance(p, Mapping)}
    expected = {
        "enabled": "Enabled = True",
        "inbound": "DefaultInboundAction = Block",
        "logging": "LogBlocked = True",
    }[check]
    bad, seen = [], []
    for name in FIREWALL_PROFILES:
        profile = by_name.get(name)
        if profile is None:
            bad.append(f"{name}: not reported")
            continue
        if check == "enabled":
            ok = _bool(profile.get("Enabled")) is True
            seen.append(f"{name}: Enabled {profile.get('Enabled')}")
        elif check == "inbound":
            ok = _action(profile.get("DefaultInboundAction")) == ACTION_BLOCK
            seen.append(f"{name}: DefaultInboundAction {profile.get('DefaultInboundAction')}")
        else:
            ok = _bool(profile.get("LogBlocked")) is True
            seen.append(f"{name}: LogBlocked {profile.get('LogBlocked')}")
        if not ok:
            bad.append(name)
    status = "drift" if bad else "compliant"
    return _finding(status, f"{expected} for {', '.join(FIREWALL_PROFILES)}", "; ".join(seen) or "; ".join(bad))


# --------------------------------------------------------------------------------------------------
# Security policy (secedit /export) and the never-cut-Ansible-off guard
# --------------------------------------------------------------------------------------------------


def decode_text(data: bytes) -> str:
    """A secedit export: UTF-16 with a byte-order mark (also accepts UTF-8, with or without BOM)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    if len(data) >= 2 and data[1:2] == b"\0":
        return data.decode("utf-16-le")
    return data.decode("utf-8-sig")


def parse_inf(data: bytes | str) -> dict[str, dict[str, str]]:
    """Sections of a security template (GptTmpl.inf, secedit export): ``{section: {key: value}}``.

    Keys keep their case; values are stripped, and one pair of surrounding double quotes is removed
    (``NewAdministratorName = "Administrateur"``).
    """
    text = decode_text(data) if isinstance(data, bytes) else data
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(";"):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1].strip(), {})
            continue
        if current is None or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        current[key.strip()] = value
    return sections


def privilege_sids(inf: Mapping[str, Mapping[str, str]], right: str) -> list[str]:
    """Accounts holding a user right in an export: ``*S-1-5-32-546`` gives the SID, a bare name stays a name."""
    value = inf.get("Privilege Rights", {}).get(right, "")
    return [item.strip().lstrip("*") for item in value.split(",") if item.strip()]


def rid(sid: str) -> int | None:
    """The relative identifier at the end of a SID (500 = built-in Administrator, 501 = Guest)."""
    match = re.fullmatch(r"S-1-5-21-\d+-\d+-\d+-(\d+)", sid or "")
    return int(match.group(1)) if match else None


def builtin_account(users: Any, wanted_rid: int) -> dict[str, Any] | None:
    """The local account with RID 500 or 501 from Get-LocalUser (Name, SID, Enabled), whatever its name."""
    for user in _as_list(users):
        if isinstance(user, Mapping) and rid(str(_sid_value(user.get("SID")))) == wanted_rid:
            return dict(user)
    return None


def _sid_value(sid: Any) -> str:
    """Get-LocalUser's SID serialises as ``{"Value": "S-1-5-..."}`` in 5.1 and as a string when selected."""
    if isinstance(sid, Mapping):
        sid = sid.get("Value")
    return str(sid or "")


ADMINISTRATORS_SID = "S-1-5-32-544"


def access_guard(
    identity: Mapping[str, Any],
    secedit: bytes | str | None,
    users: Any,
    disable_builtin_admin: bool,
    admin_name: str,
    admin_networks: list[str] | None = None,
) -> list[str]:
    """Why applying the policy would cut Ansible off this host; [] when it is safe.

    ``identity`` is who Ansible connects as (``user_sid``, ``group_sids``), read on the host.
    * the connecting account, or a group it is in, must not hold SeDenyNetworkLogonRight (WinRM is a
      network logon; CIS and the Microsoft baseline put "Local account" S-1-5-113 there);
    * disabling or renaming the built-in Administrator must not hit the account Ansible uses, and
      disabling it needs that account to be a named member of Administrators (S-1-5-32-544);
    * the firewall's inbound block needs the management addresses that keep WinRM reachable (checked
      when ``admin_networks`` is given).
    """
    problems = []
    user_sid = str(identity.get("user_sid") or "")
    sids = {user_sid, *(str(s) for s in _as_list(identity.get("group_sids")))} - {""}
    if secedit:
        denied = set(privilege_sids(parse_inf(secedit), "SeDenyNetworkLogonRight")) & sids
        if denied:
            problems.append(
                "the Ansible account is denied network logon (SeDenyNetworkLogonRight holds "
                + ", ".join(sorted(denied))
                + "): WinRM would refuse it; remove it from that right or connect with another account"
            )
    if disable_builtin_admin and rid(user_sid) != 500 and ADMINISTRATORS_SID not in sids:
        problems.append(
            "the policy disables the built-in Administrator but the account Ansible connects as is not in "
            "the Administrators group (S-1-5-32-544): no named admin account would be left to manage the host"
        )
    if rid(user_sid) == 500:
        admin = builtin_account(users, 500) or {}
        current = str(admin.get("Name") or "the built-in Administrator")
        if disable_builtin_admin:
            problems.append(
                f"Ansible connects as the built-in Administrator ({current}) and the policy disables it: "
                "create a named admin account, put it in the inventory, then disable the built-in one"
            )
        if admin_name and admin_name.lower() != current.lower():
            problems.append(
                f"Ansible connects as the built-in Administrator ({current}) and the policy renames it to "
                f"{admin_name}: the next connection would fail; connect with a named admin account first"
            )
    if admin_networks is not None and not admin_networks:
        problems.append("firewall_admin_networks is empty: blocking inbound traffic would cut WinRM")
    return problems


def _minutes(seconds: int) -> int:
    return max(1, math.ceil(int(seconds) / 60))


def password_policy(min_length: int, history: int, max_age_days: int, min_age_days: int) -> dict[str, int]:
    """M5-WIN-PASSWORD-POLICY: secedit ``[System Access]`` values from the policy variables shared with Linux.

    Windows caps what Linux does not: MaximumPasswordAge 1-999 days or -1 (never; Linux's 99999),
    MinimumPasswordAge below the maximum, PasswordHistorySize 0-24, MinimumPasswordLength up to 128
    (above 14 only with RelaxMinimumPasswordLengthLimits, which the role sets then).
    """
    max_age = -1 if max_age_days > 999 or max_age_days <= 0 else int(max_age_days)
    min_age = min(int(min_age_days), 998) if max_age == -1 else min(int(min_age_days), max_age - 1)
    return {
        "MinimumPasswordLength": min(int(min_length), 128),
        "PasswordComplexity": 1,
        "PasswordHistorySize": min(int(history), 24),
        "MaximumPasswordAge": max_age,
        "MinimumPasswordAge": max(0, min_age),
        "ClearTextPassword": 0,
    }


def lockout_policy(threshold: int, duration_s: int, window_s: int) -> dict[str, int]:
    """M5-WIN-LOCKOUT-POLICY: secedit values from the faillock variables (seconds become whole minutes).

    Windows refuses a ResetLockoutCount longer than LockoutDuration, so the window is capped by it.
    """
    duration = _minutes(duration_s)
    return {
        "LockoutBadCount": int(threshold),
        "LockoutDuration": duration,
        "ResetLockoutCount": min(_minutes(window_s), duration),
        "AllowAdministratorLockout": 1,
    }


# --------------------------------------------------------------------------------------------------
# Windows Update Agent (IUpdateHistoryEntry, IUpdate), by number and GUID only
# --------------------------------------------------------------------------------------------------

WU_OPERATION_INSTALL = 1
WU_RESULT_SUCCEEDED, WU_RESULT_SUCCEEDED_WITH_ERRORS = 2, 3
# Update classification GUIDs (identical on every language of Windows).
WU_CATEGORY_SECURITY = "0fa1201d-4330-4fa8-8ae9-b877473b6441"
WU_CATEGORY_CRITICAL = "e6cf1350-c01b-414d-a61f-263d14d133b4"
WU_SECURITY_CATEGORIES = frozenset({WU_CATEGORY_SECURITY, WU_CATEGORY_CRITICAL})


# EditionID of the Home editions ("Core", "CoreN", "CoreSingleLanguage", "CoreCountrySpecific").
HOME_EDITION_PREFIX = "core"


def home_edition_finding(system: Mapping[str, Any] | None) -> dict[str, str]:
    """M1-WIN-WU-AUTO on a Home edition: it ignores the update policies, so it can never be compliant."""
    edition = str((system or {}).get("edition_id") or "")
    expected = "an edition that reads the Windows Update policies (Pro, Enterprise, Education, Server)"
    if edition.lower().startswith(HOME_EDITION_PREFIX):
        return _finding("drift", expected, f"Home edition (EditionID {edition}) ignores the update policies")
    return _finding("compliant", expected, f"EditionID {edition or 'unknown'}")


def last_install_finding(history: Any, max_age_days: int, now: dt.datetime) -> dict[str, str]:
    """M1-WIN-LAST-INSTALL: the newest successful installation (Operation 1, ResultCode 2 or 3) is recent."""
    expected = f"a successful update installation in the last {max_age_days} days"
    newest = None
    for entry in _as_list(history):
        if not isinstance(entry, Mapping):
            continue
        if int(entry.get("Operation") or 0) != WU_OPERATION_INSTALL:
            continue
        if int(entry.get("ResultCode") or 0) not in (WU_RESULT_SUCCEEDED, WU_RESULT_SUCCEEDED_WITH_ERRORS):
            continue
        when = ps_datetime(entry.get("Date"))
        if when is not None and (newest is None or when > newest):
            newest = when
    if newest is None:
        return _finding("drift", expected, "no successful installation in the Windows Update history")
    age_days = (now - newest).total_seconds() / 86400
    actual = f"last successful installation {newest:%Y-%m-%d %H:%M} UTC ({age_days:.0f} days ago)"
    return _finding("drift" if age_days > max_age_days else "compliant", expected, actual)


def pending_updates_finding(
    pending: Any, reboot_pending: bool, max_pending: int, deadline_days: int, now: dt.datetime
) -> dict[str, str]:
    """M1-WIN-PENDING-UPDATES: security or critical updates (by category GUID) not installed past the deadline.

    ``pending`` are not-installed updates (CategoryIDs, LastDeploymentChangeTime, KB); an update is
    late when Microsoft published it more than ``deadline_days`` ago; more than ``max_pending`` late
    updates is drift. A pending reboot (registry flags, no date) is attached as evidence only.
    """
    expected = f"at most {max_pending} security update(s) pending for more than {deadline_days} days"
    late = []
    security = 0
    for update in _as_list(pending):
        if not isinstance(update, Mapping):
            continue
        categories = {str(c).lower() for c in _as_list(update.get("CategoryIDs"))}
        if not categories & WU_SECURITY_CATEGORIES:
            continue
        security += 1
        published = ps_datetime(update.get("LastDeploymentChangeTime"))
        if published is not None and (now - published).days > deadline_days:
            kbs = ",".join(f"KB{kb}" for kb in _as_list(update.get("KBArticleIDs"))) or str(update.get("UpdateID"))
            late.append(f"{kbs} ({published:%Y-%m-%d})")
    parts = [f"{security} security update(s) pending, {len(late)} past the deadline"]
    if late:
        parts.append("late: " + ", ".join(sorted(late)))
    if reboot_pending:
        parts.append("a reboot is pending to finish an installation")
    status = "drift" if len(late) > max_pending else "compliant"
    return _finding(status, expected, "; ".join(parts))


# --------------------------------------------------------------------------------------------------
# Windows release support (M1-WIN-OS-SUPPORTED): a small dated table, by build number and EditionID
# --------------------------------------------------------------------------------------------------

# End-of-servicing dates from Microsoft's lifecycle pages as they stood on this date. A release
# Microsoft adds after it is newer than every build below and is assumed supported until the table
# is refreshed (the finding says so). Windows 10 Extended Security Updates (ESU) cannot be seen from
# the build: a host enrolled in ESU gets a waiver until its ESU end date.
LIFECYCLE_AS_OF = dt.date(2026, 11, 28)
# Client releases (General Availability channel): build -> (name, Home/Pro end, Enterprise/Education end).
CLIENT_RELEASES = {
    19042: ("Windows 10 20H2", dt.date(2022, 5, 10), dt.date(2023, 5, 9)),
    19043: ("Windows 10 21H1", dt.date(2022, 12, 13), dt.date(2022, 12, 13)),
    19044: ("Windows 10 21H2", dt.date(2023, 6, 13), dt.date(2024, 6, 11)),
    19045: ("Windows 10 22H2", dt.date(2025, 10, 14), dt.date(2025, 10, 14)),
    22000: ("Windows 11 21H2", dt.date(2023, 10, 10), dt.date(2024, 10, 8)),
    22621: ("Windows 11 22H2", dt.date(2024, 10, 8), dt.date(2025, 10, 14)),
    22631: ("Windows 11 23H2", dt.date(2025, 11, 11), dt.date(2026, 11, 10)),
    26100: ("Windows 11 24H2", dt.date(2026, 10, 13), dt.date(2027, 10, 12)),
    26200: ("Windows 11 25H2", dt.date(2027, 10, 12), dt.date(2028, 10, 10)),
}
# Long-Term Servicing (EditionID EnterpriseS*, IoTEnterpriseS*): build -> (name, end, IoT end).
LTSC_RELEASES = {
    14393: ("Windows 10 Enterprise LTSB 2016", dt.date(2026, 10, 13), dt.date(2026, 10, 13)),
    17763: ("Windows 10 Enterprise LTSC 2019", dt.date(2029, 1, 9), dt.date(2029, 1, 9)),
    19044: ("Windows 10 Enterprise LTSC 2021", dt.date(2027, 1, 12), dt.date(2032, 1, 13)),
    26100: ("Windows 11 Enterprise LTSC 2024", dt.date(2029, 10, 9), dt.date(2034, 10, 10)),
}
# Windows Server (ProductType 2 or 3): build -> (name, end of extended support).
SERVER_RELEASES = {
    9200: ("Windows Server 2012", dt.date(2023, 10, 10)),
    9600: ("Windows Server 2012 R2", dt.date(2023, 10, 10)),
    14393: ("Windows Server 2016", dt.date(2027, 1, 12)),
    17763: ("Windows Server 2019", dt.date(2029, 1, 9)),
    20348: ("Windows Server 2022", dt.date(2031, 10, 14)),
    25398: ("Windows Server 23H2 (annual channel)", dt.date(2025, 10, 24)),
    26100: ("Windows Server 2025", dt.date(2034, 10, 10)),
}
_ENTERPRISE_EDITIONS = ("enterprise", "education", "iotenterprise", "serverrdsh")
EOS_NOTICE_DAYS = 183


def windows_release(system: Mapping[str, Any] | None) -> dict[str, Any]:
    """The release a host runs and its end of support, from EditionID, CurrentBuild and ProductType.

    Returns ``name``, ``end`` (a date, or None when the build is not in the table) and ``newer``
    (True when the build is newer than every release of its kind in the table).
    """
    system = system or {}
    edition = str(system.get("edition_id") or "")
    try:
        build = int(str(system.get("current_build") or "0").split(".")[0])
    except ValueError:
        build = 0
    lower = edition.lower()
    if int(system.get("product_type") or 1) != 1:
        table = {b: (name, end) for b, (name, end) in SERVER_RELEASES.items()}
    elif lower.startswith(("enterprises", "iotenterprises")):
        iot = lower.startswith("iot")
        table = {b: (name, iot_end if iot else end) for b, (name, end, iot_end) in LTSC_RELEASES.items()}
    else:
        enterprise = lower.startswith(_ENTERPRISE_EDITIONS)
        table = {b: (name, ent if enterprise else home) for b, (name, home, ent) in CLIENT_RELEASES.items()}
    if build in table:
        name, end = table[build]
        return {"name": name, "build": build, "edition": edition, "end": end, "newer": False}
    return {"name": None, "build": build, "edition": edition, "end": None, "newer": bool(table) and build > max(table)}


def os_supported_finding(system: Mapping[str, Any] | None, today: dt.date) -> dict[str, str]:
    """M1-WIN-OS-SUPPORTED: the Windows release still receives security updates on ``today``."""
    release = windows_release(system)
    system = system or {}
    expected = "a Windows release within its support period (Microsoft lifecycle)"
    ubr = system.get("ubr")
    build_text = f"build {release['build']}" + (f".{ubr}" if ubr not in (None, "") else "")
    version = system.get("display_version") or ""
    seen = f"EditionID {release['edition'] or 'unknown'}, {build_text}" + (f", version {version}" if version else "")
    if release["end"] is None:
        if release["newer"]:
            return _finding("compliant", expected, f"{seen}: newer than every release in Socle's table "
                            f"of {LIFECYCLE_AS_OF}, assumed supported")
        return _finding("drift", expected, f"{seen}: not a supported release in Socle's table of "
                        f"{LIFECYCLE_AS_OF} (preview or out of support)")
    days = (release["end"] - today).days
    if days < 0:
        actual = f"{release['name']} ({seen}): support ended {release['end']} ({-days} days ago)"
        if release["name"].startswith("Windows 10 22H2"):
            actual += "; if the PC is enrolled in Extended Security Updates, record a waiver until the ESU end date"
        return _finding("drift", expected, actual)
    actual = f"{release['name']} ({seen}): supported until {release['end']}"
    if days <= EOS_NOTICE_DAYS:
        actual += f", in {days} days: plan the upgrade"
    return _finding("compliant", expected, actual)


# --------------------------------------------------------------------------------------------------
# Screen-saver user policy in every local profile (M4-WIN-SCREENSAVER)
# --------------------------------------------------------------------------------------------------

SCREENSAVER_KEY = "Software\\Policies\\Microsoft\\Windows\\Control Panel\\Desktop"
# Local and domain accounts (S-1-5-21-...), Entra ID accounts (S-1-12-1-...); not the service profiles.
_USER_SID_RE = re.compile(r"^S-1-(5-21|12-1)-[\d-]+$")


def screensaver_values(timeout_s: int) -> list[dict[str, str]]:
    """The user-policy values (all REG_SZ, as the Desktop policy reads them) for a lock after ``timeout_s``."""
    return [
        {"name": "ScreenSaveActive", "type": "string", "data": "1"},
        {"name": "ScreenSaverIsSecure", "type": "string", "data": "1"},
        {"name": "ScreenSaveTimeOut", "type": "string", "data": str(int(timeout_s))},
        {"name": "SCRNSAVE.EXE", "type": "string", "data": "scrnsave.scr"},
    ]


def user_hives(profiles: Any, default_profile: str | None) -> list[dict[str, Any]]:
    """Where to write a user policy for every user of the PC, from Win32_UserProfile (SID, LocalPath, Loaded, Special).

    A loaded hive (the user is logged on) is written under ``HKU:\\<SID>``; an unloaded one is
    loaded from its NTUSER.DAT by win_regedit (``hive``, mounted under ``HKLM:\\ANSIBLE``). The
    Default profile is included so that accounts created later start with the policy. Service
    profiles (Special, or SIDs outside S-1-5-21 and S-1-12-1) are left alone. Sorted by SID.
    """
    out = []
    for profile in _as_list(profiles):
        if not isinstance(profile, Mapping) or _bool(profile.get("Special")) is True:
            continue
        sid = str(profile.get("SID") or "")
        path = str(profile.get("LocalPath") or "")
        if not _USER_SID_RE.match(sid) or not path:
            continue
        if _bool(profile.get("Loaded")) is True:
            out.append({"label": sid, "root": f"HKU:\\{sid}", "hive": None})
        else:
            out.append({"label": sid, "root": "HKLM:\\ANSIBLE", "hive": path.rstrip("\\") + "\\NTUSER.DAT"})
    out.sort(key=lambda target: target["label"])
    if default_profile:
        hive = default_profile.rstrip("\\") + "\\NTUSER.DAT"
        out.append({"label": "Default", "root": "HKLM:\\ANSIBLE", "hive": hive})
    return out


# --------------------------------------------------------------------------------------------------
# The management path through the firewall (M2-WIN-FW-MGMT-PATH), from the active store's rules
# --------------------------------------------------------------------------------------------------

# NET_FW_PROFILE2 flags (Get-NetFirewallRule .Profile): Any 0, Domain 1, Private 2, Public 4.
PROFILE_BITS = {"Domain": 1, "Private": 2, "Public": 4}
TCP = "6"


def _rule_ports(rule: Mapping[str, Any]) -> list[tuple[int, int]] | None:
    """The TCP ports a rule covers as ranges; None for every port; [] when it is not TCP or uses keywords only."""
    protocol = str(rule.get("Protocol") or "Any").strip().lower()
    if protocol not in ("tcp", TCP, "any"):
        return []
    ranges = []
    for item in _as_list(rule.get("LocalPort")) or ["Any"]:
        text = str(item).strip()
        if text.lower() == "any":
            return None
        low, _, high = text.partition("-")
        if low.isdigit() and (not high or high.isdigit()):
            ranges.append((int(low), int(high or low)))
    return ranges


def _covers_port(rule: Mapping[str, Any], port: int) -> bool:
    ranges = _rule_ports(rule)
    return ranges is None or any(low <= port <= high for low, high in ranges)


def _remote_networks(rule: Mapping[str, Any]) -> list | None:
    """A rule's remote addresses as networks; None for Any. Keywords (LocalSubnet, DNS...) give no network."""
    import ipaddress

    networks = []
    for item in _as_list(rule.get("RemoteAddress")) or ["Any"]:
        text = str(item).strip()
        if text.lower() == "any" or text == "*":
            return None
        try:
            if "-" in text:
                first, last = (ipaddress.ip_address(part.strip()) for part in text.split("-", 1))
                networks.extend(ipaddress.summarize_address_range(first, last))
            else:
                # Windows writes IPv4 subnets with a dotted mask (192.168.10.0/255.255.255.0).
                networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            continue
    return networks


def _covers_network(rule: Mapping[str, Any], network) -> bool:
    remote = _remote_networks(rule)
    return remote is None or any(
        network.version == other.version and network.subnet_of(other) for other in remote)


def _overlaps_network(rule: Mapping[str, Any], network) -> bool:
    remote = _remote_networks(rule)
    return remote is None or any(network.version == other.version and network.overlaps(other) for other in remote)


def _in_profile(rule: Mapping[str, Any], profile: str) -> bool:
    bits = int(rule.get("Profile") or 0)
    return bits == 0 or bits & 0x7FFFFFFF == 0x7FFFFFFF or bool(bits & PROFILE_BITS[profile])


def _action_of(rule: Mapping[str, Any]) -> int | None:
    return _action(rule.get("Action"))


def management_path_finding(rules: Any, ports: Iterable[int], admin_networks: Iterable[str]) -> dict[str, str]:
    """M2-WIN-FW-MGMT-PATH: every WinRM port is allowed from every management network in every profile.

    ``rules`` are the enabled inbound rules of the active store (Name, DisplayName, Action, Profile,
    Protocol, LocalPort, RemoteAddress), local and GPO alike. A block rule wins over an allow rule in
    Windows Firewall, so an enabled block rule on a management port from those addresses cuts the
    path. Rules that open the ports beyond the management networks are listed as evidence.
    """
    import ipaddress

    ports = [int(p) for p in ports]
    networks = [ipaddress.ip_network(str(n), strict=False) for n in admin_networks]
    expected = (f"TCP {', '.join(map(str, ports))} allowed from {', '.join(map(str, networks))} "
                f"in the {', '.join(FIREWALL_PROFILES)} profiles, no block rule in the way")
    rules = [r for r in _as_list(rules) if isinstance(r, Mapping)]
    allows = [r for r in rules if _action_of(r) == ACTION_ALLOW]
    blocks = [r for r in rules if _action_of(r) == ACTION_BLOCK]
    missing, blocked, wider = [], set(), set()
    for profile in FIREWALL_PROFILES:
        for port in ports:
            for network in networks:
                if not any(_in_profile(r, profile) and _covers_port(r, port) and _covers_network(r, network)
                           for r in allows):
                    missing.append(f"{port} from {network} ({profile})")
                for rule in blocks:
                    if _in_profile(rule, profile) and _covers_port(rule, port) and _overlaps_network(rule, network):
                        blocked.add(str(rule.get("Name")))
            for rule in allows:
                if not (_in_profile(rule, profile) and any(_covers_port(rule, p) for p in ports)):
                    continue
                remote = _remote_networks(rule)
                if remote is None or any(not any(n.version == o.version and n.subnet_of(o) for o in networks)
                                         for n in remote):
                    if _rule_ports(rule) is not None:
                        wider.add(str(rule.get("Name")))
    parts = []
    if missing:
        parts.append("not allowed: " + ", ".join(missing))
    if blocked:
        parts.append("block rules on the path: " + ", ".join(sorted(blocked)))
    if not parts:
        parts.append("every management port is allowed from every management network in every profile")
    if wider:
        parts.append("also open beyond the management networks by: " + ", ".join(sorted(wider)))
    return _finding("drift" if missing or blocked else "compliant", expected, "; ".join(parts))


# --------------------------------------------------------------------------------------------------
# Command lines for scheduled tasks (M3-WIN-RESTIC-TASK)
# --------------------------------------------------------------------------------------------------


def command_line(argv: Iterable[Any]) -> str:
    """Arguments as one Windows command line, quoted by the Microsoft C runtime rules restic (Go) reads back.

    A scheduled task's action takes its arguments as one string: a path with spaces
    (``C:\\Données partagées``) must be quoted, a trailing backslash before a quote doubled.
    """
    import subprocess

    return subprocess.list2cmdline([str(arg) for arg in argv])
