"""Validate every policy variable of Socle's roles on the controller, before any host is touched."""

from __future__ import annotations

DOCUMENTATION = r"""
action: socle_policy
short_description: Validate Socle policy variables for a host, on the controller
description:
  - For each named role, checks the host's variables against the role's C(meta/argument_specs.yml)
    (types, choices, elements) and C(meta/socle_bounds.yml) (minimum and maximum, with the reference
    that sets them), and reports role-prefixed variables the role does not know, with the nearest
    known name.
  - Runs on the controller only: no connection to the host.
options:
  roles:
    description: Role names whose variables are checked; by default every role under the roles path
      that has a C(meta/argument_specs.yml).
    type: list
    elements: str
"""

import difflib
import os

import yaml
from ansible import constants as C
from ansible.errors import AnsibleError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase

HOST_VARS = ("socle_facility",)


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


def load_yaml(path: str) -> dict:
    if not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


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
    prefix = f"{role}_"
    for name in sorted(present):
        if name.startswith(prefix) and name not in options:
            near = difflib.get_close_matches(name, list(options), n=1, cutoff=0.6)
            hint = f"; did you mean {near[0]}?" if near else ""
            errors.append(f"{role}: unknown variable {name}{hint}")
    return errors


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        roles = self._task.args.get("roles") or []
        if isinstance(roles, str):
            roles = [roles]
        basedir = self._loader.get_basedir()
        if not roles:
            roles = all_roles(basedir)
        present = {k for k in task_vars.get("vars", task_vars) if isinstance(k, str)} | set(task_vars)
        errors: list[str] = []
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
        result["changed"] = False
        result["socle_host"] = {
            "facility": task_vars.get("socle_facility"),
            "check_mode": bool(self._play_context.check_mode),
        }
        if errors:
            result["failed"] = True
            result["msg"] = "Invalid policy, nothing was changed: " + "; ".join(errors)
            result["errors"] = errors
        else:
            result["msg"] = f"policy valid for roles: {', '.join(roles)}"
        return result
