#!/usr/bin/python
"""Own one system-wide dconf keyfile with its locks, and keep the compiled database current."""

from __future__ import annotations

DOCUMENTATION = r"""
module: socle_dconf
short_description: System-wide dconf defaults with locks, compiled and verified
description:
  - Writes one keyfile and its locks file in C(/etc/dconf/db/<db>.d), makes sure the dconf profile
    reads that system database, and compiles the database with C(dconf update).
  - Compares the compiled database with what C(dconf compile) produces from the keyfiles, so a stale
    or hand-edited database is drift even when the keyfiles are right.
  - Reports the effective values read back from the compiled database.
  - When C(/etc/dconf/profile/<profile>) is absent, dconf reads the distribution's profile of that
    name (C(/usr/share/dconf/profile), as GDM ships C(gdm)). If that one already reads the system
    database, no profile is written; otherwise the new profile starts from it, so its other databases
    (GDM's greeter defaults) are kept.
  - C(community.general.dconf) writes a user's database over D-Bus; this module writes system
    defaults and locks, which users cannot override.
options:
  settings:
    description: Mapping of dconf directory (C(org/gnome/desktop/session)) to a mapping of key to a
      GVariant text value (C(uint32 900), C(true)).
    type: dict
    required: true
  lock:
    description: Lock every key set, so users cannot change it.
    type: bool
    default: true
  db:
    description: Name of the system database.
    type: str
    default: local
  profile:
    description: Name of the dconf profile that must read the system database.
    type: str
    default: user
  file:
    description: Base name of the keyfile and of the locks file.
    type: str
    default: 00-socle
  control:
    description: Control ID written in the files' header.
    type: str
    default: ''
  dconf_dir:
    description: The dconf configuration folder (tests only).
    type: path
    default: /etc/dconf
  vendor_dir:
    description: The distribution's dconf folder, holding the profiles packages ship (tests only).
    type: path
    default: /usr/share/dconf
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
author: Socle
"""

EXAMPLES = r"""
- name: Lock GNOME sessions after 15 minutes
  socle_dconf:
    file: 00-socle-session-lock
    settings:
      org/gnome/desktop/session: {idle-delay: uint32 900}
      org/gnome/desktop/screensaver: {lock-enabled: 'true', lock-delay: uint32 5}

- name: GNOME login-screen banner (GDM reads the system database gdm)
  socle_dconf:
    db: gdm
    profile: gdm
    file: 00-socle-login-banner
    settings:
      org/gnome/login-screen: {banner-message-enable: 'true', banner-message-text: "'Authorised users only.'"}
"""

RETURN = r"""
expected:
  description: The values set, one C(/dir/key=value) a line, with the lock state.
  returned: always
  type: str
actual:
  description: The values read back from the compiled database (before any change).
  returned: always
  type: str
database_current:
  description: Whether the compiled database matched the keyfiles before this run.
  returned: always
  type: bool
"""

import os
import re
import shutil
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.socle_files import atomic_write, file_diff, read_text

DIR_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9.-]*(/[a-zA-Z0-9][a-zA-Z0-9.-]*)*$")
KEY_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9-]*$")
NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")


def header(control: str) -> str:
    tag = f" (control {control})" if control else ""
    return f"# Managed by Socle{tag}. Local changes are overwritten: change the policy in the inventory.\n"


def render_keyfile(settings: dict[str, dict[str, str]], control: str) -> str:
    parts = [header(control)]
    for directory in sorted(settings):
        parts.append(f"[{directory}]\n")
        for key in sorted(settings[directory]):
            parts.append(f"{key}={settings[directory][key]}\n")
        parts.append("\n")
    return "".join(parts).rstrip("\n") + "\n"


def render_locks(settings: dict[str, dict[str, str]], control: str) -> str:
    keys = sorted(f"/{d}/{k}" for d, values in settings.items() for k in values)
    return header(control) + "".join(f"{key}\n" for key in keys)


def render_profile(current: str | None, db: str) -> str:
    """The profile with `user-db:user` first and `system-db:<db>` present, other lines kept."""
    lines = [] if current is None else [ln for ln in current.splitlines() if ln.strip()]
    wanted_db = f"system-db:{db}"
    if not any(ln.strip() == "user-db:user" for ln in lines):
        lines.insert(0, "user-db:user")
    if not any(ln.strip() == wanted_db for ln in lines):
        index = max(i for i, ln in enumerate(lines) if ln.strip() == "user-db:user") + 1
        lines.insert(index, wanted_db)
    return "\n".join(lines) + "\n"


