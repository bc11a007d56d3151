"""socle_updates_facts' measurement on a Debian host: pending security updates, last run, holds, reboot.

Kept out of the module so that ``socle_facts`` can run the same measurement ahead of the task in a scheduled
audit (see ``socle_measure``); the module itself only validates its arguments and calls :func:`measure`.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import time
from datetime import datetime

from ansible.module_utils.socle_measure import MeasureError
from ansible.module_utils.socle_updates import (
    apt_config_overrides,
    decide_holds,
    decide_last_run,
    decide_pending,
    decide_reboot,
    finding,
    last_successful_run,
    pending_security,
)

APT_ENV = {"DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C"}


def read_logs(folder: str) -> str:
    """The current unattended-upgrades log after its previous rotation (plain or gzip)."""
    parts = []
    for name in ("unattended-upgrades.log.1.gz", "unattended-upgrades.log.1", "unattended-upgrades.log"):
        path = os.path.join(folder, name)
        if not os.path.isfile(path):
            continue
        opener = gzip.open if name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8", errors="replace") as handle:
            parts.append(handle.read())
    return "\n".join(parts)


#: What `apt-get -s upgrade` reads: dpkg's status, the package lists, apt's configuration and sources.
SIMULATION_INPUTS = ("/var/lib/dpkg/status", "/var/lib/apt/extended_states", "/var/lib/apt/lists", "/etc/apt")


def simulation_key(paths=SIMULATION_INPUTS) -> str:
    """A digest of the path, size, modification time and inode of every file the simulation reads."""
    digest = hashlib.sha256()
    for top in paths:
        found = []
        if os.path.isdir(top):
            for folder, dirs, files in os.walk(top):
                dirs[:] = sorted(d for d in dirs if d != "partial")
                found += [os.path.join(folder, name) for name in files if name != "lock"]
        else:
            found.append(top)
        for path in sorted(found):
            try:
                st = os.stat(path)
            except OSError:
                digest.update(f"{path}\0absent\n".encode())
                continue
            digest.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ino}\n".encode())
    return digest.hexdigest()


def measure_pending(module, limit: int, earlier: dict | None) -> tuple[dict, list[str], dict | None]:
    key = simulation_key()
    if (isinstance(earlier, dict) and earlier.get("key") == key and isinstance(earlier.get("pending"), list)
            and all(isinstance(p, str) for p in earlier["pending"])):
        packages = earlier["pending"]
        return decide_pending(packages, limit), packages, {"key": key, "pending": packages, "reused": True}
    rc, out, err = module.run_command(
        ["apt-get", "-s", "-q", "-o", "Debug::NoLocking=1", "upgrade"], environ_update=APT_ENV)
    if rc != 0:
        return finding("error", f"at most {limit} pending security update(s)",
                       f"apt-get -s upgrade failed: {err.strip() or out.strip()}"), [], None
    packages = pending_security(out)
    return decide_pending(packages, limit), packages, {"key": key, "pending": packages, "reused": False}


def measure_holds(module, allowed: list[str]) -> tuple[dict, list[str]]:
    rc, out, err = module.run_command(["apt-mark", "showhold"], environ_update=APT_ENV)
    if rc != 0:
        return finding("error", "no held package", f"apt-mark showhold failed: {err.strip() or out.strip()}"), []
    held = sorted({line.strip() for line in out.splitlines() if line.strip()})
    return decide_holds(held, allowed), held


def measure_reboot(flag: str, limit: int) -> dict:
    present = os.path.exists(flag)
    age = (time.time() - os.path.getmtime(flag)) / 3600 if present else None
    packages: list[str] = []
    if present and os.path.isfile(flag + ".pkgs"):
        with open(flag + ".pkgs", encoding="utf-8", errors="replace") as handle:
            packages = sorted({line.strip() for line in handle if line.strip()})
    return decide_reboot(present, age, limit, packages)


ARGUMENT_SPEC = {
    "max_pending_security": {"type": "int", "default": 0},
    "max_run_age_h": {"type": "int", "default": 48},
    "allowed_holds": {"type": "list", "elements": "str", "default": []},
    "max_reboot_pending_h": {"type": "int", "default": 168},
    "log_dir": {"type": "path", "default": "/var/log/unattended-upgrades"},
    "reboot_flag": {"type": "path", "default": "/run/reboot-required"},
    "apt_config": {"type": "dict", "default": {}},
    "simulation": {"type": "dict"},
}


def measure(module, p: dict) -> dict:
    """The module's result for validated arguments ``p``; ``module`` runs the commands. Raises MeasureError."""
    for key in ("max_pending_security", "max_run_age_h", "max_reboot_pending_h"):
        if p[key] < 0:
            raise MeasureError(f"{key}: must be 0 or more")
    pending_finding, pending, simulation = measure_pending(module, p["max_pending_security"], p["simulation"])
    last = last_successful_run(read_logs(p["log_dir"]))
    # unattended-upgrades logs local time without a zone: compare with the host's local time.
    last_finding = decide_last_run(last, datetime.now(), p["max_run_age_h"])
    holds_finding, held = measure_holds(module, p["allowed_holds"])
    overrides = {}
    if p["apt_config"]:
        rc, out, err = module.run_command(["apt-config", "dump"], environ_update=APT_ENV)
        if rc != 0:
            raise MeasureError(f"apt-config dump failed: {(err or out).strip()}")
        overrides = apt_config_overrides(out, p["apt_config"])
    return {
        "apt_config_overrides": overrides,
        "changed": False,
        "socle_findings": {
            "M1-LNX-PENDING-SECURITY": pending_finding,
            "M1-LNX-LAST-RUN": last_finding,
            "M1-LNX-HELD-PACKAGES": holds_finding,
            "M1-LNX-REBOOT-REQUIRED": measure_reboot(p["reboot_flag"], p["max_reboot_pending_h"]),
        },
        "pending": pending,
        "held": held,
        "last_run": None if last is None else last.isoformat(),
        **({"simulation": simulation} if simulation else {}),
    }
