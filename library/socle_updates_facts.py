#!/usr/bin/python
"""Measure the state of software updates on a Debian-family host, every finding in one call."""

from __future__ import annotations

DOCUMENTATION = r"""
module: socle_updates_facts
short_description: Measure pending security updates, the last unattended-upgrades run, holds and reboots
description:
  - Makes every measurement of measure 1 in one round trip and returns them in C(socle_findings), keyed by
    control ID, each with C(status) (compliant, drift, or error when the measurement itself failed),
    C(expected) and C(actual). The run record reports each under its own control (the task carries
    the tag C(socle_controls) and the four IDs).
  - Never changes the host; C(changed) is always false, in check mode and apply alike.
  - C(M1-LNX-PENDING-SECURITY) simulates C(apt-get -s upgrade) (no lock, no download) and counts the
    packages whose candidate comes from a security archive. The simulation's inputs (dpkg's status, the
    package lists, everything under C(/etc/apt)) are summed up in a key made of each file's path, size,
    modification time and inode; given the key and result of an earlier simulation (C(simulation), kept
    on the controller by the C(socle_updates_facts) action) and the key unchanged, the result is reused
    instead of simulating again (about 1.5 s). Any change to those files gives another key.
  - C(M1-LNX-LAST-RUN) reads the log of unattended-upgrades (and its previous rotation) for the last
    run that ended without error.
  - C(M1-LNX-HELD-PACKAGES) lists C(apt-mark showhold).
  - C(M1-LNX-REBOOT-REQUIRED) reads C(/run/reboot-required) and its age.
options:
  max_pending_security:
    description: Pending security updates tolerated.
    type: int
    default: 0
  max_run_age_h:
    description: Maximum age in hours of the last successful run.
    type: int
    default: 48
  allowed_holds:
    description: Package names that may be held.
    type: list
    elements: str
    default: []
  max_reboot_pending_h:
    description: Hours a required reboot may stay pending.
    type: int
    default: 168
  log_dir:
    description: Folder of the unattended-upgrades logs.
    type: path
    default: /var/log/unattended-upgrades
  reboot_flag:
    description: File that says a reboot is required.
    type: path
    default: /run/reboot-required
  simulation:
    description: C(key) and C(pending) of an earlier simulation on this host (returned as C(simulation)).
    type: dict
  apt_config:
    description:
      - Configuration keys and the values that C(apt-config dump) must give once every file is read
        (a list for list keys). The keys whose effective value differs are returned in
        C(apt_config_overrides), for example when a file read after Socle's adds origins.
    type: dict
    default: {}
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
author: Socle
"""

EXAMPLES = r"""
# The run record gives each control its finding (tag socle_controls, then the control IDs).
- name: Measure the update state of the host (read-only)
  socle_updates_facts:
    max_run_age_h: 48
  tags: [socle_controls, M1-LNX-PENDING-SECURITY, M1-LNX-LAST-RUN, M1-LNX-HELD-PACKAGES, M1-LNX-REBOOT-REQUIRED]
"""

RETURN = r"""
socle_findings:
  description: Control ID to finding (C(status), C(expected), C(actual)).
  returned: always
  type: dict
pending:
  description: Pending security updates, as C(name version).
  returned: always
  type: list
  elements: str
held:
  description: Held packages.
  returned: always
  type: list
  elements: str
last_run:
  description: Local time of the last successful unattended-upgrades run (ISO 8601), or null.
  returned: always
  type: str
apt_config_overrides:
  description: Key to C(expected) and C(effective) for each C(apt_config) key apt reads differently.
  returned: always
  type: dict
simulation:
  description: C(key) of the simulation's inputs, C(pending) as found, C(reused) when the given one was
    reused; absent when the simulation failed.
  returned: success
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.socle_measure import MeasureError
from ansible.module_utils.socle_updates_host import ARGUMENT_SPEC, measure


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    try:
        module.exit_json(**measure(module, module.params))
    except MeasureError as exc:
        module.fail_json(msg=str(exc))


if __name__ == "__main__":
    main()
