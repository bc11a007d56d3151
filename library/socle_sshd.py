#!/usr/bin/python
"""Own one sshd drop-in file, validate the whole configuration, and verify the effective values."""

from __future__ import annotations

DOCUMENTATION = r"""
module: socle_sshd
short_description: Set sshd options in a drop-in and verify them with sshd -T
description:
  - Writes the given options to one file in C(/etc/ssh/sshd_config.d), tests the whole configuration
    with C(sshd -t) before keeping it (the previous file is restored if the test fails, so the
    management path is never cut by a bad file), reloads the running service, then checks the
    effective values with C(sshd -T).
  - When the file is already right but another file sets an option first (sshd keeps the first value
    it reads), the module fails and names that file instead of reporting a false compliance.
options:
  settings:
    description: Mapping of sshd keyword to value.
    type: dict
    required: true
  path:
    description: The drop-in file Socle owns.
    type: path
    required: true
  control:
    description: Control ID written in the file's header.
    type: str
    default: ''
  service:
    description: The systemd unit reloaded after a change, when it is active.
    type: str
    default: ssh
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
author: Socle
"""

EXAMPLES = r"""
- name: Drop idle SSH sessions
  socle_sshd:
    path: /etc/ssh/sshd_config.d/00-socle-session-lock.conf
    settings: {ClientAliveInterval: 300, ClientAliveCountMax: 3}
"""

RETURN = r"""
socle_inputs:
  description: In check mode, the state (lstat) of every path the check read, taken before reading it, for
    the action to reuse this result while they are unchanged (see module_utils/socle_reuse.py). The action
    removes it from the task's result.
  returned: check mode
  type: dict
expected:
  description: The options set, one a line.
  returned: always
  type: str
actual:
  description: The effective values of those options before this run, from C(sshd -T).
  returned: always
  type: str
"""

import glob
import os
import re

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.socle_files import atomic_write, file_diff, read_text
from ansible.module_utils.socle_reuse import Inputs

