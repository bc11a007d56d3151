"""socle/gpo.py: Registry.pol and GptTmpl.inf byte for byte, the length-driven reader, the GPO backup tree.

Expected bytes are written out by hand from [MS-GPREG] 2.2.1, not produced by the code under test.
"""

from __future__ import annotations

import pytest
from conftest import ROOT

from socle import gpo
from socle.catalogue import _AnsibleLoader, _load_yaml

HEADER = bytes.fromhex("50 52 65 67 01 00 00 00")  # "PReg", version 1


def u16(text: str) -> bytes:
    return text.encode("utf-16-le")


def test_one_dword_record_byte_for_byte():
    pol = gpo.encode_registry_pol([gpo.entry("Software\\P", "T", "dword", 900)])
    assert pol == HEADER + bytes.fromhex(
        "5b00"                                  # [
        "5300 6f00 6600 7400 7700 6100 7200 6500 5c00 5000 0000"  # Software\P, null-terminated
        + "3b00"                                # ;
        + "5400 0000"                           # T, null-terminated
        + "3b00 04000000"                       # ; REG_DWORD
        + "3b00 04000000"                       # ; 4 bytes of data
        + "3b00 84030000"                       # ; 900, little-endian
        + "5d00"                                # ]
    )


def test_data_containing_the_closing_bracket_round_trips():
    # DWORD 93 is 5D 00 00 00: "]\0" inside the data, which regex/split readers truncate.
    entries = [
        gpo.entry("Software\\Policies\\Microsoft\\Windows\\WindowsUpdate\\AU", "ScheduledInstallTime", "dword", 93),
        gpo.entry("Software\\Policies\\Socle", "Texte", "string", "fin]; [début]"),
        gpo.entry("Software\\Policies\\Socle", "Liste", "multistring", ["a]", "];["]),
        gpo.entry("Software\\Policies\\Socle", "Brut", "binary", b"]\x00;\x00[\x00"),
    ]
    pol = gpo.encode_registry_pol(entries)
    record = bytes.fromhex("3b00 04000000 3b00 04000000 3b00 5d000000 5d00")
    assert record in pol
    assert gpo.decode_registry_pol(pol) == entries
    assert gpo.decode_data(gpo.REG_DWORD, gpo.decode_registry_pol(pol)[0].data) == 93
    assert gpo.decode_data(gpo.REG_SZ, entries[1].data) == "fin]; [début]"
    assert gpo.decode_data(gpo.REG_MULTI_SZ, entries[2].data) == ["a]", "];["]


@pytest.mark.parametrize(
    ("kind", "value", "data"),
    [
        ("string", "scrnsave.scr", u16("scrnsave.scr\0")),
        ("expandstring", "%SystemRoot%\\x", u16("%SystemRoot%\\x\0")),
        ("multistring", ["Ligne 1", "Ligne 2"], u16("Ligne 1\0Ligne 2\0\0")),
        ("dword", 1, bytes.fromhex("01000000")),
        ("dword_be", 1, bytes.fromhex("00000001")),
        ("qword", 2**40, bytes.fromhex("0000000000010000")),
        ("binary", b"\x01\x02", b"\x01\x02"),
    ],
)
def test_data_encodings(kind, value, data):
    record = gpo.entry("K", "V", kind, value)
    assert record.data == data
    assert record.type == gpo.TYPE_NAMES[kind]
    assert gpo.decode_data(record.type, record.data) == value


def test_empty_file_and_key_only_record():
    assert gpo.encode_registry_pol([]) == HEADER
    assert gpo.decode_registry_pol(HEADER) == []
    key_only = gpo.PolEntry("Software\\Policies\\Socle", "", gpo.REG_SZ, b"")
    assert gpo.decode_registry_pol(gpo.encode_registry_pol([key_only])) == [key_only]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"PReg\x02\x00\x00\x00", "not a Registry.pol file"),
        (HEADER + u16("K\0;V\0;"), "expected '\\['"),
        (HEADER + u16("[K"), "key is not null-terminated"),
        (HEADER + u16("[K\0;V\0;") + bytes.fromhex("04000000 3b00 10000000 3b00 01000000 5d00"), "runs past the end"),
        (HEADER + u16("[K\0;V\0;") + bytes.fromhex("04000000 3b00 04000000 3b00 01000000 3b00"), "closing the record"),
        (HEADER + u16("[K\0;V\0;") + bytes.fromhex("0400"), "cut short"),
    ],
)
def test_broken_files_are_refused_with_the_offset(data, message):
    with pytest.raises(gpo.PolError, match=message):
        gpo.decode_registry_pol(data)


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (gpo.PolEntry("", "V", 1, b""), "without a leading backslash"),
        (gpo.PolEntry("\\Software", "V", 1, b""), "without a leading backslash"),
        (gpo.PolEntry("K", "x" * 260, 1, b""), "longer than 259"),
        (gpo.PolEntry("K\0J", "V", 1, b""), "null character"),
    ],
)
def test_bad_records_are_refused(record, message):
    with pytest.raises(gpo.PolError, match=message):
        gpo.encode_registry_pol([record])


