#!/usr/bin/python
"""Own several files and folders, of one control or several, in a single round trip: content, lines, mode, owner."""

from __future__ import annotations

DOCUMENTATION = r"""
module: socle_file
short_description: Set the content, lines, mode and owner of the files of one or more controls in one call
description:
  - One module call for what would otherwise be a loop of C(copy), C(template), C(lineinfile) and
    C(file) tasks, each a round trip with its own stat and diff transfers. Every entry is measured
    first; in check mode nothing is written and the result says exactly what a real run would change.
  - Entries may belong to different controls (C(control) of the entry, else the module's). The result's
    C(socle_results) then gives each control its own C(changed) and C(diff), which the C(socle_record)
    callback splits by control when the task carries the tag C(socle_controls) and the control IDs.
  - A file with C(content) is owned whole; a file with C(lines) keeps everything else it holds, as
    C(lineinfile) would (the last line matching each C(regexp) is replaced, else the line is appended
    unless it is already there). Writes are atomic (temp file and rename in the same folder).
options:
  control:
    description: Control ID of the entries that name none; used in messages.
    type: str
    default: ''
  entries:
    description: Files and folders, in the order they are made (a folder before the files in it).
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description: Absolute path.
        type: path
        required: true
      control:
        description: Control ID of this entry (default the module's C(control)).
        type: str
      state:
        description: C(file) or C(directory).
        type: str
        choices: [file, directory]
        default: file
      content:
        description: The whole content of the file (text). The C(socle_file) action fills it from C(template),
          a Jinja template rendered on the controller with the task's variables.
        type: str
      content_base64:
        description: The whole content of the file, base64-encoded (binary files such as PDFs). The
          C(socle_file) action fills it from C(src), a file on the controller.
        type: str
      lines:
        description: Lines to ensure in an existing file, each C({regexp, line}).
        type: list
        elements: dict
      mode:
        description: Octal mode, as a string. Default C(0644) for files with content, C(0755) for
          folders; a file changed by C(lines) keeps its mode unless one is given.
        type: str
      owner:
        description: Owner (default root for content and folders; kept for lines).
        type: str
      group:
        description: Group (default root for content and folders; kept for lines).
        type: str
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
author: Socle
"""

EXAMPLES = r"""
- name: M5-LNX-PASS-AGEING | Set the password ageing of new accounts (login.defs)
  socle_file:
    control: M5-LNX-PASS-AGEING
    entries:
      - path: /etc/login.defs
        lines:
          - {regexp: '^\s*PASS_MAX_DAYS\s', line: "PASS_MAX_DAYS\t365"}
"""

RETURN = r"""
socle_inputs:
  description: In check mode, the state (lstat) of every path the check read, taken before reading it, for
    the action to reuse this result while they are unchanged (see module_utils/socle_reuse.py). The action
    removes it from the task's result.
  returned: check mode
  type: dict
changed_paths:
  description: The paths a run changes (check mode) or changed.
  returned: always
  type: list
  elements: str
socle_results:
  description: Per control ID of the entries, C(changed) and C(diff) (the control's own share of the call).
  returned: always
  type: dict
"""

import base64
import binascii
import grp
import hashlib
import os
import pwd
import re
import stat

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.socle_files import atomic_write
from ansible.module_utils.socle_reuse import Inputs


def apply_lines(text: str, lines: list[dict]) -> str:
    """The text with each ``{regexp, line}`` ensured, as lineinfile does with ``regexp`` and ``line``.

    The text comes back unchanged, byte for byte, when every line is already right.
    """
    rows = text.split("\n")
    if rows and rows[-1] == "":
        rows.pop()
    changed = False
    for entry in lines:
        pattern, line = re.compile(entry["regexp"]), entry["line"]
        matches = [i for i, row in enumerate(rows) if pattern.search(row)]
        if matches:
            if rows[matches[-1]] != line:
                rows[matches[-1]] = line
                changed = True
        elif line not in rows:
            rows.append(line)
            changed = True
    return "\n".join(rows) + "\n" if changed else text


