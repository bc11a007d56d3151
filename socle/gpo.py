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

The backup also carries GPMC's two metadata files, ``Backup.xml`` and ``bkupInfo.xml`` (see
:func:`backup_xml`), so GPMC's Import-GPO / "Import Settings" can read it, not only ``LGPO.exe /g``.

Not tested against a live Windows host or domain: the Registry.pol and GptTmpl.inf bytes are tested
against the format, byte for byte; Backup.xml and bkupInfo.xml against the shape of published GPMC
and LGPO backups (cited at :func:`backup_xml`), parsed back. No import has been run.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

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


# GPMC's metadata of a backup. Sources, read for this code (none of them is a formal specification):
# - the element layout of Backup.xml and bkupInfo.xml: a backup written by LGPO.exe /b and reimported
#   by GPMC (github.com/MpenaAIT/Policy, Backup.xml and Bkupinfo.xml, commit 149a21cf, comment
#   "Backup GPO created by LGPO.exe") and a GPMC backup of a security-baseline GPO
#   (github.com/z3r0page/gpocopy, Backup.xml, commit d3df4131): namespaces, CDATA values, the
#   GroupPolicyExtension / FSObjectFile / FSObjectDir entries with their %GPO_*_FSPATH% paths;
# - the extension GUIDs: [MS-GPREG] "Standards Assignments" (registry CSE {35378EAC-...}; tool GUID
#   {D02B1F72-...} or {0F6B957D-...} for computer settings, {D02B1F73-...} or {0F6B957E-...} for
#   user settings, "implementation dependent": the D02B1F7x pair is the one the two backups above
#   carry), [MS-GPSB] 1.9 (security CSE {827D319E-...}, tool {803E14A0-...}), KB 216357; [MS-GPOL]
#   1.8 and [MS-GPOD] for what gPCMachineExtensionNames holds (CSE GUID then tool GUIDs), the
#   "[{CSE}{tool}][...]" text as in the two backups;
# - what a domain-less backup may leave empty: IGPMGPO::Import (learn.microsoft.com, gpmgmt.h) says
#   an import "does not copy security on the GPO", so the security descriptor is not read; vendor and
#   community scripts that build backups by hand and run Import-GPO on them leave <Domain>,
#   <SecurityDescriptor> and <SecurityGroups> empty (Level.io's "install the agent by GPO" script:
#   empty Domain and SecurityDescriptor, no manifest.xml, Import-GPO -BackupGpoName; a published
#   "user rights assignment GPO in PowerShell" script: every domain field of Backup.xml and
#   bkupInfo.xml empty, Import-GPO -BackupId). Restore-GPO needs the original domain and GPO and is
#   not supported. NOT VERIFIED: no domain here, so no Import-GPO has been run on these files.
BACKUP_NS = "http://www.microsoft.com/GroupPolicy/GPOOperations"
MANIFEST_NS = "http://www.microsoft.com/GroupPolicy/GPOOperations/Manifest"
REGISTRY_CSE = "{35378EAC-683F-11D2-A89A-00C04FBBCFA2}"
REGISTRY_TOOL_MACHINE = "{D02B1F72-3407-48AE-BA88-E8213C6761F1}"
REGISTRY_TOOL_USER = "{D02B1F73-3407-48AE-BA88-E8213C6761F1}"
SECURITY_CSE = "{827D319E-6EAC-11D2-A4EA-00C04F79F83A}"
SECURITY_TOOL = "{803E14A0-B4FB-11D0-A0D0-00A0C90F574B}"
UNKNOWN_EXTENSION = "{F15C46CD-82A0-4C2D-A210-5D0D3182A418}"  # GPMC's entry for plain folders
VERSION_ONE_EDIT = 65537  # a scope edited once: AD version 1 (high word), SYSVOL version 1 (low word)
SECEDIT_DIRS = ("microsoft", "microsoft\\windows nt", "microsoft\\windows nt\\SecEdit")
BS = "\\"
MACHINE_FSPATH = "%GPO_MACH_FSPATH%\\"
GPO_LOCATION = "DomainSysvol\\GPO\\"
BACKUP_COMMENT = "Written by Socle (socle gpo), not by GPMC: import its settings; Restore-GPO is not supported."
_XML_FORBIDDEN = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def normalise_guid(value: str) -> str:
    """``{XXXXXXXX-...}`` in upper case, as GPMC writes GUIDs; PolError for anything else."""
    import uuid

    text = str(value).strip()
    try:
        parsed = uuid.UUID(text.strip("{}"))
    except ValueError:
        raise PolError(f"{value!r} is not a GUID") from None
    if len(text) not in (36, 38) or (len(text) == 38 and not (text[0] == "{" and text[-1] == "}")):
        raise PolError(f"{value!r} is not a GUID")
    return "{" + str(parsed).upper() + "}"


