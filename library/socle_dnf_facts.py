#!/usr/bin/python
"""Measure the state of software updates on a RHEL-family host (dnf 4 or dnf5), every finding in one call."""

from __future__ import annotations

DOCUMENTATION = r"""
module: socle_dnf_facts
short_description: Measure pending security updates, the last dnf-automatic run, version locks and reboots
description:
  - The RHEL-family counterpart of C(socle_updates_facts), with the same findings, decisions and
    thresholds. Makes every measurement of measure 1 in one round trip and returns them in
    C(findings), keyed by control ID, each with C(status) (compliant, drift, or error when the
    measurement itself failed), C(expected) and C(actual).
  - Never changes the host (C(changed) is always false) and never downloads anything; every command
    runs with C(LC_ALL=C) and is read by its exit code or a machine format, never by its sentences.
  - C(M1-LNX-PENDING-SECURITY) runs C(dnf -q -C check-update --security) (dnf5 C(check-upgrade)) on
    the cache dnf-automatic keeps; exit code 100 means security updates are pending (the package rows
    are the evidence), 0 none, anything else is an error.
  - C(M1-LNX-LAST-RUN) takes the newest of the journal's last "Deactivated successfully" of the
    dnf-automatic service (logged by PID 1) and C(systemctl show)'s last exit when it succeeded.
  - C(M1-LNX-HELD-PACKAGES) reads the version locks dnf applies, as C(dnf versionlock list) prints
    them without loading the repositories; dnf 4 the plugin's lock list (no plugin, no lock), dnf5
    C(/etc/dnf/versionlock.toml).
  - C(M1-LNX-REBOOT-REQUIRED) takes the exit code of needs-restarting (1 is a reboot required) when it
    is installed, and how long it has been pending from the install time (rpm) of the oldest core
    package installed since boot.
  - Not tested live (no RHEL-family host in the lab); the decisions are unit-tested on recorded
    outputs in module_utils/socle_updates.py.
options:
  manager:
    description: dnf (dnf 4, RHEL 8 and 9) or dnf5 (RHEL 10, Fedora 41 and later).
    type: str
    required: true
    choices: [dnf, dnf5]
  service:
    description: The service the dnf-automatic timer starts (default dnf-automatic.service, dnf5-automatic.service).
    type: str
  reboot:
    description:
      - The policy's reboot setting (never, window). With window on dnf 4, the expected text of
        C(M1-LNX-REBOOT-REQUIRED) says that Socle sets no automatic reboot there.
    type: str
    default: never
    choices: [never, window]
  max_pending_security:
    description: Pending security updates tolerated.
    type: int
    default: 0
  max_run_age_h:
    description: Maximum age in hours of the last successful run.
    type: int
    default: 48
  allowed_holds:
    description: Package names that may be held (versionlock).
    type: list
    elements: str
    default: []
  max_reboot_pending_h:
    description: Hours a required reboot may stay pending.
    type: int
    default: 168
  root:
    description: Root of the file system the files (/etc/dnf, /proc) are read from (tests only).
    type: path
    default: /
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
author: Socle
"""

EXAMPLES = r"""
- name: Measure the update state of the host (read-only)
  socle_dnf_facts:
    manager: dnf5
    max_run_age_h: 48
  register: __updates_state

- name: M1-LNX-LAST-RUN | Age of the last successful dnf-automatic run
  socle_finding:
    finding: "{{ __updates_state.findings['M1-LNX-LAST-RUN'] }}"
"""

RETURN = r"""
findings:
  description: Control ID to finding (C(status), C(expected), C(actual)).
  returned: always
  type: dict
pending:
  description: Pending security updates, as C(name version).
  returned: always
  type: list
  elements: str
held:
  description: Held (version-locked) package names.
  returned: always
  type: list
  elements: str
last_run:
  description: Local time of the last successful dnf-automatic run (ISO 8601), or null.
  returned: always
  type: str
reboot_packages:
  description: Core packages installed since boot (the reason a reboot is required).
  returned: always
  type: list
  elements: str
"""

import os
import time
from datetime import datetime

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.socle_updates import (
    DNF4_VERSIONLOCK_CONF,
    DNF5_VERSIONLOCK,
    DNF_AUTOMATIC,
    DNF_MEASURE,
    boot_time,
    core_install_command,
    decide_holds,
    decide_last_run,
    decide_pending,
    decide_reboot,
    dnf4_held,
    dnf4_locklist_path,
    dnf5_held,
    dnf_last_run,
    dnf_reboot,
    dnf_reboot_note,
    dnf_security_pending,
    finding,
    journal_success_command,
    rpm_install_times,
    systemctl_show_command,
)

ENV = {"LC_ALL": "C", "LANG": "C"}


