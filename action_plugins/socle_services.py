"""socle_services on the controller: no round trip when the facts show every unit enabled and active."""

from __future__ import annotations

DOCUMENTATION = r"""
action: socle_services
short_description: Skip the round trip of socle_services when the units are known to be enabled and active
description:
  - C(socle_facts) lists, once at the start of the play, the service and timer units whose unit-file
    state is exactly C(enabled) and which are C(active). When every unit a task names is in that list (and
    no C(daemon_reload) is asked outside check mode), this action answers that nothing is to be done, on
    the controller, with no round trip; otherwise it runs the C(socle_services) module on the host, which
    measures each unit again and enables or starts it (or in check mode predicts it) exactly as before.
  - Any other state (static, enabled-runtime, inactive, a unit enabled earlier in the same run) makes the
    module run. Socle never disables or stops these units during a run, so a unit in the list is still
    enabled and active.
"""

from ansible.plugins.action import ActionBase


def known_running(task_vars: dict) -> set[str] | None:
    """Units enabled and active according to socle_facts, or None when the facts have no such list."""
    facts = (task_vars or {}).get("ansible_facts") or {}
    units = (facts.get("socle") or {}).get("units")
    return set(units) if isinstance(units, list) else None


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = self._task.args
        names = args.get("names")
        running = known_running(task_vars)
        reload_now = bool(args.get("daemon_reload")) and not self._play_context.check_mode
        if (running is not None and not reload_now and isinstance(names, list) and names
                and all(isinstance(n, str) and n in running for n in names)):
            result.update(changed=False, changed_units=[], diff=[],
                          msg="already enabled and active (from the facts of this play)")
            return result
        result.update(self._execute_module(module_name="socle_services", module_args=args, task_vars=task_vars))
        return result
