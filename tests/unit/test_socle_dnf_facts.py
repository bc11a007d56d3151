"""socle_dnf_facts and its decisions: measure 1's four findings on the RHEL family (dnf 4 and dnf5).

No RHEL host or mirror is reachable here, so the outputs below are written in the formats the tools'
sources print, with the line shapes public reports show:

* dnf 4 ``check-update``: dnf/cli/output.py ``fmtColumns`` (an overflowing column moves the rest of
  the row to the next line, indented; obsoleted packages indented under "Obsoleting Packages"), and
  the "Security: ... is an installed security update" lines dnf prints on stdout.
* dnf5 ``check-upgrade``: libdnf5-cli/output/package_list_sections.cpp (libsmartcols, no headings,
  obsoleted packages prefixed with four spaces) and dnf5/commands/check-upgrade (exit code 100).
* ``systemctl show``: Key=Value lines, timestamps as "Day YYYY-MM-DD HH:MM:SS TZ" (C locale).
* ``journalctl -o json``: one JSON object per line, __REALTIME_TIMESTAMP in microseconds.
* dnf 4 versionlock: plugins/versionlock.py (``name-epoch:version-release.*``, ``!`` for excludes);
  dnf5: the versionlock.toml of dnf5's versionlock(8) page and libdnf5/rpm/versionlock_config.cpp.
* needs-restarting: exit code 1 when a reboot is required (dnf-plugins-core needs_restarting.py,
  dnf5-plugins/needs_restarting_plugin); ``rpm -q --qf '%{NAME} %{INSTALLTIME}\\n'`` rows.
"""

from __future__ import annotations

import ast
import json
import os
import time
from datetime import datetime, timedelta
from pathlib import Path
from unittest import mock

import pytest
from ansible.module_utils import socle_updates as su
from conftest import ROOT, load_project_module

facts = load_project_module("library", "socle_dnf_facts")
IDS = {"M1-LNX-PENDING-SECURITY", "M1-LNX-LAST-RUN", "M1-LNX-HELD-PACKAGES", "M1-LNX-REBOOT-REQUIRED"}

# -- M1-LNX-PENDING-SECURITY --------------------------------------------------------------------------
# `dnf -q -C check-update --security` on RHEL 9 (dnf 4.14), exit code 100. One name overflows its
# column (the rest of the row goes to the next line), one version does, one package obsoletes another,
# and the running kernel is older than the installed one.
DNF4_PENDING = """\

NetworkManager-cloud-setup.x86_64   1:1.46.0-4.el9_4                      appstream
kernel.x86_64                       5.14.0-427.13.1.el9_4                 baseos
kernel-core.x86_64                  5.14.0-427.13.1.el9_4                 baseos
openssl.x86_64                      1:3.0.7-27.el9                        baseos
openssl-libs.i686                   1:3.0.7-27.el9                        baseos
openssl-libs.x86_64                 1:3.0.7-27.el9                        baseos
xorg-x11-server-Xwayland-devel.x86_64
                                    22.1.9-5.el9                          appstream
firefox.x86_64                      115.10.0-1.el9_4.with.a.very.long.release.tag
                                                                          appstream
Obsoleting Packages
grub2-tools.x86_64                  1:2.06-77.el9                         baseos
    grub2-tools.x86_64              1:2.06-70.el9                         @anaconda
Security: kernel-core-5.14.0-427.13.1.el9_4.x86_64 is an installed security update
Security: kernel-core-5.14.0-362.8.1.el9_3.x86_64 is the currently running version
"""
DNF4_PENDING_NAMES = [
    "NetworkManager-cloud-setup 1:1.46.0-4.el9_4", "firefox 115.10.0-1.el9_4.with.a.very.long.release.tag",
    "grub2-tools 1:2.06-77.el9", "kernel 5.14.0-427.13.1.el9_4", "kernel-core 5.14.0-427.13.1.el9_4",
    "openssl 1:3.0.7-27.el9", "openssl-libs 1:3.0.7-27.el9", "xorg-x11-server-Xwayland-devel 22.1.9-5.el9",
]
# Exit code 0: nothing pending for security; the running-kernel notes are still printed on stdout.
DNF4_NONE = """\
Security: kernel-core-5.14.0-427.13.1.el9_4.x86_64 is an installed security update
Security: kernel-core-5.14.0-362.8.1.el9_3.x86_64 is the currently running version
"""
# `dnf5 -q -C check-upgrade --security` on RHEL 10, exit code 100 (libsmartcols table, no headings).
DNF5_PENDING = """\
expat.x86_64          2.5.0-5.el10_0     baseos
libxml2.x86_64        2.12.5-5.el10_0    baseos
openssh.x86_64        9.9p1-7.el10_0     baseos

Obsoleting packages
dnf5-plugins.x86_64   5.2.13.1-2.el10_0  baseos
    dnf-plugins-core.noarch 4.7.0-8.el10 @System

"""
DNF5_NONE = "No security updates needed, but 12 update(s) available\n"


