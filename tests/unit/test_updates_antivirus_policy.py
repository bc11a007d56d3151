"""Policy of the updates and antivirus roles: defaults equal the spec, every number is bounded."""

from __future__ import annotations

import pytest
import yaml
from conftest import ROOT, load_project_module

policy = load_project_module("action_plugins", "socle_policy")
ROLES = ["updates", "antivirus"]


def role_data(role: str) -> tuple[dict, dict, dict]:
    base = ROOT / "roles" / role
    options = yaml.safe_load((base / "meta/argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    bounds = yaml.safe_load((base / "meta/socle_bounds.yml").read_text())
    defaults = yaml.safe_load((base / "defaults/main.yml").read_text())
    return options, bounds, defaults


def check(role: str, values: dict) -> list[str]:
    options, bounds, defaults = role_data(role)
    return policy.check_role(role, options, bounds, defaults, values, set(values))


@pytest.mark.parametrize("role", ROLES)
def test_defaults_valid_and_equal_to_the_spec(role):
    options, bounds, defaults = role_data(role)
    assert defaults == {name: opt["default"] for name, opt in options.items()}
    assert check(role, {}) == []
    numeric = {n for n, o in options.items() if o["type"] in ("int", "float")}
    assert numeric == {n for n, b in bounds.items() if "min" in b}
    for name, bound in ((n, b) for n, b in bounds.items() if "min" in b):
        assert bound["min"] <= options[name]["default"] <= bound["max"], name
        assert bound.get("reference"), name
    assert all(name.startswith(role + "_") for name in options)


@pytest.mark.parametrize(("role", "values", "words"), [
    ("updates", {"updates_scope": "everything"}, "updates_scope"),
    ("updates", {"updates_reboot": "always"}, "updates_reboot"),
    ("updates", {"updates_max_run_age_h": 1000}, "above the maximum 720"),
    ("updates", {"updates_max_pending_security": -1}, "below the minimum 0"),
    ("updates", {"updates_allowed_holds": {"openssl": True}}, "updates_allowed_holds"),
    ("updates", {"updates_max_run_age_h": 48, "updates_max_age_h": 48}, "updates_max_run_age_h"),
    ("antivirus", {"antivirus_update_checks_per_day": 0}, "below the minimum 1"),
    ("antivirus", {"antivirus_update_checks_per_day": 51}, "above the maximum 50"),
    ("antivirus", {"antivirus_quarantine": "delete"}, "antivirus_quarantine"),
    ("antivirus", {"antivirus_max_signature_age_h": 500}, "above the maximum 168"),
    ("antivirus", {"antivirus_scan_frequency": "hourly"}, "antivirus_scan_frequency"),
    ("antivirus", {"antivirus_on_access_paths": ["home"]}, "antivirus_on_access_paths[0] = 'home' is malformed"),
    ("antivirus", {"antivirus_on_access_paths": ["/home", "/"]}, "antivirus_on_access_paths[1] = '/' is malformed"),
    ("antivirus", {"antivirus_on_access_paths": ["/srv/my files"]}, "antivirus_on_access_paths[0] = '/srv/my files'"),
    ("antivirus", {"antivirus_on_access_paths": ['/home"; rm']}, "clamonacc refuses to watch"),
    ("antivirus", {"antivirus_onaccess": True},
     "unknown variable antivirus_onaccess; did you mean antivirus_on_access?"),
    # Refused before any host is touched (the role's own check came after the roles before it had run).
    ("antivirus", {"antivirus_scan_paths": []}, "antivirus_scan_paths has 0 item(s), at least 1 needed"),
    ("antivirus", {"antivirus_on_access_paths": []}, "antivirus_on_access_paths has 0 item(s), at least 1 needed"),
])
def test_bad_values_are_refused(role, values, words):
    errors = check(role, values)
    assert errors and any(words in e for e in errors), errors


@pytest.mark.parametrize(("values", "name", "wanted"), [
    ({"antivirus_on_access": "sometimes"}, "antivirus_on_access", "bool"),
    ({"antivirus_on_access_prevention": "maybe"}, "antivirus_on_access_prevention", "bool"),
    ({"antivirus_on_access_paths": {"/home": True}}, "antivirus_on_access_paths", "list"),
])
def test_on_access_wrong_types_name_the_variable_and_the_type(values, name, wanted):
    errors = check("antivirus", values)
    assert len(errors) == 1 and f"'{name}'" in errors[0] and f"unable to convert to {wanted}" in errors[0], errors


def test_on_access_values_as_an_inventory_or_the_command_line_gives_them_are_valid():
    assert check("antivirus", {"antivirus_on_access": "true", "antivirus_on_access_paths": ["/home", "/srv/partage/"],
                               "antivirus_on_access_prevention": "yes"}) == []
