"""socle_nftables on the controller: a confirmation with no rollback to disarm needs no round trip."""

from __future__ import annotations

DOCUMENTATION = r"""
action: socle_nftables
short_description: Answer C(state=confirm) on the controller when there is no rollback to disarm
description:
  - With C(state=confirm), the module reports one part (C(mgmt) or C(logging)) of the earlier
    C(state=present) result and, when that call armed the rollback timer, disarms it on the host.
    When no rollback was armed (nothing changed, or check mode), the report is all there is to do, and
    this action builds it on the controller, as the module would, with no round trip.
  - C(state=present) in check mode - when C(socle_facts) made the same check ahead in this play (the same
    arguments; of C(ssh_connection) only the client address and server port, which are all the check
    uses), its result is returned with C(socle_prefetched) and no round trip (see
    C(module_utils/socle_measure.py)).
  - Every other call (C(state=present), or a confirmation that must disarm the timer) runs the module.
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


def local_confirmation(args: dict, check_mode: bool) -> dict | None:
    """The module's confirm result when it needs nothing from the host, else None."""
    if args.get("state") != "confirm":
        return None
    report, part = args.get("report") or {}, args.get("part")
    if not isinstance(report, dict) or part not in ("mgmt", "logging"):
        return None  # the module's argument checks answer
    if report.get("failed") or "socle_parts" not in report:
        return {"failed": True, "changed": False,
                "msg": "not assessed: loading the firewall table failed or did not run "
                       f"({report.get('msg', 'no result')})"}
    if (report.get("rollback") or {}).get("armed") and not check_mode:
        return None
    parts = report["socle_parts"]
    return {"changed": bool(parts.get(part)), "socle_parts": parts,
            "diff": (report.get("part_diffs") or {}).get(part, {"before": "", "after": ""})}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        local = local_confirmation(dict(self._task.args), bool(self._play_context.check_mode))
        if local is not None:
            result.update(local)
            return result
        # state=present: in a scheduled audit, socle_facts may have made this check ahead (socle_measure).
        result.update(_load("socle_reuse").measure(self, "socle_nftables", dict(self._task.args), task_vars))
        return result
