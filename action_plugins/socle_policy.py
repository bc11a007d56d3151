"""Validate every policy variable of Socle's roles on the controller, before any host is touched."""

from __future__ import annotations

DOCUMENTATION = r"""
action: socle_policy
short_description: Validate Socle policy variables for a host, on the controller
description:
  - For each named role, checks the host's variables against the role's C(meta/argument_specs.yml)
    (types, choices, elements) and C(meta/socle_bounds.yml) (minimum and maximum, with the reference
    that sets them; a C(pattern) that a string, each string of a list, or a field of each dict of a
    list under C(fields) must match), and reports role-prefixed variables the role does not know,
    with the nearest known name.
  - Runs on the controller only: no connection to the host.
  - When the C(organisation) role is among those checked, also checks its facility data and registers (the
    C(validate) step of C(socle_organisation)), with the same message as that step.
  - Where the variable C(socle_audit_only) is true (C(playbooks/audit.yml) sets it on the plays it imports),
    refuses to run outside check mode, before anything else (the audit never changes a host).
options:
  platform_groups:
    description: When the policy is valid, also put the host in the group C(socle_windows) (reached over WinRM
      or PSRP, or over SSH with a PowerShell or cmd shell) or C(socle_posix), as C(ansible.builtin.group_by)
      would, in the same task.
    type: bool
    default: false
  roles:
    description: Role names whose variables are checked; by default every role under the roles path
      that has a C(meta/argument_specs.yml).
    type: list
    elements: str
"""

import datetime as dt
import difflib
import os
import re
import sys
from functools import lru_cache

import yaml
from ansible import constants as C
from ansible.errors import AnsibleError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase

HOST_VARS = ("socle_facility",)


def platform_group(connection: str | None, shell_type: str | None) -> str:
    """socle_windows for a host reached over WinRM or PSRP, or with a PowerShell or cmd shell; else socle_posix."""
    plugin = str(connection or "ssh").split(".")[-1]
    return "socle_windows" if plugin in ("winrm", "psrp") or (shell_type or "sh") in ("powershell", "cmd") \
        else "socle_posix"


def find_role(name: str, basedir: str) -> str:
    candidates = [os.path.join(p, name) for p in C.DEFAULT_ROLES_PATH]
    candidates.append(os.path.join(basedir, "..", "roles", name))
    candidates.append(os.path.join(basedir, "roles", name))
    for path in candidates:
        if os.path.isfile(os.path.join(path, "meta", "argument_specs.yml")):
            return os.path.normpath(path)
    raise AnsibleError(f"socle_policy: role {name!r} has no meta/argument_specs.yml in {candidates}")


def all_roles(basedir: str) -> list[str]:
    """Every role with an argument spec, in the configured roles path and beside the playbooks."""
    folders = [*C.DEFAULT_ROLES_PATH, os.path.join(basedir, "..", "roles"), os.path.join(basedir, "roles")]
    found = set()
    for folder in folders:
        if os.path.isdir(folder):
            found |= {n for n in os.listdir(folder)
                      if os.path.isfile(os.path.join(folder, n, "meta", "argument_specs.yml"))}
    return sorted(found)


# libyaml's loader when PyYAML has it: the specs, defaults, bounds and catalogue are read for every host
# (each host's task runs in its own worker process), 0.3 s in pure Python against 0.04 s.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(path: str) -> dict:
    if not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=SAFE_LOADER) or {}  # noqa: S506 - a safe loader (libyaml's or Python's)