@pytest.mark.parametrize(("kind", "value"), [("dword", -1), ("dword", 2**32), ("qword", 2**64), ("multistring", [""])])
def test_values_out_of_range_are_refused(kind, value):
    with pytest.raises(gpo.PolError):
        gpo.entry("K", "V", kind, value)


def test_role_values_become_machine_records_with_deletions():
    """The values the Windows tasks write with win_regedit, as records of the machine Registry.pol."""
    antivirus = _load_yaml((ROOT / "roles/antivirus/vars/Windows.yml").read_text(encoding="utf-8"), _AnsibleLoader)
    key = "SOFTWARE\\Policies\\Microsoft\\Windows Defender"
    values = [{"path": "HKLM:\\" + key, **v} for v in (
        {"name": "DisableAntiSpyware", "state": "absent"},
        {"name": "PUAProtection", "type": "dword", "data": 1},
    )]
    assert antivirus["__antivirus_win_values"]["M2-WIN-DEFENDER-PUA"][0]["name"] == "PUAProtection"
    scopes = gpo.entries_from_values(values + [{"path": "HKCU:\\Software\\Policies\\Microsoft\\Windows\\Control "
                                                "Panel\\Desktop", "name": "ScreenSaveActive", "type": "string",
                                                "data": "1"}])
    assert scopes["Machine"] == [
        gpo.PolEntry(key, "**del.DisableAntiSpyware", gpo.REG_SZ, u16(" \0")),
        gpo.PolEntry(key, "PUAProtection", gpo.REG_DWORD, bytes.fromhex("01000000")),
    ]
    assert [e.value for e in scopes["User"]] == ["ScreenSaveActive"]
    with pytest.raises(gpo.PolError, match="HKLM"):
        gpo.split_hive("HKU:\\S-1-5-21\\Software")


def test_gpttmpl_inf_is_utf16_with_crlf_and_reads_back():
    from ansible.module_utils import socle_windows as win

    inf = gpo.gpttmpl_inf(
        {"MinimumPasswordLength": 12, "PasswordComplexity": 1, "NewAdministratorName": "adm-secours"},
        [("Software\\Microsoft\\Windows\\CurrentVersion\\Policies\\System\\InactivityTimeoutSecs", 4, 900),
         ("Software\\Microsoft\\Windows\\CurrentVersion\\Policies\\System\\LegalNoticeText", 7,
          ["Accès réservé", "Charte informatique"])],
        {"SeDenyNetworkLogonRight": ["S-1-5-32-546"]},
    )
    assert inf.startswith(b"\xff\xfe" + u16("[Unicode]\r\nUnicode=yes\r\n[System Access]\r\n"))
    assert u16('NewAdministratorName = "adm-secours"\r\n') in inf
    system = "MACHINE\\Software\\Microsoft\\Windows\\CurrentVersion\\Policies\\System\\"
    assert u16(system + "InactivityTimeoutSecs=4,900\r\n") in inf
    assert u16(system + "LegalNoticeText=7,Accès réservé,Charte informatique\r\n") in inf
    assert inf.endswith(u16('[Version]\r\nsignature="$CHICAGO$"\r\nRevision=1\r\n'))
    parsed = win.parse_inf(inf)
    assert parsed["System Access"] == {"MinimumPasswordLength": "12", "PasswordComplexity": "1",
                                       "NewAdministratorName": "adm-secours"}
    assert win.privilege_sids(parsed, "SeDenyNetworkLogonRight") == ["S-1-5-32-546"]
    with pytest.raises(gpo.PolError, match="quotes"):
        gpo.gpttmpl_inf({"NewAdministratorName": 'a"b'})


def test_gpo_backup_layout(tmp_path):
    machine = [gpo.entry("Software\\Policies\\Socle", "A", "dword", 93)]
    user = [gpo.entry("Software\\Policies\\Socle", "B", "string", "x")]
    written = gpo.write_gpo_backup(tmp_path, "6ac1786c-016f-11d2-945f-00c04fb984f9", machine, user, gpo.gpttmpl_inf())
    rel = [p.relative_to(tmp_path).as_posix() for p in written]
    backup = "{6AC1786C-016F-11D2-945F-00C04FB984F9}"
    base = f"{backup}/DomainSysvol/GPO"
    assert rel == [f"{base}/Machine/registry.pol", f"{base}/User/registry.pol",
                   f"{base}/Machine/microsoft/windows nt/SecEdit/GptTmpl.inf",
                   f"{backup}/Backup.xml", f"{backup}/bkupInfo.xml"]
    assert gpo.decode_registry_pol(written[0].read_bytes()) == machine
    for bad in ("not-a-guid", "{6ac1786c-016f-11d2-945f-00c04fb984f9", "6ac1786c016f11d2945f00c04fb984f9"):
        with pytest.raises(gpo.PolError, match="not a GUID"):
            gpo.write_gpo_backup(tmp_path, bad)


