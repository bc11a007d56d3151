#!/usr/bin/python
"""Password ageing of personal accounts and the lock of departed staff, every account in one call."""

from __future__ import annotations

DOCUMENTATION = r"""
module: socle_account_policy
short_description: Set the password ageing of accounts and lock departed accounts, several accounts in one call
description:
  - Reads C(getent shadow) once, then for each entry sets, on each named account, the password ageing
    (C(chage -m MIN -M MAX -W WARN), only the fields that differ) or the lock of a departed person's
    account (C(usermod -L) when the password is not already locked with C(!), and C(usermod -e 1970-01-02),
    an account expired since day 1, when it does not expire that day), exactly as C(ansible.builtin.user)
    with C(password_expire_min/max/warn), or with C(password_lock) and C(expires=86400), would, in one round
    trip for every account instead of one per account.
  - Check mode reads the same file and reports exactly what apply changes. Apply reads C(getent shadow)
    again after its commands and fails if an account is not in the state it set. When the shadow database
    is C(/etc/shadow) alone (C(/etc/nsswitch.conf)), a check result names that file for the C(socle_cached)
    action, which returns it again, with no round trip, while the file is unchanged (scheduled audits).
  - The result's C(socle_results) gives each entry's control its own C(changed), C(diff), C(expected) and
    C(actual) (see C(socle_record)); an entry with no account gives C(skipped) true, as a loop over no
    item would have been skipped. Password hashes are never returned, only whether a password is locked.
  - An account that does not exist is refused (nothing is created); a name that is not a valid account name
    too. Either refusal happens before any command runs.
options:
  entries:
    description: What to set, one entry per control.
    type: list
    elements: dict
    required: true
    suboptions:
      control:
        description: Control ID of this entry.
        type: str
        required: true
      names:
        description: Accounts the entry applies to.
        type: list
        elements: str
        required: true
      ageing:
        description: Password ageing to set (days). One of C(ageing) and C(lock).
        type: dict
        suboptions:
          min_days:
            description: Minimum days between password changes (C(chage -m)).
            type: int
            required: true
          max_days:
            description: Maximum password age in days (C(chage -M)).
            type: int
            required: true
          warn_days:
            description: Days of warning before the password expires (C(chage -W)).
            type: int
            required: true
      lock:
        description: Lock the password and expire the account (a departed person's account).
        type: bool
        default: false
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
author: Socle
"""

EXAMPLES = r"""
- name: Ageing of personal accounts, departed staff locked
  socle_account_policy:
    entries:
      - control: M5-LNX-PASS-AGEING
        names: [marie, paul]
        ageing: {min_days: 1, max_days: 99999, warn_days: 7}
      - control: M5-LNX-DEPARTED-LOCKED
        names: [ancien]
        lock: true
"""

RETURN = r"""
socle_inputs:
  description: In check mode, when the shadow database is local, the state of C(/etc/shadow) and
    C(/etc/nsswitch.conf) taken before reading them (see module_utils/socle_reuse.py). The action removes it.
  returned: check mode
  type: dict
socle_results:
  description: Control ID -> changed, diff, expected, actual for that entry's accounts.
  returned: always
  type: dict
"""

import re

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.socle_accounts import parse_shadow
from ansible.module_utils.socle_files import read_text
from ansible.module_utils.socle_reuse import Inputs

NAME_RE = re.compile(r"^[a-z_][a-z0-9_.-]*\$?$", re.IGNORECASE)
EXPIRED_DAY = 1  # 1970-01-02: ansible.builtin.user's expires=86400
EXPIRED_DATE = "1970-01-02"
SHADOW, NSSWITCH = "/etc/shadow", "/etc/nsswitch.conf"
# Sources of the shadow database whose whole content is /etc/shadow (systemd's adds only dynamic users).
LOCAL_SHADOW_SOURCES = frozenset({"files", "compat", "systemd"})


class Refused(Exception):
    """Arguments or host state that the module will not act on; the message says why."""


def shadow_is_local(nsswitch: str | None) -> bool:
    """Whether `getent shadow` reads only /etc/shadow (an earlier check then holds while that file is unchanged)."""
    for raw in (nsswitch or "").splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith("shadow:"):
            sources = {word for word in line.split(":", 1)[1].split() if not word.startswith("[")}
            return sources <= LOCAL_SHADOW_SOURCES
    return True  # no shadow line: glibc reads files


def describe_ageing(name: str, entry: dict) -> str:
    def show(value):
        return "unset" if value is None or value < 0 else str(value)

    return f"{name}: min {show(entry['min'])}, max {show(entry['max'])}, warn {show(entry['warn'])} days"


