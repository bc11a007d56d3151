"""socle_selected: a call setting several controls only touches the controls the run selects."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from conftest import load_project_module

flt = load_project_module("filter_plugins", "socle_controls")
cb = load_project_module("callback_plugins", "socle_record")

ITEMS = [{"path": "/a", "control": "M5-LNX-PWQUALITY"}, {"path": "/b", "control": "M5-LNX-FAILLOCK"},
         {"path": "/c"}]


@pytest.mark.parametrize(
    ("run_tags", "skip_tags", "kept"),
    [
        (["all"], [], ["/a", "/b", "/c"]),
        ([], [], ["/a", "/b", "/c"]),
        (["M5-LNX-FAILLOCK"], [], ["/b", "/c"]),
        (["M5-LNX-FAILLOCK,M5-LNX-PWQUALITY"], [], ["/a", "/b", "/c"]),
        (["all"], ["M5-LNX-PWQUALITY"], ["/b", "/c"]),
        (["always", "M4-LNX-SSH-IDLE"], [], ["/a", "/b", "/c"]),
    ],
)
def test_selection(run_tags, skip_tags, kept):
    assert [i["path"] for i in flt.socle_selected(ITEMS, run_tags, skip_tags)] == kept


@pytest.mark.parametrize(("run_tags", "skip_tags"), [(["M5-LNX-FAILLOCK"], []), (["all"], ["M5-LNX-PWQUALITY"]),
                                                     (["M4-LNX-SSH-IDLE"], [])])
def test_same_rule_as_the_run_record(monkeypatch, run_tags, skip_tags):
    monkeypatch.setattr(cb.context, "CLIARGS", {"tags": tuple(run_tags), "skip_tags": tuple(skip_tags)})
    recorded = cb.selected_controls(["socle_controls", "M5-LNX-PWQUALITY", "M5-LNX-FAILLOCK"])
    kept = [i["control"] for i in flt.socle_selected(ITEMS, run_tags, skip_tags) if "control" in i]
    assert kept == recorded


def test_not_a_list_of_dicts_is_an_error():
    with pytest.raises(AnsibleFilterError, match="list of dicts"):
        flt.socle_selected(["M5-LNX-FAILLOCK"], ["all"], [])


@pytest.mark.parametrize(("enabled", "kept"), [(True, True), ("True", True), (False, False), ("False", False)])
def test_an_item_can_be_left_out_by_its_own_condition(enabled, kept):
    items = [{"path": "/a", "control": "M2-LNX-FRESHCLAM", "enabled": enabled}, {"path": "/b"}]
    result = flt.socle_selected(items, ["all"], [])
    assert result == ([{"path": "/a", "control": "M2-LNX-FRESHCLAM"}] if kept else []) + [{"path": "/b"}]