# -- Backup.xml and bkupInfo.xml: GPMC's metadata, parsed back ---------------------------------------------

BKP = "{http://www.microsoft.com/GroupPolicy/GPOOperations}"
MFST = "{http://www.microsoft.com/GroupPolicy/GPOOperations/Manifest}"
HOSTILE = 'EHPAD "Les Tilleuls" & <Cie> ]]> L\'Oustal – Évreux'
REGISTRY_MACHINE = "[{35378EAC-683F-11D2-A89A-00C04FBBCFA2}{D02B1F72-3407-48AE-BA88-E8213C6761F1}]"
REGISTRY_USER = "[{35378EAC-683F-11D2-A89A-00C04FBBCFA2}{D02B1F73-3407-48AE-BA88-E8213C6761F1}]"
SECURITY = "[{827D319E-6EAC-11D2-A4EA-00C04F79F83A}{803E14A0-B4FB-11D0-A0D0-00A0C90F574B}]"


def _metadata(backup):
    """(Backup.xml core settings as a dict, its GroupPolicyExtension elements, bkupInfo.xml as a dict)."""
    import xml.etree.ElementTree as ET

    scheme = ET.fromstring((backup / "Backup.xml").read_bytes())
    assert scheme.tag == f"{BKP}GroupPolicyBackupScheme"
    assert scheme.get(f"{BKP}version") == "2.0" and scheme.get(f"{BKP}type") == "GroupPolicyBackupTemplate"
    (gpo_object,) = scheme.findall(f"{BKP}GroupPolicyObject")
    core = {child.tag.removeprefix(BKP): child.text for child in gpo_object.find(f"{BKP}GroupPolicyCoreSettings")}
    info = ET.fromstring((backup / "bkupInfo.xml").read_bytes())
    assert info.tag == f"{MFST}BackupInst"
    return core, gpo_object.findall(f"{BKP}GroupPolicyExtension"), {c.tag.removeprefix(MFST): c.text for c in info}


def test_backup_xml_and_bkupinfo_name_the_files_written(tmp_path):
    import datetime as dt

    machine = [gpo.entry("Software\\Policies\\Socle", "A", "dword", 93)]
    user = [gpo.entry("Software\\Policies\\Socle", "B", "string", "x")]
    when = dt.datetime(2026, 3, 1, 8, 30, 5, tzinfo=dt.UTC)
    written = gpo.write_gpo_backup(tmp_path, "6ac1786c-016f-11d2-945f-00c04fb984f9", machine, user,
                                   gpo.gpttmpl_inf(), display_name=f"Socle - {HOSTILE}", backup_time=when)
    backup = tmp_path / "{6AC1786C-016F-11D2-945F-00C04FB984F9}"
    gpo_id = gpo.backup_gpo_guid(backup.name)
    assert gpo_id != backup.name and gpo_id == gpo.normalise_guid(gpo_id)  # the GPO's GUID, not the backup ID
    core, extensions, info = _metadata(backup)
    # Identity: the same GPO GUID and display name in both files, the backup ID is the folder's name.
    assert core["ID"] == info["GPOGuid"] == gpo_id
    assert info["ID"] == backup.name
    assert core["DisplayName"] == info["GPODisplayName"] == f"Socle - {HOSTILE}"
    assert info["BackupTime"] == "2026-03-01T08:30:05"
    # What a domain would give is left empty: no domain, no security descriptor.
    assert core["Domain"] is None and core["SecurityDescriptor"] is None and core["WMIFilter"] is None
    assert info["GPODomain"] is None and info["GPODomainGuid"] is None and info["GPODomainController"] is None
    # The extensions are the ones the files need, in [MS-GPREG]/[MS-GPSB] GUIDs, sorted by CSE GUID.
    assert core["MachineExtensionGuids"] == REGISTRY_MACHINE + SECURITY
    assert core["UserExtensionGuids"] == REGISTRY_USER
    assert core["MachineVersionNumber"] == core["UserVersionNumber"] == "65537"
    # Every file Backup.xml lists is one written, and every policy file written is listed by its extension.
    listed = {ext.get(f"{BKP}ID"): [(f.get(f"{BKP}Path"), f.get(f"{BKP}Location"))
                                     for f in ext.iter(f"{BKP}FSObjectFile")] for ext in extensions}
    assert listed["{35378EAC-683F-11D2-A89A-00C04FBBCFA2}"] == [
        ("%GPO_MACH_FSPATH%\\registry.pol", "DomainSysvol\\GPO\\Machine\\registry.pol"),
        ("%GPO_USER_FSPATH%\\registry.pol", "DomainSysvol\\GPO\\User\\registry.pol")]
    assert listed["{827D319E-6EAC-11D2-A4EA-00C04F79F83A}"] == [
        ("%GPO_MACH_FSPATH%\\microsoft\\windows nt\\SecEdit\\GptTmpl.inf",
         "DomainSysvol\\GPO\\Machine\\microsoft\\windows nt\\SecEdit\\GptTmpl.inf")]
    locations = {backup / loc.replace("\\", "/") for files in listed.values() for _path, loc in files}
    assert locations == set(written[:3]) and all(path.is_file() for path in locations)
    folders = [d.get(f"{BKP}Location") for ext in extensions for d in ext.iter(f"{BKP}FSObjectDir")]
    assert folders and all((backup / f.replace("\\", "/")).is_dir() for f in folders)
    # Bytes: GPMC's declaration and root element, values in CDATA, "]]>" split across two sections.
    raw = (backup / "Backup.xml").read_bytes()
    assert raw.startswith(
        b'<?xml version="1.0" encoding="utf-8"?>\r\n<GroupPolicyBackupScheme bkp:version="2.0" '
        b'bkp:type="GroupPolicyBackupTemplate" xmlns:bkp="http://www.microsoft.com/GroupPolicy/GPOOperations" '
        b'xmlns="http://www.microsoft.com/GroupPolicy/GPOOperations">\r\n')
    name_cdata = ('<![CDATA[Socle - EHPAD "Les Tilleuls" & <Cie> ]]]]><![CDATA[> L\'Oustal – Évreux]]>').encode()
    assert b"<DisplayName>" + name_cdata + b"</DisplayName>" in raw
    assert (backup / "bkupInfo.xml").read_bytes() == (
        '<BackupInst xmlns="http://www.microsoft.com/GroupPolicy/GPOOperations/Manifest">'
        f"<GPOGuid><![CDATA[{gpo_id}]]></GPOGuid><GPODomain/><GPODomainGuid/><GPODomainController/>"
        "<BackupTime><![CDATA[2026-03-01T08:30:05]]></BackupTime>"
        "<ID><![CDATA[{6AC1786C-016F-11D2-945F-00C04FB984F9}]]></ID>"
        f"<Comment><![CDATA[{gpo.BACKUP_COMMENT}]]></Comment>"
        "<GPODisplayName>").encode() + name_cdata + b"</GPODisplayName></BackupInst>\r\n"


