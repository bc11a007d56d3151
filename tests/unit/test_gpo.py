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


def test_socle_gpo_command_writes_the_facility_backup(tmp_path):
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
