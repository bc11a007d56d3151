"""socle_services action: no round trip when socle_facts already lists every unit as enabled and active."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from conftest import load_project_module

action_mod = load_project_module("action_plugins", "socle_services")
facts_mod = load_project_module("library", "socle_facts")

# Recorded on a Debian 12 lab host: systemctl list-units --state=active --no-legend --plain, then
# systemctl show --property=Id,LoadState,ActiveState,UnitFileState of those units.
UNITS = """apt-daily-upgrade.timer              loaded    active   waiting Daily apt upgrade and clean activities
console-getty.service                loaded    active   running Console Getty
ssh.service                          loaded    active   running OpenBSD Secure Shell server
dbus.service                         loaded    active   running D-Bus System Message Bus
auditd.service                       not-found inactive dead    auditd.service
"""
SHOW = """Id=apt-daily-upgrade.timer
LoadState=loaded
ActiveState=active
UnitFileState=enabled

Id=console-getty.service
LoadState=loaded
ActiveState=active
UnitFileState=enabled-runtime

Id=ssh.service
LoadState=loaded
ActiveState=active
UnitFileState=enabled

Id=dbus.service
LoadState=loaded
ActiveState=active
UnitFileState=static
"""


def test_only_units_exactly_enabled_and_active_are_listed():
    assert facts_mod.active_units(UNITS) == ["apt-daily-upgrade.timer", "console-getty.service", "ssh.service",
                                             "dbus.service"]
    # console-getty is enabled-runtime, dbus static: not "enabled", so the module measures them
    assert facts_mod.enabled_and_active(SHOW) == ["apt-daily-upgrade.timer", "ssh.service"]
    assert facts_mod.enabled_and_active(SHOW.replace("ActiveState=active\nUnitFileState=enabled\n\nId=console",
                                                     "ActiveState=failed\nUnitFileState=enabled\n\nId=console")) \
        == ["ssh.service"]


def run(monkeypatch, args, units, check_mode=False):
    calls = []

    def execute(self, module_name=None, module_args=None, task_vars=None):
        calls.append((module_name, module_args))
        return {"changed": True, "changed_units": ["x"]}

    monkeypatch.setattr(action_mod.ActionBase, "run", lambda self, tmp=None, task_vars=None: {})
    monkeypatch.setattr(action_mod.ActionModule, "_execute_module", execute)
    action = action_mod.ActionModule.__new__(action_mod.ActionModule)
    action._task = SimpleNamespace(args=args)
    action._play_context = SimpleNamespace(check_mode=check_mode)
    facts = {} if units is None else {"ansible_facts": {"socle": {"units": units}}}
    return action.run(task_vars=facts), calls


def test_all_known_running_needs_no_round_trip(monkeypatch):
    result, calls = run(monkeypatch, {"names": ["ssh.service"]}, ["apt-daily-upgrade.timer", "ssh.service"])
    assert result["changed"] is False and result["changed_units"] == [] and calls == []
    # a reload asked in check mode is not done anyway
    result, calls = run(monkeypatch, {"names": ["ssh.service"], "daemon_reload": True}, ["ssh.service"],
                        check_mode=True)
    assert result["changed"] is False and calls == []


@pytest.mark.parametrize(
    ("args", "units"),
    [
        ({"names": ["ssh.service", "socle-clamscan.timer"]}, ["ssh.service"]),  # one not running
        ({"names": ["ssh.service"]}, None),  # no unit list in the facts
        ({"names": ["ssh.service"], "daemon_reload": True}, ["ssh.service"]),  # unit files were just written
        ({"names": []}, ["ssh.service"]),  # nothing named: the module's own validation answers
    ],
)
def test_otherwise_the_module_runs(monkeypatch, args, units):
    result, calls = run(monkeypatch, args, units)
    assert calls == [("socle_services", args)] and result["changed"] is True