def profile_reads(text: str | None, db: str) -> bool:
    """Whether a profile already reads the user database first and the system database ``db``."""
    lines = [] if text is None else [ln.strip() for ln in text.splitlines() if ln.strip()]
    return bool(lines) and lines[0] == "user-db:user" and f"system-db:{db}" in lines


def validate(module, settings) -> None:
    if not settings:
        module.fail_json(msg="settings: at least one dconf directory with one key is required")
    for directory, values in settings.items():
        if not isinstance(directory, str) or not DIR_RE.match(directory.strip("/")):
            module.fail_json(msg=f"settings: invalid dconf directory {directory!r}")
        if not isinstance(values, dict) or not values:
            module.fail_json(msg=f"settings.{directory}: must be a non-empty mapping of key to value")
        for key, value in values.items():
            if not KEY_RE.match(str(key)):
                module.fail_json(msg=f"settings.{directory}: invalid key {key!r}")
            if not isinstance(value, str) or not value.strip() or "\n" in value:
                module.fail_json(msg=f"settings.{directory}.{key}: value must be GVariant text on one line")
    for name in ("db", "profile", "file"):
        if not NAME_RE.match(module.params[name]):
            module.fail_json(msg=f"{name}: invalid name {module.params[name]!r}")


def compile_db(module, dconf: str, keyfile_dir: str) -> bytes:
    """What `dconf compile` produces from a keyfile folder (locks included)."""
    with tempfile.TemporaryDirectory(prefix="socle-dconf-") as tmp:
        out = os.path.join(tmp, "db")
        rc, _out, err = module.run_command([dconf, "compile", out, keyfile_dir])
        if rc != 0:
            module.fail_json(msg=f"dconf compile {keyfile_dir} failed: {err.strip()}")
        with open(out, "rb") as handle:
            return handle.read()


