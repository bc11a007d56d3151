"""socle_pam_auth_update: profile parsing, exact check mode, enable through pam-auth-update, refusal."""

from __future__ import annotations

import pytest
from conftest import load_project_module

pam = load_project_module("library", "socle_pam_auth_update")

PROFILE = """Name: Socle pwhistory
Default: yes
Priority: 1023
Password-Type: Primary
Password:
\trequisite\t\t\tpam_pwhistory.so remember=24 enforce_for_root use_authtok
Password-Initial:
\trequisite\t\t\tpam_pwhistory.so remember=24 enforce_for_root
"""
FAILLOCK = """Name: Socle faillock
Default: yes
Priority: 1024
Auth-Type: Primary
Auth:
\trequisite pam_faillock.so preauth
Account-Type: Primary
Account:
\trequired pam_faillock.so
"""
UNIX_PASSWORD = "password\t[success=1 default=ignore]\tpam_unix.so obscure yescrypt\n"


def test_parse_profile_drops_control_and_initial_lines():
    assert pam.parse_profile(PROFILE) == {"password": ["pam_pwhistory.so remember=24 enforce_for_root use_authtok"]}
    assert pam.parse_profile(FAILLOCK) == {"auth": ["pam_faillock.so preauth"], "account": ["pam_faillock.so"]}
    assert pam.parse_profile("Name: x\nDefault: yes\n") == {}


def test_line_present_ignores_jump_counts_and_keeps_local_additions():
    common = ("auth\t[success=2 default=ignore]\tpam_unix.so nullok try_first_pass\n"
              "auth requisite pam_faillock.so preauth audit\n")
    present = pam.module_lines(common, "auth")
    assert pam.line_present("pam_faillock.so preauth", present)
    assert pam.line_present("pam_unix.so nullok", present)
    assert not pam.line_present("pam_faillock.so authfail", present)


class FakePam:
    """A Debian host: /usr/share/pam-configs, /var/lib/pam and /etc/pam.d under tmp_path.

    pam-auth-update --enable NAME adds NAME's lines to the state and the common files, unless the
    common files were edited by hand (then it changes nothing, as the real tool does).
    """

    def __init__(self, root, hand_edited=False, rc=0):
        self.root, self.hand_edited, self.rc, self.calls = root, hand_edited, rc, []
        for sub in ("profiles", "state", "pamd"):
            (root / sub).mkdir(exist_ok=True)
        (root / "state" / "password").write_text("Module: unix\n" + UNIX_PASSWORD)
        (root / "pamd" / "common-password").write_text(UNIX_PASSWORD)

    def run_command(self, args, **_kw):
        self.calls.append(list(args))
        if self.rc or self.hand_edited:
            return self.rc, "", "Local modifications to /etc/pam.d/common-*, not updating." if not self.rc else "boom"
        for name in args[args.index("--enable") + 1:]:
            self.enable(name)
        return 0, "", ""

    def enable(self, name):
        lines = pam.parse_profile((self.root / "profiles" / name).read_text())
        for pam_type, items in lines.items():
            state = self.root / "state" / pam_type
            common = self.root / "pamd" / f"common-{pam_type}"
            old_state = state.read_text() if state.exists() else ""
            old_common = common.read_text() if common.exists() else ""
            state.write_text(old_state + f"Module: {name}\n" + "".join(f"requisite {i}\n" for i in items))
            common.write_text("".join(f"{pam_type} requisite {i}\n" for i in items) + old_common)


@pytest.fixture
def host(monkeypatch, tmp_path):
    def make(**kw):
        fake = FakePam(tmp_path, **kw)
        monkeypatch.setattr(pam, "PROFILES_DIR", str(tmp_path / "profiles"))
        monkeypatch.setattr(pam, "STATE_DIR", str(tmp_path / "state"))
        monkeypatch.setattr(pam, "PAM_DIR", str(tmp_path / "pamd"))
        monkeypatch.setattr(pam.AnsibleModule, "run_command", lambda self, a, **k: fake.run_command(a, **k))
        monkeypatch.setattr(pam.AnsibleModule, "get_bin_path", lambda self, n, *a, **k: f"/usr/sbin/{n}")
        return fake

    return make


ARGS = {"name": "socle-pwhistory", "content": PROFILE, "control": "M5-LNX-PWHISTORY"}


def test_check_mode_on_a_fresh_host_predicts_and_writes_nothing(host, run_module):
    fake = host()
    result = run_module(pam, ARGS, check_mode=True)
    assert result["changed"] is True
    assert result["actual"] == "socle-pwhistory: not enabled"
    assert not (fake.root / "profiles" / "socle-pwhistory").exists()
    assert fake.calls == []
    assert [d["after_header"] for d in result["diff"]] == [str(fake.root / "profiles" / "socle-pwhistory"),
                                                          "pam-auth-update"]


