"""socle_packages: exact check mode from dpkg-query, install only what is missing."""

from __future__ import annotations

import pytest
from conftest import load_project_module

pkg_mod = load_project_module("library", "socle_packages")


@pytest.fixture
def apt(monkeypatch):
    state = {"installed": {"sudo"}, "held": set(), "calls": [], "candidates": {"dconf-cli", "sudo"}}

    def status(name: str) -> str:
        if name in state["installed"]:
            return "hold ok installed" if name in state["held"] else "install ok installed"
        return "unknown ok not-installed"

    def run_command(self, args, **_kw):
        state["calls"].append(list(args))
        if args[0] == "dpkg-query":
            names = args[3:]
            out = "".join(
                f"{n}\t{status(n)}\n" for n in names
            )
            return 0, out, ""
        if args[:2] == ["apt-cache", "policy"]:
            out = "".join(
                f"{n}:\n  Installed: (none)\n  Candidate: {'1.0' if n in state['candidates'] else '(none)'}\n"
                for n in args[2:]
            )
            return 0, out, ""
        if args[:2] == ["apt-get", "install"]:
            state["installed"].update(
                a for a in args if not a.startswith("-") and a not in ("apt-get", "install")
            )
            return 0, "", ""
        return 0, "", ""

    monkeypatch.setattr(pkg_mod.AnsibleModule, "run_command", run_command)
    monkeypatch.setattr(pkg_mod, "lists_age", lambda *a: 10.0)
    return state


def test_check_mode_reports_missing_and_installs_nothing(apt, run_module):
    result = run_module(pkg_mod, {"name": ["dconf-cli", "sudo"]}, check_mode=True)
    assert result["changed"] is True and result["missing"] == ["dconf-cli"]
    assert not any(c[:2] == ["apt-get", "install"] for c in apt["calls"])


def test_apply_then_idempotent(apt, run_module):
    assert run_module(pkg_mod, {"name": ["dconf-cli"]})["changed"] is True
    assert run_module(pkg_mod, {"name": ["dconf-cli"]})["changed"] is False


def test_check_mode_fails_like_apply_when_no_candidate(apt, run_module):
    result = run_module(pkg_mod, {"name": ["no-such-pkg"]}, check_mode=True)
    assert result["failed"] is True and "no-such-pkg" in result["msg"]


def test_invalid_name_rejected(apt, run_module):
    result = run_module(pkg_mod, {"name": ["ok", "rm -rf /"]})
    assert result["failed"] is True and "invalid Debian package name" in result["msg"]


def test_a_held_package_is_installed(apt, run_module):
    apt["installed"].add("dconf-cli")
    apt["held"].add("dconf-cli")  # apt-mark hold: installed, kept at its version
    for check_mode in (True, False):
        result = run_module(pkg_mod, {"name": ["dconf-cli", "sudo"]}, check_mode=check_mode)
        assert result["changed"] is False, result
    assert not any(c[:2] == ["apt-get", "install"] for c in apt["calls"])