def _cdata(text: str, what: str) -> str:
    """``text`` as GPMC writes its values: a CDATA section (``]]>`` split across two sections)."""
    if _XML_FORBIDDEN.search(text):
        raise PolError(f"{what} {text!r} contains a character XML cannot carry")
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _element(name: str, text: str | None, what: str = "") -> str:
    return f"<{name}/>" if not text else f"<{name}>{_cdata(text, what or name)}</{name}>"


def extension_names(pairs: Iterable[tuple[str, str]]) -> str:
    """gPCMachineExtensionNames syntax: ``[{CSE}{tool}...]`` per CSE, CSEs and tools in GUID order."""
    tools: dict[str, set[str]] = {}
    for cse, tool in pairs:
        tools.setdefault(cse.upper(), set()).add(tool.upper())
    return "".join(f"[{cse}{''.join(sorted(tools[cse]))}]" for cse in sorted(tools))


def _check_display_name(name: str) -> str:
    name = str(name)
    if not name.strip() or any(c in name for c in "\r\n\t") or _XML_FORBIDDEN.search(name):
        raise PolError(f"GPO display name {name!r}: give one non-empty line of characters XML can carry")
    return name


def backup_xml(gpo_guid: str, display_name: str, machine_pol: bool, user_pol: bool, security: bool) -> bytes:
    """Backup.xml of a backup holding the given files, in the shape GPMC and LGPO.exe /b write it.

    Left empty because they belong to a domain (see the sources above): ``Domain``,
    ``SecurityDescriptor`` (GPMC's import does not copy the GPO's security), ``SecurityGroups``,
    ``WMIFilter`` and the ``bkp:SourceExpandedPath`` of each file (the SYSVOL path it was read from).
    """
    gpo_guid = normalise_guid(gpo_guid)
    display_name = _check_display_name(display_name)
    machine_pairs = ([(REGISTRY_CSE, REGISTRY_TOOL_MACHINE)] if machine_pol else []) + (
        [(SECURITY_CSE, SECURITY_TOOL)] if security else [])
    user_pairs = [(REGISTRY_CSE, REGISTRY_TOOL_USER)] if user_pol else []
    core = "".join((
        _element("ID", gpo_guid),
        "<Domain/>",
        "<SecurityDescriptor/>",
        _element("DisplayName", display_name, "GPO display name"),
        _element("Options", "0"),
        _element("UserVersionNumber", str(VERSION_ONE_EDIT if user_pol else 0)),
        _element("MachineVersionNumber", str(VERSION_ONE_EDIT if machine_pol or security else 0)),
        _element("MachineExtensionGuids", extension_names(machine_pairs)),
        _element("UserExtensionGuids", extension_names(user_pairs)),
        "<WMIFilter/>",
    ))

    def file(path: str, location: str, extra: str = "") -> str:
        where = quoteattr(GPO_LOCATION + location)
        return f"<FSObjectFile bkp:Path={quoteattr(path)}{extra} bkp:Location={where}/>"

    def folder(path: str) -> str:
        return (f"<FSObjectDir bkp:Path={quoteattr(MACHINE_FSPATH + path)}"
                f" bkp:Location={quoteattr(GPO_LOCATION + 'Machine' + BS + path)}/>")

    extensions = []
    if machine_pol or user_pol:
        files = ([file("%GPO_MACH_FSPATH%\\registry.pol", "Machine\\registry.pol")] if machine_pol else []) + (
            [file("%GPO_USER_FSPATH%\\registry.pol", "User\\registry.pol")] if user_pol else [])
        extensions.append(f'<GroupPolicyExtension bkp:ID="{REGISTRY_CSE}" bkp:DescName="Registry">'
                          + "".join(files) + "</GroupPolicyExtension>")
    if security:
        inf = "microsoft\\windows nt\\SecEdit\\GptTmpl.inf"
        extensions.append(
            f'<GroupPolicyExtension bkp:ID="{SECURITY_CSE}" bkp:DescName="Security">'
            + file(MACHINE_FSPATH + inf, "Machine" + BS + inf, ' bkp:ReEvaluateFunction="SecurityValidateSettings"')
            + "</GroupPolicyExtension>")
        extensions.append(
            f'<GroupPolicyExtension bkp:ID="{UNKNOWN_EXTENSION}" bkp:DescName="Unknown Extension">'
            + "".join(folder(d) for d in SECEDIT_DIRS)
            + "</GroupPolicyExtension>")
    text = (
        '<?xml version="1.0" encoding="utf-8"?>\r\n'
        '<GroupPolicyBackupScheme bkp:version="2.0" bkp:type="GroupPolicyBackupTemplate"'
        f' xmlns:bkp="{BACKUP_NS}" xmlns="{BACKUP_NS}">\r\n'
        "    <GroupPolicyObject><SecurityGroups/><FilePaths/>"
        f"<GroupPolicyCoreSettings>{core}</GroupPolicyCoreSettings>\r\n"
        + "".join(f"        {extension}\r\n" for extension in extensions)
        + "    </GroupPolicyObject>\r\n</GroupPolicyBackupScheme>\r\n"
    )
    return text.encode("utf-8")


