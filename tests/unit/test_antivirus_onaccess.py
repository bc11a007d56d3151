"""On-access scanning (M2-LNX-AV-ONACCESS): the runtime finding, and units enabled without being started."""

from __future__ import annotations

import pytest
from ansible.module_utils.basic import AnsibleModule
from conftest import load_project_module

facts = load_project_module("library", "socle_clamonacc_facts")
services = load_project_module("library", "socle_services")

DAEMON, ONACC = facts.DAEMON, facts.ONACC
SETTINGS = ["OnAccessMaxFileSize 5M", "OnAccessIncludePath /home", "OnAccessExcludeUname clamav",
            "OnAccessPrevention no"]
EPERM = "fanotify_init failed: Operation not permitted (EPERM)"


def unit(active: bool, loaded: bool = True, state: str | None = None, pid: int = 0) -> dict:
    return {"loaded": loaded, "active": active, "pid": pid,
            "state": state or ("active/running" if active else "inactive/dead")}


def test_compliant_only_when_clamd_and_clamonacc_run():
    finding = facts.onaccess_finding({DAEMON: unit(True, pid=7), ONACC: unit(True, pid=9)}, True, None, SETTINGS)
    assert finding["status"] == "compliant"
    assert finding["actual"].startswith("clamonacc running (pid 9) with clamd (pid 7), watching /home;")
    assert "OnAccessPrevention no" in finding["actual"]


@pytest.mark.parametrize(("units", "databases", "fanotify", "words"), [
    # the lab: no signatures (freshclam cannot reach its servers), a container without CAP_SYS_ADMIN
    ({DAEMON: unit(False), ONACC: unit(False)}, False, EPERM,
     ["no signature database (main and daily) in /var/lib/clamav", "clamonacc cannot run on this host: " + EPERM]),
    ({DAEMON: unit(True), ONACC: unit(False)}, True, EPERM, ["clamonacc cannot run on this host"]),
    ({DAEMON: unit(False), ONACC: unit(False)}, True, None,
     ["clamd is not running (clamav-daemon inactive/dead)",
      "clamonacc is not running (clamav-clamonacc inactive/dead)"]),
    ({DAEMON: unit(False, loaded=False), ONACC: unit(False, loaded=False)}, False, None,
     ["clamav-daemon is not installed"]),
])
def test_drift_says_why_each_one_does_not_run(units, databases, fanotify, words):
    finding = facts.onaccess_finding(units, databases, fanotify, SETTINGS)
    assert finding["status"] == "drift"
    assert all(w in finding["actual"] for w in words), finding["actual"]


def test_a_failed_clamonacc_quotes_its_last_error():
    units = {DAEMON: unit(True), ONACC: unit(False, state="failed/failed")}
    log = "ClamInotif: watching '/' \nERROR: ClamInotif: Not watching path '/' while DDD is enabled\n"
    finding = facts.onaccess_finding(units, True, None, SETTINGS, error=facts.last_error(log))
    assert finding["actual"].startswith(
        "clamonacc is not running (clamav-clamonacc failed/failed): ClamInotif: Not watching path '/' while DDD")


def test_settings_read_from_clamd_conf_ignore_comments():
    text = "User clamav\n#OnAccessIncludePath /srv\nOnAccessIncludePath   /home\n OnAccessPrevention yes\n"
    assert facts.onaccess_settings(text) == ["OnAccessIncludePath /home", "OnAccessPrevention yes"]


@pytest.mark.parametrize(("names", "present"), [
    ([], False), (["daily.cld"], False), (["main.cvd", "daily.cld"], True), (["main.inc/", "daily.inc/"], True),
    (["main.cvd", "bytecode.cvd"], False),
])
def test_databases_as_clamav_daemon_service_waits_for_them(tmp_path, names, present):
    for name in names:
        (tmp_path / name.rstrip("/")).mkdir() if name.endswith("/") else (tmp_path / name).write_bytes(b"x")
    assert facts.databases_present(str(tmp_path)) is present


