#!/usr/bin/python
"""Enable and start several systemd units of one control in a single round trip."""

from __future__ import annotations

DOCUMENTATION = r"""
module: socle_services
short_description: Enable and start the systemd units of one control in one call
description:
  - Replaces a loop of C(systemd_service) tasks (one round trip per unit) with one call. Each unit is
    measured with C(systemctl is-enabled) and C(systemctl is-active) as C(systemd_service) does; in
    check mode nothing changes and the result says which units a real run would enable or start.
  - A unit systemd does not know is an error naming it (is the package that ships it installed?).
options:
  names:
    description: Unit names, with their suffix (C(apt-daily.timer)).
    type: list
    elements: str
    required: true
  daemon_reload:
    description: Reload systemd's unit files first (after unit files were written), outside check mode.
    type: bool
    default: false
  start:
    description: Start the units as well as enable them. C(false) only enables them, for units that cannot
      run on this host yet (they start at boot or at a later run); a running unit is never stopped.
    type: bool
    default: true
  control:
    description: Control ID, for messages.
    type: str
    default: ''
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
author: Socle
"""

EXAMPLES = r"""
- name: M1-LNX-APT-UNATTENDED | Enable and start the apt timers
  socle_services:
    names: [apt-daily.timer, apt-daily-upgrade.timer]
"""

RETURN = r"""
changed_units:
  description: The units a run enables or starts (check mode), or enabled or started.
  returned: always
  type: list
  elements: str
"""

import re

from ansible.module_utils.basic import AnsibleModule

UNIT_RE = re.compile(r"^[A-Za-z0-9:_.@\\-]+\.(service|timer|socket|path|target|mount)$")


def state_line(unit: str, enabled: bool, active: bool) -> str:
    return f"{unit}: {'enabled' if enabled else 'disabled'}, {'active' if active else 'inactive'}\n"


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "names": {"type": "list", "elements": "str", "required": True},
            "daemon_reload": {"type": "bool", "default": False},
            "start": {"type": "bool", "default": True},
            "control": {"type": "str", "default": ""},
        },
        supports_check_mode=True,
    )
    label = module.params["control"] or "socle_services"
    names = module.params["names"]
    bad = [n for n in names if not UNIT_RE.match(n)]
    if bad or not names:
        module.fail_json(msg=f"{label}: not a systemd unit name: {', '.join(bad) or '(empty list)'}; "
                             "nothing was changed")
    systemctl = module.get_bin_path("systemctl", required=True)
    if module.params["daemon_reload"] and not module.check_mode:
        rc, _out, err = module.run_command([systemctl, "daemon-reload"])
        if rc != 0:
            module.fail_json(msg=f"{label}: systemctl daemon-reload failed: {err.strip()}")
    states = {}
    for unit in names:
        _rc, load, _err = module.run_command([systemctl, "show", "--property=LoadState", "--value", unit])
        if load.strip() != "loaded":
            module.fail_json(msg=f"{label}: systemd has no unit {unit} (LoadState {load.strip() or 'unknown'}): "
                                 "is the package that ships it installed? Nothing was changed")
        enabled = module.run_command([systemctl, "is-enabled", unit])[0] == 0
        active = module.run_command([systemctl, "is-active", unit])[0] == 0
        states[unit] = (enabled, active)
    start = module.params["start"]
    todo = [u for u, (enabled, active) in states.items() if not enabled or (start and not active)]
    diff = {"before_header": "systemd units", "after_header": "systemd units",
            "before": "".join(state_line(u, *states[u]) for u in todo),
            "after": "".join(state_line(u, True, start or states[u][1]) for u in todo)}
    if todo and not module.check_mode:
        for unit in todo:
            enabled, active = states[unit]
            for verb, needed in (("enable", not enabled), ("start", start and not active)):
                if not needed:
                    continue
                rc, _out, err = module.run_command([systemctl, verb, unit])
                if rc != 0:
                    module.fail_json(msg=f"{label}: systemctl {verb} {unit} failed: {err.strip()}", changed_units=todo)
    module.exit_json(changed=bool(todo), changed_units=todo, diff=[diff] if todo else [])


if __name__ == "__main__":
    main()
