#!/usr/bin/python
"""Documentation of the Windows module socle_win_private_dir (the code is socle_win_private_dir.ps1)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: socle_win_private_dir
short_description: A folder that only SYSTEM and the Administrators can open (Windows)
description:
  - Creates the folder if needed and gives it a protected access list (no inheritance from the
    parent) with full control for SYSTEM (S-1-5-18) and Administrators (S-1-5-32-544), inherited by
    every file and subfolder. Files copied into it afterwards (repository passwords, SSH key) get
    the same access, which OpenSSH for Windows also requires of a private key.
  - C(ansible.windows.win_acl) has no check mode, so the access list is compared here as SDDL
    (by SID, whatever the language of Windows) and written only when it differs, never in check mode.
  - Not tested against a live Windows host; its syntax is checked by the unit tests.
options:
  path:
    description: The folder.
    type: path
    required: true
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    platforms: windows
author: Socle
"""

EXAMPLES = r"""
- name: Folder of the backup secrets
  socle_win_private_dir:
    path: C:\ProgramData\Socle\restic
"""

RETURN = r"""
sddl:
  description: The folder's access list (SDDL) after the run; null when it does not exist (check mode).
  returned: always
  type: str
"""
