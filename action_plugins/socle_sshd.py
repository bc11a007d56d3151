"""socle_sshd on the controller: reuse the host's earlier check result while its inputs are unchanged."""

from __future__ import annotations

DOCUMENTATION = r"""
action: socle_sshd
short_description: Answer socle_sshd in check mode from an earlier result when nothing it read has changed
description:
  - In check mode, when this host's earlier check of the same arguments, by the same module code and
    Ansible, read files that C(socle_facts) finds exactly as they were (see C(module_utils/socle_reuse.py)),
    the earlier result is returned with C(socle_reused) and no round trip; otherwise the module runs on
    the host as before. Apply runs always run the module. C(SOCLE_CHECK_CACHE=off) turns reuse off.
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


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        result.update(_load("socle_reuse").run(self, "socle_sshd", dict(self._task.args), task_vars))
        return result
