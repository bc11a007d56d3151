"""socle_preload: the Jinja plugins and the project's action plugins are loaded once, in Ansible's main process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

BIN = Path(sys.executable).parent
PLAY = """
- name: A task whose template needs a filter, and a project action
  hosts: all
  gather_facts: false
  tasks:
    - name: Template with a project filter
      ansible.builtin.debug:
        msg: "{{ [{'control': 'M4-LNX-SHELL-TMOUT'}] | socle_selected(['all'], []) | length }}"
"""


def run(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "play.yml").write_text(PLAY, encoding="utf-8")
    full = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "SOCLE_"))}
    full.update(PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", HOME=str(tmp_path),
                ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_CALLBACKS_ENABLED="socle_preload", **env)
    return subprocess.run([str(BIN / "ansible-playbook"), "-vvv", "-i", "localhost,", "-c", "local",
                           str(tmp_path / "play.yml")], env=full, capture_output=True, text=True, timeout=300,
                          check=False)


def test_the_main_process_loads_the_filters_and_every_project_action_before_the_workers_fork(tmp_path):
    proc = run(tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (line,) = [x for x in proc.stdout.splitlines() if x.startswith("socle_preload:")]
    assert line.startswith("socle_preload: loaded ") and " filters, " in line, line
    actions = sorted(p.stem for p in (ROOT / "action_plugins").glob("socle_*.py"))
    assert [a for a in actions if a not in line.split(", ")] == []
    assert "module_utils/socle_reuse" in line.split(", ")  # the actions' shared controller code, loaded once
    assert 'msg: 1' in proc.stdout or '"msg": "1"' in proc.stdout, proc.stdout[-1500:]


def test_it_can_be_turned_off(tmp_path):
    proc = run(tmp_path, SOCLE_PRELOAD="off")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "socle_preload" not in proc.stdout


def test_each_play_start_freezes_what_the_main_process_holds_before_workers_fork(monkeypatch):
    """gc.freeze: a forked worker's garbage collection no longer touches (and copies) the parent's pages."""
    import gc

    from conftest import load_project_module

    callback = load_project_module("callback_plugins", "socle_preload")
    monkeypatch.setattr(callback, "preload", lambda: ["nothing"])
    monkeypatch.delenv("SOCLE_PRELOAD", raising=False)
    monkeypatch.delenv("SOCLE_GC_FREEZE", raising=False)
    try:
        gc.unfreeze()
        plugin = callback.CallbackModule()
        plugin.v2_playbook_on_play_start(None)
        assert gc.get_freeze_count() > 0
        gc.unfreeze()
        monkeypatch.setenv("SOCLE_GC_FREEZE", "off")
        plugin.v2_playbook_on_play_start(None)
        assert gc.get_freeze_count() == 0
        monkeypatch.setenv("SOCLE_PRELOAD", "off")
        monkeypatch.delenv("SOCLE_GC_FREEZE")
        callback.CallbackModule().v2_playbook_on_play_start(None)
        assert gc.get_freeze_count() == 0
    finally:
        gc.unfreeze()