def test_dnf4_rows_follow_overflowing_columns_and_skip_obsoleted_and_notes():
    assert su.dnf_security_pending(100, DNF4_PENDING) == DNF4_PENDING_NAMES
    rows = su.check_update_rows(DNF4_PENDING)
    assert ("openssl-libs", "i686", "1:3.0.7-27.el9") in rows and ("openssl-libs", "x86_64", "1:3.0.7-27.el9") in rows
    assert ("grub2-tools", "x86_64", "1:2.06-70.el9") not in rows  # the obsoleted, installed one
    assert not [r for r in rows if r[0].startswith("Security")]


def test_dnf5_rows_skip_the_heading_and_the_obsoleted_package():
    assert su.dnf_security_pending(100, DNF5_PENDING) == [
        "dnf5-plugins 5.2.13.1-2.el10_0", "expat 2.5.0-5.el10_0", "libxml2 2.12.5-5.el10_0",
        "openssh 9.9p1-7.el10_0"]


@pytest.mark.parametrize(("rc", "out", "expected"), [
    (0, DNF4_NONE, []), (0, DNF5_NONE, []), (0, "", []),
    (1, "Error: Cache-only enabled but no cache for 'baseos'", None),
    (200, "", None),  # could not take dnf's lock
    (100, "Obsoleting Packages\n", [su.UNREADABLE_PENDING]),  # 100 says some: never count none
])
def test_the_exit_code_decides_pending(rc, out, expected):
    assert su.dnf_security_pending(rc, out) == expected


def test_pending_commands_read_the_cache_only_and_never_download():
    assert su.DNF_MEASURE["dnf"]["pending"] == ["dnf", "-q", "-C", "check-update", "--security"]
    assert su.DNF_MEASURE["dnf5"]["pending"] == ["dnf5", "-q", "-C", "check-upgrade", "--security"]
    for spec in su.DNF_MEASURE.values():
        assert "-C" in spec["needs_restarting"]
    assert "-r" not in su.DNF_MEASURE["dnf5"]["needs_restarting"]  # dnf5's first needs-restarting had no -r


# -- M1-LNX-LAST-RUN -----------------------------------------------------------------------------------
SHOW_OK = ("Result=success\nExecMainStatus=0\nExecMainExitTimestamp=Tue 2026-11-24 06:12:01 CET\n"
           "LoadState=loaded\n")
SHOW_FAILED = ("Result=exit-code\nExecMainStatus=1\nExecMainExitTimestamp=Wed 2026-11-25 06:14:40 CET\n"
               "LoadState=loaded\n")
SHOW_NEVER = "Result=success\nExecMainStatus=0\nExecMainExitTimestamp=\nLoadState=loaded\n"
SHOW_MISSING = "Result=success\nExecMainStatus=0\nExecMainExitTimestamp=\nLoadState=not-found\n"


