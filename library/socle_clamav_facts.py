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

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.socle_clamav import ARGUMENT_SPEC, measure
from ansible.module_utils.socle_measure import MeasureError


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    try:
        module.exit_json(**measure(module, module.params))
    except MeasureError as exc:
        module.fail_json(msg=str(exc))


if __name__ == "__main__":
    main()
