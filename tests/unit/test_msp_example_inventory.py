"""inventories/msp-example: three facilities, every host's policy variables valid.

The inventory is loaded with Ansible's own inventory and variable managers (group_vars layering as
a run sees it) and each host's variables go through the checks of the policy play (socle_policy:
argument specs, bounds and formats, unknown role-prefixed names, waivers) and the organisation
role's validation.
"""

from __future__ import annotations

import pytest
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from ansible.parsing.vault import EncryptedString
from ansible.vars.manager import VariableManager
from conftest import ROOT, load_project_module

policy = load_project_module("action_plugins", "socle_policy")
org = load_project_module("action_plugins", "socle_organisation")

INVENTORY = ROOT / "inventories" / "msp-example"
FACILITIES = {"FAM Les Cèdres", "Centre de jour L'Oasis", "EHPAD Les Tilleuls"}


@pytest.fixture(scope="module")
def hostvars() -> dict[str, dict]:
    loader = DataLoader()  # no vault password: the secrets stay encrypted, the policy variables are plain
    inventory = InventoryManager(loader=loader, sources=[str(INVENTORY / "hosts.yml")])
    manager = VariableManager(loader=loader, inventory=inventory)
    return {host.name: manager.get_vars(host=host) for host in inventory.get_hosts()}


def role_files(role: str) -> tuple[dict, dict, dict]:
    base = ROOT / "roles" / role
    specs = policy.load_yaml(str(base / "meta" / "argument_specs.yml"))
    options = specs.get("argument_specs", {}).get("main", {}).get("options", {})
    return options, policy.load_yaml(str(base / "meta" / "socle_bounds.yml")), policy.load_yaml(
        str(base / "defaults" / "main.yml")
    )


def policy_errors(variables: dict) -> list[str]:
    errors: list[str] = []
    for role in policy.all_roles(str(ROOT / "playbooks")):
        options, bounds, defaults = role_files(role)
        values = {name: variables[name] for name in options if name in variables}
        present = {name for name in variables if name.startswith(f"{role}_")}
        errors += policy.check_role(role, options, bounds, defaults, values, present)
    waiver_vars = {n: v for n, v in variables.items() if policy.WAIVER_VAR_RE.match(n)}
    errors += policy.check_waivers(waiver_vars, policy.catalogue_ids())[1]
    org_options, _bounds, org_defaults = role_files("organisation")
    errors += org.validate({**org_defaults, **{n: variables[n] for n in org_options if n in variables}})
    return errors


def test_three_facilities_every_host_in_one(hostvars: dict[str, dict]) -> None:
    facilities = {name: v.get("socle_facility") for name, v in hostvars.items()}
    assert set(facilities.values()) == FACILITIES, facilities
    assert len(hostvars) == 9


def test_every_host_policy_is_valid(hostvars: dict[str, dict]) -> None:
    problems = {name: policy_errors(v) for name, v in hostvars.items()}
    assert {name: p for name, p in problems.items() if p} == {}


def test_layers_msp_defaults_facility_overrides(hostvars: dict[str, dict]) -> None:
    assert hostvars["cedres-accueil-pc"]["session_lock_idle_timeout_s"] == 600  # MSP-wide
    assert hostvars["oasis-accueil"]["session_lock_idle_timeout_s"] == 300  # the facility's own
    assert hostvars["tilleuls-soins-pc01"]["accounts_faillock_deny"] == 8
    assert hostvars["oasis-srv"]["accounts_faillock_deny"] == 5
    assert hostvars["tilleuls-srv-dossiers"]["organisation_facility"]["name"] == "EHPAD Les Tilleuls"


def test_windows_over_winrm_linux_over_ssh(hostvars: dict[str, dict]) -> None:
    windows = {name for name, v in hostvars.items() if v.get("ansible_connection") == "winrm"}
    by_facility: dict[str, set[str]] = {}
    for name, v in hostvars.items():
        by_facility.setdefault(v["socle_facility"], set()).add("windows" if name in windows else "linux")
    assert by_facility == {"FAM Les Cèdres": {"windows"}, "Centre de jour L'Oasis": {"linux"},
                           "EHPAD Les Tilleuls": {"windows", "linux"}}
    for name in windows:
        assert hostvars[name]["ansible_winrm_server_cert_validation"] == "validate"
        assert hostvars[name]["ansible_winrm_scheme"] == "https" and hostvars[name]["ansible_port"] == 5986
        assert isinstance(hostvars[name]["ansible_password"], EncryptedString)  # ansible-vault, never plain


def test_waivers_for_one_facility_only(hostvars: dict[str, dict]) -> None:
    waived = {v["socle_facility"] for v in hostvars.values()
              if any(policy.WAIVER_VAR_RE.match(n) for n in v)}
    assert waived == {"EHPAD Les Tilleuls"}
    waivers, errors = policy.check_waivers(
        {n: v for n, v in hostvars["tilleuls-srv-dossiers"].items() if policy.WAIVER_VAR_RE.match(n)},
        policy.catalogue_ids(),
    )
    assert errors == [] and {w["control"] for w in waivers} == {"M4-LNX-GNOME-LOCK", "M4-LNX-SSH-IDLE"}


def test_a_bad_value_is_caught() -> None:
    """The check above is not vacuous: a value out of its choices is reported, naming the variable."""
    assert any("updates_reboot" in e for e in policy_errors({"updates_reboot": "when_needed"}))
    assert any("socle_waivers" in e for e in policy_errors({"socle_waivers": [{"control": "M9-NOPE"}]}))
