#!/usr/bin/python
"""Gather, in one round trip, the few facts Socle's roles need."""

from __future__ import annotations

DOCUMENTATION = r"""
module: socle_facts
short_description: Gather the facts Socle's roles need, in one call
description:
  - Reads C(/etc/os-release), the presence of the GNOME desktop schemas, of the GDM display manager
    and of the dconf tool, the OpenSSH version and the init system, without running the full fact
    gathering.
  - Read-only; safe in check mode.
options:
  root:
    description: Root of the file system to inspect (tests only).
    type: path
    default: /
  watch:
    description: Paths whose state (see C(module_utils/socle_reuse.py)) is returned in
      C(ansible_facts.socle.watched); the C(socle_facts) action passes the inputs of this host's earlier
      check results.
    type: list
    elements: str
    default: []
  prefetch:
    description: Read-only measurements to make in this round trip (check mode only), each with C(name)
      (C(socle_accounts_audit), C(socle_clamav_facts) or C(socle_updates_facts)), C(args) and C(key); their
      results are returned in C(ansible_facts.socle.prefetched) (see C(module_utils/socle_measure.py)). The
      C(socle_facts) action passes the measurements this host's previous audit made.
    type: list
    elements: dict
    default: []
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
author: Socle
"""

EXAMPLES = r"""
- name: Gather Socle facts
  socle_facts:
"""

RETURN = r"""
prefetch_skipped:
  description: Each measurement of C(prefetch) left out, with the reason (its task then runs the module).
  returned: always
  type: dict
ansible_facts:
  description: C(socle) dictionary with os_id, os_version, os_family, platform, gnome, gdm, dconf,
    openssh_version, systemd, packages (installed Debian packages, None without dpkg), units (the
    service and timer units both enabled and active, None without systemctl), watched (the state of
    each path of C(watch)) and prefetched (name to C(key), C(params) and C(result) of each measurement of
    C(prefetch) made without error; only in check mode).
  returned: always
  type: dict
"""

import os
import re

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.socle_measure import prefetch
from ansible.module_utils.socle_reuse import watch

GNOME_SCHEMA = "usr/share/glib-2.0/schemas/org.gnome.desktop.screensaver.gschema.xml"
#: The GDM daemon: gdm3 on Debian and Ubuntu, gdm on the RHEL family.
GDM_BINARIES = ("usr/sbin/gdm3", "usr/sbin/gdm")
FAMILIES = {"debian": "Debian", "ubuntu": "Debian", "rhel": "RedHat", "fedora": "RedHat", "centos": "RedHat"}


def parse_os_release(text: str) -> dict[str, str]:
    """Parse os-release(5) KEY=value lines, with or without quotes."""
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key] = value.strip().strip('"').strip("'")
    return values


def os_family(release: dict[str, str]) -> str:
    """Map os-release ID / ID_LIKE to an Ansible-style OS family."""
    for candidate in [release.get("ID", "")] + release.get("ID_LIKE", "").split():
        if candidate in FAMILIES:
            return FAMILIES[candidate]
    return release.get("ID", "unknown").capitalize()


def parse_openssh_version(text: str) -> str | None:
    """'OpenSSH_9.2p1 Debian-2+deb12u3, OpenSSL 3.0' -> '9.2'."""
    match = re.search(r"OpenSSH_(\d+)\.(\d+)", text)
    return f"{match.group(1)}.{match.group(2)}" if match else None


def installed_packages(text: str) -> list[str]:
    """Names of the packages dpkg's status file lists as 'install ok installed' or, held at their version,
    'hold ok installed' (architecture dropped)."""
    names = []
    for stanza in text.split("\n\n"):
        fields = dict(line.split(":", 1) for line in stanza.splitlines() if ":" in line and not line[:1].isspace())
        if fields.get("Status", "").strip() in ("install ok installed", "hold ok installed") and fields.get("Package"):
            names.append(fields["Package"].strip())
    return sorted(set(names))


