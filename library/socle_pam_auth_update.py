#!/usr/bin/python
"""Own a Debian pam-auth-update profile and keep it enabled, with an exact check mode."""

from __future__ import annotations

DOCUMENTATION = r"""
module: socle_pam_auth_update
short_description: Write a pam-auth-update profile and enable it (Debian, Ubuntu)
description:
  - Writes C(/usr/share/pam-configs/NAME) when C(content) is given, then runs
    C(pam-auth-update --package --enable NAME) when the file changed or the profile is not in effect.
    The C(/etc/pam.d/common-*) files are only ever written by pam-auth-update, never by hand.
  - The profile is in effect when pam-auth-update's saved state (C(/var/lib/pam/<type>)) lists it
    and every module line of the profile is in the matching C(/etc/pam.d/common-<type>) file
    (control field aside, as pam-auth-update rewrites jump counts).
  - Check mode reads the same files and predicts exactly whether apply changes something.
  - When common-* files were edited by hand, pam-auth-update refuses to update them; the module then
    fails and says so instead of reporting a change that did not happen.
  - With C(profiles), several profiles are checked in one call and enabled by one pam-auth-update run;
    the result's C(socle_results) gives each control its own C(changed) and C(diff) (see C(socle_record)).
options:
  name:
    description: Profile name (file name under C(/usr/share/pam-configs)). One of C(name) and C(profiles).
    type: str
  content:
    description: Full profile text. Omit to enable a profile shipped by a package (such as C(pwquality)).
    type: str
  control:
    description: Control ID, used in messages (and for the profiles that name none).
    type: str
    default: ''
  profiles:
    description: Several profiles, each C({name, content, control}) as above.
    type: list
    elements: dict
    suboptions:
      name:
        description: Profile name.
        type: str
        required: true
      content:
        description: Full profile text; omit for a packaged profile.
        type: str
      control:
        description: Control ID of this profile.
        type: str
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
author: Socle
"""

EXAMPLES = r"""
- name: Keep password history
  socle_pam_auth_update:
    name: socle-pwhistory
    content: |
      Name: Socle password history
      Default: yes
      Priority: 1023
      Password-Type: Primary
      Password:
        requisite pam_pwhistory.so remember=24 enforce_for_root use_authtok
"""

RETURN = r"""
socle_inputs:
  description: In check mode, the state (lstat) of every path the check read, taken before reading it, for
    the action to reuse this result while they are unchanged (see module_utils/socle_reuse.py). The action
    removes it from the task's result.
  returned: check mode
  type: dict
expected:
  description: The profile's module lines, by PAM type.
  returned: always
  type: str
actual:
  description: Whether the profile was in effect before this run.
  returned: always
  type: str
"""

import os
import re

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.socle_files import atomic_write, file_diff, read_text
from ansible.module_utils.socle_reuse import Inputs

PROFILES_DIR = "/usr/share/pam-configs"
STATE_DIR = "/var/lib/pam"
PAM_DIR = "/etc/pam.d"
TYPES = {"Auth": "auth", "Account": "account", "Password": "password", "Session": "session",
         "Session-Interactive-Only": "session"}
STATE_TYPES = ("auth", "account", "password", "session", "session-noninteractive")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
FIELD_RE = re.compile(r"^([A-Za-z-]+):\s*(.*)$")


def parse_profile(text: str) -> dict[str, list[str]]:
    """Profile text -> PAM type (auth, account...) -> module lines ('pam_x.so args'), control removed."""
    lines: dict[str, list[str]] = {}
    field = None
    for raw in text.splitlines():
        match = FIELD_RE.match(raw)
        if match and not raw[:1].isspace():
            field = match.group(1)
            continue
        if field not in TYPES or not raw.strip():
            continue
        item = raw.strip()
        control = re.match(r"^(\[[^]]*\]|\S+)\s+(.*)$", item)
        if control:
            lines.setdefault(TYPES[field], []).append(" ".join(control.group(2).split()))
    return lines


def module_lines(text: str, pam_type: str) -> list[list[str]]:
    """A common-<type> file -> [[module, arg...]] of its `<type>` lines."""
    found = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line.startswith(pam_type):
            continue
        match = re.match(rf"^{pam_type}\s+(\[[^]]*\]|\S+)\s+(.*)$", line)
        if match:
            found.append(match.group(2).split())
    return found


def line_present(wanted: str, present: list[list[str]]) -> bool:
    """The module is there with at least the wanted arguments (pam-auth-update keeps local additions)."""
    words = wanted.split()
    return any(p and p[0] == words[0] and set(words[1:]) <= set(p[1:]) for p in present)


def state_lists(name: str, state: dict[str, str]) -> bool:
    """pam-auth-update's saved state (/var/lib/pam/<type> files) names the profile."""
    return any(re.search(rf"^Module: {re.escape(name)}$", text, re.M) for text in state.values())


def in_effect(name: str, profile: str, state: dict[str, str], common: dict[str, str]) -> tuple[bool, list[str]]:
    """(in effect, missing lines) for one profile."""
    missing = [f"{pam_type}: {line}" for pam_type, lines in parse_profile(profile).items()
               for line in lines if not line_present(line, module_lines(common.get(pam_type, ""), pam_type))]
    return state_lists(name, state) and not missing, missing


def read_state() -> tuple[dict[str, str], dict[str, str]]:
    state, common = {}, {}
    for pam_type in STATE_TYPES:
        state[pam_type] = read_text(os.path.join(STATE_DIR, pam_type)) or ""
        common[pam_type] = read_text(os.path.join(PAM_DIR, f"common-{pam_type}")) or ""
    return state, common


def describe(profile: str) -> str:
    return "\n".join(f"{t}: {line}" for t, lines in parse_profile(profile).items() for line in lines)