def journal_line(when: datetime, service: str = "dnf-automatic.service", pid: str = "1", **extra) -> str:
    entry = {"__REALTIME_TIMESTAMP": str(int(when.timestamp() * 1_000_000)), "_PID": pid, "UNIT": service,
             "MESSAGE_ID": su.UNIT_SUCCESS_ID, "MESSAGE": f"{service}: Deactivated successfully.",
             "_BOOT_ID": "0f5b4a6e2a7c4b4e9d0c1d2e3f405162", "PRIORITY": "6", **extra}
    return json.dumps(entry) + "\n"


def test_systemd_timestamps():
    assert su.systemd_timestamp("Tue 2026-11-24 06:12:01 CET") == datetime(2026, 11, 24, 6, 12, 1)
    assert su.systemd_timestamp("") is None
    assert su.systemd_timestamp("n/a") is None
    assert su.systemd_timestamp("@1795500000") == datetime.fromtimestamp(1795500000)


def test_last_run_from_systemctl_show_and_the_journal():
    assert su.dnf_last_run(SHOW_OK, "", "dnf-automatic.service") == (datetime(2026, 11, 24, 6, 12, 1), "")
    # After a reboot systemd knows no run, the persistent journal does.
    before_reboot = datetime(2026, 11, 23, 6, 3, 0)
    last, note = su.dnf_last_run(SHOW_NEVER, journal_line(before_reboot), "dnf-automatic.service")
    assert (last, note) == (before_reboot, "")
    # The newest of both wins.
    assert su.dnf_last_run(SHOW_OK, journal_line(before_reboot), "dnf-automatic.service")[0] == datetime(
        2026, 11, 24, 6, 12, 1)


def test_a_failed_last_run_is_named_and_the_earlier_success_still_counts():
    earlier = datetime(2026, 11, 24, 6, 12, 1)
    last, note = su.dnf_last_run(SHOW_FAILED, journal_line(earlier), "dnf-automatic.service")
    assert last == earlier
    assert note == "; the last run, ended 2026-11-25 06:14, failed (Result=exit-code, exit status 1)"
    assert su.dnf_last_run(SHOW_FAILED, "", "dnf-automatic.service")[0] is None


def test_forged_or_foreign_journal_entries_are_ignored():
    when = datetime(2026, 11, 24, 6, 0, 0)
    forged = journal_line(when, pid="4242")  # any process can send MESSAGE_ID and UNIT, not _PID=1
    other = journal_line(when, service="dnf-makecache.service")
    assert su.journal_last_success(forged + other + "not json\n{}\n", "dnf-automatic.service") is None
    assert su.dnf_last_run(SHOW_MISSING, "", "dnf5-automatic.service") == (
        None, "; dnf5-automatic.service is not installed")


def test_journal_command_asks_pid_1_for_the_unit_success_message():
    assert su.journal_success_command("dnf5-automatic.service") == [
        "journalctl", "--no-pager", "-q", "-o", "json", "-n", "1",
        "MESSAGE_ID=7ad2d189f7e94e70a38c781354912448", "_PID=1", "UNIT=dnf5-automatic.service"]


@pytest.mark.parametrize(("tool", "expected"), [
    ("dnf-automatic", "a successful dnf-automatic run less than 48 h ago"),
    ("dnf5-automatic", "a successful dnf5-automatic run less than 48 h ago"),
])
def test_decide_last_run_names_the_tool_with_the_same_threshold(tool, expected):
    now = datetime(2026, 11, 28, 12, 0)
    assert su.decide_last_run(None, now, 48, tool) == {
        "status": "drift", "expected": expected, "actual": f"no successful {tool} run recorded"}
    assert su.decide_last_run(datetime(2026, 11, 25, 6, 0), now, 48, tool)["status"] == "drift"
    assert su.decide_last_run(datetime(2026, 11, 28, 6, 0), now, 48, tool)["status"] == "compliant"
    # Debian's wording is unchanged.
    assert su.decide_last_run(None, now, 48)["expected"] == "a successful unattended-upgrades run less than 48 h ago"


