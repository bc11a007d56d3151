"""socle_file and socle_services: one round trip for several files or units, exact check mode."""

from __future__ import annotations

import os
import stat

import pytest
from ansible.module_utils.basic import AnsibleModule
from conftest import load_project_module

file_mod = load_project_module("library", "socle_file")
services_mod = load_project_module("library", "socle_services")


def mode_of(path) -> str:
    return f"{stat.S_IMODE(os.stat(path).st_mode):04o}"


def entries(root) -> list[dict]:
    return [
        {"path": str(root / "conf.d"), "state": "directory", "mode": "0700"},
        {"path": str(root / "conf.d" / "50-socle.conf"), "content": "minlen = 12\n"},
    ]


def test_check_mode_on_a_fresh_host_reports_every_entry_and_writes_nothing(tmp_path, run_module):
    result = run_module(file_mod, {"control": "M5-LNX-PWQUALITY", "entries": entries(tmp_path)}, check_mode=True)
    assert result["changed"] is True
    assert result["changed_paths"] == [str(tmp_path / "conf.d"), str(tmp_path / "conf.d" / "50-socle.conf")]
    assert [d["after"] for d in result["diff"]] == ["directory mode=0700 owner=root group=root\n", "minlen = 12\n"]
    assert list(tmp_path.iterdir()) == []


def test_apply_then_nothing_to_do(tmp_path, run_module):
    first = run_module(file_mod, {"entries": entries(tmp_path)})
    assert first["changed"] is True
    assert (tmp_path / "conf.d" / "50-socle.conf").read_text() == "minlen = 12\n"
    assert mode_of(tmp_path / "conf.d") == "0700" and mode_of(tmp_path / "conf.d" / "50-socle.conf") == "0644"
    assert run_module(file_mod, {"entries": entries(tmp_path)})["changed"] is False
    assert run_module(file_mod, {"entries": entries(tmp_path)}, check_mode=True)["changed"] is False
    assert [p.name for p in (tmp_path / "conf.d").iterdir()] == ["50-socle.conf"]  # no temp file left


def test_mode_drift_is_named_and_repaired(tmp_path, run_module):
    run_module(file_mod, {"entries": entries(tmp_path)})
    target = tmp_path / "conf.d" / "50-socle.conf"
    target.chmod(0o666)
    check = run_module(file_mod, {"entries": entries(tmp_path)}, check_mode=True)
    assert check["changed_paths"] == [str(target)]
    assert check["diff"] == [{"before_header": f"{target} (attributes)", "after_header": f"{target} (attributes)",
                              "before": "file mode=0666 owner=root group=root\n",
                              "after": "file mode=0644 owner=root group=root\n"}]
    assert mode_of(target) == "0666"
    run_module(file_mod, {"entries": entries(tmp_path)})
    assert mode_of(target) == "0644"


def test_edited_content_is_drift_with_a_diff(tmp_path, run_module):
    run_module(file_mod, {"entries": entries(tmp_path)})
    (tmp_path / "conf.d" / "50-socle.conf").write_text("minlen = 8\n")
    check = run_module(file_mod, {"entries": entries(tmp_path)}, check_mode=True)
    assert check["diff"][0]["before"] == "minlen = 8\n" and check["diff"][0]["after"] == "minlen = 12\n"


LOGIN_DEFS = "# comment\nPASS_MAX_DAYS\t99999\n#PASS_MIN_DAYS 3\nPASS_MIN_DAYS\t0\nUMASK 022"  # no final newline


@pytest.mark.parametrize(
    ("text", "lines", "after"),
    [
        (LOGIN_DEFS, [{"regexp": r"^\s*PASS_MAX_DAYS\s", "line": "PASS_MAX_DAYS\t365"}],
         "# comment\nPASS_MAX_DAYS\t365\n#PASS_MIN_DAYS 3\nPASS_MIN_DAYS\t0\nUMASK 022\n"),
        # the last match is replaced, as lineinfile does
        ("Checks 1\n# Checks 2\n", [{"regexp": r"^\s*#?\s*Checks\s", "line": "Checks 24"}], "Checks 1\nChecks 24\n"),
        # no match: appended
        ("A 1\n", [{"regexp": r"^B\s", "line": "B 2"}], "A 1\nB 2\n"),
        # already right: the text comes back byte for byte, final newline or not
        (LOGIN_DEFS, [{"regexp": r"^\s*PASS_MIN_DAYS\s", "line": "PASS_MIN_DAYS\t0"}], LOGIN_DEFS),
        ("X 1", [{"regexp": r"^Y\s", "line": "X 1"}], "X 1"),
    ],
)
def test_apply_lines(text, lines, after):
    assert file_mod.apply_lines(text, lines) == after