def check_role(role: str, options: dict, bounds: dict, defaults: dict, values: dict, present: set[str]) -> list[str]:
    """Error messages for one role's variables; each names the variable."""
    errors: list[str] = []
    merged = {name: values.get(name, defaults.get(name)) for name in options if name in values or name in defaults}
    spec = {name: {k: v for k, v in opt.items() if k in ("type", "elements", "choices", "required", "options")}
            for name, opt in options.items()}
    for opt in spec.values():
        if "options" in opt:
            opt["options"] = {k: {kk: vv for kk, vv in o.items() if kk != "description"}
                              for k, o in opt["options"].items()}
    result = ArgumentSpecValidator(spec).validate(merged)
    for err in result.errors:
        errors.append(f"{role}: {err}")
    validated = result.validated_parameters
    bad = {e.split("'")[1] for e in errors if "'" in e}
    for name, bound in (bounds or {}).items():
        if name not in validated or name in bad:
            continue
        value = validated[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        ref = f" ({bound['reference']})" if bound.get("reference") else ""
        if "min" in bound and value < bound["min"]:
            errors.append(f"{role}: {name} = {value} is below the minimum {bound['min']}{ref}")
        if "max" in bound and value > bound["max"]:
            errors.append(f"{role}: {name} = {value} is above the maximum {bound['max']}{ref}")
    for name, bound in (bounds or {}).items():
        if name in validated and name not in bad:
            errors += pattern_errors(role, name, validated[name], bound)
            items = validated[name]
            if "min_items" in bound and isinstance(items, list) and len(items) < bound["min_items"]:
                ref = f" ({bound['reference']})" if bound.get("reference") else ""
                errors.append(f"{role}: {name} has {len(items)} item(s), at least {bound['min_items']} needed{ref}")
    rule = ROLE_RULES.get(role)
    if rule is not None:
        errors += rule(validated)
    prefix = f"{role}_"
    for name in sorted(present):
        if name.startswith(prefix) and name not in options:
            near = difflib.get_close_matches(name, list(options), n=1, cutoff=0.6)
            hint = f"; did you mean {near[0]}?" if near else ""
            errors.append(f"{role}: unknown variable {name}{hint}")
    return errors


def backup_secret_errors(values: dict) -> list[str]:
    """The backup role's repository passwords and off-site settings, checked before any host is touched (in
    site.yml's first play, or first in the role used on its own); the messages name the variables, never their
    values (passwords and keys from ansible-vault)."""
    if not values.get("backup_enabled"):
        return []
    errors = []
    local = str(values.get("backup_local_password") or "")
    if len(local) < 12:
        errors.append("backup: backup_local_password must come from the inventory (ansible-vault) and have at "
                      "least 12 characters")
    if values.get("backup_offsite_enabled"):
        offsite = str(values.get("backup_offsite_password") or "")
        if len(offsite) < 12:
            errors.append("backup: backup_offsite_password must come from the inventory (ansible-vault) and have "
                          "at least 12 characters (the off-site copy is on: backup_offsite_enabled)")
        elif offsite == local:
            errors.append("backup: backup_offsite_password must differ from backup_local_password")
        for name in ("backup_offsite_ssh_host", "backup_offsite_ssh_private_key"):
            if not str(values.get(name) or "").strip():
                errors.append(f"backup: {name} is required when the off-site copy is on (backup_offsite_enabled)")
    return errors


#: Checks across several variables of one role, on its validated values (with the defaults).
ROLE_RULES = {"backup": backup_secret_errors}


def _mismatch(role: str, label: str, value: object, bound: dict) -> list[str]:
    pattern = bound.get("pattern")
    if pattern is None or value is None:
        return []
    if isinstance(value, str) and re.fullmatch(pattern, value):
        return []
    ref = f" ({bound['reference']})" if bound.get("reference") else ""
    return [f"{role}: {label} = {value!r} is malformed{ref}"]


def pattern_errors(role: str, name: str, value: object, bound: dict) -> list[str]:
    """Messages for strings that do not match their pattern: the value, each list item, each dict field."""
    items = value if isinstance(value, list) else [value]
    label = (lambda i: f"{name}[{i}]") if isinstance(value, list) else (lambda _i: name)
    errors: list[str] = []
    for index, item in enumerate(items):
        if "pattern" in bound:
            errors += _mismatch(role, label(index), item, bound)
        for field, sub in (bound.get("fields") or {}).items():
            if isinstance(item, dict) and field in item:
                errors += _mismatch(role, f"{label(index)}.{field}", item[field], sub)
    return errors


# -- waivers -----------------------------------------------------------------------------------------
#: Inventory variables read for waivers: ``socle_waivers`` and any ``socle_waivers_<suffix>``, so that a
#: facility's group_vars (``socle_waivers_facility``) and a host's host_vars (``socle_waivers``) add up
#: instead of one hiding the other (Ansible would otherwise keep only the most specific list).
WAIVER_VAR_RE = re.compile(r"^socle_waivers(_[a-z0-9_]+)?$")
WAIVER_FIELDS = {
    "control": "the control ID, e.g. M4-LNX-SSH-IDLE",
    "reason": "why the control is waived",
    "accepted_by": "who accepted the risk",
    "expires": "last day the waiver holds, YYYY-MM-DD",
}
CATALOGUE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "catalogue", "controls.yml")


@lru_cache(maxsize=4)
def catalogue_ids(path: str = CATALOGUE) -> frozenset:
    """Control IDs of the catalogue (read once per process)."""
    data = load_yaml(path)
    return frozenset(entry["id"] for entry in data.get("controls", []) if isinstance(entry, dict) and "id" in entry)


def _waiver_date(value: object) -> str | None:
    """``YYYY-MM-DD`` for a date or an ISO date string, else None (a datetime is not a date)."""
    if isinstance(value, dt.datetime):
        return None
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        try:
            return dt.date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            return None
    return None


