"""playbooks/audit.yml refuses to run outside check mode, at its first task, before any host is touched."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

BIN = Path(sys.executable).parent


def test_audit_without_check_stops_at_the_policy_task_and_runs_nothing_else(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "SOCLE_"))}
    env.update(PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", HOME=str(tmp_path),
               ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), SOCLE_TEMPLATE_CACHE="off")
    cmd = [str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(ROOT / "playbooks" / "audit.yml")]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, check=False, cwd=ROOT)
    assert proc.returncode != 0
    assert "must run with --check --diff" in proc.stdout and "Nothing was changed" in proc.stdout, proc.stdout[-2000:]
    tasks = [line for line in proc.stdout.splitlines() if line.startswith("TASK [")]
    assert len(tasks) == 1 and "Validate the policy variables" in tasks[0], tasks
    assert "changed=0" in proc.stdout and "failed=1" in proc.stdout

    # In check mode the same task lets the audit go on (the policy of the defaults is valid).
    check = subprocess.run([*cmd, "--check", "--diff", "--tags", "never-a-control"], env=env, capture_output=True,
                           text=True, timeout=300, check=False, cwd=ROOT)
    assert "must run with --check" not in check.stdout, check.stdout[-2000:]
    assert "Validate the policy variables" in check.stdout


def test_bad_facility_data_stops_the_first_task_as_the_validate_step_did(tmp_path):
    """socle_policy also runs socle_organisation's validate step: one task fewer, the same refusal."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "SOCLE_"))}
    env.update(PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", HOME=str(tmp_path),
               ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), SOCLE_TEMPLATE_CACHE="off")
    cmd = [str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", "--check", "--diff",
           "-e", '{"organisation_enabled": true, "organisation_facility": {}}', str(ROOT / "playbooks" / "audit.yml")]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, check=False, cwd=ROOT)
    assert proc.returncode != 0
    assert "Invalid facility data, nothing was changed: " in proc.stdout, proc.stdout[-2000:]
    tasks = [line for line in proc.stdout.splitlines() if line.startswith("TASK [")]
    assert len(tasks) == 1 and "Validate the policy variables" in tasks[0], tasks


def test_the_policy_task_puts_each_host_in_its_platform_group_for_the_plays_after_it(tmp_path):
    """socle_policy with platform_groups does group_by's work: the Windows host gets only the Windows play."""
    (tmp_path / "hosts.ini").write_text(
        "pc01 ansible_connection=winrm\nsrv01 ansible_connection=local\n"
        "ps01 ansible_connection=ssh ansible_shell_type=powershell\n", encoding="utf-8")
    (tmp_path / "play.yml").write_text("""
- name: First play
  hosts: all
  gather_facts: false
  tasks:
    - name: Validate and sort
      socle_policy:
        platform_groups: true
- name: Windows play
  hosts: socle_windows
  gather_facts: false
  tasks:
    - name: Windows host
      ansible.builtin.debug: {msg: "windows {{ inventory_hostname }}"}
      delegate_to: localhost
- name: Linux play
  hosts: all:!socle_windows
  gather_facts: false
  tasks:
    - name: Linux host
      ansible.builtin.debug: {msg: "posix {{ inventory_hostname }} {{ group_names }}"}
""", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "SOCLE_"))}
    env.update(PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", HOME=str(tmp_path),
               ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), SOCLE_TEMPLATE_CACHE="off")
    proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", str(tmp_path / "hosts.ini"),
                           str(tmp_path / "play.yml")], env=env, capture_output=True, text=True, timeout=300,
                          check=False, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:]
    messages = sorted(line.split("msg: ", 1)[1] for line in proc.stdout.splitlines() if "msg: " in line)
    assert messages == ["posix srv01 ['socle_posix']", "windows pc01", "windows ps01"], proc.stdout[-3000:]
