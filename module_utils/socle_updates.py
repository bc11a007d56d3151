"""Decisions for measure 1 (software updates), shared by Socle's modules and their unit tests.

Pure functions: they take text (command output, log files, configuration) and the policy, and return
what to write or what was found. Nothing here runs a command or touches a file. The Debian
configuration files are plain templates in roles/updates (checked live with apt-config dump); the
RHEL-family configuration, which cannot run here, is decided here and unit-tested.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

# -- findings ---------------------------------------------------------------------------------------
INST_RE = re.compile(r"^Inst (\S+) (?:\[[^\]]*\] )?\((\S+) (.*?) \[[^\]]*\]\)")


def pending_upgrades(simulation: str) -> list[dict]:
    """Packages that ``apt-get -s upgrade`` would install: name, version and origins (``Inst`` lines).

    ``Inst openssl [3.0.11-1~deb12u2] (3.0.13-1~deb12u1 Debian-Security:12/stable-security [amd64])``
    """
    found = []
    for line in simulation.splitlines():
        match = INST_RE.match(line)
        if match:
            origins = [o.strip() for o in match.group(3).split(",")]
            found.append({"name": match.group(1), "version": match.group(2), "origins": origins})
    return found


def is_security_origin(origin: str) -> bool:
    """``Debian-Security:12/stable-security``, ``Ubuntu:24.04/noble-security``: a security archive."""
    return "security" in origin.lower()


def pending_security(simulation: str) -> list[str]:
    """Sorted 'name version' of the pending upgrades that come from a security archive."""
    return sorted(f"{p['name']} {p['version']}" for p in pending_upgrades(simulation)
                  if any(is_security_origin(o) for o in p["origins"]))


UU_LINE_RE = re.compile(r"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})(?:,\d+)? (\w+) (.*)$")
UU_SUCCESS = (
    "No packages found that can be upgraded unattended",
    "All upgrades installed",
)
UU_FAILURE = ("Installing the upgrades failed", "An error occurred", "Cache has broken packages")


def last_successful_run(log_text: str) -> datetime | None:
    """Time of the last run of unattended-upgrades that ended well, from its own log.

    A run starts at "Starting unattended upgrades script"; it counts as successful when it logged a
    success line and no ERROR or failure line. The log's times are local time without a zone, as
    unattended-upgrades writes them; they are returned naive.
    """
    best = None
    run_ok = run_failed = False
    started = None
    for raw in log_text.splitlines():
        match = UU_LINE_RE.match(raw.strip())
        if not match:
            continue
        stamp = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S")
        level, message = match.group(2), match.group(3)
        if "Starting unattended upgrades script" in message:
            if started and run_ok and not run_failed:
                best = max(best, started) if best else started
            started, run_ok, run_failed = stamp, False, False
            continue
        if started is None:
            started = stamp
        if level in ("ERROR", "CRITICAL") or any(m in message for m in UU_FAILURE):
            run_failed = True
        elif any(m in message for m in UU_SUCCESS):
            run_ok = True
            started = max(started, stamp)
    if started and run_ok and not run_failed:
        best = max(best, started) if best else started
    return best


def age_hours(then: datetime | float, now: datetime | float) -> float:
    """Hours between two datetimes (both naive or both aware) or two POSIX times."""
    if isinstance(then, datetime) and isinstance(now, datetime):
        return (now - then).total_seconds() / 3600
    return (float(now) - float(then)) / 3600


def finding(status: str, expected: str, actual: str) -> dict:
    return {"status": status, "expected": expected, "actual": actual}


def decide_pending(packages: list[str], max_pending: int) -> dict:
    expected = f"at most {max_pending} pending security update(s) (ANSSI m.34: fixes within the month)"
    if len(packages) <= max_pending:
        actual = "no pending security update" if not packages else f"{len(packages)} pending: " + ", ".join(packages)
        return finding("compliant", expected, actual)
    shown = ", ".join(packages[:20]) + (" ..." if len(packages) > 20 else "")
    return finding("drift", expected, f"{len(packages)} pending security update(s): {shown}")


def decide_last_run(last: datetime | None, now: datetime, max_age_h: int) -> dict:
    expected = f"a successful unattended-upgrades run less than {max_age_h} h ago"
    if last is None:
        return finding("drift", expected, "no successful unattended-upgrades run recorded")
    age = age_hours(last, now)
    actual = f"last successful run {last:%Y-%m-%d %H:%M} ({age:.0f} h ago)"
    if age < -1:
        return finding("drift", expected, actual + ": dated in the future, clock or log is wrong")
    return finding("compliant" if age <= max_age_h else "drift", expected, actual)


def decide_holds(held: list[str], allowed: list[str]) -> dict:
    extra = sorted(set(held) - set(allowed))
    expected = "no held package" + (f" except {', '.join(sorted(allowed))}" if allowed else "")
    if not held:
        return finding("compliant", expected, "no held package")
    actual = "held: " + ", ".join(sorted(held))
    return finding("drift" if extra else "compliant", expected, actual)


def decide_reboot(present: bool, age_h: float | None, max_age_h: int, packages: list[str]) -> dict:
    expected = f"no reboot pending for more than {max_age_h} h"
    if not present:
        return finding("compliant", expected, "no reboot required")
    why = f" (for {', '.join(packages[:10])})" if packages else ""
    actual = f"reboot required for {age_h:.0f} h{why}" if age_h is not None else f"reboot required{why}"
    return finding("compliant" if (age_h or 0) <= max_age_h else "drift", expected, actual)


# -- RHEL family: dnf-automatic and dnf5-automatic (decision code; not run live here) ---------------
DNF_AUTOMATIC = {
    # dnf 4: one file, the package's own, edited in place; timer that honours apply_updates.
    "dnf": {"path": "/etc/dnf/automatic.conf", "timer": "dnf-automatic.timer", "package": "dnf-automatic"},
    # dnf5: the package's defaults live in /usr/share; /etc/dnf/automatic.conf overrides them.
    "dnf5": {"path": "/etc/dnf/automatic.conf", "timer": "dnf5-automatic.timer", "package": "dnf5-plugin-automatic"},
}


_DUMP_LINE = re.compile(r'^(?P<key>[^\s"]+?)(?P<list>::)? "(?P<value>(?:[^"\\]|\\.)*)";$')


def parse_apt_config_dump(text: str) -> dict[str, str | list[str]]:
    """``apt-config dump`` as {key in lower case: value}, list keys (``Key:: "v";`` lines) as lists in order."""
    values: dict[str, str | list[str]] = {}
    for line in text.splitlines():
        match = _DUMP_LINE.match(line.strip())
        if not match:
            continue
        key, value = match["key"].lower(), match["value"]  # apt's keys are case-insensitive
        if match["list"]:
            current = values.get(key)
            values[key] = [*current, value] if isinstance(current, list) else [value]
        else:
            values.setdefault(key, [] if value == "" else value)
    return values


def apt_config_overrides(dump: str, expected: dict[str, str | list[str]]) -> dict[str, dict]:
    """The keys whose effective value (``apt-config dump``) is not the expected one."""
    effective = parse_apt_config_dump(dump)
    out = {}
    for key, want in expected.items():
        have = effective.get(key.lower(), [] if isinstance(want, list) else None)
        if isinstance(want, list):
            have = have if isinstance(have, list) else ([] if have in (None, "") else [have])
            if have != list(want):
                out[key] = {"expected": list(want), "effective": have}
        elif have != str(want):
            out[key] = {"expected": str(want), "effective": have}
    return out


def dnf_automatic_settings(flavour: str, scope: str, reboot: str) -> dict[str, dict[str, str]]:
    """The [commands] settings Socle sets, per dnf flavour and policy."""
    if flavour not in DNF_AUTOMATIC:
        raise ValueError(f"dnf flavour must be dnf or dnf5, got {flavour!r}")
    commands = {
        "upgrade_type": "security" if scope == "security" else "default",
        "download_updates": "yes",
        "apply_updates": "yes",
    }
    if flavour == "dnf5":
        # dnf5-automatic: reboot = never | when-changed | when-needed
        commands["reboot"] = "when-needed" if reboot == "window" else "never"
    return {"commands": commands, "emitters": {"emit_via": "motd"}}


def parse_ini(text: str) -> list[tuple[str | None, str | None, str | None, str]]:
    """Lines of an INI file as (section, key, value, raw line); comments keep key None."""
    parsed = []
    section = None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
            parsed.append((section, None, None, raw))
        elif line and not line.startswith(("#", ";")) and "=" in line:
            key, _, value = line.partition("=")
            parsed.append((section, key.strip(), value.strip(), raw))
        else:
            parsed.append((section, None, None, raw))
    return parsed


def merge_ini(text: str, settings: dict[str, dict[str, str]]) -> str:
    """Set settings in an INI text, keeping comments and unrelated keys; append missing ones."""
    out: list[str] = []
    seen: set[tuple[str, str]] = set()
    parsed = parse_ini(text)
    sections_present = {s for s, k, _v, _r in parsed if k is None and s is not None}

    def flush(section: str | None) -> None:
        for key, value in (settings.get(section or "") or {}).items():
            if (section, key) not in seen:
                out.append(f"{key} = {value}")
                seen.add((section, key))

    current = None
    for section, key, _value, raw in parsed:
        if key is None and section != current and raw.strip().startswith("["):
            flush(current)
            current = section
            out.append(raw)
            continue
        if key is not None and section in settings and key in settings[section]:
            if (section, key) in seen:
                continue  # a duplicate key: the last one would win in dnf, keep only ours
            out.append(f"{key} = {settings[section][key]}")
            seen.add((section, key))
            continue
        out.append(raw)
    flush(current)
    for section, values in settings.items():
        if section not in sections_present:
            out.append(f"[{section}]")
            out += [f"{k} = {v}" for k, v in values.items()]
    return "\n".join(out) + "\n"


def effective_ini(text: str) -> dict[str, dict[str, str]]:
    values: dict[str, dict[str, str]] = {}
    for section, key, value, _raw in parse_ini(text):
        if key is not None and section is not None:
            values.setdefault(section, {})[key] = value or ""
    return values


def dnf_drift(text: str, settings: dict[str, dict[str, str]]) -> list[str]:
    """'section.key: actual -> expected' for every setting that differs from the policy."""
    current = effective_ini(text)
    return [f"{s}.{k}: {current.get(s, {}).get(k, '(unset)')} -> {v}"
            for s, values in settings.items() for k, v in values.items() if current.get(s, {}).get(k) != v]


def dnf_security_pending(check_update_rc: int, output: str) -> list[str] | None:
    """Names from ``dnf check-update --security -q``: rc 100 means updates, 0 none, else None (error)."""
    if check_update_rc == 0:
        return []
    if check_update_rc != 100:
        return None
    names = []
    for line in output.splitlines():
        parts = line.split()
        if len(parts) == 3 and "." in parts[0] and not line.startswith(" "):
            names.append(f"{parts[0].rsplit('.', 1)[0]} {parts[1]}")
    return sorted(names)


def now_utc() -> datetime:
    return datetime.now(UTC)
