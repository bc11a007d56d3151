"""Group Policy artefacts for domains, generated in Python: Registry.pol, GptTmpl.inf, a GPO backup tree.

For a domain, Socle's Windows settings belong in a GPO rather than in each PC's registry (a domain
GPO overrides values written directly, and those are invisible in gpedit.msc). Writing SYSVOL
directly would leave the GPO's version and extension lists in Active Directory stale, so this
module writes a *GPO backup tree* (``DomainSysvol/GPO/...``) for an administrator to import
(``LGPO.exe /g <dir>`` on one PC, or into a domain GPO), never SYSVOL itself.

Registry.pol ([MS-GPREG] 2.2.1, "Registry Policy File Format"): the header ``PReg`` + version 1,
then ``[key;value;type;size;data]`` records where the brackets and semicolons are UTF-16LE
characters, key and value names are UTF-16LE and null-terminated, type and size are little-endian
DWORDs, and data is ``size`` raw bytes. The reader is length-driven: data may contain ``]\\0``
(DWORD 93 is ``5D 00 00 00``), which breaks parsers that search for the closing bracket.

Not tested against a live Windows host: the bytes are tested against the format, byte for byte.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HEADER = b"PReg" + struct.pack("<I", 1)
OPEN, SEP, CLOSE = "[".encode("utf-16-le"), ";".encode("utf-16-le"), "]".encode("utf-16-le")
NUL = b"\x00\x00"
MAX_VALUE_NAME = 259

REG_SZ, REG_EXPAND_SZ, REG_BINARY, REG_DWORD, REG_DWORD_BIG_ENDIAN, REG_MULTI_SZ, REG_QWORD = 1, 2, 3, 4, 5, 7, 11
TYPE_NAMES = {
    "string": REG_SZ, "expandstring": REG_EXPAND_SZ, "binary": REG_BINARY, "dword": REG_DWORD,
    "dword_be": REG_DWORD_BIG_ENDIAN, "multistring": REG_MULTI_SZ, "qword": REG_QWORD,
}
HIVES = {"HKLM": "Machine", "HKEY_LOCAL_MACHINE": "Machine", "HKCU": "User", "HKEY_CURRENT_USER": "User"}


class PolError(ValueError):
    """A Registry.pol file or entry that does not follow the format; the message says where."""


@dataclass(frozen=True)
class PolEntry:
    """One Registry.pol record: key without hive, value name, registry type number, raw data bytes."""

    key: str
    value: str
    type: int
    data: bytes


def encode_data(reg_type: int, value: Any) -> bytes:
    """A Python value as the raw bytes of a registry value of ``reg_type``."""
    if reg_type in (REG_SZ, REG_EXPAND_SZ):
        return (str(value) + "\0").encode("utf-16-le")
    if reg_type == REG_MULTI_SZ:
        items = [value] if isinstance(value, str) else list(value)
        if any("\0" in item or item == "" for item in items):
            raise PolError("a REG_MULTI_SZ item can be neither empty nor contain a null character")
        return ("".join(item + "\0" for item in items) + "\0").encode("utf-16-le")
    if reg_type == REG_DWORD:
        return struct.pack("<I", _ranged(value, 32))
    if reg_type == REG_DWORD_BIG_ENDIAN:
        return struct.pack(">I", _ranged(value, 32))
    if reg_type == REG_QWORD:
        return struct.pack("<Q", _ranged(value, 64))
    if reg_type == REG_BINARY:
        return bytes(value)
    raise PolError(f"unsupported registry type {reg_type}")


def _ranged(value: Any, bits: int) -> int:
    number = int(value)
    if not 0 <= number < 2**bits:
        raise PolError(f"{value!r} does not fit in {bits} bits")
    return number


def decode_data(reg_type: int, data: bytes) -> Any:
    """The raw bytes of a registry value as a Python value (the inverse of :func:`encode_data`)."""
    if reg_type in (REG_SZ, REG_EXPAND_SZ):
        return data.decode("utf-16-le").split("\0", 1)[0]
    if reg_type == REG_MULTI_SZ:
        return [item for item in data.decode("utf-16-le").split("\0") if item]
    if reg_type == REG_DWORD:
        return struct.unpack("<I", data)[0]
    if reg_type == REG_DWORD_BIG_ENDIAN:
        return struct.unpack(">I", data)[0]
    if reg_type == REG_QWORD:
        return struct.unpack("<Q", data)[0]
    return data


def entry(key: str, value: str, reg_type: int | str, data: Any) -> PolEntry:
    """A record from Python values: ``entry("Software\\\\Policies\\\\X", "Name", "dword", 900)``."""
    number = TYPE_NAMES[reg_type] if isinstance(reg_type, str) else int(reg_type)
    return PolEntry(key, value, number, encode_data(number, data))


def _name(text: str, what: str) -> bytes:
    if "\0" in text:
        raise PolError(f"{what} {text!r} contains a null character")
    return text.encode("utf-16-le") + NUL


def encode_registry_pol(entries: Iterable[PolEntry]) -> bytes:
    """A whole Registry.pol file: header, then one record per entry, in the given order."""
    out = bytearray(HEADER)
    for item in entries:
        if not item.key or item.key.startswith("\\"):
            raise PolError(f"key {item.key!r}: give the path under the hive, without a leading backslash")
        if len(item.value) > MAX_VALUE_NAME:
            raise PolError(f"value name {item.value[:40]!r}...: longer than {MAX_VALUE_NAME} characters")
        out += OPEN + _name(item.key, "key") + SEP + _name(item.value, "value name") + SEP
        out += struct.pack("<I", item.type) + SEP + struct.pack("<I", len(item.data)) + SEP
        out += item.data + CLOSE
    return bytes(out)


def _read_name(data: bytes, pos: int, what: str) -> tuple[str, int]:
    end = pos
    while True:
        if end + 2 > len(data):
            raise PolError(f"offset {pos}: {what} is not null-terminated")
        if data[end:end + 2] == NUL:
            return data[pos:end].decode("utf-16-le"), end + 2
        end += 2


def _expect(data: bytes, pos: int, token: bytes, what: str) -> int:
    if data[pos:pos + 2] != token:
        raise PolError(f"offset {pos}: expected {token.decode('utf-16-le')!r} {what}, found {data[pos:pos + 2]!r}")
    return pos + 2


def decode_registry_pol(data: bytes) -> list[PolEntry]:
    """Every record of a Registry.pol file, read by length (data may contain ``]``)."""
    if data[:8] != HEADER:
        raise PolError(f"not a Registry.pol file: header {data[:8]!r}, expected {HEADER!r}")
    pos, entries = 8, []
    while pos < len(data):
        pos = _expect(data, pos, OPEN, "opening a record")
        key, pos = _read_name(data, pos, "key")
        pos = _expect(data, pos, SEP, "after the key")
        value, pos = _read_name(data, pos, "value name")
        pos = _expect(data, pos, SEP, "after the value name")
        if pos + 10 > len(data):
            raise PolError(f"offset {pos}: record cut short before its type and size")
        reg_type = struct.unpack_from("<I", data, pos)[0]
        pos = _expect(data, pos + 4, SEP, "after the type")
        size = struct.unpack_from("<I", data, pos)[0]
        pos = _expect(data, pos + 4, SEP, "after the size")
        if pos + size > len(data):
            raise PolError(f"offset {pos}: data of {size} bytes runs past the end of the file")
        payload = data[pos:pos + size]
        pos = _expect(data, pos + size, CLOSE, "closing the record")
        entries.append(PolEntry(key, value, reg_type, payload))
    return entries


def split_hive(path: str) -> tuple[str, str]:
    """``HKLM:\\\\SOFTWARE\\\\X`` -> ("Machine", "SOFTWARE\\\\X"), as win_regedit paths are written."""
    hive, sep, rest = path.replace("/", "\\").partition("\\")
    scope = HIVES.get(hive.rstrip(":").upper())
    if scope is None or not sep or not rest:
        raise PolError(f"{path!r}: expected HKLM:\\... or HKCU:\\...")
    return scope, rest.strip("\\")


def entries_from_values(values: Iterable[Mapping[str, Any]]) -> dict[str, list[PolEntry]]:
    """win_regedit-style values (path, name, type, data, state) as Registry.pol records per scope.

    A value the tasks remove (``state: absent``) becomes a ``**del.<name>`` record, the format's way
    to delete a value when the policy applies.
    """
    scopes: dict[str, list[PolEntry]] = {"Machine": [], "User": []}
    for value in values:
        scope, key = split_hive(str(value["path"]))
        if value.get("state", "present") == "absent":
            scopes[scope].append(entry(key, f"**del.{value['name']}", REG_SZ, " "))
        else:
            scopes[scope].append(entry(key, str(value["name"]), str(value.get("type", "string")), value["data"]))
    return scopes


# --------------------------------------------------------------------------------------------------
# GptTmpl.inf (security template) and the GPO backup tree
# --------------------------------------------------------------------------------------------------

INF_REG_TYPES = {REG_SZ: 1, REG_EXPAND_SZ: 2, REG_BINARY: 3, REG_DWORD: 4, REG_MULTI_SZ: 7}


def _inf_value(value: Any) -> str:
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if '"' in text or "\n" in text:
        raise PolError(f"{text!r}: a security template value cannot contain quotes or line breaks")
    return f'"{text}"'


def gpttmpl_inf(
    system_access: Mapping[str, Any] | None = None,
    registry_values: Sequence[tuple[str, int, Any]] = (),
    privilege_rights: Mapping[str, Sequence[str]] | None = None,
) -> bytes:
    """A GptTmpl.inf in UTF-16LE with a byte-order mark and CRLF lines, as secedit writes one.

    ``registry_values`` are ``(path under HKLM, type, data)``: ``("Software\\\\...\\\\System\\\\
    InactivityTimeoutSecs", 4, 900)`` gives ``MACHINE\\\\Software\\\\...=4,900``. ``privilege_rights``
    map a right to SIDs (written ``*S-1-...``).
    """
    lines = ["[Unicode]", "Unicode=yes"]
    if system_access:
        lines.append("[System Access]")
        lines += [f"{key} = {_inf_value(value)}" for key, value in system_access.items()]
    if registry_values:
        lines.append("[Registry Values]")
        for path, reg_type, data in registry_values:
            if reg_type not in INF_REG_TYPES:
                raise PolError(f"{path}: registry type {reg_type} has no security-template form")
            if reg_type == REG_MULTI_SZ:
                rendered = ",".join(data)
            elif reg_type in (REG_SZ, REG_EXPAND_SZ):
                rendered = _inf_value(data)
            else:
                rendered = str(int(data)) if reg_type == REG_DWORD else bytes(data).hex()
            lines.append(f"MACHINE\\{path}={INF_REG_TYPES[reg_type]},{rendered}")
    if privilege_rights:
        lines.append("[Privilege Rights]")
        lines += [f"{right} = " + ",".join(f"*{sid}" for sid in sids) for right, sids in privilege_rights.items()]
    lines += ["[Version]", 'signature="$CHICAGO$"', "Revision=1"]
    return b"\xff\xfe" + ("\r\n".join(lines) + "\r\n").encode("utf-16-le")


def write_gpo_backup(
    folder: str | Path,
    guid: str,
    machine: Sequence[PolEntry] = (),
    user: Sequence[PolEntry] = (),
    security_template: bytes | None = None,
) -> list[Path]:
    """Write the files of a GPO backup under ``folder/{GUID}`` and return their paths.

    Layout as LGPO.exe ``/b`` and GPMC write it: ``DomainSysvol/GPO/Machine/registry.pol``,
    ``DomainSysvol/GPO/User/registry.pol``, ``DomainSysvol/GPO/Machine/microsoft/windows nt/SecEdit/
    GptTmpl.inf``. Backup.xml and bkupInfo.xml, which GPMC's Import-GPO also wants, are not
    generated yet; ``LGPO.exe /g`` reads the DomainSysvol files.
    """
    name = guid if guid.startswith("{") else "{" + guid + "}"
    if len(name) != 38:
        raise PolError(f"{guid!r} is not a GUID")
    root = Path(folder) / name.upper() / "DomainSysvol" / "GPO"
    written = []
    for scope, entries in (("Machine", machine), ("User", user)):
        if entries:
            path = root / scope / "registry.pol"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(encode_registry_pol(entries))
            written.append(path)
    if security_template is not None:
        path = root / "Machine" / "microsoft" / "windows nt" / "SecEdit" / "GptTmpl.inf"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(security_template)
        written.append(path)
    return written


# --------------------------------------------------------------------------------------------------
# A facility's policy as a GPO backup tree (``socle gpo``)
# --------------------------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
GPO_ROLES = ("accounts", "session_lock", "firewall", "updates", "antivirus")
POLICIES_PREFIX = "software\\policies\\"
SESSION_LOCK_SYSTEM = "HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Policies\\System"
FIREWALL_POLICY = "HKLM:\\SOFTWARE\\Policies\\Microsoft\\WindowsFirewall"


def _templar(variables: Mapping[str, Any]):
    """An Ansible templar over ``variables`` with Socle's filters (the roles' vars files use them)."""
    import warnings

    from ansible.parsing.dataloader import DataLoader
    from ansible.plugins.loader import filter_loader, init_plugin_loader
    from ansible.template import Templar

    with warnings.catch_warnings():  # already configured when Ansible runs in this process
        warnings.simplefilter("ignore", UserWarning)
        init_plugin_loader()
    filter_loader.add_directory(str(ROOT / "filter_plugins"))
    return Templar(loader=DataLoader(), variables=dict(variables))


def _trusted(value: Any) -> Any:
    """Project files are templates Socle wrote: trusted (inventory values from ansible-inventory stay data)."""
    from ansible.template import trust_as_template

    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, list):
        return [_trusted(item) for item in value]
    if isinstance(value, dict):
        return {key: _trusted(item) for key, item in value.items()}
    return value


def _windows_decisions():
    """module_utils/socle_windows.py (the values the tasks compute), loaded by path as the filters do."""
    import importlib.util
    import sys

    name = "socle_module_utils_windows"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "module_utils" / "socle_windows.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def _load_trusted(path: Path) -> Any:
    from ansible.parsing.dataloader import DataLoader

    return _trusted(DataLoader().load_from_file(str(path)) or {})


def facility_variables(hostvars: Mapping[str, Any]) -> dict[str, Any]:
    """A host's policy: the Windows roles' defaults and their Windows vars files, under its inventory vars."""
    variables: dict[str, Any] = {}
    for role in GPO_ROLES:
        variables.update(_load_trusted(ROOT / "roles" / role / "defaults" / "main.yml"))
    variables.update(hostvars)
    for role in ("updates", "antivirus", "firewall"):
        variables.update(_load_trusted(ROOT / "roles" / role / "vars" / "Windows.yml"))
    return variables


def policy_settings(variables: Mapping[str, Any]) -> dict[str, Any]:
    """The registry values and security-template keys of the Windows roles for one policy.

    Same values as the tasks write with win_regedit and win_security_policy (a unit test renders both
    and compares): ``machine`` and ``user`` are win_regedit-style values, ``system_access`` the
    secedit ``[System Access]`` keys. The firewall's profile state, which the tasks set in the local
    store, is written as its policy values (EnableFirewall, DefaultInboundAction, DefaultOutboundAction).
    """
    win = _windows_decisions()
    t = _templar(variables)

    def get(name: str) -> Any:
        return t.template(variables[name])

    machine: list[dict[str, Any]] = []
    for group in (get("__updates_win_values"), get("__antivirus_win_values")):
        for values in group.values():
            machine.extend(values)
    for profile in ("DomainProfile", "PrivateProfile", "PublicProfile"):
        machine += [
            {"path": f"{FIREWALL_POLICY}\\{profile}", "name": "EnableFirewall", "type": "dword", "data": 1},
            {"path": f"{FIREWALL_POLICY}\\{profile}", "name": "DefaultInboundAction", "type": "dword", "data": 1},
            {"path": f"{FIREWALL_POLICY}\\{profile}", "name": "DefaultOutboundAction", "type": "dword", "data": 0},
        ]
    machine.extend(get("__firewall_win_logging"))
    idle = int(get("session_lock_idle_timeout_s"))
    machine += [
        {"path": SESSION_LOCK_SYSTEM, "name": "InactivityTimeoutSecs", "type": "dword", "data": idle},
        *({"path": "HKLM:\\SOFTWARE\\Policies\\Microsoft\\Power\\PowerSettings\\0e796bdb-100d-47d6-a2d5-f7d2daa51f51",
           "name": name, "type": "dword", "data": 1} for name in ("ACSettingIndex", "DCSettingIndex")),
        {"path": "HKLM:\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Winlogon", "name": "ScreenSaverGracePeriod",
         "type": "string", "data": str(get("session_lock_windows_grace_period_s"))},
        {"path": "HKLM:\\SYSTEM\\CurrentControlSet\\Control\\Lsa", "name": "LimitBlankPasswordUse", "type": "dword",
         "data": 1},
    ]
    min_length = int(get("accounts_password_min_length"))
    if min_length > 14:
        machine.append({"path": "HKLM:\\SYSTEM\\CurrentControlSet\\Control\\SAM",
                        "name": "RelaxMinimumPasswordLengthLimits", "type": "dword", "data": 1})
    user = []
    if get("session_lock_windows_screensaver_enabled"):
        user = [{"path": "HKCU:\\" + win.SCREENSAVER_KEY, **value} for value in win.screensaver_values(idle)]
    system_access: dict[str, Any] = {
        **win.password_policy(min_length, int(get("accounts_pwhistory_remember")),
                              int(get("accounts_pass_max_days")), int(get("accounts_pass_min_days"))),
        **win.lockout_policy(int(get("accounts_faillock_deny")), int(get("accounts_faillock_unlock_time_s")),
                             int(get("accounts_faillock_fail_interval_s"))),
        "EnableGuestAccount": 0,
    }
    if get("accounts_windows_builtin_admin_name"):
        system_access["NewAdministratorName"] = str(get("accounts_windows_builtin_admin_name"))
    if get("accounts_windows_builtin_admin_disabled"):
        system_access["EnableAdminAccount"] = 0
    for value in machine:
        if value.get("data") is not None and value.get("type") == "dword":
            value["data"] = int(value["data"])
    return {"machine": machine, "user": user, "system_access": system_access}


def split_for_gpo(machine: Sequence[Mapping[str, Any]]) -> tuple[list[Mapping[str, Any]], list[tuple[str, int, Any]]]:
    """Values under Software\\Policies go to Registry.pol; the others (security options) to GptTmpl.inf."""
    pol, inf = [], []
    for value in machine:
        _scope, key = split_hive(str(value["path"]))
        if key.lower().startswith(POLICIES_PREFIX):
            pol.append(value)
        elif value.get("state", "present") != "absent":
            inf.append((f"{key}\\{value['name']}", TYPE_NAMES[str(value.get('type', 'string'))], value["data"]))
    return pol, inf


def write_policy_gpo(folder: str | Path, guid: str, settings: Mapping[str, Any]) -> list[Path]:
    """The GPO backup tree of a policy (see :func:`policy_settings`)."""
    pol, inf = split_for_gpo(settings["machine"])
    machine = entries_from_values(pol)["Machine"]
    user = entries_from_values(settings["user"])["User"]
    template = gpttmpl_inf(settings["system_access"], inf)
    return write_gpo_backup(folder, guid, machine, user, template)


def facility_guid(facility: str) -> str:
    """A stable GUID per facility, so that a new export replaces the previous one's folder."""
    import uuid

    return "{" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"socle:gpo:{facility}")).upper() + "}"
