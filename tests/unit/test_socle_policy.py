"""socle_policy: every bad policy value is refused with a message naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import ROOT, load_project_module

policy = load_project_module("action_plugins", "socle_policy")


def role_data(role: str) -> tuple[dict, dict, dict]:
    base = ROOT / "roles" / role
    options = yaml.safe_load((base / "meta/argument_specs.yml").read_text())["argument_specs"]["main"][
        "options"
    ]
    bounds = yaml.safe_load((base / "meta/socle_bounds.yml").read_text())
    defaults = yaml.safe_load((base / "defaults/main.yml").read_text())
    return options, bounds, defaults


def check(values: dict, role: str = "session_lock") -> list[str]:
    options, bounds, defaults = role_data(role)
    return policy.check_role(role, options, bounds, defaults, values, set(values))


def test_defaults_are_valid():
    assert check({}) == []


def test_defaults_file_matches_argument_specs():
    options, _bounds, defaults = role_data("session_lock")
    assert defaults == {name: opt["default"] for name, opt in options.items()}


def test_every_numeric_option_has_bounds():
    options, bounds, _defaults = role_data("session_lock")
    numeric = {n for n, o in options.items() if o["type"] in ("int", "float")}
    assert numeric == {n for n, b in bounds.items() if "min" in b}
    for name, bound in ((n, b) for n, b in bounds.items() if "min" in b):
        assert bound["min"] <= options[name]["default"] <= bound["max"], name
        assert bound.get("reference"), name


@pytest.mark.parametrize(
    ("values", "variable", "words"),
    [
        ({"session_lock_idle_timeout_s": -5}, "session_lock_idle_timeout_s", "below the minimum 60"),
        ({"session_lock_idle_timeout_s": 3600}, "session_lock_idle_timeout_s", "above the maximum 1800"),
        ({"session_lock_idle_timeout_s": "quinze minutes"}, "session_lock_idle_timeout_s", "int"),
        ({"session_lock_idle_timeout_s": [900]}, "session_lock_idle_timeout_s", "int"),
        ({"session_lock_gnome_lock_delay_s": 61}, "session_lock_gnome_lock_delay_s", "above the maximum 60"),
        ({"session_lock_gnome_lock_delay_s": -1}, "session_lock_gnome_lock_delay_s", "below the minimum 0"),
        ({"session_lock_gnome_enabled": "peut-être"}, "session_lock_gnome_enabled", "bool"),
        (
            {"session_lock_ssh_client_alive_count_max": 0},
            "session_lock_ssh_client_alive_count_max",
            "minimum 1",
        ),
        (
            {"session_lock_ssh_client_alive_interval_s": 1801},
            "session_lock_ssh_client_alive_interval_s",
            "maximum",
        ),
        (
            {"session_lock_idle_timout_s": 900},
            "session_lock_idle_timout_s",
            "did you mean session_lock_idle_timeout_s",
        ),
        (
            {"session_lock_shel_enabled": True},
            "session_lock_shel_enabled",
            "did you mean session_lock_shell_enabled",
        ),
    ],
)
def test_bad_values_name_the_variable(values, variable, words):
    errors = check(values)
    assert errors, values
    assert any(variable in e and words in e for e in errors), errors


def test_string_numbers_from_the_command_line_are_accepted():
    assert check({"session_lock_idle_timeout_s": "600"}) == []


def test_find_role_reports_missing_spec(tmp_path: Path):
    with pytest.raises(policy.AnsibleError, match="no meta/argument_specs.yml"):
        policy.find_role("no_such_role", str(tmp_path))


def test_all_roles_finds_every_role_with_a_spec(tmp_path: Path):
    (tmp_path / "roles/a/meta").mkdir(parents=True)
    (tmp_path / "roles/a/meta/argument_specs.yml").write_text("argument_specs: {}\n")
    (tmp_path / "roles/b/tasks").mkdir(parents=True)
    (tmp_path / "playbooks").mkdir()
    assert "a" in policy.all_roles(str(tmp_path / "playbooks"))
    assert "b" not in policy.all_roles(str(tmp_path / "playbooks"))
    assert "session_lock" in policy.all_roles(str(ROOT / "playbooks"))


# -- formats of the string variables (pattern entries of meta/socle_bounds.yml) ---------------------
def all_pattern_entries():
    for bounds_file in sorted((ROOT / "roles").glob("*/meta/socle_bounds.yml")):
        role = bounds_file.parent.parent.name
        for name, bound in (yaml.safe_load(bounds_file.read_text()) or {}).items():
            if "pattern" in bound or "fields" in bound:
                yield pytest.param(role, name, bound, id=name)


@pytest.mark.parametrize(("role", "name", "bound"), list(all_pattern_entries()))
def test_patterns_compile_have_a_reference_and_accept_the_default(role, name, bound):
    import re

    for entry in [bound, *(bound.get("fields") or {}).values()]:
        if entry is not bound or "pattern" in bound:
            re.compile(entry["pattern"])
            assert entry.get("reference"), name
    default = yaml.safe_load((ROOT / "roles" / role / "defaults/main.yml").read_text())[name]
    assert policy.pattern_errors(role, name, default, bound) == []


@pytest.mark.parametrize(
    ("role", "name", "value", "label"),
    [
        ("antivirus", "antivirus_scan_time", "24:00", "antivirus_scan_time"),
        ("antivirus", "antivirus_scan_paths", ["/srv", "home"], "antivirus_scan_paths[1]"),
        ("updates", "updates_reboot_time", "3:00", "updates_reboot_time"),
        ("firewall", "firewall_admin_networks", ["10.0.0.0/33"], "firewall_admin_networks[0]"),
        ("firewall", "firewall_admin_networks", ["10.0.0.0/8; accept"], "firewall_admin_networks[0]"),
        ("accounts", "accounts_departed", ["Jean Dupont"], "accounts_departed[0]"),
        ("backup", "backup_on_calendar", "daily\nExecStart=/bin/sh", "backup_on_calendar"),
        ("offsite_target", "offsite_target_clients", [{"host": "../etc", "key": "ssh-ed25519 AAAA"}],
         "offsite_target_clients[0].host"),
        ("offsite_target", "offsite_target_clients", [{"host": "pc", "key": 'ssh-ed25519 AAAA" command="sh'}],
         "offsite_target_clients[0].key"),
    ],
)
def test_malformed_strings_are_refused_naming_the_item(role, name, value, label):
    base = ROOT / "roles" / role
    options = yaml.safe_load((base / "meta/argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    bounds = yaml.safe_load((base / "meta/socle_bounds.yml").read_text())
    defaults = yaml.safe_load((base / "defaults/main.yml").read_text())
    errors = policy.check_role(role, options, bounds, defaults, {name: value}, {name})
    assert len(errors) == 1 and errors[0].startswith(f"{role}: {label} = ") and "is malformed" in errors[0], errors


# The backup role's passwords and off-site settings, checked before any host is touched (they were only
# asserted by the role's first task, after the roles before it had run). No message holds a value.
GOOD_BACKUP = {"backup_enabled": True, "backup_local_password": "local-secret-0001",
               "backup_offsite_password": "offsite-secret-0002", "backup_offsite_ssh_host": "nas.example.org",
               "backup_offsite_ssh_private_key": "-----BEGIN OPENSSH PRIVATE KEY-----\nx\n"}


@pytest.mark.parametrize(("overrides", "words"), [
    ({"backup_local_password": "short-0001"}, "backup_local_password must come from the inventory"),
    ({"backup_local_password": ""}, "at least 12 characters"),
    ({"backup_offsite_password": "tiny"}, "backup_offsite_password must come from the inventory"),
    ({"backup_offsite_password": "local-secret-0001"}, "must differ from backup_local_password"),
    ({"backup_offsite_ssh_host": ""}, "backup_offsite_ssh_host is required"),
    ({"backup_offsite_ssh_private_key": "  "}, "backup_offsite_ssh_private_key is required"),
])
def test_backup_secrets_are_checked_and_never_echoed(overrides, words):
    values = {**GOOD_BACKUP, **overrides}
    errors = check(values, "backup")
    assert len(errors) == 1 and words in errors[0], errors
    for secret in ("local-secret-0001", "offsite-secret-0002", "short-0001", "tiny", "BEGIN OPENSSH"):
        assert secret not in errors[0]


def test_backup_secrets_are_not_required_when_the_role_or_the_offsite_copy_is_off():
    assert check({**GOOD_BACKUP}, "backup") == []
    assert check({}, "backup") == []  # backup_enabled is false by default
    assert check({"backup_enabled": True, "backup_local_password": "local-secret-0001",
                  "backup_offsite_enabled": False}, "backup") == []
    assert check({"backup_enabled": False, "backup_local_password": "x"}, "backup") == []