def attributes(st: os.stat_result | None) -> dict | None:
    if st is None:
        return None
    try:
        owner = pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        owner = str(st.st_uid)
    try:
        group = grp.getgrgid(st.st_gid).gr_name
    except KeyError:
        group = str(st.st_gid)
    return {"mode": f"{stat.S_IMODE(st.st_mode):04o}", "owner": owner, "group": group}


def describe(kind: str, attrs: dict | None) -> str:
    if attrs is None:
        return ""
    return f"{kind} mode={attrs['mode']} owner={attrs['owner']} group={attrs['group']}\n"


def wanted_attributes(entry: dict, current: dict | None) -> dict:
    """Mode, owner and group the entry asks for; a ``lines`` entry keeps what it does not name."""
    keep = entry.get("lines") is not None and current is not None
    default_mode = "0755" if entry["state"] == "directory" else "0644"
    return {
        "mode": f"{int(entry['mode'], 8):04o}" if entry.get("mode") else (current["mode"] if keep else default_mode),
        "owner": entry.get("owner") or (current["owner"] if keep else "root"),
        "group": entry.get("group") or (current["group"] if keep else "root"),
    }


def set_attributes(path: str, attrs: dict) -> None:
    os.chown(path, pwd.getpwnam(attrs["owner"]).pw_uid, grp.getgrnam(attrs["group"]).gr_gid)
    os.chmod(path, int(attrs["mode"], 8))


def check_entry(entry: dict) -> str | None:
    """What is wrong with one entry's options, or None."""
    path = entry.get("path") or ""
    if not os.path.isabs(path):
        return f"path must be absolute: {path!r}"
    given = [key for key in ("content", "content_base64", "lines") if entry.get(key) is not None]
    if entry["state"] == "directory" and given:
        return f"{path}: a folder takes no content or lines"
    if entry["state"] == "file" and len(given) != 1:
        return f"{path}: give one of content, content_base64 (or src) and lines"
    if entry.get("content_base64") is not None:
        try:
            base64.b64decode(entry["content_base64"], validate=True)
        except (binascii.Error, ValueError):
            return f"{path}: content_base64 is not base64"
    if entry.get("mode") and not re.fullmatch(r"0?[0-7]{3,4}", str(entry["mode"])):
        return f"{path}: mode must be octal digits as a string, such as '0644' (got {entry['mode']!r})"
    for item in entry.get("lines") or []:
        if not isinstance(item, dict) or set(item) != {"regexp", "line"}:
            return f"{path}: each of lines is {{regexp, line}}"
        try:
            re.compile(item["regexp"])
        except re.error as exc:
            return f"{path}: bad regexp {item['regexp']!r}: {exc}"
        if "\n" in item["line"]:
            return f"{path}: a line cannot hold a newline"
    for key in ("owner", "group"):
        name = entry.get(key)
        if name:
            try:
                (pwd.getpwnam if key == "owner" else grp.getgrnam)(name)
            except KeyError:
                return f"{path}: no such {key} {name!r} on the host"
    return None


def shown(data: bytes | None) -> str:
    """Text for a diff: the content itself, or a summary line for binary content."""
    if data is None:
        return ""
    try:
        text = data.decode("utf-8")
        if "\x00" not in text:
            return text
    except UnicodeDecodeError:
        pass
    return f"(binary, {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()})\n"


