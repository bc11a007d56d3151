#!/usr/bin/python
"""Documentation of the Windows module socle_win_restic_snapshots (the code is socle_win_restic_snapshots.ps1)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: socle_win_restic_snapshots
short_description: Read the newest snapshot of this host in a restic repository (Windows, read-only)
description:
  - Runs C(restic snapshots --json --latest 1 --host HOSTNAME --no-lock --no-cache) and returns its
    raw output and exit code. The age decision is made on the controller by the
    C(socle_win_restic_age) filter with module_utils/socle_restic.py, the code the Linux findings use.
  - Never changes the host; runs unchanged in check mode. The password is read by restic from
    C(password_file) and never passes through Ansible.
  - Not tested against a live Windows host; its syntax is checked by the unit tests.
options:
  restic:
    description: Path of restic.exe.
    type: path
    required: true
  repository:
    description: The repository.
    type: str
    required: true
  password_file:
    description: File holding the repository password.
    type: path
    required: true
  options:
    description: restic extended options, each passed as C(-o OPTION).
    type: list
    elements: str
    default: []
  hostname:
    description: The snapshot host name to look for.
    type: str
    required: true
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: windows
author: Socle
"""

EXAMPLES = r"""
- name: Read the newest local snapshot
  socle_win_restic_snapshots:
    restic: C:\ProgramData\Socle\restic\bin\restic_0.18.1_windows_amd64.exe
    repository: D:\Sauvegardes\restic
    password_file: C:\ProgramData\Socle\restic\local.pass
    hostname: accueil-pc
  register: __snapshots
"""

RETURN = r"""
restic_missing:
  description: restic.exe is not there (a fresh host, in check mode).
  returned: always
  type: bool
password_missing:
  description: The password file is not there.
  returned: when restic is installed
  type: bool
rc:
  description: restic's exit code (10 no repository, 12 wrong password, restic 0.17 and later).
  returned: when restic ran
  type: int
stdout:
  description: The JSON list of snapshots.
  returned: when restic ran
  type: str
stderr:
  description: restic's messages.
  returned: when restic ran
  type: str
"""