def test_backup_xml_lists_only_the_extensions_used(tmp_path):
    machine = [gpo.entry("Software\\Policies\\Socle", "A", "dword", 1)]
    gpo.write_gpo_backup(tmp_path, "{6AC1786C-016F-11D2-945F-00C04FB984F9}", machine,
                         gpo_guid="31b2f340-016d-11d2-945f-00c04fb984f9")
    core, extensions, info = _metadata(tmp_path / "{6AC1786C-016F-11D2-945F-00C04FB984F9}")
    assert core["ID"] == info["GPOGuid"] == "{31B2F340-016D-11D2-945F-00C04FB984F9}"
    assert core["DisplayName"] == "Socle"
    assert core["MachineExtensionGuids"] == REGISTRY_MACHINE and core["UserExtensionGuids"] is None
    assert core["UserVersionNumber"] == "0"
    assert [ext.get(f"{BKP}DescName") for ext in extensions] == ["Registry"]
    assert gpo.extension_names([(gpo.SECURITY_CSE, gpo.SECURITY_TOOL), (gpo.REGISTRY_CSE, gpo.REGISTRY_TOOL_MACHINE),
                                (gpo.REGISTRY_CSE, "{0F6B957D-509E-11D1-A7CC-0000F87571E3}")]) == (
        "[{35378EAC-683F-11D2-A89A-00C04FBBCFA2}{0F6B957D-509E-11D1-A7CC-0000F87571E3}"
        "{D02B1F72-3407-48AE-BA88-E8213C6761F1}]" + SECURITY)


@pytest.mark.parametrize("name", ["", "   ", "Socle\nTilleuls", "Socle\x00", "Socle\x1b[2J", "Socle\ud800"])
def test_display_names_xml_cannot_carry_are_refused(tmp_path, name):
    with pytest.raises(gpo.PolError, match="display name"):
        gpo.write_gpo_backup(tmp_path, "{6AC1786C-016F-11D2-945F-00C04FB984F9}", display_name=name)


# -- socle gpo: a facility's Windows policy as a GPO backup ----------------------------------------------


def _written_by_tasks(role, policy):
    """(path, name, data) of every win_regedit the role's Windows tasks run for this policy."""
    from test_windows_tasks import probe
    from winharness import render_role

    out = set()
    for run in render_role(role, policy, probe()):
        if run.module == "ansible.windows.win_regedit" and not run.skipped and "hive" not in run.args:
            data = run.args.get("data", run.args.get("state"))
            out.add((run.args["path"], run.args["name"], int(data) if run.args.get("type") == "dword" else data))
    return out


def _settings(policy):
    return gpo.policy_settings(gpo.facility_variables(policy))