def test_apply_enables_then_is_idempotent_in_check_mode_and_apply(host, run_module):
    fake = host()
    assert run_module(pam, ARGS)["changed"] is True
    assert fake.calls == [["/usr/sbin/pam-auth-update", "--package", "--enable", "socle-pwhistory"]]
    assert "pam_pwhistory.so remember=24" in (fake.root / "pamd" / "common-password").read_text()
    assert run_module(pam, ARGS, check_mode=True)["changed"] is False
    again = run_module(pam, ARGS)
    assert again["changed"] is False and again["actual"] == "socle-pwhistory: enabled and in effect"
    assert len(fake.calls) == 1


def test_profile_disabled_after_enabling_is_drift(host, run_module):
    fake = host()
    run_module(pam, ARGS)
    (fake.root / "state" / "password").write_text("Module: unix\n" + UNIX_PASSWORD)
    (fake.root / "pamd" / "common-password").write_text(UNIX_PASSWORD)
    result = run_module(pam, ARGS, check_mode=True)
    assert result["changed"] is True and result["actual"] == "socle-pwhistory: not enabled"
    assert len(result["diff"]) == 1  # the file is right, only the enabling is missing


def test_changed_profile_content_is_rewritten(host, run_module):
    fake = host()
    run_module(pam, ARGS)
    result = run_module(pam, {**ARGS, "content": PROFILE.replace("remember=24", "remember=5")}, check_mode=True)
    assert result["changed"] is True
    assert "enabled but not in /etc/pam.d" in result["actual"]
    assert "remember=5" in result["diff"][0]["after"]
    assert "remember=24" in (fake.root / "profiles" / "socle-pwhistory").read_text()


def test_hand_edited_common_files_fail_instead_of_a_false_change(host, run_module):
    host(hand_edited=True)
    result = run_module(pam, ARGS)
    assert result["failed"] is True
    assert "Local modifications" in result["msg"] and "pam-auth-update --force" in result["msg"]


def test_tool_failure_is_reported(host, run_module):
    host(rc=1)
    result = run_module(pam, ARGS)
    assert result["failed"] is True and "pam-auth-update failed: boom" in result["msg"]


def test_packaged_profile_absent(host, run_module):
    host()
    predicted = run_module(pam, {"name": "pwquality"}, check_mode=True)
    assert predicted["changed"] is True and "not installed yet" in predicted["actual"]
    failed = run_module(pam, {"name": "pwquality"})
    assert failed["failed"] is True and "install the package" in failed["msg"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"name": "../etc/passwd"}, "invalid profile name"),
        ({"name": "x", "content": "Name: x\nDefault: yes\n"}, "no module line"),
        ({"content": PROFILE}, "one of the following is required: name, profiles"),
    ],
)
def test_bad_arguments(host, run_module, args, message):
    fake = host()
    result = run_module(pam, args)
    assert result["failed"] is True and message in result["msg"]
    assert fake.calls == []


# -- several profiles in one call: one pam-auth-update run, each control its own share ----------------
SEVERAL = {"profiles": [
    {"name": "socle-pwhistory", "content": PROFILE, "control": "M5-LNX-PWHISTORY"},
    {"name": "socle-faillock", "content": FAILLOCK, "control": "M5-LNX-FAILLOCK"},
]}


def test_several_profiles_one_call_each_control_its_share(host, run_module):
    fake = host()
    predicted = run_module(pam, SEVERAL, check_mode=True)
    assert predicted["changed"] is True and fake.calls == []
    shares = predicted["socle_results"]
    assert set(shares) == {"M5-LNX-PWHISTORY", "M5-LNX-FAILLOCK"}
    assert all(share["changed"] for share in shares.values())
    assert [d["after_header"] for d in shares["M5-LNX-FAILLOCK"]["diff"]] == [
        str(fake.root / "profiles" / "socle-faillock"), "pam-auth-update"]
    assert "pam_pwhistory.so" in shares["M5-LNX-PWHISTORY"]["expected"]
    applied = run_module(pam, SEVERAL)
    assert applied["socle_results"] == predicted["socle_results"]
    assert fake.calls == [["/usr/sbin/pam-auth-update", "--package", "--enable", "socle-pwhistory",
                           "socle-faillock"]]
    again = run_module(pam, SEVERAL, check_mode=True)
    assert again["changed"] is False
    assert {c: s["changed"] for c, s in again["socle_results"].items()} == {
        "M5-LNX-PWHISTORY": False, "M5-LNX-FAILLOCK": False}


def test_several_profiles_only_the_broken_one_changes(host, run_module):
    fake = host()
    run_module(pam, SEVERAL)
    (fake.root / "profiles" / "socle-faillock").write_text(FAILLOCK.replace("preauth", "preauth silent"))
    result = run_module(pam, SEVERAL, check_mode=True)
    assert {c: s["changed"] for c, s in result["socle_results"].items()} == {
        "M5-LNX-PWHISTORY": False, "M5-LNX-FAILLOCK": True}
    run_module(pam, SEVERAL)
    assert fake.calls[-1] == ["/usr/sbin/pam-auth-update", "--package", "--enable", "socle-faillock"]


def test_name_and_profiles_are_exclusive(host, run_module):
    fake = host()
    result = run_module(pam, {**SEVERAL, "name": "x"})
    assert result["failed"] is True and "mutually exclusive" in result["msg"] and fake.calls == []
