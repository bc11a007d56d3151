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
"""

import base64
import os

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase


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
        result.update(self._execute_module(module_name="socle_file", module_args=args, task_vars=task_vars))
        return result