def staged_keyfiles(src: str, dst: str, replace: dict[str, str]) -> None:
    """Copy a keyfile folder to dst, with some relative paths replaced by new content."""
    if os.path.isdir(src):
        shutil.copytree(src, dst, symlinks=True)
    else:
        os.makedirs(dst)
    for rel, content in replace.items():
        path = os.path.join(dst, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(content)


def read_effective(module, dconf: str, db: str, settings, dconf_dir: str) -> str:
    """Read each key from the compiled system database only, with its lock state."""
    db_file = os.path.join(dconf_dir, "db", db)
    if not os.path.exists(db_file):
        return f"compiled database {db_file} absent"
    if dconf_dir != "/etc/dconf":
        return "(not read: custom dconf_dir)"
    with tempfile.TemporaryDirectory(prefix="socle-dconf-") as tmp:
        profile = os.path.join(tmp, "profile")
        with open(profile, "w", encoding="utf-8") as handle:
            # An empty user database in front (XDG_CONFIG_HOME is this empty folder): values come from
            # the system database, and dconf reports which keys it locks against users.
            handle.write(f"user-db:user\nsystem-db:{db}\n")
        env = {"DCONF_PROFILE": profile, "XDG_CONFIG_HOME": tmp, "XDG_RUNTIME_DIR": tmp}
        lines = []
        for directory in sorted(settings):
            _rc, locks, _err = module.run_command([dconf, "list-locks", f"/{directory}/"], environ_update=env)
            locked = set(locks.split())
            for key in sorted(settings[directory]):
                path = f"/{directory}/{key}"
                _rc, value, _err = module.run_command([dconf, "read", path], environ_update=env)
                value = value.strip() or "(unset)"
                lines.append(f"{path}={value}{' (locked)' if path in locked else ''}")
    return "\n".join(lines)


def overrides(settings, actual: str, keyfile_dir: str, own: str, lock: bool) -> str:
    """Keys whose effective value or lock differs from the policy, with the other keyfiles setting them."""
    effective = {}
    for line in actual.splitlines():
        path, _, value = line.partition("=")
        effective[path] = value
    wrong = []
    for directory in sorted(settings):
        for key in sorted(settings[directory]):
            path = f"/{directory}/{key}"
            want = f"{settings[directory][key]}{' (locked)' if lock else ''}"
            if effective.get(path) != want:
                others = []
                if os.path.isdir(keyfile_dir):
                    for name in sorted(os.listdir(keyfile_dir)):
                        full = os.path.join(keyfile_dir, name)
                        text = read_text(full) if name != own and os.path.isfile(full) else None
                        if text and re.search(rf"^\s*{re.escape(key)}\s*=", text, re.M):
                            others.append(full)
                where = f" (also set in {', '.join(others)})" if others else ""
                wrong.append(f"{path} is {effective.get(path, '(unread)')}{where}")
    return "; ".join(wrong)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "settings": {"type": "dict", "required": True},
            "lock": {"type": "bool", "default": True},
            "db": {"type": "str", "default": "local"},
            "profile": {"type": "str", "default": "user"},
            "file": {"type": "str", "default": "00-socle"},
            "control": {"type": "str", "default": ""},
            "dconf_dir": {"type": "path", "default": "/etc/dconf"},
            "vendor_dir": {"type": "path", "default": "/usr/share/dconf"},
        },
        supports_check_mode=True,
    )
    p = module.params
    settings = {str(d).strip("/"): {str(k): v for k, v in vals.items()} for d, vals in p["settings"].items()}
    validate(module, settings)
    dconf_dir, db = p["dconf_dir"], p["db"]
    keyfile_dir = os.path.join(dconf_dir, "db", f"{db}.d")
    files = {
        os.path.join(keyfile_dir, p["file"]): render_keyfile(settings, p["control"]),
        os.path.join(keyfile_dir, "locks", p["file"]): render_locks(settings, p["control"]) if p["lock"] else None,
    }
    profile_path = os.path.join(dconf_dir, "profile", p["profile"])
    current_profile = read_text(profile_path)
    if current_profile is not None:
        files[profile_path] = render_profile(current_profile, db)
    else:
        # dconf falls back to the distribution's profile: keep using it when it reads the database already.
        vendor = read_text(os.path.join(p["vendor_dir"], "profile", p["profile"]))
        if not profile_reads(vendor, db):
            files[profile_path] = render_profile(vendor, db)
    diffs, writes = [], {}
    for path, wanted in files.items():
        current = read_text(path)
        if wanted is None:
            if current is not None:
                diffs.append(file_diff(path, current, None))
                writes[path] = None
            continue
        if current != wanted:
            diffs.append(file_diff(path, current, wanted))
            writes[path] = wanted

    dconf = module.get_bin_path("dconf")
    db_file = os.path.join(dconf_dir, "db", db)
    current_db = None
    if os.path.exists(db_file):
        with open(db_file, "rb") as handle:
            current_db = handle.read()
    if dconf is None:
        database_current = False
    else:
        with tempfile.TemporaryDirectory(prefix="socle-dconf-") as tmp:
            stage = os.path.join(tmp, "keyfiles")
            replace = {os.path.relpath(path, keyfile_dir): content for path, content in writes.items()
                       if content is not None and path.startswith(keyfile_dir + os.sep)}
            staged_keyfiles(keyfile_dir, stage, replace)
            for path, content in writes.items():
                if content is None and path.startswith(keyfile_dir + os.sep):
                    os.unlink(os.path.join(stage, os.path.relpath(path, keyfile_dir)))
            database_current = current_db is not None and compile_db(module, dconf, stage) == current_db
    if not database_current:
        diffs.append({
            "before_header": f"{db_file} (compiled)", "after_header": f"{db_file} (compiled)",
            "before": ("absent\n" if current_db is None
                       else "stale: differs from the keyfiles\n" if dconf else "not verifiable: dconf absent\n"),
            "after": "compiled from the keyfiles\n",
        })
    suffix = " (locked)" if p["lock"] else ""
    expected = "\n".join(f"/{d}/{k}={settings[d][k]}{suffix}" for d in sorted(settings) for k in sorted(settings[d]))
    actual = read_effective(module, dconf, db, settings, dconf_dir) if dconf else "dconf tool absent"
    changed = bool(writes) or not database_current
    result = {"changed": changed, "expected": expected, "actual": actual, "database_current": database_current,
              "diff": diffs}
    if not changed and dconf_dir == "/etc/dconf":
        overridden = overrides(settings, actual, keyfile_dir, p["file"], p["lock"])
        if overridden:
            module.fail_json(msg=f"the keyfiles are right but the compiled database gives other values: {overridden}",
                             **result)
    if not changed or module.check_mode:
        module.exit_json(**result)
    if dconf is None:
        module.fail_json(msg="the dconf tool is missing (install dconf-cli before this task)", **result)
    for path, content in writes.items():
        if content is None:
            os.unlink(path)
        else:
            atomic_write(module, path, content)
    rc, out, err = module.run_command([dconf, "update"])
    if rc != 0:
        module.fail_json(msg=f"dconf update failed: {(err or out).strip()}", **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
