#!/usr/bin/python
"""Read whether ClamAV on-access scanning runs, and whether it can run: clamd, clamonacc, signatures, fanotify."""

from __future__ import annotations

DOCUMENTATION = r"""
module: socle_clamonacc_facts
short_description: Read the state of ClamAV on-access scanning (clamd and clamonacc)
description:
  - Reads, and never changes, the systemd state of C(clamav-daemon.service) (clamd) and
    C(clamav-clamonacc.service) (clamonacc), the C(OnAccess) lines of C(clamd.conf), whether the
    signature databases that Debian's C(clamav-daemon.service) waits for are there (C(main) and
    C(daily), as C(.cvd), C(.cld) or C(.inc)), and whether this host lets a process use fanotify the
    way clamonacc does (C(fanotify_init) with C(FAN_CLASS_CONTENT), C(FAN_UNLIMITED_QUEUE) and
    C(FAN_UNLIMITED_MARKS), which need C(CAP_SYS_ADMIN); the descriptor is closed at once, no mark is set).
  - C(startable) is true when clamd and clamonacc can be started here (clamd runs or its databases are
    there, and fanotify is allowed). C(socle_finding) is compliant only when both run.
options:
  database_dir:
    description: Folder of the signature databases.
    type: path
    default: /var/lib/clamav
  config:
    description: clamd's configuration file, read by clamonacc too.
    type: path
    default: /etc/clamav/clamd.conf
  log:
    description: clamonacc's log; when clamonacc has failed, its last C(ERROR) line is quoted.
    type: path
    default: /var/log/clamav/clamonacc.log
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
author: Socle
"""

EXAMPLES = r"""
- name: M2-LNX-AV-ONACCESS | clamd and clamonacc run
  socle_clamonacc_facts:
"""

RETURN = r"""
socle_finding:
  description: C(status) compliant or drift, C(expected), C(actual).
  returned: always
  type: dict
startable:
  description: Whether clamd and clamonacc can be started on this host now.
  returned: always
  type: bool
units:
  description: Per unit, C(loaded), C(active), C(state) (ActiveState/SubState) and C(pid).
  returned: always
  type: dict
databases:
  description: Whether the main and daily signature databases are there.
  returned: always
  type: bool
fanotify:
  description: Why fanotify cannot be used here, or null when it can.
  returned: always
  type: str
settings:
  description: The OnAccess lines of clamd.conf, in order.
  returned: always
  type: list
  elements: str
"""

import ctypes
import errno
import os
import re

from ansible.module_utils.basic import AnsibleModule

DAEMON = "clamav-daemon.service"
ONACC = "clamav-clamonacc.service"
# <sys/fanotify.h>: the flags clamonacc passes to fanotify_init (clamonacc/fanotif/fanotif.c).
FAN_CLASS_CONTENT = 0x04
FAN_UNLIMITED_QUEUE = 0x10
FAN_UNLIMITED_MARKS = 0x20
PROPERTIES = ("LoadState", "ActiveState", "SubState", "MainPID")


def fanotify_error() -> str | None:
    """Why a process cannot open fanotify as clamonacc does here, or None when it can."""
    try:
        init = ctypes.CDLL(None, use_errno=True).fanotify_init
    except (OSError, AttributeError) as exc:
        return f"no fanotify_init in the C library ({exc})"
    init.argtypes = [ctypes.c_uint, ctypes.c_uint]
    init.restype = ctypes.c_int
    flags = FAN_CLASS_CONTENT | FAN_UNLIMITED_QUEUE | FAN_UNLIMITED_MARKS
    fd = init(flags, os.O_RDONLY | getattr(os, "O_LARGEFILE", 0))
    if fd < 0:
        code = ctypes.get_errno()
        return f"fanotify_init failed: {os.strerror(code)} ({errno.errorcode.get(code, code)})"
    os.close(fd)
    return None


def databases_present(folder: str) -> bool:
    """main and daily are both there, as clamav-daemon.service's ConditionPathExistsGlob wants them."""
    return all(any(os.path.exists(os.path.join(folder, f"{name}.{ext}")) for ext in ("cvd", "cld", "inc"))
               for name in ("main", "daily"))


