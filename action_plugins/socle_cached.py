"""The controller side of the modules whose check-mode result Socle may answer without a round trip."""

from __future__ import annotations

DOCUMENTATION = r"""
action: socle_cached
short_description: Answer a module's check from an earlier or ahead-of-time result when that is exact
description:
  - The action of C(socle_sshd), C(socle_pam_auth_update), C(socle_accounts_audit), C(socle_clamav_facts) and
    C(socle_updates_facts) (each of those files is a link to this one; the module is the task's action).
  - C(socle_sshd), C(socle_pam_auth_update) - in check mode, when this host's earlier check of the same
    arguments, by the same module code and Ansible, read files that C(socle_facts) finds exactly as they
    were (see C(module_utils/socle_reuse.py)), the earlier result is returned with C(socle_reused) and no
    round trip; otherwise the module runs on the host as before.
  - C(socle_accounts_audit), C(socle_clamav_facts), C(socle_updates_facts) only read the host. In check mode,
    when C(socle_facts) made the same measurement (same arguments, same user) ahead in this play, its result
    is returned with C(socle_prefetched) and no round trip (see C(module_utils/socle_measure.py)); the call
    is remembered for the next audit's C(socle_facts). C(socle_updates_facts) also gets the host's
    previous package simulation and keeps the new one (C(SOCLE_APT_CACHE)).
  - Apply runs always run the module. C(SOCLE_CHECK_CACHE=off) turns reuse and measurements ahead off.
"""

import importlib.util
import sys
from pathlib import Path

from ansible.plugins.action import ActionBase


def _load(stem: str):
    """module_utils/<stem>.py, by path: controller plugins cannot import project module_utils."""
    name = f"socle_module_utils_{stem.removeprefix('socle_')}"
    if name in sys.modules:
        return sys.modules[name]
    path = Path(__file__).resolve().parent.parent / "module_utils" / f"{stem}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def preload() -> str:
    """Called by socle_preload in Ansible's main process: every forked worker then has socle_reuse loaded."""
    _load("socle_reuse")
    return "module_utils/socle_reuse"


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        reuse = _load("socle_reuse")
        name = self._task.action.rsplit(".", 1)[-1]
        args = dict(self._task.args)
        if name in reuse.PREFETCHABLE:
            result.update(reuse.measure(self, name, args, task_vars))
            if name == "socle_updates_facts":
                reuse.keep_new_simulation(result, task_vars or {})
        else:
            result.update(reuse.run(self, name, args, task_vars))
        return result