@pytest.mark.parametrize("role", ["updates", "antivirus", "firewall", "session_lock"])
def test_the_gpo_carries_the_values_the_tasks_write(role):
    policy = {"updates_windows_install_hour": 13, "session_lock_idle_timeout_s": 600,
              "antivirus_max_signature_age_h": 49, "firewall_windows_log_size_kb": 20000}
    settings = _settings(policy)
    in_gpo = {(v["path"], v["name"], v.get("data", v.get("state"))) for v in settings["machine"]}
    written = _written_by_tasks(role, policy)
    assert written and written <= in_gpo, written - in_gpo


def test_gpo_split_security_options_and_user_screensaver():
    settings = _settings({"session_lock_windows_screensaver_enabled": True, "session_lock_idle_timeout_s": 600,
                          "accounts_password_min_length": 16, "accounts_windows_builtin_admin_name": "adm-secours"})
    pol, inf = gpo.split_for_gpo(settings["machine"])
    assert all(gpo.split_hive(v["path"])[1].lower().startswith("software\\policies\\") for v in pol)
    assert ("Software\\Microsoft\\Windows\\CurrentVersion\\Policies\\System\\InactivityTimeoutSecs".upper(),
            4, 600) in [(p.upper(), t, d) for p, t, d in inf]
    assert ("SYSTEM\\CurrentControlSet\\Control\\SAM\\RelaxMinimumPasswordLengthLimits", 4, 1) in inf
    # M4-WIN-SCREENSAVER: the user policy, as a user Registry.pol for the domain's users.
    assert [(v["name"], v["data"]) for v in settings["user"]] == [
        ("ScreenSaveActive", "1"), ("ScreenSaverIsSecure", "1"), ("ScreenSaveTimeOut", "600"),
        ("SCRNSAVE.EXE", "scrnsave.scr")]
    assert settings["system_access"]["MinimumPasswordLength"] == 16
    assert settings["system_access"]["NewAdministratorName"] == "adm-secours"
    assert _settings({})["user"] == []  # the screen saver is opt-in


