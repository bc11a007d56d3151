"""The firewall role's policy: defaults equal the spec, bounds for every number, bad values refused."""

from __future__ import annotations

import pytest
from conftest import load_project_module
from test_socle_policy import role_data

policy = load_project_module("action_plugins", "socle_policy")
ROLE = "firewall"


def check(values: dict) -> list[str]:
    options, bounds, defaults = role_data(ROLE)
    return policy.check_role(ROLE, options, bounds, defaults, values, set(values))


def test_defaults_file_matches_argument_specs_and_is_valid():
    options, _bounds, defaults = role_data(ROLE)
    assert defaults == {name: opt["default"] for name, opt in options.items()}
    assert check({}) == []


def test_every_numeric_option_has_bounds():
    options, bounds, _defaults = role_data(ROLE)
    numeric = {n for n, o in options.items() if o["type"] in ("int", "float")}
    assert numeric == {n for n, b in bounds.items() if "min" in b}
    for name, bound in ((n, b) for n, b in bounds.items() if "min" in b):
        assert bound["min"] <= options[name]["default"] <= bound["max"], name
        assert bound.get("reference"), name


def test_a_full_policy_is_valid():
    assert check({
        "firewall_admin_networks": ["192.168.10.0/24"],
        "firewall_allowed_services": [{"port": 443, "proto": "tcp", "sources": ["10.0.0.0/8"], "comment": "https"},
                                      {"port": 123, "proto": "udp"}],
        "firewall_log_rate_per_minute": 10,
    }) == []


@pytest.mark.parametrize(
    ("values", "variable", "words"),
    [
        ({"firewall_ssh_port": 0}, "firewall_ssh_port", "below the minimum 1"),
        ({"firewall_ssh_port": 70000}, "firewall_ssh_port", "above the maximum 65535"),
        ({"firewall_log_rate_per_minute": 0}, "firewall_log_rate_per_minute", "below the minimum 1"),
        ({"firewall_rollback_timeout_s": 5}, "firewall_rollback_timeout_s", "below the minimum 20"),
        ({"firewall_admin_networks": {"lan": "10.0.0.0/8"}}, "firewall_admin_networks", "list"),
        ({"firewall_allowed_services": [{"port": 80, "proto": "icmp"}]}, "firewall_allowed_services", "proto"),
        ({"firewall_allowed_services": [{"proto": "tcp"}]}, "firewall_allowed_services", "port"),
        ({"firewall_log_drop": True}, "firewall_log_drop", "firewall_log_drops"),
    ],
)
def test_bad_values_are_refused(values, variable, words):
    errors = check(values)
    assert errors and any(variable in e and words in e for e in errors), errors
