"""Load once, in Ansible's main process, what each worker process would otherwise load again."""

from __future__ import annotations

DOCUMENTATION = r"""
name: socle_preload
type: aggregate
short_description: Load the Jinja plugins and Socle's action plugins once, before the workers fork
description:
  - Ansible runs every task of every host in a new worker process forked from its main process. A worker
    that templates a filter loads every filter and test plugin first (Socle's Windows filters execute the
    decision code of module_utils/socle_windows.py when they load), and a worker that runs one of Socle's
    action plugins loads that plugin from its source. Each worker does it again, for every task and host;
    on 20 hosts this was the largest single share of the controller's CPU.
  - At the start of the playbook this plugin does that loading once in the main process, so the workers
    inherit it (every filter and test plugin, every action plugin of the project's C(action_plugins)
    folder, the catalogue's control IDs that C(socle_policy) reads for every host, and the controller side of
    C(module_utils/socle_reuse.py) that several actions load). Nothing else changes;
    each worker would have loaded the same plugins from the same files. Any failure only leaves the
    loading to the workers, with a message at -vvv. C(SOCLE_PRELOAD=off) turns it off.
  - At the start of each play it also calls C(gc.freeze()), which moves every object the main process
    holds out of reach of the garbage collector, so a forked worker that collects does not write to (and
    copy) the parent's pages (5 hosts - 5 % less controller CPU). C(SOCLE_GC_FREEZE=off) leaves it out.
requirements: []
"""

import gc
import os
import sys
from pathlib import Path

from ansible.plugins.callback import CallbackBase

ACTIONS = Path(__file__).resolve().parent.parent / "action_plugins"


def preload() -> list[str]:
    """Load the Jinja plugins and the project's action plugins in this process; return what was loaded."""
    from ansible.plugins.loader import action_loader, filter_loader, test_loader  # noqa: PLC0415

    loaded = [f"{len(list(filter_loader.all()))} filters", f"{len(list(test_loader.all()))} tests"]
    for path in sorted(ACTIONS.glob("socle_*.py")):
        plugin = action_loader.get(path.stem, class_only=True)
        if plugin is None:
            continue
        loaded.append(path.stem)
        module = sys.modules.get(plugin.__module__)
        if hasattr(module, "catalogue_ids"):
            module.catalogue_ids()  # cached in the module: each host's policy check reads it
        if hasattr(module, "preload"):
            done = module.preload()  # the controller-side module_utils the action loads (socle_reuse)
            if done and done not in loaded:
                loaded.append(done)
    return loaded


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "socle_preload"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._off = os.environ.get("SOCLE_PRELOAD", "").lower() in ("off", "0", "no", "false")
        self._done = False

    def v2_playbook_on_play_start(self, play):
        if self._off:
            return
        if not self._done:
            self._done = True
            try:
                self._display.vvv(f"socle_preload: loaded {', '.join(preload())}")
            except Exception as exc:  # noqa: BLE001 - an optimisation: the workers load what they need themselves
                self._display.vvv(f"socle_preload: nothing preloaded: {exc}")
        if os.environ.get("SOCLE_GC_FREEZE", "") != "off":
            # Every object the main process holds now (plugins, the play, the inventory) moves out of reach of
            # the garbage collector: a forked worker that collects no longer writes to their pages, which
            # copy-on-write would otherwise copy for each task and host.
            gc.freeze()