def test_lines_keep_the_file_mode_and_owner(tmp_path, run_module):
    path = tmp_path / "login.defs"
    path.write_text(LOGIN_DEFS)
    path.chmod(0o600)
    line = {"regexp": r"^\s*PASS_MAX_DAYS\s", "line": "PASS_MAX_DAYS\t365"}
    args = {"entries": [{"path": str(path), "lines": [line]}]}
    assert run_module(file_mod, args, check_mode=True)["changed_paths"] == [str(path)]
    assert path.read_text() == LOGIN_DEFS
    assert run_module(file_mod, args)["changed"] is True
    assert "PASS_MAX_DAYS\t365\n" in path.read_text() and mode_of(path) == "0600"
    assert run_module(file_mod, args)["changed"] is False


def test_lines_of_a_missing_file_fail_naming_it(tmp_path, run_module):
    result = run_module(file_mod, {"control": "M2-LNX-FRESHCLAM", "entries": [
        {"path": str(tmp_path / "freshclam.conf"), "lines": [{"regexp": "^Checks", "line": "Checks 24"}]}]})
    assert result["failed"] and "freshclam.conf does not exist" in result["msg"]
    assert result["msg"].startswith("M2-LNX-FRESHCLAM: ")


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"path": "relative/file", "content": "x"}, "path must be absolute"),
        ({"path": "/x", "content": "x", "lines": [{"regexp": "a", "line": "b"}]}, "give one of content"),
        ({"path": "/x"}, "give one of content"),
        ({"path": "/x", "state": "directory", "content": "x"}, "a folder takes no content"),
        ({"path": "/x", "content": "x", "mode": "644x"}, "mode must be octal"),
        ({"path": "/x", "lines": [{"regexp": "(", "line": "b"}]}, "bad regexp"),
        ({"path": "/x", "lines": [{"regexp": "a", "line": "b\nc"}]}, "cannot hold a newline"),
        ({"path": "/x", "lines": [{"line": "b"}]}, "each of lines is {regexp, line}"),
        ({"path": "/x", "content": "x", "owner": "no-such-user-socle"}, "no such owner"),
    ],
)
def test_bad_entries_fail_before_anything_is_written(tmp_path, run_module, bad, message):
    good = {"path": str(tmp_path / "first.conf"), "content": "ok\n"}
    result = run_module(file_mod, {"entries": [good, bad]})
    assert result["failed"] and message in result["msg"] and "nothing was changed" in result["msg"]
    assert not (tmp_path / "first.conf").exists()


def test_a_file_where_a_folder_is_wanted_is_an_error(tmp_path, run_module):
    (tmp_path / "d").write_text("")
    result = run_module(file_mod, {"entries": [{"path": str(tmp_path / "d"), "state": "directory"}]})
    assert result["failed"] and "is not a folder" in result["msg"]


# -- socle_services ---------------------------------------------------------------------------------
class FakeSystemd:
    def __init__(self, units: dict[str, tuple[bool, bool]]):
        self.units, self.calls = dict(units), []

    def run_command(self, args, **_kw):
        self.calls.append(args[1:])
        verb, unit = args[1], args[-1]
        if verb == "show":
            return 0, "loaded\n" if unit in self.units else "not-found\n", ""
        if verb == "daemon-reload":
            return 0, "", ""
        enabled, active = self.units[unit]
        if verb == "is-enabled":
            return (0 if enabled else 1), "", ""
        if verb == "is-active":
            return (0 if active else 3), "", ""
        if verb == "enable":
            self.units[unit] = (True, active)
        elif verb == "start":
            self.units[unit] = (enabled, True)
        return 0, "", ""


@pytest.fixture
def systemd(monkeypatch):
    fake = FakeSystemd({"apt-daily.timer": (True, True), "apt-daily-upgrade.timer": (False, False)})
    monkeypatch.setattr(AnsibleModule, "run_command", fake.run_command)
    monkeypatch.setattr(AnsibleModule, "get_bin_path", lambda *_a, **_k: "/bin/systemctl")
    return fake


def test_services_check_mode_names_only_what_would_change(systemd, run_module):
    result = run_module(services_mod, {"names": ["apt-daily.timer", "apt-daily-upgrade.timer"]}, check_mode=True)
    assert result["changed"] is True and result["changed_units"] == ["apt-daily-upgrade.timer"]
    assert result["diff"][0]["before"] == "apt-daily-upgrade.timer: disabled, inactive\n"
    assert not [c for c in systemd.calls if c[0] in ("enable", "start", "daemon-reload")]


