"""socle_file on the controller: entries with C(src) carry the controller file's bytes to the module."""

from __future__ import annotations

DOCUMENTATION = r"""
action: socle_file
short_description: Read the C(src) files of socle_file entries on the controller, then run the module
description:
  - An entry of C(socle_file) may name C(src), a file on the controller (an absolute path, or a path
    found in the role's C(files) folder). This action reads it and passes its bytes to the module as
    C(content_base64), so several files, binary ones included, are set in one round trip.
  - Every other option goes to the module unchanged.
  - In check mode, when this host's earlier check of the same arguments, by the same module code and
    Ansible, read files that C(socle_facts) finds exactly as they were (see C(module_utils/socle_reuse.py)),
    the earlier result is returned with C(socle_reused) and no round trip. Apply runs always run the module.
"""

import base64
import importlib.util
import os
import sys
from pathlib import Path

from ansible.errors import AnsibleError
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
        entries = args.get("entries")
        if isinstance(entries, list):
            converted = []
            for entry in entries:
                if isinstance(entry, dict) and entry.get("src") is not None:
                    entry = dict(entry)
                    src = str(entry.pop("src"))
                    if entry.get("content") is not None or entry.get("content_base64") is not None:
                        return {**result, "failed": True, "changed": False,
                                "msg": f"{entry.get('path')}: give src or content, not both; nothing was changed"}
                    try:
                        path = src if os.path.isabs(src) else self._find_needle("files", src)
                        with open(path, "rb") as handle:
                            entry["content_base64"] = base64.b64encode(handle.read()).decode("ascii")
                    except (OSError, AnsibleError) as exc:
                        return {**result, "failed": True, "changed": False,
                                "msg": f"{entry.get('path')}: cannot read {src} on the controller: {exc}; "
                                       "nothing was changed"}
                converted.append(entry)
            args["entries"] = converted
        result.update(_load("socle_reuse").run(self, "socle_file", args, task_vars))
        return result
