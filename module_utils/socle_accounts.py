"""Parsers and decisions for measure 5 (accounts), shared by Socle's modules and their unit tests.

Pure functions only: they take file or command text and return data, so every decision is tested
against recorded outputs without a host.
"""

from __future__ import annotations

import re
import struct

# Accounts whose shell is a command, not a login shell, by long-standing convention.
SYSTEM_SHELL_EXCEPTIONS = frozenset({"root", "sync", "shutdown", "halt"})
NO_LOGIN_SHELLS = frozenset({"/usr/sbin/nologin", "/sbin/nologin", "/bin/false", "/usr/bin/false", ""})
NOBODY_UID = 65534
DAY_S = 86400


# -- parsers -------------------------------------------------------------------------------------
def parse_passwd(text: str) -> list[dict]:
    """`getent passwd` or /etc/passwd -> [{name, uid, gid, home, shell}] (malformed lines skipped)."""
    users = []
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) != 7 or not fields[0] or line.startswith(("#", "+", "-")):
            continue
        try:
            uid, gid = int(fields[2]), int(fields[3])
        except ValueError:
            continue
        users.append({"name": fields[0], "uid": uid, "gid": gid, "home": fields[5], "shell": fields[6]})
    return users


def parse_shadow(text: str) -> dict[str, dict]:
    """`getent shadow` -> name -> {state (empty, locked or set), lock_mark, lastchg, min, max, warn, expire}
    (ints or None; lock_mark: the hash starts with "!", what `usermod -L` adds).

    The password hash itself is never kept: only whether it is empty, locked or set.
    """
    entries = {}
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) < 9 or not fields[0]:
            continue

        def number(value: str) -> int | None:
            return int(value) if value.strip().lstrip("-").isdigit() else None

        pw = fields[1]
        if pw == "":
            state = "empty"
        elif pw.startswith("!") or pw.startswith("*"):
            state = "locked"
        else:
            state = "set"
        entries[fields[0]] = {
            "state": state, "lock_mark": pw.startswith("!"), "lastchg": number(fields[2]), "min": number(fields[3]),
            "max": number(fields[4]), "warn": number(fields[5]), "expire": number(fields[7]),
        }
    return entries


def parse_login_defs(text: str) -> dict[str, str]:
    """/etc/login.defs -> KEY -> value (the last one wins, as in shadow-utils)."""
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 1)
        if len(parts) == 2:
            key, value = parts
            values[key] = value.strip().strip('"')
    return values


def sudoers_logical_lines(text: str) -> list[str]:
    """Sudoers text -> logical lines: comments removed, backslash continuations joined.

    `#include`/`#includedir` are directives, not comments, and are kept.
    """
    lines, current = [], ""
    for raw in text.splitlines():
        line = raw.rstrip()
        if current == "" and re.match(r"^\s*#(?!include)", line):
            continue
        if not re.match(r"^\s*[#@]include", line):
            line = re.sub(r"(?<!\\)#(?![0-9]).*$", "", line).rstrip()
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        if current.strip():
            lines.append(" ".join(current.split()))
        current = ""
    if current.strip():
        lines.append(" ".join(current.split()))
    return lines


def sudoers_includes(text: str) -> list[tuple[str, str]]:
    """Include directives: [('file'|'dir', path)]."""
    found = []
    for line in sudoers_logical_lines(text):
        match = re.match(r"^[#@](include|includedir)\s+(\S+)", line)
        if match:
            found.append(("dir" if match.group(1) == "includedir" else "file", match.group(2)))
    return found


def _split_top(text: str, sep: str) -> list[str]:
    """Split on sep outside parentheses."""
    parts, depth, current = [], 0, ""
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(0, depth - 1)
        if char == sep and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [p.strip() for p in parts]


def parse_sudoers_aliases(lines: list[str]) -> dict[str, list[str]]:
    """User_Alias and Cmnd_Alias definitions -> NAME -> members (aliases are not expanded here)."""
    aliases: dict[str, list[str]] = {}
    for line in lines:
        match = re.match(r"^(User_Alias|Cmnd_Alias|Cmd_Alias|Runas_Alias|Host_Alias)\s+(.*)$", line)
        if not match:
            continue
        for definition in match.group(2).split(":"):
            name, _, members = definition.partition("=")
            aliases[name.strip()] = [m.strip() for m in members.split(",") if m.strip()]
    return aliases


