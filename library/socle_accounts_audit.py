#!/usr/bin/python
"""Measure the account hygiene of a Linux host in one call: one finding per measure-5 control."""

from __future__ import annotations

DOCUMENTATION = r"""
module: socle_accounts_audit
short_description: Measure account hygiene (empty passwords, extra UID 0, generic, unused, system shells, sudo)
description:
  - Reads C(getent passwd), C(getent shadow), C(/etc/login.defs), the sudoers files (with their
    includes) and the login records the host keeps (C(/var/log/lastlog), C(/var/log/wtmp), the
    wtmpdb and lastlog2 databases), and returns one finding per control in C(socle_findings),
    which the run record gives each control (the task carries the tag C(socle_controls)).
  - Read-only, never changes anything, so check mode and apply give the same result.
  - Password hashes are never returned, only whether a password is empty, locked or set.
options:
  generic_names:
    description: Account names that denote a shared account (a trailing number is also matched).
    type: list
    elements: str
    default: []
  broad_groups:
    description: Groups that stand for everyone; a NOPASSWD ALL sudo rule for them is reported.
    type: list
    elements: str
    default: [users]
  unused_days:
    description: An open interactive account without a login for this many days is reported.
    type: int
    default: 90
  departed:
    description: Names of departed staff; the result says which of them exist on the host.
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
author: Socle
"""

EXAMPLES = r"""
- name: Measure account hygiene
  socle_accounts_audit:
    generic_names: [accueil, stagiaire]
    unused_days: 90
  register: accounts_audit
"""

RETURN = r"""
socle_findings:
  description: Control ID -> socle_finding (status, expected, actual).
  returned: always
  type: dict
operator:
  description: The account that runs this module before privilege escalation (C(SUDO_USER), else the current user).
  returned: always
  type: str
human_accounts:
  description: Interactive accounts (UID at least UID_MIN and a login shell).
  returned: always
  type: list
  elements: str
departed_present:
  description: Departed accounts that still exist on the host.
  returned: always
  type: list
  elements: str
login_sources:
  description: Login records read for the unused-account control.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.socle_accounts_host import ARGUMENT_SPEC, measure
from ansible.module_utils.socle_measure import MeasureError


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    try:
        module.exit_json(**measure(module, module.params))
    except MeasureError as exc:
        module.fail_json(msg=str(exc))


if __name__ == "__main__":
    main()
