#!/usr/bin/python
"""Initialise a restic repository when there is none, with an exact check mode."""

from __future__ import annotations

DOCUMENTATION = r"""
module: socle_restic_repo
short_description: Ensure a restic repository exists and opens with the host's password
description:
  - Probes the repository with C(restic cat config); initialises it with C(restic init) when restic says
    there is no repository at that location.
  - Fails when a repository exists but does not open with the given password (never overwritten).
  - The password goes to restic through the environment (C(RESTIC_PASSWORD)), never on the command line,
    and is never returned. Run the task with C(no_log=true).
  - In check mode on a fresh host (restic not installed yet, or a file the probe needs not written yet, or
    an off-site target that this same run has not configured yet), reports the repository as to be
    initialised without probing.
options:
  repository:
    description: The repository, as restic's C(-r) takes it (a path, C(sftp:user@host:/path), ...).
    type: str
    required: true
  password:
    description: The repository password.
    type: str
    required: true
    no_log: true
  options:
    description: restic extended options, each passed as C(-o OPTION) (for example C(sftp.command=...)).
    type: list
    elements: str
    default: []
  probe_requires:
    description: Files the probe needs (for example the SSH identity of an sftp repository). In check
      mode, when one is missing, the repository is reported as to be initialised without probing.
    type: list
    elements: path
    default: []
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
author: Socle
"""

EXAMPLES = r"""
- name: Initialise the local repository
  socle_restic_repo:
    repository: /var/backups/restic
    password: "{{ backup_local_password }}"
  no_log: true
"""

RETURN = r"""
state:
  description: C(present) (already there), C(initialised) (created, or would be in check mode).
  returned: always
  type: str
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.socle_restic import RESTIC, classify_open_error, restic_argv, scrub


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "repository": {"type": "str", "required": True},
            "password": {"type": "str", "required": True, "no_log": True},
            "options": {"type": "list", "elements": "str", "default": []},
            "probe_requires": {"type": "list", "elements": "path", "default": []},
        },
        supports_check_mode=True,
    )
    repo, password, options = module.params["repository"], module.params["password"], module.params["options"]
    diff = {"before": f"{repo}: absent\n", "after": f"{repo}: initialised\n"}
    missing = [p for p in [RESTIC, *module.params["probe_requires"]] if not os.path.exists(p)]
    if missing:
        if module.check_mode:
            module.exit_json(changed=True, state="initialised", diff=diff,
                             msg=f"not probed ({', '.join(missing)} not there yet): would be initialised")
        module.fail_json(msg=f"cannot reach the repository: {', '.join(missing)} missing")
    env = {"RESTIC_PASSWORD": password, "RESTIC_CACHE_DIR": "/var/cache/restic", "LC_ALL": "C"}
    rc, _out, err = module.run_command(restic_argv(repo, options, "--no-lock", "cat", "config"), environ_update=env)
    if rc == 0:
        module.exit_json(changed=False, state="present")
    reason = classify_open_error(err)
    err = scrub(err, [password]).strip()
    if reason == "password":
        module.fail_json(msg=f"{repo}: a repository is there but does not open with this host's password: {err}")
    if reason != "missing" and not module.check_mode:
        module.fail_json(msg=f"{repo}: repository not reachable ({reason}): {err}")
    if module.check_mode:
        note = "" if reason == "missing" else f" (not reachable yet: {err.splitlines()[-1] if err else reason})"
        module.exit_json(changed=True, state="initialised", diff=diff, msg="would be initialised" + note)
    rc, _out, err = module.run_command(restic_argv(repo, options, "init"), environ_update=env)
    if rc != 0:
        module.fail_json(msg=f"{repo}: restic init failed: {scrub(err, [password]).strip()}")
    module.exit_json(changed=True, state="initialised", diff=diff)


if __name__ == "__main__":
    main()
