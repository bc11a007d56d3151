"""The repository runs as it is: from a clone with no Socle environment, and as an AWX project.

AWX runs a project through ansible-runner with the project as the working directory; ansible-runner sets
ANSIBLE_CALLBACK_PLUGINS to its own display callback, which overrides ansible.cfg's callback_plugins. The
run-record callback is therefore also reachable beside the playbooks (playbooks/callback_plugins), where
Ansible looks whatever the configuration says.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import ansible_runner
from conftest import ROOT

BIN = Path(sys.executable).parent


def clean_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a fresh shell: no ANSIBLE_* nor SOCLE_* variable from the test session."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "SOCLE_"))}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["HOME"] = str(tmp_path / "home")
    (tmp_path / "home").mkdir(exist_ok=True)
    return env


def test_playbooks_resolve_every_role_module_and_plugin_from_a_clone(tmp_path: Path):
    for playbook in ("site.yml", "audit.yml", "restore-test.yml"):
        proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", "localhost,", "--syntax-check",
                               f"playbooks/{playbook}"], cwd=ROOT, env=clean_env(tmp_path), capture_output=True,
                              text=True, timeout=300, check=False)
        assert proc.returncode == 0, (playbook, proc.stdout[-2000:], proc.stderr[-2000:])
        assert "unable to load" not in proc.stderr and "could not be loaded" not in proc.stderr, proc.stderr


def test_an_awx_style_run_loads_the_record_callback_and_publishes_the_artifacts(tmp_path: Path, monkeypatch):
    for name in list(os.environ):
        if name.startswith(("ANSIBLE_", "SOCLE_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PATH", f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("HOME", str(tmp_path))
    private = tmp_path / "private"
    private.mkdir()
    run = ansible_runner.run(
        private_data_dir=str(private), project_dir=str(ROOT), playbook="playbooks/publish.yml",
        inventory=f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}",
        cmdline="--check", quiet=True,
    )
    stdout = run.stdout.read()
    assert run.rc == 0, stdout[-3000:]
    assert "Skipping callback plugin" not in stdout, stdout[-3000:]
    stats = [e for e in run.events if e.get("event") == "playbook_on_stats"]
    assert len(stats) == 1
    artifacts = stats[0]["event_data"]["artifact_data"]
    assert artifacts["socle_run"]["mode"] == "audit"
    assert artifacts["socle_record"]["run"]["id"] == artifacts["socle_run"]["id"]


def test_the_command_line_leaves_the_artifacts_play_without_hosts(tmp_path: Path):
    """socle audit/apply keep the record themselves: socle_publish=false makes the set_stats play match no host."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "SOCLE_"))}
    env.update(PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", HOME=str(tmp_path),
               ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), SOCLE_RECORD=str(tmp_path / "run.json"))
    cmd = [str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", "--check",
           str(ROOT / "playbooks" / "publish.yml")]
    off = subprocess.run([*cmd, "-e", "socle_publish=false"], env=env, capture_output=True, text=True, timeout=300,
                         check=False, cwd=ROOT)
    assert off.returncode == 0 and "skipping: no hosts matched" in off.stdout, off.stdout[-2000:]
    assert "TASK [" not in off.stdout
    on = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, check=False, cwd=ROOT)
    assert on.returncode == 0 and "TASK [Publish the run summary" in on.stdout, on.stdout[-2000:]