# -- M1-LNX-HELD-PACKAGES ------------------------------------------------------------------------------
VERSIONLOCK_CONF = "[main]\nenabled = 1\nlocklist = /etc/dnf/plugins/versionlock.list\n"
LOCKLIST = """\

# Added lock on Tue Nov 24 10:12:31 2026
openssl-1:3.0.7-27.el9.*
python3-dnf-plugin-versionlock-0:4.3.0-13.el9.*

# Added exclude on Tue Nov 24 10:13:02 2026
!kernel-core-0:5.14.0-427.13.1.el9_4.*
# Written by hand
postgresql*
"""
VERSIONLOCK_TOML = """\
version = "1.0"

# keep package bash on version 0:5.2.15-5.fc39
[[packages]]
name = "bash"
comment = "Added by 'versionlock add' command on 2026-11-24 10:12:31"
[[packages.conditions]]
key = "evr"
comparator = "="
value = "0:5.2.15-5.fc39"

[[packages]]
name = "iftop"
[[packages.conditions]]
key = "evr"
comparator = "!="
value = "0:1.0-0.31.pre4.fc39"

[[packages]]
name = "*nvidia*"
[[packages.conditions]]
key = "evr"
comparator = ">="
value = "3:570"

# no condition: dnf5 skips the entry, it locks nothing
[[packages]]
name = "zlib"
"""


@pytest.mark.parametrize(("spec", "name"), [
    ("openssl-1:3.0.7-27.el9.*", "openssl"), ("bash-0:5.1.8-9.el9.*", "bash"),
    ("python3-dnf-plugin-versionlock-0:4.3.0-13.el9.*", "python3-dnf-plugin-versionlock"),
    ("!kernel-core-0:5.14.0-427.13.1.el9_4.*", "kernel-core"), ("qt5-qtbase-5.15.9-7.el9.*", "qt5-qtbase"),
    ("postgresql*", "postgresql*"), ("kernel", "kernel"),
])
def test_versionlock_names(spec, name):
    assert su.versionlock_name(spec) == name


def test_dnf4_locks_apply_only_with_the_plugin_enabled():
    path = "/etc/dnf/plugins/versionlock.list"
    assert su.dnf4_locklist_path("[main]\ngpgcheck=1\n", VERSIONLOCK_CONF) == path
    assert su.dnf4_locklist_path(None, VERSIONLOCK_CONF) == path
    assert su.dnf4_locklist_path(None, None) is None  # no plugin installed: no hold
    assert su.dnf4_locklist_path(None, VERSIONLOCK_CONF.replace("enabled = 1", "enabled = 0")) is None
    assert su.dnf4_locklist_path("[main]\nplugins=False\n", VERSIONLOCK_CONF) is None
    assert su.dnf4_locklist_path(None, "[main]\nenabled = 1\n") is None  # no lock list set
    assert su.dnf4_held(LOCKLIST) == ["kernel-core", "openssl", "postgresql*", "python3-dnf-plugin-versionlock"]
    assert su.dnf4_held("") == su.dnf4_held(None) == []


def test_dnf5_locks_follow_libdnf5():
    assert su.dnf5_held(VERSIONLOCK_TOML) == ["*nvidia*", "bash", "iftop"]
    assert su.dnf5_held(None) == su.dnf5_held("") == []
    assert su.dnf5_held(VERSIONLOCK_TOML.replace('version = "1.0"', 'version = "2.0"')) == []
    assert su.dnf5_held(VERSIONLOCK_TOML.replace('version = "1.0"\n', "")) == []
    with pytest.raises(ValueError, match="not valid TOML"):
        su.dnf5_held("[[packages]\nname = ")


@pytest.mark.parametrize(("held", "allowed", "status"), [
    ([], [], "compliant"), (["openssl"], [], "drift"), (["openssl"], ["openssl"], "compliant"),
    (["*nvidia*", "bash"], ["bash"], "drift"),
])
def test_decide_holds_is_shared_with_debian(held, allowed, status):
    assert su.decide_holds(held, allowed)["status"] == status


