#!/usr/bin/python
"""Documentation of the Windows module socle_win_restic_repo (the code is socle_win_restic_repo.ps1)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: socle_win_restic_repo
short_description: Initialise a restic repository if it does not exist yet (Windows)
description:
  - Runs C(restic cat config); exit code 10 (restic 0.17 and later) means there is no repository,
    which C(restic init) then creates (not in check mode). Any other failure stops the task with
    restic's message. Decisions use exit codes, never restic's text.
  - The password is read by restic from C(password_file); it never passes through Ansible.
  - In check mode on a host where restic is not installed yet, reports a change (the repository
    will be created with restic).
  - Not tested against a live Windows host; its syntax is checked by the unit tests.
options:
  restic:
    description: Path of restic.exe.
    type: path
    required: true
  repository:
    description: The repository (a folder, C(sftp:...) or C(rclone:...)).
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
- name: Initialise the local repository
  socle_win_restic_repo:
    restic: C:\ProgramData\Socle\restic\bin\restic_0.18.1_windows_amd64.exe
    repository: D:\Sauvegardes\restic
    password_file: C:\ProgramData\Socle\restic\local.pass
"""

RETURN = r"""
state:
  description: C(exists), C(created) (or would be, in check mode), or in check mode C(restic_missing)
    or C(password_missing).
  returned: success
  type: str
"""
