"""The controller side of Socle's modules whose work the controller may prepare or answer exactly."""

from __future__ import annotations

DOCUMENTATION = r"""
action: socle_cached
short_description: Prepare a module's arguments, or answer its check from an earlier or ahead-of-time result
description:
  - The action of C(socle_facts), C(socle_file), C(socle_sshd), C(socle_pam_auth_update), C(socle_nftables),
    C(socle_account_policy), C(socle_accounts_audit), C(socle_clamav_facts) and C(socle_updates_facts) (each
    of those files is a link to this one, and the module is the task's action). They share
    C(module_utils/socle_reuse.py).
  - C(socle_facts) - in check mode, passes the module the paths whose state decides whether this host's
    earlier check results still hold (C(watch); the state comes back in C(ansible_facts.socle.watched)),
    and, in a run of every control (no C(--tags), no C(--skip-tags)), the read-only measurements the
    previous audit made (C(prefetch); see C(module_utils/socle_measure.py)).
  - C(socle_file) - an entry may name C(src), a file on the controller (an absolute path, or a path found
    in the role's C(files) folder), read here and passed as C(content_base64), so several files, binary
    ones included, are set in one round trip; or C(template), a Jinja template (an absolute path, or one found
    in the role's C(templates) folder, standing alone, without includes) rendered here with the task's variables
    and passed as C(content).
  - C(socle_file), C(socle_sshd), C(socle_pam_auth_update), C(socle_account_policy) - in check mode, when
    this host's earlier check of the same arguments, by the same module code and Ansible, read files that
    C(socle_facts) finds exactly as they were, the earlier result is returned with C(socle_reused) and no
    round trip.
  - C(socle_nftables) with C(state=confirm) - when no rollback timer is to be disarmed (nothing changed, or
    check mode), the report of the earlier C(state=present) result is built here, as the module would,
    with no round trip.
  - C(socle_accounts_audit), C(socle_clamav_facts), C(socle_updates_facts), and C(socle_nftables) with
    C(state=present) - in check mode, when C(socle_facts) made the same call ahead in this play (same
    arguments, same user; of the firewall's C(ssh_connection) only the client address and server port),
    its result is returned with C(socle_prefetched) and no round trip; the call is remembered for the next
    audit. C(socle_updates_facts) also gets the host's previous package simulation and keeps the new one
    (C(SOCLE_APT_CACHE)).
  - Apply runs always run the module. C(SOCLE_CHECK_CACHE=off) turns reuse and measurements ahead off.
"""

import base64
import importlib.util
import os
import sys
from pathlib import Path

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase


def _load(stem: str):
    """module_utils/<stem>.py, by path: controller plugins cannot import project module_utils."""
    name = f"socle_module_utils_{stem.removeprefix('socle_')}"
    if name in sys.modules:
        return sys.modules[name]
    path = Path(__file__).resolve().parent.parent / "module_utils" / f"{stem}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def preload() -> str:
    """Called by socle_preload in Ansible's main process: every forked worker then has socle_reuse loaded."""
    _load("socle_reuse")
    return "module_utils/socle_reuse"


def facts_args(reuse, action, args: dict, task_vars: dict) -> dict:
    """socle_facts' arguments: in check mode, the paths to watch and the measurements to make ahead."""
    folder = reuse.cache_dir()
    if folder and action._play_context.check_mode and "watch" not in args:
        cache = reuse.load(reuse.host_file(folder, task_vars))
        args["watch"] = reuse.watched_paths(cache)
        # Made ahead only for a run of every control: a run limited by --tags or --skip-tags may not
        # reach those measurements at all, and would pay for them here.
        full = list(task_vars.get("ansible_run_tags", ["all"])) == ["all"] and not task_vars.get("ansible_skip_tags")
        args["prefetch"] = reuse.prefetch_requests(cache, action, task_vars) if full else []
    return args


def render_template(action, name: str) -> str:
    """A role template rendered with the task's variables, as the template lookup would, without its copy of
    every variable (the lookup deep-copies them all, the host's facts included, for each template)."""
    from ansible.template import trust_as_template  # noqa: PLC0415

    path = name if os.path.isabs(name) else action._find_needle("templates", name)
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    return action._templar.template(trust_as_template(text), escape_backslashes=False)


def file_args(action, args: dict) -> tuple[dict, str | None]:
    """socle_file's arguments with each entry's C(src) read into C(content_base64) and its C(template) rendered
    into C(content); or an error message."""
    entries = args.get("entries")
    if not isinstance(entries, list):
        return args, None
    converted = []
    for entry in entries:
        if isinstance(entry, dict) and entry.get("template") is not None:
            entry = dict(entry)
            name = str(entry.pop("template"))
            if any(entry.get(k) is not None for k in ("content", "content_base64", "src", "lines")):
                return args, f"{entry.get('path')}: give template or content, not both; nothing was changed"
            try:
                entry["content"] = render_template(action, name)
            except (OSError, AnsibleError) as exc:
                return args, f"{entry.get('path')}: cannot render {name} on the controller: {exc}; nothing was changed"
        if isinstance(entry, dict) and entry.get("src") is not None:
            entry = dict(entry)
            src = str(entry.pop("src"))
            if entry.get("content") is not None or entry.get("content_base64") is not None:
                return args, f"{entry.get('path')}: give src or content, not both; nothing was changed"
            try:
                path = src if os.path.isabs(src) else action._find_needle("files", src)
                with open(path, "rb") as handle:
                    entry["content_base64"] = base64.b64encode(handle.read()).decode("ascii")
            except (OSError, AnsibleError) as exc:
                return args, f"{entry.get('path')}: cannot read {src} on the controller: {exc}; nothing was changed"
        converted.append(entry)
    return {**args, "entries": converted}, None


def local_confirmation(args: dict, check_mode: bool) -> dict | None:
    """socle_nftables' confirm result when it needs nothing from the host, else None."""
    if args.get("state") != "confirm":
        return None
    report, part = args.get("report") or {}, args.get("part")
    if not isinstance(report, dict) or part not in ("mgmt", "logging"):
        return None  # the module's argument checks answer
    if report.get("failed") or "socle_parts" not in report:
        return {"failed": True, "changed": False,
                "msg": "not assessed: loading the firewall table failed or did not run "
                       f"({report.get('msg', 'no result')})"}
    if (report.get("rollback") or {}).get("armed") and not check_mode:
        return None
    parts = report["socle_parts"]
    return {"changed": bool(parts.get(part)), "socle_parts": parts,
            "diff": (report.get("part_diffs") or {}).get(part, {"before": "", "after": ""})}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        reuse = _load("socle_reuse")
        name = self._task.action.rsplit(".", 1)[-1]
        args = dict(self._task.args)
        if name == "socle_facts":
            result.update(self._execute_module(module_name=name, module_args=facts_args(reuse, self, args, task_vars),
                                               task_vars=task_vars))
            return result
        if name == "socle_file":
            args, error = file_args(self, args)
            if error:
                return {**result, "failed": True, "changed": False, "msg": error}
        if name == "socle_nftables":
            local = local_confirmation(args, bool(self._play_context.check_mode))
            if local is not None:
                return {**result, **local}
        if name in reuse.PREFETCHABLE:
            result.update(reuse.measure(self, name, args, task_vars))
            if name == "socle_updates_facts":
                reuse.keep_new_simulation(result, task_vars)
        else:
            result.update(reuse.run(self, name, args, task_vars))
        return result