# -- M1-LNX-REBOOT-REQUIRED ----------------------------------------------------------------------------
BOOT = 1_795_000_000  # btime of the running kernel
PROC_STAT = f"cpu  4705 356 584 3699 23 23 0 0 0 0\nintr 1462898\nctxt 2223690\nbtime {BOOT}\nprocesses 9412\n"
RPM_ROWS = f"""\
kernel {BOOT - 900_000}
kernel {BOOT + 7_200}
kernel-core {BOOT - 900_000}
kernel-core {BOOT + 7_200}
glibc {BOOT + 90_000}
linux-firmware {BOOT - 900_000}
systemd {BOOT - 3_600}
dbus {BOOT - 3_600}
dbus-broker {BOOT - 3_600}
package kernel-rt is not installed
package dbus-daemon is not installed
"""


def test_boot_time_and_rpm_rows():
    assert su.boot_time(PROC_STAT, None) == BOOT
    assert su.boot_time(PROC_STAT, BOOT + 3) == BOOT + 3  # PID 1 started after the kernel
    assert su.boot_time("", None) is None
    rows = su.rpm_install_times(RPM_ROWS)
    assert ("glibc", BOOT + 90_000) in rows and len(rows) == 9
    assert su.core_install_command()[:4] == ["rpm", "-q", "--qf", "%{NAME} %{INSTALLTIME}\\n"]


@pytest.mark.parametrize(("plugin", "rc", "present", "age_h", "packages"), [
    (True, 0, False, None, []),
    # Required: pending since the first core package installed after boot (kernel, 2 h after boot).
    (True, 1, True, (BOOT + 200_000 - (BOOT + 7_200)) / 3600, ["glibc", "kernel", "kernel-core"]),
    # No needs-restarting: dnf 4's -r rule on the core packages.
    (False, None, True, (BOOT + 200_000 - (BOOT + 7_200)) / 3600, ["glibc", "kernel", "kernel-core"]),
])
def test_reboot_from_the_exit_code_and_its_age_from_rpm(plugin, rc, present, age_h, packages):
    found = su.dnf_reboot(plugin, rc, "", su.rpm_install_times(RPM_ROWS), BOOT, BOOT + 200_000)
    assert found[:3] == (present, age_h, packages)


def test_reboot_edge_cases():
    rows = su.rpm_install_times(RPM_ROWS)
    # Exit code 1 with no core package since boot: another package (an advisory's reboot_suggested,
    # needs-restarting.d) or a failure. Required, with no age to decide on, and the reason shown.
    present, age, packages, note = su.dnf_reboot(True, 1, "Error: rpmdb open failed", rows, BOOT + 100_000,
                                                 BOOT + 200_000)
    assert (present, age, packages) == (True, None, [])
    assert "no core package was installed since boot" in note and "rpmdb open failed" in note
    assert su.dnf_reboot(True, 2, "usage", rows, BOOT, BOOT + 1)[0] is None
    assert su.dnf_reboot(False, None, "", rows, BOOT + 100_000, BOOT + 200_000) == (False, None, [], "")
    assert su.dnf_reboot(False, None, "", rows, None, BOOT)[0] is None


@pytest.mark.parametrize(("manager", "reboot", "note"), [
    ("dnf", "window", True), ("dnf", "never", False), ("dnf5", "window", False), ("dnf5", "never", False),
])
def test_dnf4_reboot_policy_is_said_not_dropped(manager, reboot, note):
    assert bool(su.dnf_reboot_note(manager, reboot)) is note
    if note:
        assert "no reboot option for dnf-automatic (dnf 4)" in su.dnf_reboot_note(manager, reboot)


