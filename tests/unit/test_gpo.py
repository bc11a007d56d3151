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
    base = "{6AC1786C-016F-11D2-945F-00C04FB984F9}/DomainSysvol/GPO"
    assert rel == [f"{base}/Machine/registry.pol", f"{base}/User/registry.pol",
                   f"{base}/Machine/microsoft/windows nt/SecEdit/GptTmpl.inf"]
    assert gpo.decode_registry_pol(written[0].read_bytes()) == machine
    with pytest.raises(gpo.PolError, match="not a GUID"):
        gpo.write_gpo_backup(tmp_path, "not-a-guid")