def active_units(text: str) -> list[str]:
    """Loaded units whose state is exactly ``active`` (``systemctl list-units --plain --no-legend``)."""
    found = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[1] == "loaded" and fields[2] == "active":
            found.append(fields[0])
    return found


def enabled_and_active(show: str) -> list[str]:
    """Units of ``systemctl show --property=Id,LoadState,ActiveState,UnitFileState`` that are loaded,
    active and whose unit-file state is exactly ``enabled``."""
    found = []
    for block in show.split("\n\n"):
        props = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        if (props.get("LoadState"), props.get("ActiveState"), props.get("UnitFileState")) == (
                "loaded", "active", "enabled") and props.get("Id"):
            found.append(props["Id"])
    return sorted(found)


def main() -> None:
    module = AnsibleModule(argument_spec={"root": {"type": "path", "default": "/"},
                                          "watch": {"type": "list", "elements": "str", "default": []},
                                          "prefetch": {"type": "list", "elements": "dict", "default": []}},
                           supports_check_mode=True)
    root = module.params["root"]
    release = {}
    for candidate in ("etc/os-release", "usr/lib/os-release"):
        path = os.path.join(root, candidate)
        if os.path.exists(path):
            with open(path, encoding="utf-8") as handle:
                release = parse_os_release(handle.read())
            break
    name = release.get("NAME", "unknown").split()[0]
    version = release.get("VERSION_ID", "")
    openssh = None
    ssh = module.get_bin_path("ssh")
    if ssh:
        _rc, out, err = module.run_command([ssh, "-V"])
        openssh = parse_openssh_version(out + err)
    facts = {
        "os_id": release.get("ID", "unknown"),
        "os_version": version,
        "os_major": version.split(".")[0] if version else "",
        "os_family": os_family(release),
        "platform": f"{name} {version}".strip(),
        "gnome": os.path.exists(os.path.join(root, GNOME_SCHEMA)),
        "gdm": any(os.path.exists(os.path.join(root, path)) for path in GDM_BINARIES),
        "dconf": module.get_bin_path("dconf") is not None,
        "openssh_version": openssh,
        "systemd": os.path.isdir(os.path.join(root, "run/systemd/system")),
        # Lets the socle_packages action skip its round trip for packages already installed.
        "packages": None,
        # Lets the socle_services action skip its round trip for units already enabled and running.
        "units": None,
        # Lets the actions of socle_file, socle_sshd and socle_pam_auth_update reuse an earlier check result.
        "watched": watch(module.params["watch"]),
    }
    systemctl = module.get_bin_path("systemctl")
    if systemctl and facts["systemd"] and root == "/":
        # list-units is fast where list-unit-files scans every unit file (0.5 s): the active units first,
        # then their unit-file state.
        rc, out, _err = module.run_command([systemctl, "list-units", "--no-legend", "--no-pager", "--plain",
                                            "--type=service,timer", "--state=active"])
        running = active_units(out) if rc == 0 else None
        if running:
            rc, out, _err = module.run_command([systemctl, "show", "--property=Id,LoadState,ActiveState,UnitFileState",
                                                *running])
            facts["units"] = enabled_and_active(out) if rc == 0 else None
        elif running == []:
            facts["units"] = []
    status = os.path.join(root, "var/lib/dpkg/status")
    if os.path.exists(status):
        with open(status, encoding="utf-8", errors="replace") as handle:
            facts["packages"] = installed_packages(handle.read())
    # Last, once every other fact is read: a scheduled audit's read-only measurements (socle_measure).
    skipped: dict[str, str] = {}
    facts["prefetched"] = prefetch(module, module.params["prefetch"], skipped) if module.check_mode else {}
    module.exit_json(changed=False, ansible_facts={"socle": facts}, prefetch_skipped=skipped)


if __name__ == "__main__":
    main()