def bkup_info_xml(backup_id: str, gpo_guid: str, display_name: str, backup_time: Any = None,
                  comment: str = BACKUP_COMMENT) -> bytes:
    """bkupInfo.xml: the backup's identity, which Import-GPO -BackupId/-BackupGpoName and GPMC list.

    ``GPODomain``, ``GPODomainGuid`` and ``GPODomainController`` are left empty (no domain);
    ``BackupTime`` is the export time in UTC, written as GPMC does (``YYYY-MM-DDTHH:MM:SS``).
    """
    import datetime as dt

    when = backup_time or dt.datetime.now(dt.UTC)
    fields = "".join((
        _element("GPOGuid", normalise_guid(gpo_guid)),
        "<GPODomain/><GPODomainGuid/><GPODomainController/>",
        _element("BackupTime", when.strftime("%Y-%m-%dT%H:%M:%S")),
        _element("ID", normalise_guid(backup_id)),
        _element("Comment", comment),
        _element("GPODisplayName", _check_display_name(display_name), "GPO display name"),
    ))
    return f'<BackupInst xmlns="{MANIFEST_NS}">{fields}</BackupInst>\r\n'.encode()


def backup_gpo_guid(backup_id: str) -> str:
    """The GUID of the GPO a backup describes, stable per backup ID (GPMC's two GUIDs differ too)."""
    import uuid

    return "{" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"socle:gpo-object:{normalise_guid(backup_id)}")).upper() + "}"


