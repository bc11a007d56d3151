"""Report one measured finding, computed earlier on the host, as the result of a control's task."""

from __future__ import annotations

DOCUMENTATION = r"""
action: socle_finding
short_description: Report a finding already measured on the host under a control's task
description:
  - A module such as C(socle_accounts_audit) measures several controls in one round trip and returns
    a finding per control. This action, one task per control, returns one of them as C(socle_finding)
    so the run record shows it under its control ID.
  - Runs on the controller only, with no connection to the host. Never changes anything.
options:
  finding:
    description: Mapping with C(status) (compliant, drift or not_applicable), C(expected) and C(actual).
    type: dict
    required: true
"""

from ansible.plugins.action import ActionBase

STATUSES = ("compliant", "drift", "not_applicable")


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        finding = self._task.args.get("finding")
        result["changed"] = False
        if not isinstance(finding, dict) or finding.get("status") not in STATUSES:
            result["failed"] = True
            result["msg"] = f"finding must be a mapping with a status among {', '.join(STATUSES)}, got {finding!r}"
            return result
        result["socle_finding"] = {k: finding.get(k) for k in ("status", "expected", "actual")}
        result["msg"] = f"{finding['status']}: {finding.get('actual')}"
        return result