KEYWORD_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def seconds(text: str) -> int | None:
    """sshd time format ('15m', '1h30m', '900') -> seconds; None when it is not a time."""
    parts = re.findall(r"(\d+)([smhdwSMHDW]?)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return sum(int(n) * UNITS[u.lower()] for n, u in parts)


def normalise(keyword: str, value: str) -> str:
    """A comparable form of one option value: lower case, times in seconds."""
    value = str(value).strip()
    if keyword.lower() == "channeltimeout":
        items = []
        for item in value.split():
            kind, _, interval = item.partition("=")
            secs = seconds(interval)
            items.append(f"{kind.lower()}={secs if secs is not None else interval}")
        return " ".join(sorted(items))
    secs = seconds(value)
    if secs is not None and keyword.lower() in {"logingracetime", "unusedconnectiontimeout"}:
        return str(secs)
    return value.lower()


def parse_effective(text: str) -> dict[str, str]:
    """`sshd -T` output -> keyword (lower case) -> value (repeated keywords joined by a space)."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        keyword, _, value = line.strip().partition(" ")
        if keyword:
            values[keyword] = f"{values[keyword]} {value}" if keyword in values else value
    return values


def render(settings: dict, control: str) -> str:
    tag = f" (control {control})" if control else ""
    lines = [f"# Managed by Socle{tag}. Local changes are overwritten: change the policy in the inventory."]
    lines += [f"{key} {settings[key]}" for key in settings]
    return "\n".join(lines) + "\n"


def setters(keyword: str, own_path: str) -> list[str]:
    """Configuration files other than ours that set the keyword."""
    found = []
    pattern = re.compile(rf"^\s*{re.escape(keyword)}\s", re.I | re.M)
    for path in ["/etc/ssh/sshd_config", *sorted(glob.glob("/etc/ssh/sshd_config.d/*.conf"))]:
        if path != own_path and pattern.search(read_text(path) or ""):
            found.append(path)
    return found


INCLUDE_RE = re.compile(r"^\s*Include\s+(.+)$", re.I | re.M)


def config_inputs(inputs: Inputs, path: str = "/etc/ssh/sshd_config", depth: int = 0) -> None:
    """The files and folders sshd reads its configuration from: the main file and, recursively, its Includes."""
    inputs.add(path)
    if depth > 8:
        return
    for line in INCLUDE_RE.findall(read_text(path) or ""):
        for pattern in line.split():
            pattern = pattern.strip('"')
            if not os.path.isabs(pattern):
                pattern = os.path.join("/etc/ssh", pattern)
            for match in inputs.add_glob(pattern):
                config_inputs(inputs, match, depth + 1)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "settings": {"type": "dict", "required": True},
            "path": {"type": "path", "required": True},
            "control": {"type": "str", "default": ""},
            "service": {"type": "str", "default": "ssh"},
        },
        supports_check_mode=True,
    )
    settings = module.params["settings"]
    path = module.params["path"]
    if not settings:
        module.fail_json(msg="settings: at least one sshd option is required")
    for key, value in settings.items():
        if not KEYWORD_RE.match(str(key)):
            module.fail_json(msg=f"settings: invalid sshd keyword {key!r}")
        if value is None or "\n" in str(value) or not str(value).strip():
            module.fail_json(msg=f"settings.{key}: value must be non-empty and on one line")
    sshd = module.get_bin_path("sshd", opt_dirs=["/usr/sbin"])
    if sshd is None:
        module.fail_json(msg="sshd is not installed on this host")

    # What sshd -T and this check read, each path's state taken before it is read (reuse of a check result).
    inputs = Inputs()
    inputs.add(sshd, path, "/etc/ssh")  # the folder's listing: host keys and files added or removed
    config_inputs(inputs)
    wanted = render(settings, module.params["control"])
    before = read_text(path)
    changed = before != wanted
    expected = "\n".join(f"{k} {v}" for k, v in settings.items())

    def effective() -> dict[str, str]:
        rc, out, err = module.run_command([sshd, "-T"])
        if rc != 0:
            module.fail_json(msg=f"sshd -T failed: {err.strip()}", expected=expected)
        return parse_effective(out)

    current = effective()
    actual = "\n".join(f"{k} {current.get(k.lower(), '(unset)')}" for k in settings)
    result = {"changed": changed, "expected": expected, "actual": actual,
              "diff": file_diff(path, before, wanted)}
    if not changed or module.check_mode:
        if not changed:
            wrong = [k for k, v in settings.items()
                     if normalise(k, current.get(k.lower(), "")) != normalise(k, str(v))]
            if wrong:
                where = "; ".join(f"{k} set first in {', '.join(setters(k, path)) or 'a Match block'}" for k in wrong)
                module.fail_json(msg=f"{path} is right but sshd uses other values ({where})", **result)
        module.exit_json(**result, **({"socle_inputs": inputs.paths} if module.check_mode else {}))

    atomic_write(module, path, wanted, mode=0o644)
    rc, _out, err = module.run_command([sshd, "-t"])
    if rc != 0:
        if before is None:
            os.unlink(path)
        else:
            atomic_write(module, path, before, mode=0o644)
        module.fail_json(msg=f"sshd -t rejected the configuration, previous file restored: {err.strip()}", **result)
    rc, _out, _err = module.run_command(["systemctl", "is-active", "--quiet", module.params["service"]])
    if rc == 0:
        rc, _out, err = module.run_command(["systemctl", "reload", module.params["service"]])
        if rc != 0:
            module.fail_json(msg=f"reloading {module.params['service']} failed: {err.strip()}", **result)
    now = effective()
    wrong = [k for k, v in settings.items() if normalise(k, now.get(k.lower(), "")) != normalise(k, str(v))]
    if wrong:
        where = "; ".join(f"{k} set first in {', '.join(setters(k, path)) or 'a Match block'}" for k in wrong)
        module.fail_json(msg=f"written, but sshd uses other values ({where})", **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