def write_gpo_backup(
    folder: str | Path,
    guid: str,
    machine: Sequence[PolEntry] = (),
    user: Sequence[PolEntry] = (),
    security_template: bytes | None = None,
    display_name: str = "Socle",
    gpo_guid: str | None = None,
    backup_time: Any = None,
) -> list[Path]:
    """Write the files of a GPO backup under ``folder/{GUID}`` and return their paths.

    ``guid`` is the backup ID (the folder's name); ``gpo_guid`` the GPO's own GUID (derived from the
    backup ID when not given). Layout as GPMC writes it: ``Backup.xml``, ``bkupInfo.xml`` and
    ``DomainSysvol/GPO/Machine/registry.pol``, ``DomainSysvol/GPO/User/registry.pol``,
    ``DomainSysvol/GPO/Machine/microsoft/windows nt/SecEdit/GptTmpl.inf``. The policy files come
    first in the returned list, the two XML files last. No ``gpreport.xml`` (an HTML-report source
    GPMC writes and does not need to import) and no ``manifest.xml`` in ``folder``.
    """
    name = normalise_guid(guid)
    gpo_guid = normalise_guid(gpo_guid) if gpo_guid else backup_gpo_guid(name)
    display_name = _check_display_name(display_name)
    backup = Path(folder) / name
    root = backup / "DomainSysvol" / "GPO"
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
    backup.mkdir(parents=True, exist_ok=True)
    (backup / "Backup.xml").write_bytes(
        backup_xml(gpo_guid, display_name, bool(machine), bool(user), security_template is not None))
    (backup / "bkupInfo.xml").write_bytes(bkup_info_xml(name, gpo_guid, display_name, backup_time))
    return [*written, backup / "Backup.xml", backup / "bkupInfo.xml"]


# --------------------------------------------------------------------------------------------------
# A facility's policy as a GPO backup tree (``socle gpo``)
# --------------------------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
GPO_ROLES = ("accounts", "session_lock", "firewall", "updates", "antivirus", "organisation")
POLICIES_PREFIX = "software\\policies\\"
SESSION_LOCK_SYSTEM = "HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Policies\\System"
FIREWALL_POLICY = "HKLM:\\SOFTWARE\\Policies\\Microsoft\\WindowsFirewall"
FIREWALL_RULES = FIREWALL_POLICY + "\\FirewallRules"
# The logon legal notice goes to the machine Registry.pol as the REG_SZ values the Windows task writes
# (M7-WIN-LEGAL-NOTICE), not to GptTmpl.inf: the security template's form of LegalNoticeText is a
# REG_MULTI_SZ ("7,line,line"), which is not the value the task writes, and neither form there can
# carry the quotes and line breaks of the text. Policies\System is a policy key, so the registry
# client-side extension removes the values with the GPO.
REGISTRY_POL_VALUES = {("software\\microsoft\\windows\\currentversion\\policies\\system", name)
                       for name in ("legalnoticecaption", "legalnoticetext")}
# The WinRM rule of the GPO: a Windows Firewall rule as [MS-GPFAS] 2.2.2.19 "Firewall Rule and the
# Firewall Rule Grammar Rule" encodes it (value name = rule ID, REG_SZ data "v2.10|Field=...|...|").
WINRM_RULE_ID = "Socle-WinRM-Management-In-TCP"
WINRM_RULE_NAME = "Socle - WinRM from the management addresses (GPO)"
WINRM_RULE_DESC = "Managed by Socle. Ansible reaches this host over WinRM from these addresses only."
RULE_VERSION = "v2.10"  # the Windows 7 / Server 2008 R2 schema: read by every supported release


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


def _load_by_path(name: str, relpath: str):
    """A project file that is not importable from here (module_utils, plugins), loaded once by path."""
    import importlib.util
    import sys

    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / relpath)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def _windows_decisions():
    """module_utils/socle_windows.py (the values the tasks compute), loaded by path as the filters do."""
    return _load_by_path("socle_module_utils_windows", "module_utils/socle_windows.py")


def _load_trusted(path: Path) -> Any:
    from ansible.parsing.dataloader import DataLoader

    return _trusted(DataLoader().load_from_file(str(path)) or {})


def _rule_address(network) -> str:
    """One RA4/RA6 value: [MS-GPFAS] 2.2.2.9-2.2.2.12 take a single address, a range, or a subnet
    whose prefix length is below 32 (IPv4) or 128 (IPv6)."""
    if network.prefixlen == network.max_prefixlen:
        return str(network.network_address)
    if network.prefixlen == 0:
        return f"{network.network_address}-{network.broadcast_address}"
    return f"{network.network_address}/{network.prefixlen}"