def onaccess_settings(text: str) -> list[str]:
    """The active OnAccess lines of a clamd.conf, whitespace normalised."""
    return [" ".join(line.split()) for line in text.splitlines() if re.match(r"^\s*OnAccess\w+\s", line)]


def unit_state(show: str) -> dict:
    """loaded, active, state and pid from ``systemctl show -p ...`` output."""
    props = dict(line.split("=", 1) for line in show.splitlines() if "=" in line)
    pid = int(props.get("MainPID") or 0)
    return {"loaded": props.get("LoadState") == "loaded", "active": props.get("ActiveState") == "active",
            "state": f"{props.get('ActiveState', 'unknown')}/{props.get('SubState', 'unknown')}", "pid": pid}


def last_error(text: str) -> str | None:
    """The last ERROR line of clamonacc's log, without its prefix."""
    errors = [line.split("ERROR:", 1)[1].strip() for line in text.splitlines() if "ERROR:" in line]
    return errors[-1] if errors else None


def onaccess_finding(units: dict, databases: bool, fanotify: str | None, settings: list[str],
                     database_dir: str = "/var/lib/clamav", error: str | None = None) -> dict:
    """compliant when clamd and clamonacc both run; otherwise drift, saying why each one does not."""
    watched = [s.split(" ", 1)[1] for s in settings if s.startswith("OnAccessIncludePath ")]
    expected = "clamd and clamonacc running (clamav-daemon, clamav-clamonacc), watching the policy's folders"
    daemon, onacc = units[DAEMON], units[ONACC]
    config = "clamd.conf: " + (", ".join(settings) if settings else "no OnAccess setting")
    if not daemon["loaded"] or not onacc["loaded"]:
        return {"status": "drift", "expected": expected,
                "actual": "clamav-daemon is not installed (no clamd, no clamonacc)"}
    if daemon["active"] and onacc["active"]:
        return {"status": "compliant", "expected": expected,
                "actual": f"clamonacc running (pid {onacc['pid']}) with clamd (pid {daemon['pid']}), "
                          f"watching {', '.join(watched) or 'nothing'}; {config}"}
    reasons = []
    if not daemon["active"]:
        if databases:
            reasons.append(f"clamd is not running (clamav-daemon {daemon['state']})")
        else:
            reasons.append(f"clamd is not running: no signature database (main and daily) in {database_dir}, "
                           "which clamav-daemon waits for (see M2-LNX-CLAMAV-SIG-AGE)")
    if not onacc["active"]:
        if fanotify:
            reasons.append(f"clamonacc cannot run on this host: {fanotify}; it needs fanotify and "
                           "CAP_SYS_ADMIN (a container without CAP_SYS_ADMIN cannot watch files)")
        else:
            reasons.append(f"clamonacc is not running (clamav-clamonacc {onacc['state']})"
                           + (f": {error}" if error and onacc["state"].startswith("failed") else ""))
    return {"status": "drift", "expected": expected, "actual": "; ".join(reasons) + f"; {config}"}


def read_text(path: str, limit: int = 65536) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, os.fstat(handle.fileno()).st_size - limit))
            return handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "database_dir": {"type": "path", "default": "/var/lib/clamav"},
            "config": {"type": "path", "default": "/etc/clamav/clamd.conf"},
            "log": {"type": "path", "default": "/var/log/clamav/clamonacc.log"},
        },
        supports_check_mode=True,
    )
    systemctl = module.get_bin_path("systemctl", required=True)
    units = {}
    for unit in (DAEMON, ONACC):
        _rc, out, _err = module.run_command([systemctl, "show", *(f"--property={p}" for p in PROPERTIES), unit])
        units[unit] = unit_state(out)
    databases = databases_present(module.params["database_dir"])
    fanotify = fanotify_error()
    settings = onaccess_settings(read_text(module.params["config"], limit=1 << 20))
    error = last_error(read_text(module.params["log"]))
    finding = onaccess_finding(units, databases, fanotify, settings, module.params["database_dir"], error)
    startable = (units[DAEMON]["loaded"] and units[ONACC]["loaded"] and fanotify is None
                 and (databases or units[DAEMON]["active"]))
    module.exit_json(changed=False, socle_finding=finding, startable=startable, units=units,
                     databases=databases, fanotify=fanotify, settings=settings)


if __name__ == "__main__":
    main()
