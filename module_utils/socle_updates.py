"""Decisions for measure 1 (software updates), shared by Socle's modules and their unit tests.

Pure functions: they take text (command output, log files, configuration) and the policy, and return
what to write or what was found. Nothing here runs a command or touches a file. The Debian
configuration files are plain templates in roles/updates (checked live with apt-config dump); the
RHEL-family configuration and measurements, which cannot run here, are decided here and unit-tested
on recorded outputs.

Runs on the managed host: keep it importable by Python 3.9 (RHEL 9's /usr/bin/python3), so no
``datetime.UTC`` (3.11) and no ``tomllib`` at import time (3.11).
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone

UTC = timezone.utc  # noqa: UP017 - datetime.UTC is Python 3.11+, RHEL 9 runs 3.9

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


def decide_last_run(last: datetime | None, now: datetime, max_age_h: int, tool: str = "unattended-upgrades") -> dict:
    expected = f"a successful {tool} run less than {max_age_h} h ago"
    if last is None:
        return finding("drift", expected, f"no successful {tool} run recorded")
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
    "dnf": {"path": "/etc/dnf/automatic.conf", "timer": "dnf-automatic.timer", "package": "dnf-automatic",
            "service": "dnf-automatic.service"},
    # dnf5: the package's defaults live in /usr/share; /etc/dnf/automatic.conf overrides them.
    "dnf5": {"path": "/etc/dnf/automatic.conf", "timer": "dnf5-automatic.timer", "package": "dnf5-plugin-automatic",
             "service": "dnf5-automatic.service"},
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


# -- RHEL family: the four findings, from dnf 4 / dnf5 outputs (decision code; not run live here) -----
#: What the measurement runs per dnf flavour. Every command runs with LC_ALL=C, and every decision is
#: an exit code or a machine format (package rows, ``systemctl show`` properties, journal JSON,
#: ``rpm --qf`` lines, the versionlock files); no sentence of dnf's is ever matched.
DNF_MEASURE = {
    "dnf": {
        "tool": "dnf-automatic",
        # -C: the cache dnf-automatic keeps fresh, no download (as apt-get -s uses apt's lists).
        "pending": ["dnf", "-q", "-C", "check-update", "--security"],
        "needs_restarting": ["dnf", "-q", "-C", "needs-restarting", "-r"],
        # dnf-plugins-core (dnf 4) provides this virtual name for its needs-restarting plugin.
        "needs_restarting_provide": "dnf-plugin-needs_restarting",
    },
    "dnf5": {
        "tool": "dnf5-automatic",
        "pending": ["dnf5", "-q", "-C", "check-upgrade", "--security"],
        # dnf5's needs-restarting is the reboot hint by default; its first versions had no -r at all.
        "needs_restarting": ["dnf5", "-q", "-C", "needs-restarting"],
        "needs_restarting_provide": "dnf5-command(needs-restarting)",
    },
}
CHECK_UPDATE_AVAILABLE = 100  # dnf check-update and dnf5 check-upgrade: updates listed, exit code 100
UNREADABLE_PENDING = "(exit code 100, but no package row could be read)"

_NAME_ARCH = re.compile(r"^(?P<name>\S+)\.(?P<arch>[^.\s]+)$")
_EVR = re.compile(r"^(?:\d+:)?[^\s:-]+-[^\s-]+$")


def check_update_rows(output: str) -> list[tuple[str, str, str]]:
    """(name, arch, [epoch:]version-release) of the package rows of ``check-update`` / ``check-upgrade``.

    dnf 4 prints ``name.arch  evr  repo`` and, when a value overflows its column, continues the row
    on the next line, indented. Obsoleted packages are indented rows under the obsoleting one (both
    dnf 4 and dnf5). Headings and notes ("Obsoleting Packages", "Security: kernel-core-... is an
    installed security update", "No security updates needed, ...") are not rows: a row is exactly a
    ``name.arch`` and an ``[e:]version-release`` (and a repository, which a narrow table may cut).
    """
    rows: list[tuple[bool, list[str]]] = []
    for line in output.splitlines():
        fields = line.split()
        if not fields:
            continue
        indented = line[0].isspace()
        if indented and rows and len(rows[-1][1]) < 3:
            rows[-1][1].extend(fields)  # the rest of a row whose first column overflowed
            continue
        rows.append((indented, fields))
    found = []
    for indented, fields in rows:
        if indented or len(fields) not in (2, 3):
            continue
        name_arch = _NAME_ARCH.match(fields[0])
        if name_arch and _EVR.match(fields[1]):
            found.append((name_arch["name"], name_arch["arch"], fields[1]))
    return found


def dnf_security_pending(check_update_rc: int, output: str) -> list[str] | None:
    """Sorted 'name version' from ``dnf -q check-update --security`` (dnf5: ``check-upgrade``).

    The exit code decides: 0 is none, 100 is some (listed), anything else an error (None). With
    100 and no readable row, one placeholder entry keeps the count honest.
    """
    if check_update_rc == 0:
        return []
    if check_update_rc != CHECK_UPDATE_AVAILABLE:
        return None
    names = sorted({f"{name} {evr}" for name, _arch, evr in check_update_rows(output)})
    return names or [UNREADABLE_PENDING]


# systemd's catalogued "Deactivated successfully" message (SD_MESSAGE_UNIT_SUCCESS), which PID 1 logs
# with UNIT=<unit> each time a service ends well.
UNIT_SUCCESS_ID = "7ad2d189f7e94e70a38c781354912448"
SHOW_PROPERTIES = "LoadState,Result,ExecMainStatus,ExecMainExitTimestamp"
_SYSTEMD_TIME = re.compile(r"(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})")


def systemctl_show_command(service: str) -> list[str]:
    return ["systemctl", "show", service, f"--property={SHOW_PROPERTIES}"]


def journal_success_command(service: str) -> list[str]:
    """The last "Deactivated successfully" of the unit, logged by PID 1 (a trusted field: no process
    can forge ``_PID=1``), as one JSON line; survives reboots where the journal is persistent."""
    return ["journalctl", "--no-pager", "-q", "-o", "json", "-n", "1",
            f"MESSAGE_ID={UNIT_SUCCESS_ID}", "_PID=1", f"UNIT={service}"]


def parse_systemctl_show(text: str) -> dict[str, str]:
    """``Key=Value`` lines of ``systemctl show`` as a mapping."""
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def systemd_timestamp(value: str) -> datetime | None:
    """A timestamp property of ``systemctl show`` (``Tue 2026-11-24 06:12:01 CET``, the host's local
    time; empty or ``n/a`` when unset) as a naive local datetime."""
    value = (value or "").strip()
    if value.startswith("@") and value[1:].isdigit():  # --timestamp=unix, where a systemctl prints it
        return datetime.fromtimestamp(int(value[1:]))
    match = _SYSTEMD_TIME.search(value)
    return datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S") if match else None


def journal_last_success(text: str, service: str) -> datetime | None:
    """Local time of the newest "Deactivated successfully" of ``service`` in ``journalctl -o json``."""
    best = None
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if (not isinstance(entry, dict) or entry.get("MESSAGE_ID") != UNIT_SUCCESS_ID
                or entry.get("_PID") != "1" or entry.get("UNIT") != service):
            continue
        try:
            when = datetime.fromtimestamp(int(entry["__REALTIME_TIMESTAMP"]) / 1_000_000)
        except (KeyError, TypeError, ValueError):
            continue
        best = max(best, when) if best else when
    return best


def dnf_last_run(show: str, journal: str, service: str) -> tuple[datetime | None, str]:
    """Last successful run of the dnf-automatic service, and a note on what else systemd says.

    Two sources, the newest wins: the journal's last "Deactivated successfully" (across reboots where
    the journal is persistent), and ``systemctl show``'s last exit when its Result is success (this
    boot only, but also where the journal is volatile or rotated). A failed last run is named in the
    note; as on Debian, it is not drift while an earlier success is recent enough.
    """
    props = parse_systemctl_show(show)
    candidates = [t for t in (journal_last_success(journal, service),) if t]
    exited = systemd_timestamp(props.get("ExecMainExitTimestamp", ""))
    result = props.get("Result", "")
    if exited and result == "success" and props.get("ExecMainStatus", "0") == "0":
        candidates.append(exited)
    note = ""
    if props.get("LoadState") == "not-found":
        note = f"; {service} is not installed"
    elif exited and result and result != "success":
        note = (f"; the last run, ended {exited:%Y-%m-%d %H:%M}, failed "
                f"(Result={result}, exit status {props.get('ExecMainStatus', '?')})")
    return (max(candidates) if candidates else None), note


_TRUE = ("1", "yes", "true", "on")
DNF4_VERSIONLOCK_CONF = "/etc/dnf/plugins/versionlock.conf"
DNF5_VERSIONLOCK = "/etc/dnf/versionlock.toml"
_LOCK_SPEC = re.compile(r"^(?P<name>.+)-(?:\d+:)?\d[^-]*-[^-]+$")


def dnf4_locklist_path(dnf_conf: str | None, versionlock_conf: str | None) -> str | None:
    """The lock list dnf 4's versionlock plugin applies, or None when it applies none.

    No plugin configuration (python3-dnf-plugin-versionlock not installed), ``enabled`` false in it,
    ``plugins`` false in dnf.conf, or no ``locklist`` set: no lock is applied.
    """
    if versionlock_conf is None:
        return None
    if effective_ini(dnf_conf or "").get("main", {}).get("plugins", "1").lower() not in _TRUE:
        return None
    main = effective_ini(versionlock_conf).get("main", {})
    if main.get("enabled", "1").lower() not in _TRUE:
        return None
    return main.get("locklist") or None


def versionlock_name(spec: str) -> str:
    """The package name of a dnf 4 lock list entry (``bash-0:5.1.8-9.el9.*``, ``!kernel-5.14.0-1.el9.*``).

    What ``versionlock add`` writes is ``name-[epoch:]version-release.*``; an entry written by hand
    (``--raw``, a bare name or a glob) is returned as written.
    """
    spec = spec.strip().lstrip("!")
    match = _LOCK_SPEC.match(spec)
    return match["name"] if match else spec


def dnf4_held(locklist: str | None) -> list[str]:
    """Names held by dnf 4's lock list: what ``dnf versionlock list`` prints is every line that is not
    blank or a comment. An exclude (``!`` entry) blocks a version, so it counts as a hold too."""
    return sorted({versionlock_name(line) for line in (locklist or "").splitlines()
                   if line.strip() and not line.startswith("#")})


def dnf5_held(text: str | None) -> list[str]:
    """Names held by dnf5's ``/etc/dnf/versionlock.toml`` (built into libdnf5, no plugin).

    dnf5 applies the file only when it declares ``version = "1.0"``, and skips entries without a name
    or without conditions; so does this. Raises ValueError on a file TOML cannot read (dnf5 aborts too).
    """
    if not text:
        return []
    import tomllib  # Python 3.11+: dnf5 hosts (RHEL 10, Fedora 41+) have 3.12 or later

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"versionlock.toml is not valid TOML: {error}") from error
    if data.get("version") != "1.0":
        return []
    return sorted({str(entry["name"]) for entry in data.get("packages") or []
                   if isinstance(entry, dict) and entry.get("name") and entry.get("conditions")})


#: Packages whose update needs a reboot: dnf 4 needs-restarting's NEED_REBOOT list (the base of dnf5's).
REBOOT_CORE = ("kernel", "kernel-core", "kernel-rt", "glibc", "linux-firmware", "systemd", "dbus",
               "dbus-broker", "dbus-daemon")
_RPM_ROW = re.compile(r"^(\S+) (\d+)$")


def core_install_command() -> list[str]:
    """Install time of every installed version of the core packages (rpm's exit code counts the
    packages not installed, so only the ``name time`` rows matter)."""
    return ["rpm", "-q", "--qf", "%{NAME} %{INSTALLTIME}\\n", *REBOOT_CORE]


def rpm_install_times(text: str) -> list[tuple[str, int]]:
    return [(m.group(1), int(m.group(2))) for m in map(_RPM_ROW.match, text.splitlines()) if m]


def boot_time(proc_stat: str | None, proc1_mtime: float | None) -> float | None:
    """Boot time as needs-restarting takes it without systemd's answer: the later of the kernel's
    ``btime`` (/proc/stat) and the start of PID 1 (mtime of /proc/1)."""
    times = [float(m.group(1)) for m in re.finditer(r"^btime (\d+)$", proc_stat or "", re.M)]
    if proc1_mtime:
        times.append(float(proc1_mtime))
    return max(times) if times else None


def dnf_reboot(plugin: bool, rc: int | None, error: str, installed: list[tuple[str, int]],
               booted: float | None, now: float) -> tuple[bool | None, float | None, list[str], str]:
    """(required, hours pending, packages, note); required None when it cannot be measured.

    needs-restarting's exit code decides (0 no, 1 yes); dnf 4's plugin exits 1 on an error too, so its
    presence is checked first (``rpm -q --whatprovides``). How long the reboot has been pending is
    measured from rpm: the install time of the oldest core package installed since boot. A reboot that
    needs-restarting asks for another package (an advisory's reboot_suggested, a file under
    /etc/dnf/plugins/needs-restarting.d) has no measurable age. Without needs-restarting, the same rule
    as dnf 4's ``-r`` is applied to the core packages.
    """
    since_boot = sorted((t, name) for name, t in installed if booted is not None and t > booted)
    packages = sorted({name for _t, name in since_boot})
    age = (now - since_boot[0][0]) / 3600 if since_boot else None
    if plugin:
        if rc == 0:
            return False, None, [], ""
        if rc == 1:
            if since_boot:
                return True, age, packages, ""
            why = f": {error.strip()[:200]}" if error.strip() else ""
            return True, None, [], (" (needs-restarting exited 1 but no core package was installed since boot: a"
                                    " package outside the core list, or needs-restarting failed" + why + ")")
        return None, None, [], f"needs-restarting failed (exit code {rc}): {error.strip()[:200]}"
    if booted is None:
        return None, None, [], "needs-restarting is not installed and the boot time cannot be read"
    note = " (needs-restarting is not installed: core packages installed since boot)" if since_boot else ""
    return bool(since_boot), age, packages, note


def dnf_reboot_note(manager: str, reboot: str) -> str:
    """What the expected text of M1-LNX-REBOOT-REQUIRED says when the policy's automatic reboot is not
    set on this host: dnf-automatic 4 has a ``reboot`` option only from dnf 4.15 (RHEL 9.3 backport),
    and Socle sets it for dnf5 only."""
    if manager == "dnf" and reboot == "window":
        return ("; the policy asks for automatic reboots, but Socle sets no reboot option for dnf-automatic"
                " (dnf 4): reboots stay manual on this host")
    return ""


def now_utc() -> datetime:
    return datetime.now(UTC)