class Host:
    """The host's files under ``root`` and its commands, always in the C locale."""

    def __init__(self, module: AnsibleModule, root: str) -> None:
        self.module, self.root = module, root

    def path(self, absolute: str) -> str:
        return os.path.join(self.root, absolute.lstrip("/"))

    def read(self, absolute: str) -> str | None:
        try:
            with open(self.path(absolute), encoding="utf-8", errors="replace") as handle:
                return handle.read()
        except OSError:
            return None

    def run(self, argv: list[str]) -> tuple[int, str, str]:
        return self.module.run_command(argv, environ_update=ENV)


def measure_pending(host: Host, manager: str, limit: int) -> tuple[dict, list[str]]:
    argv = DNF_MEASURE[manager]["pending"]
    rc, out, err = host.run(argv)
    packages = dnf_security_pending(rc, out)
    if packages is None:
        return finding("error", f"at most {limit} pending security update(s)",
                       f"{' '.join(argv)} failed (exit code {rc}): {(err or out).strip()[:300]}"), []
    return decide_pending(packages, limit), packages


def measure_last_run(host: Host, manager: str, service: str, limit: int) -> tuple[dict, datetime | None]:
    _rc, show, _err = host.run(systemctl_show_command(service))
    rc, journal, _err = host.run(journal_success_command(service))
    last, note = dnf_last_run(show, journal if rc == 0 else "", service)
    # systemd and the journal give the host's local time: compare with the host's local time.
    found = decide_last_run(last, datetime.now(), limit, DNF_MEASURE[manager]["tool"])
    found["actual"] += note
    return found, last


def measure_holds(host: Host, manager: str, allowed: list[str]) -> tuple[dict, list[str]]:
    try:
        if manager == "dnf5":
            held = dnf5_held(host.read(DNF5_VERSIONLOCK))
        else:
            locklist = dnf4_locklist_path(host.read("/etc/dnf/dnf.conf"), host.read(DNF4_VERSIONLOCK_CONF))
            held = dnf4_held(host.read(locklist)) if locklist else []
    except ValueError as error:
        return finding("error", "no held package", str(error)), []
    return decide_holds(held, allowed), held


def measure_reboot(host: Host, manager: str, limit: int, reboot: str) -> tuple[dict, list[str]]:
    spec = DNF_MEASURE[manager]
    plugin = host.run(["rpm", "-q", "--whatprovides", spec["needs_restarting_provide"]])[0] == 0
    rc, err = None, ""
    if plugin:
        rc, _out, err = host.run(spec["needs_restarting"])
    _rc, rows, _err = host.run(core_install_command())
    try:
        proc1 = os.stat(host.path("/proc/1")).st_mtime
    except OSError:
        proc1 = None
    booted = boot_time(host.read("/proc/stat"), proc1)
    present, age, packages, note = dnf_reboot(plugin, rc, err, rpm_install_times(rows), booted, time.time())
    expected_note = dnf_reboot_note(manager, reboot)
    if present is None:
        return finding("error", f"no reboot pending for more than {limit} h{expected_note}", note), []
    found = decide_reboot(present, age, limit, packages)
    found["expected"] += expected_note
    found["actual"] += note
    return found, packages


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "manager": {"type": "str", "required": True, "choices": ["dnf", "dnf5"]},
            "service": {"type": "str"},
            "reboot": {"type": "str", "default": "never", "choices": ["never", "window"]},
            "max_pending_security": {"type": "int", "default": 0},
            "max_run_age_h": {"type": "int", "default": 48},
            "allowed_holds": {"type": "list", "elements": "str", "default": []},
            "max_reboot_pending_h": {"type": "int", "default": 168},
            "root": {"type": "path", "default": "/"},
        },
        supports_check_mode=True,
    )
    p = module.params
    for key in ("max_pending_security", "max_run_age_h", "max_reboot_pending_h"):
        if p[key] < 0:
            module.fail_json(msg=f"{key}: must be 0 or more")
    manager = p["manager"]
    service = p["service"] or DNF_AUTOMATIC[manager]["service"]
    host = Host(module, p["root"])
    pending_finding, pending = measure_pending(host, manager, p["max_pending_security"])
    last_finding, last = measure_last_run(host, manager, service, p["max_run_age_h"])
    holds_finding, held = measure_holds(host, manager, p["allowed_holds"])
    reboot_finding, reboot_packages = measure_reboot(host, manager, p["max_reboot_pending_h"], p["reboot"])
    module.exit_json(
        changed=False,
        findings={
            "M1-LNX-PENDING-SECURITY": pending_finding,
            "M1-LNX-LAST-RUN": last_finding,
            "M1-LNX-HELD-PACKAGES": holds_finding,
            "M1-LNX-REBOOT-REQUIRED": reboot_finding,
        },
        pending=pending,
        held=held,
        last_run=None if last is None else last.isoformat(),
        reboot_packages=reboot_packages,
    )


if __name__ == "__main__":
    main()