def parse_sudoers_rules(lines: list[str]) -> list[dict]:
    """User specifications -> [{users: [...], nopasswd_all: bool, line}].

    `nopasswd_all` is true when some command list of the rule runs ALL under a NOPASSWD tag
    (tags carry over to the following commands of the same rule, as in sudoers(5)).
    """
    rules = []
    aliases = parse_sudoers_aliases(lines)
    for line in lines:
        if re.match(r"^(Defaults|User_Alias|Cmnd_Alias|Cmd_Alias|Runas_Alias|Host_Alias|[#@]include)", line):
            continue
        users_part, sep, rest = line.partition("=")
        if not sep or not users_part.strip():
            continue
        # "users hosts = (runas) TAG: cmds" ; users are the first field (comma list, no spaces).
        head = users_part.strip()
        match = re.match(r"^((?:[^\s,]+\s*,\s*)*[^\s,]+)\s+(.+)$", head)
        if not match:
            continue
        users = expand_users([u.strip() for u in match.group(1).split(",") if u.strip()], aliases)
        nopasswd_all = False
        for spec in [rest]:
            nopasswd = False
            for item in _split_top(spec, ","):
                item = re.sub(r"^\([^)]*\)\s*", "", item)
                while True:
                    tag = re.match(r"^(NOPASSWD|PASSWD|NOEXEC|EXEC|SETENV|NOSETENV|LOG_INPUT|NOLOG_INPUT|"
                                   r"LOG_OUTPUT|NOLOG_OUTPUT|MAIL|NOMAIL|FOLLOW|NOFOLLOW|INTERCEPT|"
                                   r"NOINTERCEPT)\s*:\s*", item)
                    if not tag:
                        break
                    if tag.group(1) == "NOPASSWD":
                        nopasswd = True
                    elif tag.group(1) == "PASSWD":
                        nopasswd = False
                    item = item[tag.end():]
                command = item.strip()
                expanded = aliases.get(command, [command])
                if nopasswd and "ALL" in expanded:
                    nopasswd_all = True
        rules.append({"users": users, "nopasswd_all": nopasswd_all, "line": line})
    return rules


def expand_users(users: list[str], aliases: dict[str, list[str]], depth: int = 0) -> list[str]:
    out = []
    for user in users:
        negated = user.startswith("!")
        name = user.lstrip("!")
        if name in aliases and depth < 8:
            out += [("!" if negated else "") + u for u in expand_users(aliases[name], aliases, depth + 1)]
        else:
            out.append(user)
    return out


LASTLOG_RECORD = struct.Struct("=i32s256s")  # ll_time (int32), ll_line, ll_host: 292 bytes (x86-64)


def parse_lastlog(data: bytes, uids: list[int]) -> dict[int, int]:
    """/var/log/lastlog (sparse, indexed by UID) -> uid -> last login epoch, for the given UIDs."""
    found = {}
    size = LASTLOG_RECORD.size
    for uid in uids:
        offset = uid * size
        if offset + size > len(data):
            continue
        when = LASTLOG_RECORD.unpack_from(data, offset)[0]
        if when > 0:
            found[uid] = when
    return found


UTMP_RECORD = struct.Struct("=h2xi32s4s32s256shhiii4i20s")  # struct utmp on x86-64 glibc: 384 bytes
USER_PROCESS = 7


def parse_wtmp(data: bytes) -> dict[str, int]:
    """/var/log/wtmp (struct utmp records) -> user -> last login epoch (USER_PROCESS entries)."""
    found: dict[str, int] = {}
    size = UTMP_RECORD.size
    for offset in range(0, len(data) - size + 1, size):
        fields = UTMP_RECORD.unpack_from(data, offset)
        if fields[0] != USER_PROCESS:
            continue
        user = fields[4].split(b"\0", 1)[0].decode("utf-8", "replace")
        when = fields[9]
        if user and when > found.get(user, 0):
            found[user] = when
    return found


# -- decisions -----------------------------------------------------------------------------------
def finding(status: str, expected: str, actual: str) -> dict:
    return {"status": status, "expected": expected, "actual": actual}


def is_interactive(user: dict, uid_min: int) -> bool:
    return user["uid"] >= uid_min and user["uid"] != NOBODY_UID and user["shell"] not in NO_LOGIN_SHELLS