def plan(entry: dict) -> tuple[str | None, list[dict], dict]:
    """(new content or None when it stays, diff entries, wanted attributes) for one entry.

    Raises ValueError when the entry cannot be made.
    """
    path = entry["path"]
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    current = attributes(st)
    diffs = []
    if entry["state"] == "directory":
        if st is not None and not stat.S_ISDIR(st.st_mode):
            raise ValueError(f"{path} exists and is not a folder")
        wanted = wanted_attributes(entry, current)
        if current != wanted:
            diffs.append({"before_header": path, "after_header": path,
                          "before": describe("directory", current), "after": describe("directory", wanted)})
        return None, diffs, wanted
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise ValueError(f"{path} exists and is not a regular file")
    before = None
    if st is not None:
        with open(path, "rb") as handle:
            before = handle.read()
    if entry.get("content") is not None:
        after = entry["content"].encode("utf-8")
    elif entry.get("content_base64") is not None:
        after = base64.b64decode(entry["content_base64"])
    elif before is None:
        raise ValueError(f"{path} does not exist: its lines cannot be set (is the package that ships it installed?)")
    else:
        try:
            after = apply_lines(before.decode("utf-8"), entry["lines"]).encode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"{path} is not UTF-8 text: its lines cannot be set") from exc
    new = after if after != before else None
    if new is not None:
        diffs.append({"before_header": path if before is not None else f"{path} (absent)", "after_header": path,
                      "before": shown(before), "after": shown(after)})
    wanted = wanted_attributes(entry, current)
    if current is not None and current != wanted:
        diffs.append({"before_header": f"{path} (attributes)", "after_header": f"{path} (attributes)",
                      "before": describe("file", current), "after": describe("file", wanted)})
    return new, diffs, wanted


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "control": {"type": "str", "default": ""},
            "entries": {"type": "list", "elements": "dict", "required": True, "options": {
                "path": {"type": "path", "required": True},
                "control": {"type": "str"},
                "state": {"type": "str", "choices": ["file", "directory"], "default": "file"},
                "content": {"type": "str"},
                "content_base64": {"type": "str", "no_log": False},
                "lines": {"type": "list", "elements": "dict"},
                "mode": {"type": "str"},
                "owner": {"type": "str"},
                "group": {"type": "str"},
            }},
        },
        supports_check_mode=True,
    )
    entries = module.params["entries"]
    for entry in entries:
        problem = check_entry(entry)
        if problem:
            control = entry.get("control") or module.params["control"]
            module.fail_json(msg=f"{control or 'socle_file'}: {problem}; nothing was changed")
    # What the plan reads, each path's state taken before it is read (reuse of a check result).
    inputs = Inputs()
    inputs.add("/etc/passwd", "/etc/group", *(entry["path"] for entry in entries))
    changed_paths, diffs, plans, results = [], [], [], {}
    for entry in entries:
        control = entry.get("control") or module.params["control"]
        try:
            new, entry_diffs, wanted = plan(entry)
        except (ValueError, OSError) as exc:
            module.fail_json(msg=f"{control or 'socle_file'}: {exc}; nothing was changed")
        plans.append((entry, new, bool(entry_diffs), wanted))
        share = results.setdefault(control, {"changed": False, "diff": []}) if control else None
        if entry_diffs:
            changed_paths.append(entry["path"])
            diffs += entry_diffs
            if share is not None:
                share["changed"] = True
                share["diff"] += entry_diffs
    if changed_paths and not module.check_mode:
        for entry, new, changed, wanted in plans:
            if not changed:
                continue
            path = entry["path"]
            try:
                if entry["state"] == "directory":
                    if not os.path.isdir(path):
                        os.makedirs(path, mode=0o700)
                elif new is not None:
                    atomic_write(module, path, new, 0o600)
                set_attributes(path, wanted)
            except OSError as exc:
                control = entry.get("control") or module.params["control"]
                module.fail_json(msg=f"{control or 'socle_file'}: could not write {path}: {exc}",
                                 changed_paths=changed_paths)
    extra = {"socle_inputs": inputs.paths} if module.check_mode else {}
    module.exit_json(changed=bool(changed_paths), changed_paths=changed_paths, diff=diffs, socle_results=results,
                     **extra)


if __name__ == "__main__":
    main()
