"""socle_nftables action: a confirmation with nothing to disarm is answered on the controller."""

from __future__ import annotations

import pytest
from conftest import load_project_module

action_mod = load_project_module("action_plugins", "socle_nftables")

REPORT = {"changed": True, "socle_parts": {"baseline": True, "mgmt": False, "logging": True},
          "part_diffs": {"logging": {"before": "", "after": "log prefix \"socle-drop \"\n"}},
          "rollback": {"armed": False}}


def test_confirm_in_check_mode_reports_the_part_locally():
    armed = {**REPORT, "rollback": {"armed": True}}
    for part, changed in (("mgmt", False), ("logging", True)):
        result = action_mod.local_confirmation({"state": "confirm", "part": part, "report": armed}, check_mode=True)
        assert result["changed"] is changed and result["socle_parts"] == REPORT["socle_parts"]
    assert action_mod.local_confirmation({"state": "confirm", "part": "logging", "report": REPORT},
                                         check_mode=False)["diff"] == REPORT["part_diffs"]["logging"]


def test_armed_rollback_outside_check_mode_goes_to_the_host():
    armed = {**REPORT, "rollback": {"armed": True}}
    args = {"state": "confirm", "part": "mgmt", "report": armed}
    assert action_mod.local_confirmation(args, check_mode=False) is None


@pytest.mark.parametrize("args", [{"state": "present"}, {"state": "confirm", "part": "other", "report": REPORT},
                                  {"state": "confirm", "part": "mgmt", "report": "text"}])
def test_everything_else_goes_to_the_module(args):
    assert action_mod.local_confirmation(args, check_mode=True) is None


def test_a_failed_load_is_not_assessed():
    result = action_mod.local_confirmation({"state": "confirm", "part": "mgmt",
                                            "report": {"failed": True, "msg": "nft -c refused"}}, check_mode=True)
    assert result["failed"] is True and "not assessed" in result["msg"] and "nft -c refused" in result["msg"]
