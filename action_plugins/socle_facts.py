"""socle_facts on the controller: ask the module for the state of the inputs of earlier check results."""

from __future__ import annotations

DOCUMENTATION = r"""
action: socle_facts
short_description: Pass socle_facts the paths whose state decides whether earlier check results still hold
description:
  - Socle keeps, per host, the check-mode results of C(socle_file), C(socle_sshd) and
    C(socle_pam_auth_update) with the state of every path each of them read (see
    C(module_utils/socle_reuse.py)). This action gives the module the list of those paths (C(watch)); the
    module returns their state in C(ansible_facts.socle.watched), in the same round trip as the other
    facts, and the actions of those modules answer on the controller only where every input is unchanged.
  - It also passes (C(prefetch)) the read-only measurements this host's previous audit made
    (C(socle_accounts_audit), C(socle_clamav_facts), C(socle_updates_facts)) with their arguments; the module
    makes them in the same round trip (see C(module_utils/socle_measure.py)) and each of those tasks, when
    its arguments are the same, returns that result instead of a round trip of its own. Only in a run of
    every control (no C(--tags), no C(--skip-tags)).
  - C(SOCLE_CHECK_CACHE=off) turns this off (no C(watch) or C(prefetch) is passed); outside check mode
    nothing is passed either, since apply never reuses a result.
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
        args = dict(self._task.args)
        reuse = _load("socle_reuse")
        folder = reuse.cache_dir()
        if folder and self._play_context.check_mode and "watch" not in args:
            cache = reuse.load(reuse.host_file(folder, task_vars or {}))
            args["watch"] = reuse.watched_paths(cache)
            # Made ahead only for a run of every control: a run limited by --tags or --skip-tags may not
            # reach those measurements at all, and would pay for them here.
            run_tags = (task_vars or {}).get("ansible_run_tags", ["all"])
            full = list(run_tags) == ["all"] and not (task_vars or {}).get("ansible_skip_tags")
            args["prefetch"] = reuse.prefetch_requests(cache, self, task_vars or {}) if full else []
        result.update(self._execute_module(module_name="socle_facts", module_args=args, task_vars=task_vars))
        return result