def test_services_apply_then_nothing_to_do(systemd, run_module):
    result = run_module(services_mod, {"names": ["apt-daily.timer", "apt-daily-upgrade.timer"], "daemon_reload": True})
    assert result["changed"] is True
    assert ["daemon-reload"] in systemd.calls and ["enable", "apt-daily-upgrade.timer"] in systemd.calls
    assert run_module(services_mod, {"names": ["apt-daily.timer", "apt-daily-upgrade.timer"]})["changed"] is False


def test_unknown_unit_fails_naming_it(systemd, run_module):
    result = run_module(services_mod, {"control": "M2-LNX-CLAMAV-SCAN", "names": ["socle-clamscan.timer"]})
    assert result["failed"] and "no unit socle-clamscan.timer" in result["msg"]


@pytest.mark.parametrize("name", ["apt-daily", "x.timer; rm -rf /", ""])
def test_bad_unit_names_are_refused(systemd, run_module, name):
    result = run_module(services_mod, {"names": [name]})
    assert result["failed"] and "not a systemd unit name" in result["msg"]
    assert systemd.calls == []


# -- binary content and the controller-side action ------------------------------------------------
PDF = b"%PDF-1.7\n\x00\xff\xfe binary\n%%EOF\n"


def test_binary_content_is_written_and_summarised_in_the_diff(tmp_path, run_module):
    import base64
    args = {"entries": [{"path": str(tmp_path / "charte.pdf"), "content_base64": base64.b64encode(PDF).decode()}]}
    check = run_module(file_mod, args, check_mode=True)
    assert check["changed"] is True and check["diff"][0]["after"].startswith(f"(binary, {len(PDF)} bytes, sha256 ")
    assert not (tmp_path / "charte.pdf").exists()
    run_module(file_mod, args)
    assert (tmp_path / "charte.pdf").read_bytes() == PDF
    assert run_module(file_mod, args)["changed"] is False


def test_content_base64_must_be_base64(tmp_path, run_module):
    result = run_module(file_mod, {"entries": [{"path": str(tmp_path / "x"), "content_base64": "not base64!"}]})
    assert result["failed"] and "is not base64" in result["msg"]


action_mod = load_project_module("action_plugins", "socle_file")


def run_action(monkeypatch, entries):
    from types import SimpleNamespace
    sent = []
    monkeypatch.setattr(action_mod.ActionBase, "run", lambda self, tmp=None, task_vars=None: {})
    monkeypatch.setattr(action_mod.ActionModule, "_execute_module",
                        lambda self, module_name=None, module_args=None, task_vars=None:
                        sent.append(module_args) or {"changed": True})
    action = action_mod.ActionModule.__new__(action_mod.ActionModule)
    action._task = SimpleNamespace(args={"control": "M8-LNX-CHARTER-DEPLOYED", "entries": entries}, no_log=False,
                                   action="socle_file")
    action._play_context = SimpleNamespace(check_mode=False, diff=True, become=True, become_user="root",
                                           remote_user="adm")
    return action.run(task_vars={}), sent


def test_action_sends_the_controller_file_as_base64(monkeypatch, tmp_path):
    import base64
    (tmp_path / "charte.pdf").write_bytes(PDF)
    result, sent = run_action(monkeypatch, [{"path": "/srv/ssi/charte.pdf", "src": str(tmp_path / "charte.pdf")},
                                            {"path": "/etc/issue", "content": "x\n"}])
    assert result == {"changed": True}
    assert sent[0]["entries"][0] == {"path": "/srv/ssi/charte.pdf", "content_base64": base64.b64encode(PDF).decode()}
    assert sent[0]["entries"][1] == {"path": "/etc/issue", "content": "x\n"}


@pytest.mark.parametrize(("entry", "message"), [
    ({"path": "/a", "src": "/no/such/file.pdf"}, "cannot read /no/such/file.pdf on the controller"),
    ({"path": "/a", "src": "/etc/hostname", "content": "x"}, "give src or content, not both"),
])
def test_action_refuses_unreadable_or_double_sources(monkeypatch, entry, message):
    result, sent = run_action(monkeypatch, [entry])
    assert result["failed"] and message in result["msg"] and sent == []


