"""socle_updates_facts on the controller: keep each host's last package simulation between runs."""

from __future__ import annotations

DOCUMENTATION = r"""
action: socle_updates_facts
short_description: Give socle_updates_facts the host's previous simulation, keep the new one
description:
  - Simulating C(apt-get -s upgrade) takes about 1.5 s on a host. The module sums up the simulation's
    inputs (dpkg's status, the package lists, C(/etc/apt)) in a key; this action keeps, per host, the last
    key and pending security updates in C(SOCLE_APT_CACHE) (C(off) turns it off), else
    C($XDG_CACHE_HOME/socle/apt-simulation) (C(~/.cache/socle/apt-simulation)), and passes them to the
    module, which reuses them only when the key is the same. Nothing is written on the host.
  - The file of a host is named by a digest of its inventory name, address and port. A cache that cannot
    be read or written only costs the simulation.
"""

import contextlib
import hashlib
import json
import os
import tempfile

from ansible.plugins.action import ActionBase


def cache_dir() -> str | None:
    setting = os.environ.get("SOCLE_APT_CACHE", "")
    if setting.lower() in ("off", "0", "no", "false"):
        return None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return setting or os.path.join(base, "socle", "apt-simulation")


def cache_file(folder: str, task_vars: dict) -> str:
    who = "\0".join(str(task_vars.get(k, "")) for k in ("inventory_hostname", "ansible_host", "ansible_port"))
    return os.path.join(folder, hashlib.sha256(who.encode()).hexdigest()[:32] + ".json")


def read_earlier(path: str) -> dict | None:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("key"), str) else None


def keep(path: str, simulation: dict) -> None:
    """Write the host's file atomically; a cache that cannot be written is left as it was."""
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
    except OSError:
        return
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"key": simulation["key"], "pending": simulation["pending"]}, handle)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        args = dict(self._task.args)
        folder = cache_dir()
        path = cache_file(folder, task_vars) if folder else None
        if path and "simulation" not in args:
            earlier = read_earlier(path)
            if earlier:
                args["simulation"] = earlier
        result.update(self._execute_module(module_name="socle_updates_facts", module_args=args, task_vars=task_vars))
        simulation = result.get("simulation")
        if path and isinstance(simulation, dict) and not simulation.get("reused") and not result.get("failed"):
            keep(path, simulation)
        return result