# -- the module: every finding in one call, with a fake run_command ----------------------------------
class FakeHost:
    """Answers the module's commands from recorded outputs and records them."""

    def __init__(self, manager: str, **answers):
        spec = su.DNF_MEASURE[manager]
        self.calls: list[list[str]] = []
        self.answers = {
            "pending": (100, DNF4_PENDING if manager == "dnf" else DNF5_PENDING, ""),
            "show": (0, SHOW_OK, ""), "journal": (0, "", ""),
            "provides": (0, "dnf-plugins-core-4.3.0-13.el9.noarch\n", ""),
            "needs_restarting": (1, "Core libraries or services have been updated since boot-up:\n", ""),
            "rpm": (2, RPM_ROWS, ""),
        }
        self.answers.update(answers)
        self.kinds = {tuple(spec["pending"]): "pending", tuple(spec["needs_restarting"]): "needs_restarting",
                      tuple(su.core_install_command()): "rpm"}

    def kind(self, argv: list[str]) -> str:
        if tuple(argv) in self.kinds:
            return self.kinds[tuple(argv)]
        if argv[:2] == ["systemctl", "show"]:
            return "show"
        if argv[0] == "journalctl":
            return "journal"
        if argv[:3] == ["rpm", "-q", "--whatprovides"]:
            return "provides"
        raise AssertionError(f"unexpected command {argv}")

    def __call__(self, _module, argv, **kwargs):
        assert kwargs.get("environ_update", {}).get("LC_ALL") == "C", argv
        self.calls.append(list(argv))
        return self.answers[self.kind(argv)]


def host_tree(tmp_path: Path, *, locks: str | None = LOCKLIST, toml: str | None = VERSIONLOCK_TOML,
              booted: int = BOOT) -> Path:
    root = tmp_path / "root"
    (root / "proc" / "1").mkdir(parents=True)
    (root / "proc" / "stat").write_text(PROC_STAT.replace(str(BOOT), str(booted)))
    os.utime(root / "proc" / "1", (booted, booted))
    plugins = root / "etc" / "dnf" / "plugins"
    plugins.mkdir(parents=True)
    (root / "etc" / "dnf" / "dnf.conf").write_text("[main]\ngpgcheck=1\ninstallonly_limit=3\n")
    if locks is not None:
        (plugins / "versionlock.conf").write_text(VERSIONLOCK_CONF)
        (plugins / "versionlock.list").write_text(locks)
    if toml is not None:
        (root / "etc" / "dnf" / "versionlock.toml").write_text(toml)
    return root


def run_with(run_module, args, host: FakeHost, check_mode=False):
    def run_command(self, argv, **kwargs):  # a function, so that it binds to the module like the real one
        return host(self, argv, **kwargs)

    with mock.patch("ansible.module_utils.basic.AnsibleModule.run_command", run_command):
        return run_module(facts, args, check_mode=check_mode)


@pytest.mark.parametrize("check_mode", [True, False])
@pytest.mark.parametrize("manager", ["dnf", "dnf5"])
def test_module_measures_everything_in_one_call(run_module, tmp_path, manager, check_mode):
    booted = int(time.time()) - 3 * 24 * 3600
    root = host_tree(tmp_path, booted=booted)
    recent = datetime.now() - timedelta(hours=5)
    host = FakeHost(manager, journal=(0, journal_line(recent, su.DNF_AUTOMATIC[manager]["service"]), ""),
                    rpm=(2, f"kernel-core {booted + 3600}\nglibc {booted - 10}\n", ""))
    result = run_with(run_module, {"manager": manager, "root": str(root)}, host, check_mode)
    assert result["changed"] is False and set(result["findings"]) == IDS
    status = {cid: f["status"] for cid, f in result["findings"].items()}
    assert status == {"M1-LNX-PENDING-SECURITY": "drift", "M1-LNX-LAST-RUN": "compliant",
                      "M1-LNX-HELD-PACKAGES": "drift", "M1-LNX-REBOOT-REQUIRED": "compliant"}
    assert result["pending"] == (DNF4_PENDING_NAMES if manager == "dnf" else su.dnf_security_pending(100, DNF5_PENDING))
    assert result["held"] == (su.dnf4_held(LOCKLIST) if manager == "dnf" else ["*nvidia*", "bash", "iftop"])
    assert result["reboot_packages"] == ["kernel-core"]
    assert "reboot required for 71 h (for kernel-core)" == result["findings"]["M1-LNX-REBOOT-REQUIRED"]["actual"]
    last = result["findings"]["M1-LNX-LAST-RUN"]
    assert last["expected"] == f"a successful {su.DNF_MEASURE[manager]['tool']} run less than 48 h ago"
    assert result["last_run"].startswith(f"{recent:%Y-%m-%dT%H:%M}")
    # Read-only commands only, each once, and the journal asked about the flavour's own service.
    kinds = [host.kind(c) for c in host.calls]
    assert kinds == ["pending", "show", "journal", "provides", "needs_restarting", "rpm"]
    assert host.calls[2][-1] == f"UNIT={su.DNF_AUTOMATIC[manager]['service']}"
    assert not [c for c in host.calls if {"upgrade", "install", "makecache", "update"} & set(c)]
    # idempotency: a second call measures the same and still changes nothing
    again = run_with(run_module, {"manager": manager, "root": str(root)}, FakeHost(
        manager, journal=host.answers["journal"], rpm=host.answers["rpm"]), check_mode)
    assert again == result