class Refused(Exception):
    """A profile that cannot be set; the message says why."""


def plan(name: str, content: str | None, check_mode: bool, state: dict[str, str],
         common: dict[str, str]) -> dict:
    """What one profile needs: its result (changed, expected, actual, diff) and whether its file changes."""
    if not NAME_RE.match(name):
        raise Refused(f"name: invalid profile name {name!r}")
    if content is not None and not parse_profile(content):
        raise Refused(f"{name}: the profile has no module line (Auth:, Account:, Password: or Session:)")
    path = os.path.join(PROFILES_DIR, name)
    before = read_text(path)
    wanted = content if content is not None else before
    if wanted is None:
        # A packaged profile that is not there yet: in check mode the package install before this task
        # was only predicted, so predict the enabling too; in apply mode it is an error.
        if check_mode:
            return {"changed": True, "expected": f"profile {name} enabled",
                    "actual": f"profile {name} absent (its package is not installed yet)",
                    "diff": [{"before": f"{name}: absent\n", "after": f"{name}: enabled\n",
                              "before_header": "pam-auth-update", "after_header": "pam-auth-update"}],
                    "_write": False, "_wanted": None}
        raise Refused(f"{path} does not exist: install the package that ships it first")
    file_changed = content is not None and before != content
    effective, missing = in_effect(name, wanted, state, common)
    if effective and not file_changed:
        status = "enabled and in effect"
    elif state_lists(name, state):
        status = f"enabled but not in /etc/pam.d: {'; '.join(missing)}" if missing else "enabled, profile outdated"
    else:
        status = "not enabled"
    diff = []
    if file_changed:
        diff.append(file_diff(path, before, content))
    if not effective or file_changed:
        diff.append({"before_header": "pam-auth-update", "after_header": "pam-auth-update",
                     "before": f"{name}: {status}\n", "after": f"{name}: enabled and in effect\n"})
    return {"changed": bool(diff), "expected": describe(wanted), "actual": f"{name}: {status}", "diff": diff,
            "_write": file_changed, "_wanted": wanted}


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "name": {"type": "str"},
            "content": {"type": "str"},
            "control": {"type": "str", "default": ""},
            "profiles": {"type": "list", "elements": "dict", "options": {
                "name": {"type": "str", "required": True},
                "content": {"type": "str"},
                "control": {"type": "str"},
            }},
        },
        required_one_of=[["name", "profiles"]],
        mutually_exclusive=[["name", "profiles"], ["content", "profiles"]],
        supports_check_mode=True,
    )
    single = module.params["profiles"] is None
    profiles = ([{"name": module.params["name"], "content": module.params["content"], "control": None}]
                if single else module.params["profiles"])
    for profile in profiles:
        profile["control"] = profile.get("control") or module.params["control"]
    tool = module.get_bin_path("pam-auth-update", opt_dirs=["/usr/sbin"])
    if tool is None:
        module.fail_json(msg="pam-auth-update is not installed (package libpam-runtime)")

    # What the plan reads, each path's state taken before it is read (reuse of a check result).
    inputs = Inputs()
    inputs.add(tool, *(os.path.join(PROFILES_DIR, str(p["name"])) for p in profiles))
    inputs.add(*(os.path.join(d, f) for d, f in [(STATE_DIR, t) for t in STATE_TYPES]
                 + [(PAM_DIR, f"common-{t}") for t in STATE_TYPES]))
    state, common = read_state()
    plans = []
    for profile in profiles:
        try:
            plans.append((profile, plan(profile["name"], profile["content"], module.check_mode, state, common)))
        except Refused as exc:
            module.fail_json(msg=f"{profile['control'] or 'socle_pam_auth_update'}: {exc}; nothing was changed")
    results: dict[str, dict] = {}
    for profile, planned in plans:
        if profile["control"]:
            share = results.setdefault(profile["control"], {"changed": False, "diff": [], "expected": [],
                                                            "actual": []})
            share["changed"] = share["changed"] or planned["changed"]
            share["diff"] += planned["diff"]
            share["expected"].append(planned["expected"])
            share["actual"].append(planned["actual"])
    for share in results.values():
        share["expected"], share["actual"] = "\n".join(share["expected"]), "\n".join(share["actual"])
    result = {"changed": any(p["changed"] for _x, p in plans),
              "expected": "\n".join(p["expected"] for _x, p in plans),
              "actual": "\n".join(p["actual"] for _x, p in plans),
              "diff": [d for _x, p in plans for d in p["diff"]], "socle_results": results}
    todo = [(profile, planned) for profile, planned in plans if planned["changed"]]
    if module.check_mode:
        module.exit_json(**result, socle_inputs=inputs.paths)
    if not todo:
        module.exit_json(**result)

    for profile, planned in todo:
        if planned["_write"]:
            atomic_write(module, os.path.join(PROFILES_DIR, profile["name"]), profile["content"], mode=0o644)
    names = [profile["name"] for profile, _p in todo]
    rc, out, err = module.run_command([tool, "--package", "--enable", *names],
                                      environ_update={"DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C"})
    if rc != 0:
        module.fail_json(msg=f"pam-auth-update failed: {(err or out).strip()}", **result)
    state, common = read_state()
    for profile, planned in todo:
        effective, missing = in_effect(profile["name"], planned["_wanted"], state, common)
        if not effective:
            why = (err or out).strip() or "the profile is not listed in /var/lib/pam"
            module.fail_json(msg=f"pam-auth-update did not put {profile['name']} in effect (missing: "
                                 f"{'; '.join(missing) or '-'}): {why}. Local edits of /etc/pam.d/common-* block it:"
                                 f" review them, then run pam-auth-update --force.", **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
