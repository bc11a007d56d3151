#!/usr/bin/python
"""Measure the age of the ClamAV signatures from the databases' own headers."""

from __future__ import annotations

DOCUMENTATION = r"""
module: socle_clamav_facts
short_description: Measure the age of the ClamAV signature databases
description:
  - Reads the 512-byte header of C(daily), C(main) and C(bytecode) (C(.cld) or C(.cvd)) in the
    database folder and compares the newest build time with the policy's maximum age.
  - Does not run sigtool or freshclam and never changes the host; returns C(socle_finding).
  - No database at all is drift (actual C(no signature database)), since a scanner without signatures
    detects nothing.
options:
  database_dir:
    description: Folder of the signature databases.
    type: path
    default: /var/lib/clamav
  max_age_h:
    description: Maximum age in hours of the newest database build.
    type: int
    default: 48
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
author: Socle
"""

EXAMPLES = r"""
- name: M2-LNX-CLAMAV-SIG-AGE | Age of the ClamAV signatures
  socle_clamav_facts:
    max_age_h: 48
"""

RETURN = r"""
socle_finding:
  description: C(status) compliant or drift, C(expected), C(actual).
  returned: always
  type: dict
databases:
  description: Per database file, its version, signature count and build time (ISO 8601, UTC), or an error.
  returned: always
  type: dict
"""

from datetime import UTC, datetime

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.socle_clamav import read_databases, signature_age_finding


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "database_dir": {"type": "path", "default": "/var/lib/clamav"},
            "max_age_h": {"type": "int", "default": 48},
        },
        supports_check_mode=True,
    )
    if module.params["max_age_h"] < 1:
        module.fail_json(msg="max_age_h: must be 1 hour or more")
    databases = read_databases(module.params["database_dir"])
    result = signature_age_finding(databases, datetime.now(UTC), module.params["max_age_h"])
    shown = {name: ({**d, "built": d["built"].isoformat()} if "built" in d else d) for name, d in databases.items()}
    module.exit_json(changed=False, socle_finding=result, databases=shown)


if __name__ == "__main__":
    main()
