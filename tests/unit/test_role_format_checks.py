"""A role used on its own (its main entry point) checks its variables with socle_policy, as site.yml does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

BIN = Path(sys.executable).parent
PLAY = """
- name: One role on its own, as a user's playbook would call it
  hosts: all
  gather_facts: false
  tasks:
    - name: The role's main entry point
      ansible.builtin.include_role:
        name: {role}
"""


def run_role(tmp_path: Path, role: str, **variables: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "play.yml").write_text(PLAY.format(role=role), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "SOCLE_"))}
    env.update(PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", HOME=str(tmp_path),
               ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), SOCLE_TEMPLATE_CACHE="off")
    extra = [arg for key, value in variables.items() for arg in ("-e", f"{key}={value}")]
    return subprocess.run([str(BIN / "ansible-playbook"), "--check", "-i", "localhost,", "-c", "local", *extra,
                           str(tmp_path / "play.yml")], env=env, capture_output=True, text=True, timeout=300,
                          check=False, cwd=ROOT)


@pytest.mark.parametrize(("role", "variable", "message"), [
    ("updates", "updates_reboot_time", "updates: updates_reboot_time = '25:00' is malformed (HH:MM"),
    ("antivirus", "antivirus_scan_time", "antivirus: antivirus_scan_time = '25:00' is malformed (HH:MM"),
])
def test_a_bad_time_stops_the_role_at_its_first_task(tmp_path, role, variable, message):
    proc = run_role(tmp_path, role, **{variable: "25:00"})
    assert proc.returncode != 0
    assert message in proc.stdout, proc.stdout[-2000:]
    tasks = [line.split("[", 1)[1].split("]", 1)[0] for line in proc.stdout.splitlines() if line.startswith("TASK [")]
    # The include, the role's argument validation, then its format check, where the run stops.
    assert len(tasks) == 3 and tasks[2].startswith(f"{role} : Check the policy variables"), tasks
    assert "Invalid policy, nothing was changed" in proc.stdout
    assert "failed=1" in proc.stdout and "changed=0" in proc.stdout, proc.stdout[-800:]


def test_the_backup_role_on_its_own_refuses_a_short_password_before_its_tasks(tmp_path):
    # The role's tasks no longer assert the passwords themselves: socle_policy's backup rules do, first.
    proc = run_role(tmp_path, "backup", backup_enabled="true", backup_local_password="short-pw")
    assert proc.returncode != 0
    assert "backup: backup_local_password must come from the inventory (ansible-vault) and have at least 12 " \
           "characters" in proc.stdout, proc.stdout[-2000:]
    assert "short-pw" not in proc.stdout
    tasks = [line.split("[", 1)[1].split("]", 1)[0] for line in proc.stdout.splitlines() if line.startswith("TASK [")]
    assert len(tasks) == 3 and tasks[2].startswith("backup : Check the policy variables"), tasks
    assert "Invalid policy, nothing was changed" in proc.stdout
    assert "failed=1" in proc.stdout and "changed=0" in proc.stdout, proc.stdout[-800:]
