"""Filters for tasks that set several controls in one module call (tag socle_controls)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean

DOCUMENTATION = r"""
name: socle_selected
short_description: Keep the items whose control this run selects (--tags, --skip-tags)
description:
  - A task that sets several controls in one call (tag C(socle_controls)) runs when any of its control
    IDs is selected. This filter keeps only the items (files, profiles, ...) of the selected controls, so
    C(--tags M5-LNX-FAILLOCK) changes nothing of another control. Items without a control are kept.
  - An item with C(enabled) false is left out (a condition of one item, as C(when) is of a task); the
    C(enabled) key is removed from the items kept.
  - The rule is the run record's: with C(--tags) naming controls, only those; never a control named by
    C(--skip-tags).
positional: _input, run_tags, skip_tags
options:
  _input:
    description: Items, each a dict with a C(control) key.
    type: list
    elements: dict
    required: true
  run_tags:
    description: C(ansible_run_tags).
    type: list
    elements: str
  skip_tags:
    description: C(ansible_skip_tags).
    type: list
    elements: str
"""


def _split(values) -> set[str]:
    return {t.strip() for v in (values or ()) for t in str(v).split(",") if t.strip()}


def socle_selected(items, run_tags=None, skip_tags=None, key: str = "control"):
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise AnsibleFilterError("socle_selected: expects a list of dicts, each with a control ID")
    wanted, skipped = _split(run_tags), _split(skip_tags)
    everything = not wanted or bool(wanted & {"all", "always", "untagged"})
    kept = []
    for item in items:
        control = item.get(key)
        if control and (control in skipped or not (everything or control in wanted)):
            continue
        if "enabled" in item:
            if not boolean(item["enabled"], strict=False):
                continue
            item = {k: v for k, v in item.items() if k != "enabled"}
        kept.append(item)
    return kept


class FilterModule:
    def filters(self):
        return {"socle_selected": socle_selected}
