"""socle_accounts_audit's measurement on the host: read the accounts, sudoers and login records, assess.

Kept out of the module so that ``socle_facts`` can run the same measurement ahead of the task in a scheduled
audit (see ``socle_measure``); the module itself only validates its arguments and calls :func:`measure`.
"""

from __future__ import annotations

import glob
import os
import pwd
import sqlite3
import time

from ansible.module_utils.socle_accounts import (
    assess,
    is_interactive,
    parse_lastlog,
    parse_login_defs,
    parse_passwd,
    parse_shadow,
    parse_sudoers_rules,
    parse_wtmp,
    sudoers_includes,
    sudoers_logical_lines,
)
from ansible.module_utils.socle_files import read_text
from ansible.module_utils.socle_measure import MeasureError

SUDOERS = "/etc/sudoers"
LASTLOG = "/var/log/lastlog"
WTMP = "/var/log/wtmp"
WTMPDB = "/var/lib/wtmpdb/wtmp.db"
LASTLOG2 = "/var/lib/lastlog/lastlog2.db"


def read_bytes(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return None


def sudoers_lines(path: str | None = None, depth: int = 0) -> list[str]:
    """Logical lines of sudoers and every file it includes, in sudo's reading order."""
    path = path or SUDOERS
    text = read_text(path)
    if text is None or depth > 8:
        return []
    lines = []
    for line in sudoers_logical_lines(text):
        include = sudoers_includes(line)
        if not include:
            lines.append(line)
            continue
        kind, target = include[0]
        if not os.path.isabs(target):
            target = os.path.join(os.path.dirname(path), target)
        if kind == "file":
            lines += sudoers_lines(target, depth + 1)
        else:  # sudo skips names ending in ~ or containing a dot
            for entry in sorted(glob.glob(os.path.join(target, "*"))):
                name = os.path.basename(entry)
                if not name.endswith("~") and "." not in name and os.path.isfile(entry):
                    lines += sudoers_lines(entry, depth + 1)
    return lines


def sqlite_logins(path: str, query: str) -> dict[str, int] | None:
    """user -> last login epoch from a wtmpdb or lastlog2 database, None when unreadable."""
    if not os.path.isfile(path):
        return None
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = connection.execute(query).fetchall()
        finally:
            connection.close()
    except sqlite3.Error:
        return None
    return {str(user): int(when) for user, when in rows if user and when}


def last_logins(users: list[dict]) -> tuple[dict[str, int] | None, list[str]]:
    """Merge every login record the host keeps; (None, []) when it keeps none."""
    sources, merged = [], {}

    def merge(found: dict[str, int]) -> None:
        for user, when in found.items():
            merged[user] = max(when, merged.get(user, 0))

    data = read_bytes(LASTLOG)
    if data is not None:
        sources.append(LASTLOG)
        by_uid = parse_lastlog(data, [u["uid"] for u in users])
        merge({u["name"]: by_uid[u["uid"]] for u in users if u["uid"] in by_uid})
    data = read_bytes(WTMP)
    if data is not None:
        sources.append(WTMP)
        merge(parse_wtmp(data))
    found = sqlite_logins(WTMPDB, "SELECT User, MAX(Login) / 1000000 FROM wtmp WHERE Type = 3 GROUP BY User")
    if found is not None:
        sources.append(WTMPDB)
        merge(found)
    found = sqlite_logins(LASTLOG2, "SELECT Name, Time FROM Lastlog2")
    if found is not None:
        sources.append(LASTLOG2)
        merge(found)
    # Records that are all empty on a host where people do log in mean nothing writes them (Debian 13
    # without wtmpdb/lastlog2): say so rather than call every account unused.
    if not merged:
        return None, sources
    return merged, sources


def operator_name() -> str:
    sudo_user = os.environ.get("SUDO_USER")
    if sudo_user:
        return sudo_user
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return str(os.getuid())


ARGUMENT_SPEC = {
    "generic_names": {"type": "list", "elements": "str", "default": []},
    "broad_groups": {"type": "list", "elements": "str", "default": ["users"]},
    "unused_days": {"type": "int", "default": 90},
    "departed": {"type": "list", "elements": "str", "default": []},
}


def measure(module, params: dict) -> dict:
    """The module's result for validated ``params``; ``module`` runs the commands. Raises MeasureError."""
    if params["unused_days"] < 1:
        raise MeasureError("unused_days must be at least 1")

    def getent(database: str) -> str:
        rc, out, err = module.run_command(["getent", database])
        if rc not in (0, 2):
            raise MeasureError(f"getent {database} failed: {err.strip()}")
        return out

    users = parse_passwd(getent("passwd"))
    shadow = parse_shadow(getent("shadow"))
    if not users:
        raise MeasureError("getent passwd returned no account")
    defs = parse_login_defs(read_text("/etc/login.defs") or "")
    try:
        uid_min = int(defs.get("UID_MIN", "1000"))
    except ValueError:
        uid_min = 1000
    logins, sources = last_logins(users)
    operator = operator_name()
    findings = assess(
        users, shadow, parse_sudoers_rules(sudoers_lines()), logins,
        uid_min=uid_min, generic=params["generic_names"], broad_groups=params["broad_groups"],
        unused_days=params["unused_days"], now=int(time.time()), operator=operator,
    )
    known = {u["name"] for u in users}
    return {
        "changed": False, "socle_findings": findings, "operator": operator, "login_sources": sources,
        "human_accounts": sorted(u["name"] for u in users if is_interactive(u, uid_min)),
        "departed_present": [n for n in params["departed"] if n in known],
    }
