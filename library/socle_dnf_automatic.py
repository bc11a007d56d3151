#!/usr/bin/python
"""Set the dnf-automatic (dnf 4) or dnf5-automatic policy in /etc/dnf/automatic.conf."""

from __future__ import annotations

DOCUMENTATION = r"""
module: socle_dnf_automatic
short_description: Set the automatic-update policy of dnf-automatic or dnf5-automatic
description:
  - Sets C(upgrade_type), C(download_updates), C(apply_updates) (and C(reboot) for dnf5) in the
    C([commands]) section of C(/etc/dnf/automatic.conf), keeping comments and other keys.
  - For dnf5 the file overrides the packaged defaults in C(/usr/share/dnf5/dnf5-plugins/automatic.conf)
    and is created when missing; for dnf 4 the packaged file is edited in place.
  - Check mode and diff are exact; the write is atomic. Not tested live (no RHEL-family host in the
    lab); the decisions are unit-tested in module_utils/socle_updates.py.
options:
  flavour:
    description: dnf (dnf-automatic) or dnf5 (dnf5-plugin-automatic).
    type: str
    required: true
    choices: [dnf, dnf5]
  scope:
    description: security (upgrade_type = security) or all (upgrade_type = default).
    type: str
    default: security
    choices: [security, all]
  reboot:
    description: never, or window (dnf5 reboot = when-needed).
    type: str
    default: never
    choices: [never, window]
  path:
    description: The configuration file.
    type: path
    default: /etc/dnf/automatic.conf
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
author: Socle
"""

EXAMPLES = r"""
- name: M1-LNX-DNF-AUTOMATIC | Apply security updates automatically
  socle_dnf_automatic:
    flavour: dnf5
    scope: security
"""

RETURN = r"""
drift:
  description: The settings that differed, each as C(section.key) C(before -> after).
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.socle_files import atomic_write, file_diff, read_text
from ansible.module_utils.socle_updates import dnf_automatic_settings, dnf_drift, merge_ini


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "flavour": {"type": "str", "required": True, "choices": ["dnf", "dnf5"]},
            "scope": {"type": "str", "default": "security", "choices": ["security", "all"]},
            "reboot": {"type": "str", "default": "never", "choices": ["never", "window"]},
            "path": {"type": "path", "default": "/etc/dnf/automatic.conf"},
        },
        supports_check_mode=True,
    )
    p = module.params
    before = read_text(p["path"])
    if before is None and p["flavour"] == "dnf":
        module.fail_json(msg=f"{p['path']} is missing: install dnf-automatic first")
    settings = dnf_automatic_settings(p["flavour"], p["scope"], p["reboot"])
    drift = dnf_drift(before or "", settings)
    after = merge_ini(before or "# Managed by Socle (control M1-LNX-DNF-AUTOMATIC).\n", settings) if drift else before
    changed = before != after
    if changed and not module.check_mode:
        atomic_write(module, p["path"], after, mode=0o644)
    module.exit_json(changed=changed, drift=drift, diff=file_diff(p["path"], before, after))


if __name__ == "__main__":
    main()
