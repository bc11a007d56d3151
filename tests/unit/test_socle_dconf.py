"""socle_dconf: rendering, check mode, idempotence and stale-database detection (dconf mocked)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from conftest import load_project_module

dconf_mod = load_project_module("library", "socle_dconf")

SETTINGS = {
    "org/gnome/desktop/session": {"idle-delay": "uint32 900"},
    "org/gnome/desktop/screensaver": {"lock-enabled": "true", "lock-delay": "uint32 5"},
}


def fake_compile(keyfile_dir: Path) -> bytes:
    """A stand-in for `dconf compile`: a digest of every keyfile and lock, in a stable order."""
    digest = hashlib.sha256()
    for path in sorted(p for p in keyfile_dir.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(keyfile_dir)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest().encode()


@pytest.fixture
def fake_dconf(monkeypatch, tmp_path):
    root = tmp_path / "dconf"
    calls = []

    def run_command(self, args, environ_update=None, **_kw):
        calls.append(list(args))
        if args[1] == "compile":
            Path(args[2]).write_bytes(fake_compile(Path(args[3])))
            return 0, "", ""
        if args[1] == "update":
            for keyfiles in (root / "db").glob("*.d"):
                (root / "db" / keyfiles.name[:-2]).write_bytes(fake_compile(keyfiles))
            return 0, "", ""
        return 0, "", ""

    monkeypatch.setattr(dconf_mod.AnsibleModule, "run_command", run_command)
    monkeypatch.setattr(dconf_mod.AnsibleModule, "get_bin_path", lambda self, name, *a, **k: "/usr/bin/dconf")
    return root, calls


def args(root: Path, **extra) -> dict:
    return {
        "settings": SETTINGS,
        "dconf_dir": str(root),
        "vendor_dir": str(root.parent / "vendor"),
        "file": "00-socle-session-lock",
        "control": "M4-LNX-GNOME-LOCK",
        **extra,
    }


def test_render_keyfile_sorted_and_typed():
    text = dconf_mod.render_keyfile(SETTINGS, "M4-LNX-GNOME-LOCK")
    assert "[org/gnome/desktop/screensaver]\nlock-delay=uint32 5\nlock-enabled=true\n" in text
    assert text.index("screensaver") < text.index("session]")
    assert "M4-LNX-GNOME-LOCK" in text.splitlines()[0]


@pytest.mark.parametrize(
    ("current", "expected"),
    [
        (None, "user-db:user\nsystem-db:local\n"),
        ("user-db:user\n", "user-db:user\nsystem-db:local\n"),
        ("user-db:user\nsystem-db:site\n", "user-db:user\nsystem-db:local\nsystem-db:site\n"),
        ("system-db:local\n", "user-db:user\nsystem-db:local\n"),
        ("user-db:user\nsystem-db:local\n", "user-db:user\nsystem-db:local\n"),
    ],
)
def test_render_profile_keeps_other_lines(current, expected):
    assert dconf_mod.render_profile(current, "local") == expected


def test_check_mode_on_fresh_host_reports_everything_and_writes_nothing(fake_dconf, run_module):
    root, calls = fake_dconf
    result = run_module(dconf_mod, args(root), check_mode=True)
    assert result["changed"] is True
    headers = {d["after_header"] for d in result["diff"]}
    assert str(root / "db/local.d/00-socle-session-lock") in headers
    assert str(root / "db/local.d/locks/00-socle-session-lock") in headers
    assert str(root / "profile/user") in headers
    assert not root.exists()
    assert not any(c[1] == "update" for c in calls)


def test_apply_then_idempotent(fake_dconf, run_module):
    root, _calls = fake_dconf
    first = run_module(dconf_mod, args(root))
    assert first["changed"] is True
    locks = (root / "db/local.d/locks/00-socle-session-lock").read_text()
    assert "/org/gnome/desktop/session/idle-delay\n" in locks
    assert (root / "db/local").exists()
    second = run_module(dconf_mod, args(root))
    assert second["changed"] is False
    assert second["database_current"] is True
    third = run_module(dconf_mod, args(root), check_mode=True)
    assert third["changed"] is False


def test_stale_database_is_drift_even_with_right_keyfiles(fake_dconf, run_module):
    root, _calls = fake_dconf
    run_module(dconf_mod, args(root))
    (root / "db/local").write_bytes(b"compiled from something else")
    result = run_module(dconf_mod, args(root), check_mode=True)
    assert result["changed"] is True
    assert result["database_current"] is False
    assert [d["after_header"] for d in result["diff"]] == [f"{root / 'db/local'} (compiled)"]


def test_hand_edited_keyfile_is_drift_with_diff(fake_dconf, run_module):
    root, _calls = fake_dconf
    run_module(dconf_mod, args(root))
    keyfile = root / "db/local.d/00-socle-session-lock"
    keyfile.write_text(keyfile.read_text().replace("uint32 900", "uint32 0"))
    result = run_module(dconf_mod, args(root), check_mode=True)
    assert result["changed"] is True
    file_diff = next(d for d in result["diff"] if d["after_header"] == str(keyfile))
    assert "uint32 0" in file_diff["before"] and "uint32 900" in file_diff["after"]


def test_unlock_removes_locks_file(fake_dconf, run_module):
    root, _calls = fake_dconf
    run_module(dconf_mod, args(root))
    result = run_module(dconf_mod, args(root, lock=False))
    assert result["changed"] is True
    assert not (root / "db/local.d/locks/00-socle-session-lock").exists()


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"settings": {}}, "settings: at least one"),
        ({"settings": {"org/gnome bad": {"k": "1"}}}, "invalid dconf directory"),
        ({"settings": {"org/gnome": {"bad key": "1"}}}, "invalid key"),
        ({"settings": {"org/gnome": {"k": "1\n[x]"}}}, "one line"),
        ({"db": "../etc"}, "db: invalid name"),
    ],
)
def test_bad_arguments_fail_naming_the_argument(fake_dconf, run_module, bad, message):
    root, _calls = fake_dconf
    result = run_module(dconf_mod, {**args(root), **bad})
    assert result["failed"] is True
    assert message in result["msg"]
    assert not root.exists()


# GDM ships its profile in /usr/share/dconf/profile/gdm (user-db:user, system-db:gdm, file-db:<greeter
# defaults>); dconf reads it while /etc/dconf/profile/gdm is absent.
GDM_VENDOR_PROFILE = "user-db:user\nsystem-db:gdm\nfile-db:/usr/share/gdm/greeter-dconf-defaults\n"
BANNER = {"org/gnome/login-screen": {"banner-message-enable": "true", "banner-message-text": "'Bienvenue'"}}


def gdm_args(root: Path, **extra) -> dict:
    return args(root, db="gdm", profile="gdm", file="00-socle-login-banner", control="M7-LNX-GDM-BANNER",
                settings=BANNER, **extra)  # fmt: skip


def test_distribution_profile_that_reads_the_database_is_kept(fake_dconf, run_module):
    root, _calls = fake_dconf
    vendor = root.parent / "vendor" / "profile"
    vendor.mkdir(parents=True)
    (vendor / "gdm").write_text(GDM_VENDOR_PROFILE)
    check = run_module(dconf_mod, gdm_args(root), check_mode=True)
    headers = {d["after_header"] for d in check["diff"]}
    assert str(root / "profile/gdm") not in headers  # no /etc profile hiding GDM's greeter defaults
    assert str(root / "db/gdm.d/00-socle-login-banner") in headers and not root.exists()
    first = run_module(dconf_mod, gdm_args(root))
    assert first["changed"] is True and not (root / "profile/gdm").exists()
    assert "banner-message-text='Bienvenue'" in (root / "db/gdm.d/00-socle-login-banner").read_text()
    assert (root / "db/gdm").exists()
    assert run_module(dconf_mod, gdm_args(root))["changed"] is False
    assert run_module(dconf_mod, gdm_args(root), check_mode=True)["changed"] is False


def test_distribution_profile_without_the_database_is_extended_not_replaced(fake_dconf, run_module):
    root, _calls = fake_dconf
    vendor = root.parent / "vendor" / "profile"
    vendor.mkdir(parents=True)
    (vendor / "gdm").write_text("user-db:user\nfile-db:/usr/share/gdm/greeter-dconf-defaults\n")
    run_module(dconf_mod, gdm_args(root))
    assert (root / "profile/gdm").read_text() == (
        "user-db:user\nsystem-db:gdm\nfile-db:/usr/share/gdm/greeter-dconf-defaults\n"
    )
    assert run_module(dconf_mod, gdm_args(root))["changed"] is False


def test_an_etc_profile_wins_over_the_distribution_s(fake_dconf, run_module):
    root, _calls = fake_dconf
    vendor = root.parent / "vendor" / "profile"
    vendor.mkdir(parents=True)
    (vendor / "gdm").write_text(GDM_VENDOR_PROFILE)
    (root / "profile").mkdir(parents=True)
    (root / "profile/gdm").write_text("user-db:user\n")  # dconf reads this one, not the vendor's
    result = run_module(dconf_mod, gdm_args(root), check_mode=True)
    profile = next(d for d in result["diff"] if d["after_header"] == str(root / "profile/gdm"))
    assert profile["after"] == "user-db:user\nsystem-db:gdm\n"


@pytest.mark.parametrize(
    ("text", "reads"),
    [
        (None, False),
        ("", False),
        (GDM_VENDOR_PROFILE, True),
        ("system-db:gdm\nuser-db:user\n", False),  # user-db must come first
        ("user-db:user\nsystem-db:local\n", False),
    ],
)
def test_profile_reads(text, reads):
    assert dconf_mod.profile_reads(text, "gdm") is reads
