#!/usr/bin/python
"""Install Debian packages with an exact check mode that needs nothing on the host but dpkg and apt."""

from __future__ import annotations

DOCUMENTATION = r"""
module: socle_packages
short_description: Ensure Debian packages are installed, with exact check mode on a fresh host
description:
  - Reads the installed set with C(dpkg-query) and installs what is missing with C(apt-get).
  - Unlike C(ansible.builtin.apt), check mode does not need C(python3-apt) on the host, so a dry-run
    works on a freshly installed machine and predicts exactly what apply installs.
  - In check mode, a package that apt has no candidate for fails, as apply would.
options:
  name:
    description: Package names.
    type: list
    elements: str
    required: true
  cache_valid_time:
    description: Refresh the package lists first when they are older than this many seconds
      (only when something must be installed).
    type: int
    default: 86400
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
author: Socle
"""

EXAMPLES = r"""
- name: Install the dconf tools
  socle_packages:
    name: [dconf-cli]
"""

RETURN = r"""
missing:
  description: Packages that were (or in check mode would be) installed.
  returned: always
  type: list
  elements: str
"""

import glob
import os
import re
import time

from ansible.module_utils.basic import AnsibleModule

APT_ENV = {"DEBIAN_FRONTEND": "noninteractive", "APT_LISTCHANGES_FRONTEND": "none", "LC_ALL": "C"}
#: dpkg's Status of an installed package: wanted installed, or held at its version.
INSTALLED = ("install ok installed", "hold ok installed")
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")


def installed_set(module, names: list[str]) -> set[str]:
    """Names among `names` that dpkg lists as installed: 'install ok installed', or 'hold ok installed' for
    a package held at its version (installing it again would change nothing)."""
    _rc, out, _err = module.run_command(
        ["dpkg-query", "-W", "-f", "${Package}\t${Status}\n", *names], environ_update=APT_ENV
    )
    found = set()
    for line in out.splitlines():
        package, _, status = line.partition("\t")
        if status.strip() in INSTALLED:
            found.add(package.split(":")[0])
    return found


def lists_age(lists_dir: str = "/var/lib/apt/lists") -> float | None:
    """Age in seconds of the newest package list, None when there are none."""
    files = [f for f in glob.glob(os.path.join(lists_dir, "*_Packages*")) if os.path.isfile(f)]
    if not files:
        return None
    return time.time() - max(os.path.getmtime(f) for f in files)


def candidates_missing(module, names: list[str]) -> list[str]:
    """Names that apt has no installation candidate for."""
    _rc, out, _err = module.run_command(["apt-cache", "policy", *names], environ_update=APT_ENV)
    blocks = re.split(r"^(?=\S)", out, flags=re.M)
    have = set()
    for block in blocks:
        head = block.split(":", 1)[0].strip()
        cand = re.search(r"Candidate:\s*(\S+)", block)
        if head and cand and cand.group(1) != "(none)":
            have.add(head)
    return [n for n in names if n not in have]


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "name": {"type": "list", "elements": "str", "required": True},
            "cache_valid_time": {"type": "int", "default": 86400},
        },
        supports_check_mode=True,
    )
    names = module.params["name"]
    bad = [n for n in names if not NAME_RE.match(n)]
    if bad:
        module.fail_json(msg=f"name: invalid Debian package name(s): {', '.join(bad)}")
    if module.params["cache_valid_time"] < 0:
        module.fail_json(msg="cache_valid_time: must be 0 or more seconds")
    have = installed_set(module, names)
    missing = [n for n in names if n not in have]
    result = {
        "changed": bool(missing),
        "missing": missing,
        "diff": {
            "before": "".join(f"{n}\n" for n in sorted(have)),
            "after": "".join(f"{n}\n" for n in sorted(names)),
            "before_header": "installed packages",
            "after_header": "installed packages",
        },
    }
    if not missing:
        module.exit_json(**result)
    age = lists_age()
    stale = age is None or age > module.params["cache_valid_time"]
    if module.check_mode:
        if not stale:
            unknown = candidates_missing(module, missing)
            if unknown:
                module.fail_json(msg=f"no installation candidate for: {', '.join(unknown)}", **result)
        module.exit_json(**result)
    if stale:
        rc, out, err = module.run_command(["apt-get", "update", "-q"], environ_update=APT_ENV)
        if rc != 0:
            module.fail_json(msg=f"apt-get update failed: {err.strip() or out.strip()}", **result)
    cmd = [
        "apt-get", "install", "-y", "-q", "--no-install-recommends",
        "-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold", *missing,
    ]
    rc, out, err = module.run_command(cmd, environ_update=APT_ENV)
    if rc != 0:
        module.fail_json(msg=f"apt-get install failed: {err.strip() or out.strip()}", **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