def test_unit_state_from_systemctl_show():
    show = "LoadState=loaded\nActiveState=failed\nSubState=failed\nMainPID=0\n"
    assert facts.unit_state(show) == {"loaded": True, "active": False, "state": "failed/failed", "pid": 0}
    assert facts.unit_state("LoadState=not-found\nActiveState=inactive\n")["loaded"] is False


@pytest.fixture
def host(monkeypatch):
    """systemctl show answers for both units; fanotify and the databases as each test sets them."""
    state = {"units": {DAEMON: ("loaded", "inactive"), ONACC: ("loaded", "inactive")}, "fanotify": EPERM,
             "databases": False}

    def run_command(self, args, **_kw):
        load, active = state["units"][args[-1]]
        return 0, f"LoadState={load}\nActiveState={active}\nSubState=dead\nMainPID=0\n", ""

    monkeypatch.setattr(AnsibleModule, "run_command", run_command)
    monkeypatch.setattr(AnsibleModule, "get_bin_path", lambda *_a, **_k: "/bin/systemctl")
    monkeypatch.setattr(facts, "fanotify_error", lambda: state["fanotify"])
    monkeypatch.setattr(facts, "databases_present", lambda _folder: state["databases"])
    return state


@pytest.mark.parametrize(("fanotify", "databases", "daemon", "startable"), [
    (EPERM, True, "active", False),  # a container: clamonacc would exit at once
    (None, False, "inactive", False),  # no signatures: clamd would not start
    (None, False, "active", True),
    (None, True, "inactive", True),
])
def test_startable_only_where_both_can_run(host, run_module, tmp_path, fanotify, databases, daemon, startable):
    host.update(fanotify=fanotify, databases=databases)
    host["units"][DAEMON] = ("loaded", daemon)
    result = run_module(facts, {"config": str(tmp_path / "none"), "log": str(tmp_path / "none")}, check_mode=True)
    assert result["changed"] is False and result["startable"] is startable
    assert result["socle_finding"]["status"] == "drift"


# -- socle_services start: false ---------------------------------------------------------------------
@pytest.fixture
def systemd(monkeypatch):
    units = {DAEMON: [True, False], ONACC: [False, False], "running.service": [False, True]}
    calls = []

    def run_command(self, args, **_kw):
        calls.append(args[1:])
        verb, name = args[1], args[-1]
        if verb == "show":
            return 0, "loaded\n", ""
        if verb in ("is-enabled", "is-active"):
            return (0 if units[name][verb == "is-active"] else 1), "", ""
        if verb == "enable":
            units[name][0] = True
        elif verb == "start":
            units[name][1] = True
        return 0, "", ""

    monkeypatch.setattr(AnsibleModule, "run_command", run_command)
    monkeypatch.setattr(AnsibleModule, "get_bin_path", lambda *_a, **_k: "/bin/systemctl")
    return units, calls


def test_services_enabled_not_started_then_nothing_to_do(systemd, run_module):
    units, calls = systemd
    args = {"names": [DAEMON, ONACC], "start": False}
    check = run_module(services, args, check_mode=True)
    assert check["changed_units"] == [ONACC]
    assert check["diff"][0]["after"] == f"{ONACC}: enabled, inactive\n"
    run_module(services, args)
    assert ["enable", ONACC] in calls and not [c for c in calls if c[0] == "start"]
    assert run_module(services, args)["changed"] is False
    assert run_module(services, {"names": [DAEMON, ONACC]}, check_mode=True)["changed_units"] == [DAEMON, ONACC]


def test_services_start_false_never_stops_a_running_unit(systemd, run_module):
    units, calls = systemd
    result = run_module(services, {"names": ["running.service"], "start": False})
    assert result["diff"][0]["after"] == "running.service: enabled, active\n"
    assert units["running.service"] == [True, True] and not [c for c in calls if c[0] in ("stop", "start")]
