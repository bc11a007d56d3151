"""socle_packages on the controller: no round trip when the facts already show every package installed."""

from __future__ import annotations

DOCUMENTATION = r"""
action: socle_packages
short_description: Skip the round trip of socle_packages when the packages are known to be installed
description:
  - C(socle_facts) lists the installed Debian packages once, at the start of the play. When every
    package a task names is in that list, this action answers that nothing is to be done, on the controller,
    with no round trip; otherwise (a package missing, or no list) it runs the C(socle_packages)
    module on the host, which measures again and installs (or in check mode predicts) exactly as before.
  - A package installed earlier in the same run is not in the list; the module then runs and finds it.
    Nothing removes packages during a run, so a package in the list is still installed.
"""

from ansible.plugins.action import ActionBase


def known_installed(task_vars: dict) -> set[str] | None:
    """The installed package names from socle_facts, or None when the facts have no such list."""
    facts = (task_vars or {}).get("ansible_facts") or {}
    packages = (facts.get("socle") or {}).get("packages")
    return set(packages) if isinstance(packages, list) else None


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        names = self._task.args.get("name")
        installed = known_installed(task_vars)
        if (installed is not None and isinstance(names, list) and names
                and all(isinstance(n, str) and n in installed for n in names)):
            result.update(changed=False, missing=[], msg="already installed (from the facts of this play)")
            return result
        result.update(self._execute_module(module_name="socle_packages", module_args=self._task.args,
                                           task_vars=task_vars))
        return result