def test_module_thresholds_are_the_debian_ones(run_module, tmp_path):
    root = host_tree(tmp_path)
    host = FakeHost("dnf", pending=(100, DNF4_PENDING, ""), needs_restarting=(0, "", ""))
    args = {"manager": "dnf", "root": str(root), "max_pending_security": 8,
            "allowed_holds": ["kernel-core", "openssl", "postgresql*", "python3-dnf-plugin-versionlock"]}
    result = run_with(run_module, args, host)
    assert result["findings"]["M1-LNX-PENDING-SECURITY"]["status"] == "compliant"  # exactly 8 pending
    assert result["findings"]["M1-LNX-HELD-PACKAGES"]["status"] == "compliant"
    assert result["findings"]["M1-LNX-REBOOT-REQUIRED"] == {
        "status": "compliant", "expected": "no reboot pending for more than 168 h", "actual": "no reboot required"}
    result = run_with(run_module, {**args, "max_pending_security": 7}, FakeHost("dnf"))
    assert result["findings"]["M1-LNX-PENDING-SECURITY"]["status"] == "drift"


def test_module_nothing_pending_nothing_held_never_ran(run_module, tmp_path):
    root = host_tree(tmp_path, locks=None, toml=None)
    for manager, none in (("dnf", DNF4_NONE), ("dnf5", DNF5_NONE)):
        host = FakeHost(manager, pending=(0, none, ""), show=(0, SHOW_MISSING, ""),
                        needs_restarting=(0, "", ""))
        result = run_with(run_module, {"manager": manager, "root": str(root)}, host)
        findings = result["findings"]
        assert findings["M1-LNX-PENDING-SECURITY"]["actual"] == "no pending security update"
        assert findings["M1-LNX-HELD-PACKAGES"] == {"status": "compliant", "expected": "no held package",
                                                    "actual": "no held package"}
        tool, service = su.DNF_MEASURE[manager]["tool"], su.DNF_AUTOMATIC[manager]["service"]
        assert findings["M1-LNX-LAST-RUN"] == {
            "status": "drift", "expected": f"a successful {tool} run less than 48 h ago",
            "actual": f"no successful {tool} run recorded; {service} is not installed"}


def test_module_reboot_pending_too_long_and_the_dnf4_reboot_policy(run_module, tmp_path):
    booted = int(time.time()) - 30 * 24 * 3600
    root = host_tree(tmp_path, booted=booted)
    host = FakeHost("dnf", rpm=(2, f"kernel-core {booted + 3600}\nkernel-core {booted - 100}\n", ""))
    result = run_with(run_module, {"manager": "dnf", "root": str(root), "reboot": "window"}, host)
    reboot = result["findings"]["M1-LNX-REBOOT-REQUIRED"]
    assert reboot["status"] == "drift" and "(for kernel-core)" in reboot["actual"]
    assert reboot["expected"].startswith("no reboot pending for more than 168 h; the policy asks for automatic")
    dnf5 = run_with(run_module, {"manager": "dnf5", "root": str(root), "reboot": "window"},
                    FakeHost("dnf5", rpm=host.answers["rpm"]))
    assert dnf5["findings"]["M1-LNX-REBOOT-REQUIRED"]["expected"] == "no reboot pending for more than 168 h"


