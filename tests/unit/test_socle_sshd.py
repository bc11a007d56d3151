"""socle_sshd: value normalisation, check mode, restore on a rejected config, override detection."""

from __future__ import annotations

import pytest
from conftest import load_project_module

sshd_mod = load_project_module("library", "socle_sshd")

SETTINGS = {"ClientAliveInterval": 300, "ClientAliveCountMax": 3, "ChannelTimeout": "session:shell=900s"}


@pytest.mark.parametrize(
    ("keyword", "value", "normal"),
    [
        ("ChannelTimeout", "session:shell=900s", "session:shell=900"),
        ("ChannelTimeout", "session:shell=15m", "session:shell=900"),
        ("channeltimeout", "session:shell=900", "session:shell=900"),
        ("ClientAliveInterval", "300", "300"),
        ("LoginGraceTime", "1m", "60"),
        ("PermitRootLogin", "No", "no"),
    ],
)
def test_normalise(keyword, value, normal):
    assert sshd_mod.normalise(keyword, value) == normal


def test_seconds_rejects_non_times():
    assert sshd_mod.seconds("1h30m") == 5400
    assert sshd_mod.seconds("yes") is None
    assert sshd_mod.seconds("5x") is None


def test_parse_effective_joins_repeated_keywords():
    parsed = sshd_mod.parse_effective("port 22\nclientaliveinterval 300\nsubsystem sftp a\nsubsystem x b\n")
    assert parsed["clientaliveinterval"] == "300"
    assert parsed["subsystem"] == "sftp a x b"


class FakeHost:
    """sshd -T answers from the drop-in when present, else from the defaults; sshd -t as told."""

    def __init__(self, path, override=None, syntax_ok=True):
        self.path, self.override, self.syntax_ok, self.calls = path, override or {}, syntax_ok, []

    def effective(self) -> str:
        values = {"clientaliveinterval": "0", "clientalivecountmax": "3", "channeltimeout": "none"}
        if self.path.exists():
            for line in self.path.read_text().splitlines():
                if line and not line.startswith("#"):
                    key, _, value = line.partition(" ")
                    values[key.lower()] = value.replace("900s", "900")
        values.update(self.override)
        return "".join(f"{k} {v}\n" for k, v in values.items())

    def run_command(self, module, args, **_kw):
        self.calls.append(list(args))
        if args[-1] == "-T":
            return 0, self.effective(), ""
        if args[-1] == "-t":
            return (0, "", "") if self.syntax_ok else (255, "", "Bad configuration option: X")
        return 0, "", ""


@pytest.fixture
def host(monkeypatch, tmp_path):
    def make(**kw):
        fake = FakeHost(tmp_path / "00-socle.conf", **kw)
        monkeypatch.setattr(
            sshd_mod.AnsibleModule, "run_command", lambda self, a, **k: fake.run_command(self, a, **k)
        )
        monkeypatch.setattr(sshd_mod.AnsibleModule, "get_bin_path", lambda self, n, *a, **k: f"/usr/sbin/{n}")
        return fake

    return make


def margs(fake) -> dict:
    return {"settings": SETTINGS, "path": str(fake.path), "control": "M4-LNX-SSH-IDLE"}


def test_check_mode_fresh_host_predicts_change_and_writes_nothing(host, run_module):
    fake = host()
    result = run_module(sshd_mod, margs(fake), check_mode=True)
    assert result["changed"] is True
    assert not fake.path.exists()
    assert "ClientAliveInterval 300" in result["diff"]["after"]
    assert "ClientAliveInterval 0" in result["actual"]
    assert not any(c[0] == "systemctl" for c in fake.calls)


def test_apply_reloads_then_idempotent(host, run_module):
    fake = host()
    first = run_module(sshd_mod, margs(fake))
    assert first["changed"] is True
    assert ["systemctl", "reload", "ssh"] in fake.calls
    second = run_module(sshd_mod, margs(fake))
    assert second["changed"] is False


def test_rejected_config_restores_previous_file(host, run_module):
    fake = host(syntax_ok=False)
    fake.path.write_text("# old\n")
    result = run_module(sshd_mod, margs(fake))
    assert result["failed"] is True
    assert "previous file restored" in result["msg"]
    assert fake.path.read_text() == "# old\n"


def test_override_elsewhere_is_an_error_naming_the_keyword(host, run_module):
    fake = host(override={"clientaliveinterval": "0"})
    run_module(sshd_mod, margs(fake))  # writes the file; effective stays overridden
    result = run_module(sshd_mod, margs(fake), check_mode=True)
    assert result["failed"] is True
    assert "ClientAliveInterval set first in" in result["msg"]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({}, "at least one"),
        ({"Bad Key": 1}, "invalid sshd keyword"),
        ({"Port": "22\nPermitRootLogin yes"}, "one line"),
    ],
)
def test_bad_arguments(host, run_module, settings, message):
    fake = host()
    result = run_module(sshd_mod, {**margs(fake), "settings": settings})
    assert result["failed"] is True and message in result["msg"]
    assert not fake.path.exists()