def test_socle_gpo_command_writes_the_facility_backup(tmp_path, capsys):
    from socle import cli

    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        "all:\n  hosts:\n"
        "    accueil-pc:\n      ansible_connection: winrm\n      socle_facility: tilleuls\n"
        "      session_lock_idle_timeout_s: 600\n      session_lock_windows_screensaver_enabled: true\n"
        "      updates_windows_install_hour: 13\n"
        "    srv-debian:\n      socle_facility: tilleuls\n",
        encoding="utf-8")
    out = tmp_path / "gpo"
    assert cli.main(["gpo", "-i", str(inventory), "--facility", "tilleuls", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f'Import-GPO -BackupGpoName "Socle - tilleuls" -Path "{out}"' in printed, printed
    assert f"LGPO.exe /g {out / gpo.facility_guid('tilleuls')}" in printed
    root = out / gpo.facility_guid("tilleuls") / "DomainSysvol" / "GPO"
    machine = {(e.key, e.value): gpo.decode_data(e.type, e.data)
               for e in gpo.decode_registry_pol((root / "Machine" / "registry.pol").read_bytes())}
    assert machine[("SOFTWARE\\Policies\\Microsoft\\Windows\\WindowsUpdate\\AU", "ScheduledInstallTime")] == 13
    assert machine[("SOFTWARE\\Policies\\Microsoft\\WindowsFirewall\\PublicProfile", "DefaultInboundAction")] == 1
    assert ("SOFTWARE\\Policies\\Microsoft\\Windows Defender", "**del.DisableAntiSpyware") in machine
    user = gpo.decode_registry_pol((root / "User" / "registry.pol").read_bytes())
    assert ("ScreenSaveTimeOut", "600") in [(e.value, gpo.decode_data(e.type, e.data)) for e in user]
    inf = (root / "Machine" / "microsoft" / "windows nt" / "SecEdit" / "GptTmpl.inf").read_bytes().decode("utf-16")
    assert "MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Policies\\System\\InactivityTimeoutSecs=4,600" in inf
    assert 'MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Winlogon\\ScreenSaverGracePeriod=1,"5"' in inf
    assert "LockoutBadCount = 5" in inf and "EnableGuestAccount = 0" in inf
    # The same export again gives the same folder (stable GUID), replaced in place.
    assert cli.main(["gpo", "-i", str(inventory), "--facility", "tilleuls", "--out", str(out)]) == 0
    assert [p.name for p in out.iterdir()] == [gpo.facility_guid("tilleuls")]
    # A facility without a Windows host: nothing written, exit code 1.
    assert cli.main(["gpo", "-i", str(inventory), "--host", "srv-debian", "--out", str(tmp_path / "x")]) == 1


# -- The firewall in the GPO: inbound block comes with the WinRM rule, nothing cuts WinRM -------------------

WINRM_RULES_KEY = "HKLM:\\SOFTWARE\\Policies\\Microsoft\\WindowsFirewall\\FirewallRules"


def _rule_fields(rule: str) -> list[tuple[str, str]]:
    """A FirewallRules string split as [MS-GPFAS] 2.2.2.19 writes it: "v<version>|" then "Field=value|"."""
    assert rule.startswith("v") and rule.endswith("|")
    version, *fields = rule[:-1].split("|")
    return [("version", version[1:]), *(tuple(field.split("=", 1)) for field in fields)]


def _as_active_store_rule(rule_id: str, rule: str) -> dict:
    """The rule as socle_win_probe reads a rule from the active store (Profile 0 = any profile)."""
    fields = _rule_fields(rule)
    profiles = {"Domain": 1, "Private": 2, "Public": 4}
    return {"Name": rule_id, "Action": dict(fields)["Action"], "Protocol": dict(fields)["Protocol"],
            "Profile": sum(profiles[v] for k, v in fields if k == "Profile"),
            "LocalPort": [v for k, v in fields if k == "LPort"],
            "RemoteAddress": [v for k, v in fields if k in ("RA4", "RA6")]}


def _firewall_rules(settings):
    return {v["name"]: v for v in settings["machine"] if v["path"] == WINRM_RULES_KEY}


def test_inbound_block_comes_with_the_winrm_rule_from_the_management_addresses():
    from ansible.module_utils import socle_windows as win

    settings = _settings({})
    assert gpo.blocks_inbound(settings["machine"])
    rules = _firewall_rules(settings)
    assert list(rules) == ["Socle-WinRM-Management-In-TCP"]
    rule = rules["Socle-WinRM-Management-In-TCP"]
    assert rule["type"] == "string"  # REG_SZ, as [MS-GPFAS] 2.2.2.19 requires
    # Written out by hand from the grammar: the default management networks, both WinRM ports, every profile.
    assert rule["data"] == (
        "v2.10|Action=Allow|Active=TRUE|Dir=In|Protocol=6|LPort=5985|LPort=5986|"
        "RA4=10.0.0.0/8|RA4=172.16.0.0/12|RA4=192.168.0.0/16|RA6=fc00::/7|"
        "Name=Socle - WinRM from the management addresses (GPO)|"
        "Desc=Managed by Socle. Ansible reaches this host over WinRM from these addresses only.|")
    # The project's own check of the management path passes on this rule alone (the GPO's rules are
    # the only ones left when another GPO sets AllowLocalPolicyMerge to 0), and finds nothing wider.
    active = [_as_active_store_rule("Socle-WinRM-Management-In-TCP", rule["data"])]
    finding = win.management_path_finding(active, [5985, 5986], ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
                                                                 "fc00::/7"])
    assert finding["status"] == "compliant" and "beyond" not in finding["actual"], finding
    # In the machine Registry.pol, under the FirewallRules key, as a REG_SZ record.
    pol, _inf = gpo.split_for_gpo(settings["machine"])
    records = [e for e in gpo.entries_from_values(pol)["Machine"] if e.key.endswith("\\FirewallRules")]
    assert [(e.key, e.value, e.type, gpo.decode_data(e.type, e.data)) for e in records] == [
        ("SOFTWARE\\Policies\\Microsoft\\WindowsFirewall\\FirewallRules", "Socle-WinRM-Management-In-TCP",
         gpo.REG_SZ, rule["data"])]


def test_the_winrm_rule_is_limited_to_the_management_addresses():
    from ansible.module_utils import socle_windows as win

    networks = ["192.168.10.0/24", "10.1.2.3", "2001:db8::/64", "10.9.9.9/16", "2001:db8:1::7/128", "192.168.10.0/24"]
    settings = _settings({"firewall_admin_networks": networks, "firewall_windows_winrm_ports": [5986]})
    fields = _rule_fields(_firewall_rules(settings)["Socle-WinRM-Management-In-TCP"]["data"])
    # A /32 or /128 is a single address and the prefix length must stay below it ([MS-GPFAS] 2.2.2.10, 2.2.2.12);
    # host bits are cleared as Windows does; a duplicate is written once.
    assert [f for f in fields if f[0] in ("LPort", "RA4", "RA6")] == [
        ("LPort", "5986"), ("RA4", "192.168.10.0/24"), ("RA4", "10.1.2.3"), ("RA4", "10.9.0.0/16"),
        ("RA6", "2001:db8::/64"), ("RA6", "2001:db8:1::7")]
    assert "Profile" not in dict(fields)  # no Profile field: every profile
    rule = _as_active_store_rule("Socle-WinRM-Management-In-TCP", _firewall_rules(settings)[
        "Socle-WinRM-Management-In-TCP"]["data"])
    assert win.management_path_finding([rule], [5986], networks)["status"] == "compliant"
    # An address outside the management networks is not allowed by the rule.
    assert win.management_path_finding([rule], [5986], ["192.168.11.0/24"])["status"] == "drift"
    # An "any" network is a full range, not a /0 (the prefix length is 1 to 31).
    wide = _rule_fields(gpo.winrm_firewall_rule([5985], ["0.0.0.0/0", "::/0"]))
    assert ("RA4", "0.0.0.0-255.255.255.255") in wide and ("RA6", "::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff") in wide


@pytest.mark.parametrize(("policy", "message"), [
    ({"firewall_admin_networks": []}, "firewall_admin_networks is empty"),
    ({"firewall_admin_networks": ["le-poste-du-directeur"]}, "is not a network"),
    ({"firewall_windows_winrm_ports": []}, "firewall_windows_winrm_ports is empty"),
    ({"firewall_windows_winrm_ports": [70000]}, "is not a TCP port"),
])
def test_a_gpo_that_would_cut_winrm_is_refused(policy, message):
    with pytest.raises(gpo.PolError, match=message):
        _settings(policy)


def test_no_inbound_block_no_winrm_rule():
    settings = _settings({"firewall_enabled": False})  # the firewall tasks do not run: nor does the GPO set it
    assert not gpo.blocks_inbound(settings["machine"])
    assert not [v for v in settings["machine"] if "\\windowsfirewall" in v["path"].lower()]
    assert _firewall_rules(settings) == {}
    # Even an empty list of management networks is fine then: nothing blocks inbound traffic.
    assert _firewall_rules(_settings({"firewall_enabled": False, "firewall_admin_networks": []})) == {}
    # The rule follows the inbound block itself, not the variable.
    block = [{"path": "HKLM:\\SOFTWARE\\Policies\\Microsoft\\WindowsFirewall\\PublicProfile",
              "name": "DefaultInboundAction", "type": "dword", "data": 1}]
    assert gpo.blocks_inbound(block) and not gpo.blocks_inbound([{**block[0], "data": 0}])


def test_nothing_else_in_the_gpo_can_cut_winrm():
    settings = _settings({"session_lock_windows_screensaver_enabled": True})
    firewall = {(v["path"].rsplit("\\", 1)[-1], v["name"]): v["data"] for v in settings["machine"]
                if "\\windowsfirewall" in v["path"].lower() and not v["path"].endswith("FirewallRules")}
    # Local rules (Socle's own WinRM rule) keep applying: no AllowLocalPolicyMerge 0, no "shield up"
    # mode that ignores every allow rule, outbound left open.
    names = {name.lower() for _profile, name in firewall}
    assert not names & {"allowlocalpolicymerge", "allowlocalipsecpolicymerge", "donotallowexceptions",
                        "disabledinterfaces"}
    assert {firewall[(p, "DefaultOutboundAction")] for p in ("DomainProfile", "PrivateProfile", "PublicProfile")} == {0}
    # The only firewall rule allows; nothing touches the WinRM service or its listeners.
    assert all("|Action=Allow|" in v["data"] for v in _firewall_rules(settings).values())
    every_key = [v["path"].lower() for v in settings["machine"] + settings["user"]]
    assert not [k for k in every_key if "\\winrm" in k or "\\windows remote management" in k]


# -- The logon legal notice (M7-WIN-LEGAL-NOTICE) --------------------------------------------------------

FACILITY = {
    "name": HOSTILE, "finess": "010003820", "address": "3 place de la Mairie, 27000 Évreux",
    "director": "Hélène Martin", "security_referent": {"name": "Noël L'Hôte", "phone": "02 32 00 00 01"},
    "dpo": {"name": "Zoé Müller", "email": "dpo@tilleuls.example"},
    "msp": {"name": "Infogérance & Cie", "phone": "02 32 00 00 02"},
    "critical_applications": [{"name": "Dossier de soins", "fallback": "Classeur papier",
                               "decides": "Infirmière coordinatrice"}],
    "backup_locations": ["Baie du bureau infirmier"],
}
ORGANISATION = {"organisation_enabled": True, "organisation_facility": FACILITY, "organisation_charter_version": "3",
                "socle_facility": "tilleuls"}
SYSTEM_KEY = "HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Policies\\System"


def _notice_written_by_the_task(policy):
    """The M7-WIN-LEGAL-NOTICE win_regedit values, with the banner the action plugin renders for the policy."""
    from conftest import load_project_module
    from test_windows_tasks import probe
    from winharness import render_role

    org = load_project_module("action_plugins", "socle_organisation")
    docs = org.render_documents(str(ROOT / "roles" / "organisation" / "templates"), "fr", {
        "facility": FACILITY, "charter_version": "3", "charter_date": "", "dir": "/srv/ssi",
        "windows_dir": "C:\\ProgramData\\SSI", "backups": [], "restore_test_record": "",
    })
    variables = {**policy, "__organisation_charter": "charte", "__organisation_runbook": "procedures-mode-degrade",
                 "__organisation_documents": {"files": {f"{kind}_{ext}": f"/tmp/{kind}.{ext}" for kind in
                                                        ("charter", "runbook") for ext in ("html", "pdf")},
                                              "banner_windows": docs["banner_windows"]}}
    return {(r.args["path"], r.args["name"], r.args["type"], r.args["data"])
            for r in render_role("organisation", variables, probe())
            if r.module == "ansible.windows.win_regedit" and not r.skipped}


def test_the_gpo_carries_the_legal_notice_the_task_writes():
    settings = _settings(ORGANISATION)
    in_gpo = {(v["path"], v["name"], v["type"], v["data"]) for v in settings["machine"] if v["path"] == SYSTEM_KEY
              and v["name"].startswith("LegalNotice")}
    written = _notice_written_by_the_task(ORGANISATION)
    assert {name for _p, name, _t, _d in written} == {"LegalNoticeCaption", "LegalNoticeText"}
    assert in_gpo == written
    text = dict((n, d) for _p, n, _t, d in in_gpo)["LegalNoticeText"]
    assert "C:\\ProgramData\\SSI\\charte.html" in text and "version 3" in text and "\n" in text
    # Registry.pol, REG_SZ, byte for byte (GptTmpl.inf could carry neither the quotes nor the line breaks).
    pol, inf = gpo.split_for_gpo(settings["machine"])
    assert not [path for path, _t, _d in inf if "LegalNotice" in path]
    records = {e.value: e for e in gpo.entries_from_values(pol)["Machine"] if e.value.startswith("LegalNotice")}
    assert records["LegalNoticeText"].key == "SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Policies\\System"
    assert records["LegalNoticeText"].type == gpo.REG_SZ
    assert records["LegalNoticeText"].data == (text + "\0").encode("utf-16-le")
    assert gpo.decode_data(gpo.REG_SZ, records["LegalNoticeCaption"].data) == HOSTILE
    # The GPO is named after the facility.
    assert settings["display_name"] == f"Socle - {HOSTILE}"


@pytest.mark.parametrize("policy", [{}, {**ORGANISATION, "organisation_enabled": False},
                                    {**ORGANISATION, "organisation_banner_enabled": False}])
def test_no_legal_notice_unless_the_task_would_write_it(policy):
    settings = _settings(policy)
    assert not [v for v in settings["machine"] if v["name"].startswith("LegalNotice")]
    if policy.get("organisation_enabled"):
        assert not _notice_written_by_the_task(policy)  # the task's own condition: organisation_banner_enabled
    elif policy:
        # organisation_enabled gates the whole Windows task file, in the role's main.yml.
        main = _load_yaml((ROOT / "roles/organisation/tasks/main.yml").read_text(encoding="utf-8"), _AnsibleLoader)
        (include,) = [t for t in main if t.get("ansible.builtin.include_tasks") == "windows.yml"]
        assert "organisation_enabled" in include["when"]


def test_invalid_facility_data_is_refused_as_the_role_refuses_it():
    with pytest.raises(gpo.PolError, match="organisation: organisation_facility.finess"):
        _settings({**ORGANISATION, "organisation_facility": {**FACILITY, "finess": "123"}})


def test_socle_gpo_command_writes_backup_xml_and_the_winrm_rule(tmp_path):
    from socle import cli

    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        "all:\n  hosts:\n"
        "    accueil-pc:\n      ansible_connection: winrm\n      socle_facility: tilleuls\n"
        "      firewall_admin_networks: [192.168.10.0/24]\n",
        encoding="utf-8")
    out = tmp_path / "gpo"
    assert cli.main(["gpo", "-i", str(inventory), "--facility", "tilleuls", "--out", str(out)]) == 0
    backup = out / gpo.facility_guid("tilleuls")
    core, _extensions, info = _metadata(backup)
    assert core["DisplayName"] == info["GPODisplayName"] == "Socle - tilleuls"
    assert info["ID"] == backup.name and core["MachineExtensionGuids"] == REGISTRY_MACHINE + SECURITY
    assert core["UserExtensionGuids"] is None  # the screen saver is opt-in: no user Registry.pol
    records = gpo.decode_registry_pol((backup / "DomainSysvol" / "GPO" / "Machine" / "registry.pol").read_bytes())
    (rule,) = [gpo.decode_data(e.type, e.data) for e in records if e.key.endswith("\\FirewallRules")]
    assert "|RA4=192.168.10.0/24|" in rule and "RA6=" not in rule


def test_the_gpo_name_comes_from_the_facility():
    assert gpo.gpo_display_name({"socle_facility": "tilleuls"}) == "Socle - tilleuls"
    hostile = {"socle_facility": "tilleuls", "organisation_facility": {"name": "EHPAD\n Les\x1b Tilleuls"}}
    assert gpo.gpo_display_name(hostile) == "Socle - EHPAD Les Tilleuls"
    assert gpo.gpo_display_name({"organisation_facility": {}}) == "Socle"