def winrm_firewall_rule(ports: Iterable[Any], networks: Iterable[Any]) -> str:
    """The inbound allow rule for WinRM from the management addresses, as a FirewallRules value.

    Same rule as the Windows task creates in the local store (M2-WIN-FW-INBOUND): TCP, the WinRM
    ports, every profile (no ``Profile=`` field means all of them, [MS-GPFAS] 2.2.2.19), only the
    management networks (``RA4=``/``RA6=``, one field per network; a rule with addresses matches
    no other address). ``Active=TRUE`` is required: a rule without it is disabled. Empty networks
    are refused, as the task refuses them: blocking inbound traffic would cut WinRM.
    """
    import ipaddress

    fields = [RULE_VERSION, "Action=Allow", "Active=TRUE", "Dir=In", "Protocol=6"]
    port_list = []
    for port in ports:
        number = int(port)
        if not 0 < number < 65536:
            raise PolError(f"firewall_windows_winrm_ports: {port!r} is not a TCP port")
        if number not in port_list:
            port_list.append(number)
    if not port_list:
        raise PolError("firewall_windows_winrm_ports is empty: the GPO's WinRM rule would open nothing")
    fields += [f"LPort={port}" for port in port_list]
    parsed = []
    for item in networks:
        try:
            network = ipaddress.ip_network(str(item).strip(), strict=False)
        except ValueError:
            raise PolError(f"firewall_admin_networks: {item!r} is not a network (CIDR)") from None
        if network not in parsed:
            parsed.append(network)
    if not parsed:
        raise PolError("firewall_admin_networks is empty: a GPO that blocks inbound traffic would cut WinRM (Ansible)")
    fields += [f"RA{n.version}={_rule_address(n)}" for n in sorted(parsed, key=lambda n: n.version)]
    fields += [f"Name={WINRM_RULE_NAME}", f"Desc={WINRM_RULE_DESC}"]
    return "|".join(fields) + "|"


def _organisation_plugin():
    """action_plugins/socle_organisation.py (validation and the banner text), loaded by path."""
    return _load_by_path("socle_action_plugins_organisation_for_gpo", "action_plugins/socle_organisation.py")


def legal_notice(values: Mapping[str, Any]) -> tuple[str, str]:
    """(LegalNoticeCaption, LegalNoticeText) as M7-WIN-LEGAL-NOTICE writes them, from the organisation values.

    The text is the action plugin's ``banner_windows``, rendered by the same code with the same
    context as its ``render`` step (the banner uses the facility, the charter version and the
    Windows folder); invalid facility data is refused as that step refuses it.
    """
    org = _organisation_plugin()
    errors = org.validate(values)
    if errors:
        raise PolError("organisation: " + "; ".join(errors))
    context = org.document_context(values, backups=[])  # backups: used by the runbook, not by the banner
    templates = str(ROOT / "roles" / "organisation" / "templates")
    docs = org.render_documents(templates, values.get("organisation_lang") or "fr", context)
    return str(values["organisation_facility"]["name"]), docs["banner_windows"]


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
    secedit ``[System Access]`` keys, ``display_name`` the GPO's name. With ``firewall_enabled`` (as
    the firewall tasks), the firewall's profile state, which the tasks set in the local store, is
    written as its policy values (EnableFirewall, DefaultInboundAction, DefaultOutboundAction), and
    since those block inbound traffic, the WinRM rule the tasks create locally is written too, as a
    policy firewall rule from ``firewall_admin_networks``: a GPO delivered where local rules are
    not merged (``AllowLocalPolicyMerge`` 0 in another GPO) must not cut Ansible off. With
    ``organisation_enabled`` and ``organisation_banner_enabled`` (as M7-WIN-LEGAL-NOTICE), the
    logon legal notice.
    """
    win = _windows_decisions()
    t = _templar(variables)

    def get(name: str) -> Any:
        return t.template(variables[name])

    machine: list[dict[str, Any]] = []
    for group in (get("__updates_win_values"), get("__antivirus_win_values")):
        for values in group.values():
            machine.extend(values)
    if get("firewall_enabled"):
        for profile in ("DomainProfile", "PrivateProfile", "PublicProfile"):
            machine += [
                {"path": f"{FIREWALL_POLICY}\\{profile}", "name": "EnableFirewall", "type": "dword", "data": 1},
                {"path": f"{FIREWALL_POLICY}\\{profile}", "name": "DefaultInboundAction", "type": "dword", "data": 1},
                {"path": f"{FIREWALL_POLICY}\\{profile}", "name": "DefaultOutboundAction", "type": "dword", "data": 0},
            ]
        machine.extend(get("__firewall_win_logging"))
    if blocks_inbound(machine):
        rule = winrm_firewall_rule(get("firewall_windows_winrm_ports"), get("firewall_admin_networks"))
        machine.append({"path": FIREWALL_RULES, "name": WINRM_RULE_ID, "type": "string", "data": rule})
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
    if get("organisation_enabled") and get("organisation_banner_enabled"):
        values = {name: get(name) for name in _organisation_plugin().ActionModule.VARIABLES if name in variables}
        caption, text = legal_notice(values)
        machine += [{"path": SESSION_LOCK_SYSTEM, "name": "LegalNoticeCaption", "type": "string", "data": caption},
                    {"path": SESSION_LOCK_SYSTEM, "name": "LegalNoticeText", "type": "string", "data": text}]
    for value in machine:
        if value.get("data") is not None and value.get("type") == "dword":
            value["data"] = int(value["data"])
    return {"machine": machine, "user": user, "system_access": system_access,
            "display_name": gpo_display_name(variables, get)}


def blocks_inbound(machine: Iterable[Mapping[str, Any]]) -> bool:
    """Whether these values set a firewall profile's default inbound action to block (1)."""
    return any(split_hive(str(v["path"]))[1].lower().startswith("software\\policies\\microsoft\\windowsfirewall\\")
               and str(v["name"]).lower() == "defaultinboundaction" and v.get("state", "present") != "absent"
               and int(v["data"]) == 1 for v in machine)