def check_waivers(variables: dict, known_ids: frozenset | set) -> tuple[list[dict], list[str]]:
    """Validate the waivers in ``variables`` (name -> value); return (waivers, errors naming the field)."""
    waivers: list[dict] = []
    errors: list[str] = []
    seen: dict[str, str] = {}
    for name in sorted(n for n in variables if WAIVER_VAR_RE.match(n)):
        value = variables[name]
        if value is None:
            continue
        if not isinstance(value, list):
            errors.append(f"waivers: {name} must be a list of waivers, got {type(value).__name__}")
            continue
        for index, entry in enumerate(value):
            where = f"{name}[{index}]"
            if not isinstance(entry, dict):
                errors.append(f"waivers: {where} must be a mapping with {', '.join(WAIVER_FIELDS)}, got {entry!r}")
                continue
            problems = []
            for field in sorted(set(entry) - set(WAIVER_FIELDS)):
                near = difflib.get_close_matches(str(field), list(WAIVER_FIELDS), n=1, cutoff=0.5)
                hint = f"; did you mean {near[0]}?" if near else ""
                problems.append(f"{where}.{field}: unknown field{hint}")
            missing = set()
            for field, meaning in WAIVER_FIELDS.items():
                if field not in entry or entry[field] is None or str(entry[field]).strip() == "":
                    missing.add(field)
                    problems.append(f"{where}.{field}: missing ({meaning})")
            control = entry.get("control")
            if "control" not in missing:
                if not isinstance(control, str) or control not in known_ids:
                    near = difflib.get_close_matches(str(control), sorted(known_ids), n=1, cutoff=0.6)
                    hint = f"; did you mean {near[0]}?" if near else ""
                    problems.append(f"{where}.control: unknown control ID {control!r}{hint}")
                elif control in seen:
                    problems.append(f"{where}.control: {control} is already waived by {seen[control]}; keep one waiver")
            for field in ("reason", "accepted_by"):
                if field in entry and entry[field] is not None and not isinstance(entry[field], str):
                    problems.append(f"{where}.{field}: must be text, got {entry[field]!r}")
            expires = None
            if "expires" not in missing:
                expires = _waiver_date(entry["expires"])
                if expires is None:
                    problems.append(f"{where}.expires: {entry['expires']!s} is not a date (YYYY-MM-DD)")
            if problems:
                errors += [f"waivers: {p}" for p in problems]
                continue
            seen[control] = where
            waivers.append({"control": control, "reason": entry["reason"].strip(),
                            "accepted_by": entry["accepted_by"].strip(), "expires": expires, "source": where})
    return waivers, errors


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    @staticmethod
    def _facility_errors(values: dict | None) -> list[str]:
        """socle_organisation's validate step on the organisation role's values (defaults, then the host's)."""
        if values is None:
            return []
        from ansible.plugins.loader import action_loader  # noqa: PLC0415

        return sys.modules[action_loader.get("socle_organisation", class_only=True).__module__].validate(values)

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        if self._templar.template(task_vars.get("socle_audit_only", False)) and not self._play_context.check_mode:
            result.update(failed=True, changed=False, msg=(
                "playbooks/audit.yml is the dry-run audit and must run with --check --diff (socle audit does); "
                "to apply the baseline run playbooks/site.yml. Nothing was changed."))
            return result
        roles = self._task.args.get("roles") or []
        if isinstance(roles, str):
            roles = [roles]
        basedir = self._loader.get_basedir()
        if not roles:
            roles = all_roles(basedir)
        present = {k for k in task_vars.get("vars", task_vars) if isinstance(k, str)} | set(task_vars)
        errors: list[str] = []
        organisation_values = None
        for role in roles:
            path = find_role(role, basedir)
            specs = load_yaml(os.path.join(path, "meta", "argument_specs.yml"))
            options = specs.get("argument_specs", {}).get("main", {}).get("options", {})
            defaults = load_yaml(os.path.join(path, "defaults", "main.yml"))
            bounds = load_yaml(os.path.join(path, "meta", "socle_bounds.yml"))
            values = {}
            for name in options:
                if name in task_vars:
                    values[name] = self._templar.template(task_vars[name])
            role_present = {n for n in present if n.startswith(f"{role}_")}
            errors += check_role(role, options, bounds, defaults, values, role_present)
            if role == "organisation":
                organisation_values = {**defaults, **values}
        waiver_vars = {n: self._templar.template(task_vars[n]) for n in task_vars
                       if isinstance(n, str) and WAIVER_VAR_RE.match(n)}
        waivers, waiver_errors = check_waivers(waiver_vars, catalogue_ids())
        errors += waiver_errors
        result["changed"] = False
        result["socle_host"] = {
            "facility": task_vars.get("socle_facility"),
            "check_mode": bool(self._play_context.check_mode),
            "waivers": waivers,
        }
        if errors:
            result["failed"] = True
            result["msg"] = "Invalid policy, nothing was changed: " + "; ".join(errors)
            result["errors"] = errors
        elif facility_errors := self._facility_errors(organisation_values):
            result["failed"] = True
            result["msg"] = "Invalid facility data, nothing was changed: " + "; ".join(facility_errors)
            result["errors"] = facility_errors
        else:
            result["msg"] = f"policy valid for roles: {', '.join(roles)}"
            if self._task.args.get("platform_groups"):
                # Read by Ansible's strategy from any task result, as group_by's: one task fewer per host.
                result["add_group"] = platform_group(self._templar.template(task_vars.get("ansible_connection")),
                                                     self._templar.template(task_vars.get("ansible_shell_type")))
                result["parent_groups"] = ["all"]
        return result
