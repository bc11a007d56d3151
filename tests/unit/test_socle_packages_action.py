"""socle_packages action: no round trip when socle_facts already lists every package as installed."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from conftest import load_project_module

action_mod = load_project_module("action_plugins", "socle_packages")
facts_mod = load_project_module("library", "socle_facts")

STATUS = """Package: dconf-cli
Status: install ok installed
Architecture: amd64
Description: low-level key/value database
 Status: install ok installed (a description line, not a field)

Package: clamav
Status: deinstall ok config-files

Package: libc6
Status: install ok installed
Multi-Arch: same

Package: nftables
Status: install ok half-configured

Package: openssl
Status: hold ok installed

Package: zlib1g
Status: deinstall ok installed
"""


def test_installed_packages_reads_only_installed_stanzas():
    # A held package is installed (apt-mark hold); one selected for removal is not kept as installed.
    assert facts_mod.installed_packages(STATUS) == ["dconf-cli", "libc6", "openssl"]


def run(monkeypatch, names, packages):
    calls = []

    def execute(self, module_name=None, module_args=None, task_vars=None):
        calls.append((module_name, module_args))
        return {"changed": True, "missing": ["x"]}

    monkeypatch.setattr(action_mod.ActionBase, "run", lambda self, tmp=None, task_vars=None: {})
    monkeypatch.setattr(action_mod.ActionModule, "_execute_module", execute)
    action = action_mod.ActionModule.__new__(action_mod.ActionModule)
    action._task = SimpleNamespace(args={"name": names})
    facts = {} if packages is None else {"ansible_facts": {"socle": {"packages": packages}}}
    return action.run(task_vars=facts), calls


def test_all_known_installed_needs_no_round_trip(monkeypatch):
    result, calls = run(monkeypatch, ["dconf-cli", "libc6"], ["dconf-cli", "libc6", "zsh"])
    assert result["changed"] is False and result["missing"] == [] and calls == []


@pytest.mark.parametrize(
    ("names", "packages"),
    [
        (["dconf-cli", "clamav"], ["dconf-cli"]),  # one missing: the module measures and installs
        (["dconf-cli"], None),  # no package list in the facts (not a dpkg host, or older facts)
        ([], ["dconf-cli"]),  # nothing named: the module's own validation answers
        ("dconf-cli", ["dconf-cli"]),  # not a list yet: the module's argument spec decides
    ],
)
def test_otherwise_the_module_runs(monkeypatch, names, packages):
    result, calls = run(monkeypatch, names, packages)
    assert calls == [("socle_packages", {"name": names})] and result["changed"] is True
