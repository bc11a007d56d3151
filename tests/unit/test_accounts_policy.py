"""The accounts role's policy: defaults equal the argument spec, every number is bounded, bad values stop the run."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from conftest import load_project_module
from test_socle_policy import role_data

policy = load_project_module("action_plugins", "socle_policy")
finding = load_project_module("action_plugins", "socle_finding")


def check(values: dict) -> list[str]:
    options, bounds, defaults = role_data("accounts")
    return policy.check_role("accounts", options, bounds, defaults, values, set(values))


def test_defaults_are_valid_and_match_the_spec():
    options, _bounds, defaults = role_data("accounts")
    assert check({}) == []
    assert defaults == {name: opt.get("default") for name, opt in options.items()}


def test_every_numeric_option_has_bounds_with_a_reference():
    options, bounds, _defaults = role_data("accounts")
    numeric = {n for n, o in options.items() if o["type"] in ("int", "float")}
    assert numeric == {n for n, b in bounds.items() if "min" in b}
    assert all({"min", "max", "reference"} <= set(b) for b in bounds.values() if "pattern" not in b)


@pytest.mark.parametrize(
    ("values", "variable", "words"),
    [
        ({"accounts_password_min_length": 4}, "accounts_password_min_length", "below the minimum 8"),
        ({"accounts_password_min_classes": 5}, "accounts_password_min_classes", "above the maximum 4"),
        ({"accounts_faillock_deny": -1}, "accounts_faillock_deny", "below the minimum 1"),
        ({"accounts_faillock_deny": 0}, "accounts_faillock_deny", "below the minimum 1"),
        ({"accounts_faillock_unlock_time_s": 0}, "accounts_faillock_unlock_time_s", "below the minimum 60"),
        ({"accounts_pwhistory_remember": 2}, "accounts_pwhistory_remember", "below the minimum 3"),
        ({"accounts_pass_max_days": 7}, "accounts_pass_max_days", "below the minimum 30"),
        ({"accounts_unused_days": "trois mois"}, "accounts_unused_days", "int"),
        ({"accounts_password_dictcheck": "peut-être"}, "accounts_password_dictcheck", "bool"),
        ({"accounts_pasword_min_length": 12}, "accounts_pasword_min_length",
         "did you mean accounts_password_min_length"),
    ],
)
def test_bad_values_name_the_variable(values, variable, words):
    errors = check(values)
    assert errors and any(variable in e and words in e for e in errors), errors


def run_finding(args: dict, monkeypatch) -> dict:
    monkeypatch.setattr(finding.ActionBase, "run", lambda self, tmp=None, task_vars=None: {})
    action = finding.ActionModule.__new__(finding.ActionModule)
    action._task = SimpleNamespace(args=args)
    return action.run(task_vars={})


def test_finding_action_returns_the_finding(monkeypatch):
    result = run_finding({"finding": {"status": "drift", "expected": "e", "actual": "a", "extra": 1}}, monkeypatch)
    assert result == {"changed": False, "socle_finding": {"status": "drift", "expected": "e", "actual": "a"},
                      "msg": "drift: a"}


@pytest.mark.parametrize("value", [None, "drift", {"status": "waived"}, {"expected": "x"}])
def test_finding_action_refuses_bad_input(monkeypatch, value):
    result = run_finding({"finding": value}, monkeypatch)
    assert result["failed"] is True and "status among" in result["msg"]