def gpo_display_name(variables: Mapping[str, Any], get=None) -> str:
    """The GPO's name: "Socle - " and the facility's name (organisation_facility.name, else socle_facility)."""
    get = get or (lambda name: variables[name])
    facility = get("organisation_facility") if "organisation_facility" in variables else None
    name = facility.get("name") if isinstance(facility, Mapping) else None
    if not (isinstance(name, str) and name.strip()) and variables.get("socle_facility"):
        name = get("socle_facility")
    name = " ".join(_XML_FORBIDDEN.sub("", str(name)).split()) if name else ""  # one line XML can carry
    return f"Socle - {name}" if name else "Socle"


def split_for_gpo(machine: Sequence[Mapping[str, Any]]) -> tuple[list[Mapping[str, Any]], list[tuple[str, int, Any]]]:
    """Values under Software\\Policies (and the legal notice) go to Registry.pol; the others to GptTmpl.inf."""
    pol, inf = [], []
    for value in machine:
        _scope, key = split_hive(str(value["path"]))
        if key.lower().startswith(POLICIES_PREFIX) or (key.lower(), str(value["name"]).lower()) in REGISTRY_POL_VALUES:
            pol.append(value)
        elif value.get("state", "present") != "absent":
            inf.append((f"{key}\\{value['name']}", TYPE_NAMES[str(value.get('type', 'string'))], value["data"]))
    return pol, inf


def write_policy_gpo(folder: str | Path, guid: str, settings: Mapping[str, Any]) -> list[Path]:
    """The GPO backup tree of a policy (see :func:`policy_settings`), named after its facility."""
    pol, inf = split_for_gpo(settings["machine"])
    machine = entries_from_values(pol)["Machine"]
    user = entries_from_values(settings["user"])["User"]
    template = gpttmpl_inf(settings["system_access"], inf)
    return write_gpo_backup(folder, guid, machine, user, template, settings.get("display_name") or "Socle")


def facility_guid(facility: str) -> str:
    """A stable GUID per facility, so that a new export replaces the previous one's folder."""
    import uuid

    return "{" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"socle:gpo:{facility}")).upper() + "}"
