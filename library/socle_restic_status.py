#!/usr/bin/python
"""Measure a host's backups: newest snapshot age, last repository check, last restore test."""

from __future__ import annotations

DOCUMENTATION = r"""
module: socle_restic_status
short_description: Report backup measurements as Socle findings (never changes anything)
description:
  - C(kind=snapshot_age) reads the host's newest snapshot with C(restic snapshots --json --latest 1 --host)
    (without locking the repository and without a cache) and compares its age with C(max_age_h).
  - C(kind=check) reads the status line the C(restic-check) unit writes after each run and requires a
    success within C(max_age_d) days.
  - C(kind=restore_test) reads the record C(playbooks/restore-test.yml) writes and requires a success
    within C(max_age_d) days.
  - Always returns C(changed=false) and C(socle_finding). restic reads the password from
    C(password_file) on the host; the password never passes through Ansible and is never returned.
options:
  kind:
    description: What to measure.
    type: str
    required: true
    choices: [snapshot_age, check, restore_test]
  repository:
    description: The repository (C(kind=snapshot_age)).
    type: str
  password_file:
    description: The file holding the repository password (C(kind=snapshot_age)).
    type: path
  options:
    description: restic extended options, each passed as C(-o OPTION).
    type: list
    elements: str
    default: []
  hostname:
    description: The snapshot host name to look for (C(kind=snapshot_age)).
    type: str
  label:
    description: How the finding names the repository (for example C(local repository)).
    type: str
    default: repository
  max_age_h:
    description: Maximum age in hours of the newest snapshot.
    type: int
    default: 26
  status_file:
    description: The status line written by the check unit (C(kind=check)).
    type: path
    default: /var/lib/restic/check.status
  record_file:
    description: The record written by the restore test (C(kind=restore_test)).
    type: path
    default: /var/lib/restic/restore-test.json
  max_age_d:
    description: Maximum age in days of the last successful check or restore test.
    type: int
    default: 31
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
author: Socle
"""

EXAMPLES = r"""
- name: M3-LNX-LOCAL-AGE | Age of the newest local snapshot
  socle_restic_status:
    kind: snapshot_age
    repository: /var/backups/restic
    password_file: /etc/restic/local.pass
    hostname: "{{ inventory_hostname }}"
    max_age_h: 26
"""

RETURN = r"""
socle_finding:
  description: status (compliant, drift), expected, actual.
  returned: always
  type: dict
"""

import os
from datetime import UTC, datetime

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.socle_files import read_text
from ansible.module_utils.socle_restic import (
    RESTIC,
    check_finding,
    classify_open_error,
    latest_snapshot,
    parse_check_status,
    parse_restore_record,
    parse_snapshots,
    restic_argv,
    restore_finding,
    snapshot_age_finding,
)


def _secret(path: str | None) -> str:
    try:
        return (read_text(path) or "").strip() if path else ""
    except OSError:
        return ""


def snapshot_age(module, now: datetime) -> dict:
    p = module.params
    label, expected = p["label"], f"{p['label']}: newest snapshot at most {p['max_age_h']} h old"
    for path, why in ((RESTIC, "restic is not installed"), (p["password_file"], "no password file")):
        if not os.path.exists(path):
            return {"status": "drift", "expected": expected, "actual": f"{label}: {why} ({path})"}
    env = {"RESTIC_PASSWORD_FILE": p["password_file"], "LC_ALL": "C"}
    argv = restic_argv(p["repository"], p["options"], "--no-lock", "--no-cache", "snapshots", "--json",
                       "--latest", "1", "--host", p["hostname"])
    rc, out, err = module.run_command(argv, environ_update=env)
    if rc != 0:
        reason = classify_open_error(err)
        last = (err.strip().splitlines() or [reason])[-1]
        # restic never echoes the password; the scrub is a second safety net.
        secret = _secret(p["password_file"])
        if secret:
            last = last.replace(secret, "********")
        return {"status": "drift", "expected": expected, "actual": f"{label}: cannot list snapshots ({reason}): {last}"}
    return snapshot_age_finding(latest_snapshot(parse_snapshots(out), p["hostname"]), now, p["max_age_h"], label)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "kind": {"type": "str", "required": True, "choices": ["snapshot_age", "check", "restore_test"]},
            "repository": {"type": "str"},
            "password_file": {"type": "path", "no_log": False},
            "options": {"type": "list", "elements": "str", "default": []},
            "hostname": {"type": "str"},
            "label": {"type": "str", "default": "repository"},
            "max_age_h": {"type": "int", "default": 26},
            "status_file": {"type": "path", "default": "/var/lib/restic/check.status"},
            "record_file": {"type": "path", "default": "/var/lib/restic/restore-test.json"},
            "max_age_d": {"type": "int", "default": 31},
        },
        required_if=[("kind", "snapshot_age", ("repository", "password_file", "hostname"))],
        supports_check_mode=True,
    )
    p = module.params
    if p["max_age_h"] < 1 or p["max_age_d"] < 1:
        module.fail_json(msg="max_age_h and max_age_d must be at least 1")
    now = datetime.now(UTC)
    try:
        if p["kind"] == "snapshot_age":
            finding = snapshot_age(module, now)
        elif p["kind"] == "check":
            finding = check_finding(parse_check_status(read_text(p["status_file"])), now, p["max_age_d"])
        else:
            finding = restore_finding(parse_restore_record(read_text(p["record_file"])), now, p["max_age_d"])
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, socle_finding=finding)


if __name__ == "__main__":
    main()
