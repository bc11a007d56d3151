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
  - Every other call (C(state=present), or a confirmation that must disarm the timer) runs the module.
"""

from ansible.plugins.action import ActionBase


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
        result.update(self._execute_module(module_name="socle_nftables", module_args=self._task.args,
                                           task_vars=task_vars))
        return result