def describe_lock(name: str, entry: dict) -> str:
    expire = entry["expire"]
    expiry = "never expires" if expire is None or expire < 0 else (
        f"expired since {EXPIRED_DATE}" if expire == EXPIRED_DAY else f"expires on day {expire}")
    return f"{name}: password {'locked' if entry['lock_mark'] else 'not locked'}, account {expiry}"


def plan(entries: list[dict], shadow: dict[str, dict]) -> tuple[list[list[str]], dict]:
    """(commands, socle_results) for ``entries`` on a host whose shadow is ``shadow``."""
    commands, results = [], {}
    for entry in entries:
        control, ageing, lock = entry["control"], entry.get("ageing"), bool(entry.get("lock"))
        if bool(ageing) == lock:
            raise Refused(f"{control}: give ageing or lock: true (one of them)")
        if ageing and any(ageing[k] < -1 for k in ("min_days", "max_days", "warn_days")):
            raise Refused(f"{control}: ageing days must be -1 (unset) or more")
        if not entry["names"]:  # nothing to set for this control: as if its own task had been skipped
            results[control] = {"changed": False, "skipped": True}
            continue
        before, after, share = [], [], {"changed": False}
        for name in entry["names"]:
            if not NAME_RE.match(name):
                raise Refused(f"{control}: {name!r} is not a valid account name")
            if name not in shadow:
                raise Refused(f"{control}: no account {name!r} on this host (nothing is created)")
            now = shadow[name]
            if ageing:
                wanted = {"min": ageing["min_days"], "max": ageing["max_days"], "warn": ageing["warn_days"]}
                flags = [word for key, flag in (("min", "-m"), ("max", "-M"), ("warn", "-W"))
                         if (-1 if now[key] is None else now[key]) != wanted[key] for word in (flag, str(wanted[key]))]
                new = {**now, **wanted}
                described = describe_ageing
                if flags:
                    commands.append(["chage", *flags, name])
            else:
                flags = []
                if now["expire"] != EXPIRED_DAY:
                    flags += ["-e", EXPIRED_DATE]
                if not now["lock_mark"]:
                    flags.append("-L")
                new = {**now, "lock_mark": True, "expire": EXPIRED_DAY}
                described = describe_lock
                if flags:
                    commands.append(["usermod", *flags, name])
            before.append(described(name, now))
            after.append(described(name, new))
            share["changed"] = share["changed"] or bool(flags)
        share["expected"], share["actual"] = "; ".join(after), "; ".join(before)
        share["diff"] = {"before": "\n".join(before) + "\n", "after": "\n".join(after) + "\n",
                         "before_header": f"{control} (accounts)", "after_header": f"{control} (accounts)"}
        results[control] = share
    return commands, results


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "entries": {"type": "list", "elements": "dict", "required": True, "options": {
                "control": {"type": "str", "required": True},
                "names": {"type": "list", "elements": "str", "required": True},
                "ageing": {"type": "dict", "options": {
                    "min_days": {"type": "int", "required": True},
                    "max_days": {"type": "int", "required": True},
                    "warn_days": {"type": "int", "required": True},
                }},
                "lock": {"type": "bool", "default": False},
            }},
        },
        supports_check_mode=True,
    )

    def shadow() -> dict[str, dict]:
        rc, out, err = module.run_command(["getent", "shadow"])
        if rc not in (0, 2):
            module.fail_json(msg=f"getent shadow failed: {err.strip()}; nothing was changed")
        return parse_shadow(out)

    entries = module.params["entries"]
    # What the plan reads, each path's state taken before it is read (reuse of a check result).
    inputs = Inputs()
    inputs.add(SHADOW, NSSWITCH)
    try:
        commands, results = plan(entries, shadow())
    except Refused as exc:
        module.fail_json(msg=f"{exc}; nothing was changed")
    changed = any(r["changed"] for r in results.values())
    diff = [r["diff"] for r in results.values() if r["changed"]]
    if module.check_mode or not commands:
        extra = {"socle_inputs": inputs.paths} if module.check_mode and shadow_is_local(read_text(NSSWITCH)) else {}
        module.exit_json(changed=changed, socle_results=results, diff=diff, **extra)
    for command in commands:
        rc, _out, err = module.run_command([module.get_bin_path(command[0], required=True,
                                                                opt_dirs=["/usr/sbin", "/sbin"]), *command[1:]])
        if rc != 0:
            module.fail_json(msg=f"{' '.join(command)} failed (rc {rc}): {err.strip()}", changed=True)
    remaining, _results = plan(entries, shadow())
    if remaining:
        module.fail_json(msg="accounts not in the state set: " + ", ".join(c[-1] for c in remaining), changed=True)
    module.exit_json(changed=True, socle_results=results, diff=diff)


if __name__ == "__main__":
    main()