def is_closed(shadow: dict | None, today: int) -> bool:
    """The account cannot be used: locked password, or expiry date passed."""
    if not shadow:
        return False
    if shadow["state"] == "locked":
        return True
    return shadow["expire"] is not None and 0 <= shadow["expire"] <= today


def generic_match(name: str, generic: list[str]) -> str | None:
    """The generic name an account name matches ('stagiaire' matches stagiaire, stagiaire2, stagiaire-2)."""
    low = name.lower()
    for word in generic:
        word = word.lower()
        if low == word or re.fullmatch(re.escape(word) + r"[-_.]?[0-9]+", low):
            return word
    return None


def names(items) -> str:
    return ", ".join(sorted(items)) or "none"


def assess(users: list[dict], shadow: dict[str, dict], sudo_rules: list[dict], last_logins: dict[str, int] | None,
           *, uid_min: int, generic: list[str], broad_groups: list[str], unused_days: int, now: int,
           operator: str | None = None) -> dict[str, dict]:
    """Control ID -> finding for the measured controls of measure 5.

    `last_logins` is None when the host keeps no login record Socle can read (then the unused-account
    control is not_applicable); an empty dict means records exist but show no login.
    """
    today = now // DAY_S
    results = {}

    empty = [u for u, s in shadow.items() if s["state"] == "empty"]
    results["M5-LNX-EMPTY-PASSWORDS"] = finding(
        "drift" if empty else "compliant", "no account with an empty password",
        f"accounts with an empty password: {names(empty)}")

    uid0 = [u["name"] for u in users if u["uid"] == 0 and u["name"] != "root"]
    results["M5-LNX-EXTRA-UID0"] = finding(
        "drift" if uid0 else "compliant", "root is the only UID 0 account",
        f"other UID 0 accounts: {names(uid0)}")

    interactive = [u for u in users if is_interactive(u, uid_min)]
    shared = [f"{u['name']} ({generic_match(u['name'], generic)})" for u in interactive
              if generic_match(u["name"], generic) and not is_closed(shadow.get(u["name"]), today)]
    results["M5-LNX-SHARED-ACCOUNTS"] = finding(
        "drift" if shared else "compliant",
        f"no open interactive account with a generic name ({', '.join(generic) or 'none listed'})",
        f"generic accounts: {names(shared)}")

    if last_logins is None:
        results["M5-LNX-UNUSED-ACCOUNTS"] = finding(
            "not_applicable", f"every open interactive account used within {unused_days} days",
            "no login record on this host (no lastlog, wtmp, wtmpdb or lastlog2 data)")
    else:
        limit = now - unused_days * DAY_S
        unused = []
        for user in interactive:
            entry = shadow.get(user["name"])
            if is_closed(entry, today) or user["name"] == operator:
                continue
            last = last_logins.get(user["name"])
            if last is None:
                changed = entry["lastchg"] if entry else None
                if changed is not None and changed * DAY_S < limit:
                    unused.append(f"{user['name']} (never logged in)")
            elif last < limit:
                unused.append(f"{user['name']} (last login {(now - last) // DAY_S} days ago)")
        results["M5-LNX-UNUSED-ACCOUNTS"] = finding(
            "drift" if unused else "compliant",
            f"every open interactive account used within {unused_days} days",
            f"unused accounts: {names(unused)}")

    shells = [f"{u['name']} ({u['shell']})" for u in users
              if u["uid"] < uid_min and u["name"] not in SYSTEM_SHELL_EXCEPTIONS and u["shell"] not in NO_LOGIN_SHELLS]
    results["M5-LNX-SYSTEM-SHELLS"] = finding(
        "drift" if shells else "compliant",
        f"no login shell on accounts below UID {uid_min} (except {', '.join(sorted(SYSTEM_SHELL_EXCEPTIONS))})",
        f"system accounts with a login shell: {names(shells)}")

    broad = {"ALL"} | {f"%{g}" for g in broad_groups}
    grants = [r["line"] for r in sudo_rules if r["nopasswd_all"] and set(r["users"]) & broad]
    results["M5-LNX-SUDO-NOPASSWD"] = finding(
        "drift" if grants else "compliant",
        f"no NOPASSWD: ALL sudo rule for everyone (ALL, {', '.join('%' + g for g in broad_groups) or 'no group'})",
        f"rules: {' | '.join(grants) or 'none'}")
    return results
