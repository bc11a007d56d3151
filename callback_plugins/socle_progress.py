"""One line per host and task result on the command line's standard error, while the run goes on."""

from __future__ import annotations

DOCUMENTATION = r"""
name: socle_progress
type: aggregate
short_description: Progress lines for the socle command line
description:
  - Writes one line per host and task result (ok, would change or changed, skipped, FAILED, UNREACHABLE)
    to the file descriptor named by C(SOCLE_PROGRESS_FD), which C(socle audit) and C(socle apply) open on
    their standard error. Without that variable (a plain ansible-playbook run, AWX) it writes nothing.
requirements:
  - enabled in ansible.cfg callbacks_enabled (the socle command line enables it)
"""

import os

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "socle_progress"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._out = None
        fd = os.environ.get("SOCLE_PROGRESS_FD", "")
        if fd.isdigit():
            try:
                self._out = os.fdopen(int(fd), "w", encoding="utf-8", buffering=1, closefd=False)
            except OSError:
                self._out = None
        self._mode = os.environ.get("SOCLE_RUN_MODE", "run")

    def _line(self, result, word: str) -> None:
        if self._out is None:
            return
        task = result._task.get_name().split(" : ", 1)[-1]
        if len(task) > 72:
            task = task[:71] + "…"
        try:
            self._out.write(f"[{self._mode}] {result._host.get_name():<16} {word:<12} {task}\n")
        except (OSError, ValueError):
            self._out = None

    def v2_runner_on_ok(self, result):
        if result._result.get("changed"):
            self._line(result, "would change" if self._mode == "audit" else "changed")
        else:
            self._line(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._line(result, "FAILED")

    def v2_runner_on_skipped(self, result):
        self._line(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._line(result, "UNREACHABLE")