def test_module_without_needs_restarting_applies_the_core_rule(run_module, tmp_path):
    booted = int(time.time()) - 3600
    root = host_tree(tmp_path, booted=booted)
    host = FakeHost("dnf5", provides=(1, "no package provides dnf5-command(needs-restarting)\n", ""),
                    rpm=(2, f"glibc {booted + 60}\n", ""))
    result = run_with(run_module, {"manager": "dnf5", "root": str(root)}, host)
    assert "needs_restarting" not in [host.kind(c) for c in host.calls]
    reboot = result["findings"]["M1-LNX-REBOOT-REQUIRED"]
    assert reboot["status"] == "compliant"
    assert reboot["actual"] == ("reboot required for 1 h (for glibc)"
                                " (needs-restarting is not installed: core packages installed since boot)")


@pytest.mark.parametrize(("answers", "cid", "words"), [
    ({"pending": (1, "", "Error: Cache-only enabled but no cache for 'baseos'")}, "M1-LNX-PENDING-SECURITY",
     "no cache for 'baseos'"),
    ({"needs_restarting": (2, "", "Unknown argument \"-r\" for command \"needs-restarting\"")},
     "M1-LNX-REBOOT-REQUIRED", "exit code 2"),
])
def test_a_failed_measurement_is_an_error_of_that_control_only(run_module, tmp_path, answers, cid, words):
    root = host_tree(tmp_path)
    result = run_with(run_module, {"manager": "dnf5", "root": str(root)}, FakeHost("dnf5", **answers))
    assert result["findings"][cid]["status"] == "error" and words in result["findings"][cid]["actual"]
    assert [c for c, f in result["findings"].items() if f["status"] == "error"] == [cid]


def test_a_broken_versionlock_toml_is_an_error(run_module, tmp_path):
    root = host_tree(tmp_path, toml="[[packages]\nname = ")
    result = run_with(run_module, {"manager": "dnf5", "root": str(root)}, FakeHost("dnf5"))
    assert result["findings"]["M1-LNX-HELD-PACKAGES"]["status"] == "error"


@pytest.mark.parametrize(("args", "words"), [
    ({"manager": "dnf", "max_run_age_h": -1}, "max_run_age_h"),
    ({"manager": "yum"}, "manager"),
    ({}, "manager"),
    ({"manager": "dnf", "reboot": "always"}, "reboot"),
])
def test_module_bad_arguments(run_module, tmp_path, args, words):
    result = run_with(run_module, args, FakeHost("dnf"))
    assert result["failed"] and words in result["msg"]


# -- RHEL 9 runs /usr/bin/python3 3.9: what runs there must import there ------------------------------
RHEL_SIDE = ("module_utils/socle_updates.py", "module_utils/socle_files.py", "module_utils/socle_reuse.py",
             "library/socle_facts.py", "library/socle_dnf_facts.py",
             "library/socle_dnf_automatic.py")


def newer_than_python_3_9(source: str) -> list[str]:
    """What RHEL 9's Python 3.9 lacks in this source (a SyntaxError if it cannot even parse it)."""
    tree = ast.parse(source, feature_version=(3, 9))
    found = [f"from {n.module} import {a.name}" for n in tree.body if isinstance(n, ast.ImportFrom)
             for a in n.names if (n.module, a.name) == ("datetime", "UTC")]
    found += [f"import {a.name}" for n in tree.body if isinstance(n, ast.Import) for a in n.names
              if a.name == "tomllib"]
    found += [f"line {n.lineno}: .UTC" for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr == "UTC"]
    return found


@pytest.mark.parametrize("path", RHEL_SIDE)
def test_rhel_side_code_parses_as_python_3_9_and_imports_nothing_newer(path):
    assert newer_than_python_3_9((ROOT / path).read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("source", [
    "from datetime import UTC, datetime\n",  # what made socle_dnf_automatic fail on RHEL 9
    "import datetime as dt\nnow = dt.datetime.now(dt.UTC)\n",
    "import tomllib\n",
])
def test_the_python_3_9_check_refuses_what_3_9_lacks(source):
    assert newer_than_python_3_9(source)