# -- entries of several controls in one call: each control its own share ----------------------------
def test_entries_of_several_controls_give_each_control_its_share(tmp_path, run_module):
    (tmp_path / "login.defs").write_text("PASS_MAX_DAYS\t99999\n")
    several = [
        {"path": str(tmp_path / "pwquality.conf"), "content": "minlen = 12\n", "control": "M5-LNX-PWQUALITY"},
        {"path": str(tmp_path / "faillock.conf"), "content": "deny = 5\n", "control": "M5-LNX-FAILLOCK"},
        {"path": str(tmp_path / "login.defs"), "control": "M5-LNX-PASS-AGEING",
         "lines": [{"regexp": r"^\s*PASS_MAX_DAYS\s", "line": "PASS_MAX_DAYS\t365"}]},
    ]
    predicted = run_module(file_mod, {"entries": several}, check_mode=True)
    shares = predicted["socle_results"]
    assert {c: s["changed"] for c, s in shares.items()} == dict.fromkeys(
        ["M5-LNX-PWQUALITY", "M5-LNX-FAILLOCK", "M5-LNX-PASS-AGEING"], True)
    assert [d["after"] for d in shares["M5-LNX-PASS-AGEING"]["diff"]] == ["PASS_MAX_DAYS\t365\n"]
    assert run_module(file_mod, {"entries": several})["socle_results"] == shares
    (tmp_path / "faillock.conf").write_text("deny = 50\n")
    again = run_module(file_mod, {"entries": several}, check_mode=True)
    assert {c: s["changed"] for c, s in again["socle_results"].items()} == {
        "M5-LNX-PWQUALITY": False, "M5-LNX-FAILLOCK": True, "M5-LNX-PASS-AGEING": False}
    assert again["changed_paths"] == [str(tmp_path / "faillock.conf")]


def test_an_entry_without_control_takes_the_modules(tmp_path, run_module):
    result = run_module(file_mod, {"control": "M4-LNX-SHELL-TMOUT", "entries": entries(tmp_path)}, check_mode=True)
    assert set(result["socle_results"]) == {"M4-LNX-SHELL-TMOUT"}
    assert len(result["socle_results"]["M4-LNX-SHELL-TMOUT"]["diff"]) == 2
    bad = run_module(file_mod, {"entries": [{"path": "relative", "content": "x", "control": "M5-LNX-FAILLOCK"}]})
    assert bad["failed"] is True and bad["msg"].startswith("M5-LNX-FAILLOCK: path must be absolute")


# -- template entries: rendered by the action as the template lookup would, without copying every variable --
@pytest.mark.parametrize("name", ["socle-clamscan.service.j2", "socle-clamscan.timer.j2",
                                  "clamav-clamonacc-socle.conf.j2"])
@pytest.mark.parametrize("overrides", [{}, {"antivirus_scan_frequency": "weekly", "antivirus_quarantine": "move",
                                            "antivirus_scan_paths": ["/home", "/srv/partage"]}])
def test_a_template_entry_renders_exactly_what_the_template_lookup_rendered(name, overrides):
    from types import SimpleNamespace

    import yaml
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar, trust_as_template
    from conftest import ROOT
    from winharness import _trust

    role = ROOT / "roles" / "antivirus"
    variables = {**yaml.safe_load((role / "defaults" / "main.yml").read_text(encoding="utf-8")), **overrides}
    if (role / "vars" / "main.yml").exists():
        variables.update(yaml.safe_load((role / "vars" / "main.yml").read_text(encoding="utf-8")))
    templar = Templar(loader=DataLoader(), variables=_trust(variables))
    path = str(role / "templates" / name)
    via_lookup = templar.template(trust_as_template("{{ lookup('ansible.builtin.template', '" + path + "') }}"))
    action = SimpleNamespace(_templar=templar, _find_needle=lambda kind, needle: str(role / kind / needle))
    rendered = action_mod.render_template(action, name)
    assert rendered == via_lookup and rendered.endswith("\n") and "{{" not in rendered


def test_a_template_entry_becomes_content_and_bad_ones_are_refused(monkeypatch, tmp_path):
    (tmp_path / "unit.j2").write_text("[Unit]\nDescription={{ 'x' | upper }}\n", encoding="utf-8")
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar

    monkeypatch.setattr(action_mod.ActionModule, "_templar", Templar(loader=DataLoader(), variables={}), raising=False)
    unit = "/etc/systemd/system/u.service"
    result, sent = run_action(monkeypatch, [{"path": unit, "template": str(tmp_path / "unit.j2")}])
    assert sent[0]["entries"] == [{"path": unit, "content": "[Unit]\nDescription=X\n"}]
    for entry, message in (({"path": "/a", "template": str(tmp_path / "nope.j2")}, "cannot render"),
                           ({"path": "/a", "template": str(tmp_path / "unit.j2"), "content": "x"},
                            "give template or content, not both")):
        result, sent = run_action(monkeypatch, [entry])
        assert result["failed"] and message in result["msg"] and sent == []
