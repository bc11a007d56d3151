"""socle.runner: ansible-playbook run directly, its output beside the record, progress on standard error."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from socle import runner

BIN = Path(sys.executable).parent
PLAY = """
- name: Two results
  hosts: all
  gather_facts: false
  tasks:
    - name: Say something
      ansible.builtin.debug:
        msg: hello
    - name: Skip this
      ansible.builtin.debug:
        msg: never
      when: false
"""


@pytest.fixture
def captured(monkeypatch, tmp_path):
    """subprocess.Popen replaced: what ansible-playbook would have been given, extra variables file included."""
    seen = {"events": []}

    class FakePopen:
        def __init__(self, cmd, **kw):
            seen["cmd"], seen["kw"] = cmd, kw
            seen["events"].append("started")
            extra = [a[1:] for a in cmd if a.startswith("@")]
            if extra:
                seen["extra_text"] = Path(extra[0]).read_text(encoding="utf-8")
                seen["extra_mode"] = stat.S_IMODE(os.stat(extra[0]).st_mode)
                seen["extra_path"] = Path(extra[0])
            self.returncode = None

        def wait(self):
            seen["events"].append("waited")
            self.returncode = seen.get("rc", 2)
            return self.returncode

    monkeypatch.setattr(runner.subprocess, "Popen", FakePopen)
    return seen


def test_the_command_line_and_a_secret_extra_variable_kept_off_it(captured, tmp_path):
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all: {}\n", encoding="utf-8")
    options = runner.RunOptions(mode="audit", inventories=[inventory], out_dir=tmp_path / "out", limit="pc1",
                                tags=["M4"], forks=7, extra_vars={"backup_password": "canary-s3cret"},
                                verbosity=2, progress=False)
    record, status = runner.run(options)
    cmd = captured["cmd"]
    assert cmd[0] == str(BIN / "ansible-playbook") and cmd[-1] == str(ROOT / "playbooks" / "audit.yml")
    for expected in (["-i", str(inventory)], ["--check"], ["--diff"], ["--tags", "M4"], ["--forks", "7"],
                     ["--limit", "pc1"], ["-vv"], ["-e", "socle_publish=false"]):
        assert any(cmd[i:i + len(expected)] == expected for i in range(len(cmd))), (expected, cmd)
    assert "canary-s3cret" not in " ".join(cmd) and "canary-s3cret" in captured["extra_text"]
    assert captured["extra_mode"] == 0o600 and not captured["extra_path"].exists()  # removed after the run
    env = captured["kw"]["env"]
    assert env["SOCLE_RECORD"] == str(record) and env["SOCLE_RUN_MODE"] == "audit"
    assert "socle_progress" in env["ANSIBLE_CALLBACKS_ENABLED"] and "SOCLE_PROGRESS_FD" not in env
    assert status == "failed, ansible-playbook exit code 2"
    assert (tmp_path / "out" / "ansible-output.txt").exists()


def test_apply_runs_site_yml_without_check_and_reports_success(captured, tmp_path):
    captured["rc"] = 0
    _record, status = runner.run(runner.RunOptions(mode="apply", inventories=[tmp_path / "i"],
                                                   out_dir=tmp_path / "o", progress=True))
    cmd = captured["cmd"]
    assert cmd[-1] == str(ROOT / "playbooks" / "site.yml") and "--check" not in cmd and status == "successful"
    fd = int(captured["kw"]["env"]["SOCLE_PROGRESS_FD"])
    assert captured["kw"]["pass_fds"] == (fd,)
    with pytest.raises(OSError):
        os.fstat(fd)  # closed again after the run


def test_the_command_line_loads_its_report_code_while_the_run_goes_on_and_waits_for_it_even_on_error(captured,
                                                                                                 tmp_path):
    captured["rc"] = 0
    options = runner.RunOptions(mode="audit", inventories=[tmp_path / "i"], out_dir=tmp_path / "o", progress=False)
    runner.run(options, meanwhile=lambda: captured["events"].append("meanwhile"))
    assert captured["events"] == ["started", "meanwhile", "waited"]

    captured["events"].clear()

    def broken():
        raise ImportError("no report code")

    with pytest.raises(ImportError):
        runner.run(options, meanwhile=broken)
    assert captured["events"] == ["started", "waited"]


def play(tmp_path: Path, pass_fds: tuple[int, ...] = (), **env: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "play.yml").write_text(PLAY, encoding="utf-8")
    full = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "SOCLE_"))}
    full.update(PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", HOME=str(tmp_path),
                ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_CALLBACKS_ENABLED="socle_progress", **env)
    return subprocess.run([str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local",
                           str(tmp_path / "play.yml")], env=full, capture_output=True, text=True, timeout=300,
                          check=False, pass_fds=pass_fds)


def test_the_progress_callback_writes_one_line_per_result_to_the_given_descriptor(tmp_path):
    read, write = os.pipe()
    try:
        proc = play(tmp_path, pass_fds=(write,), SOCLE_PROGRESS_FD=str(write), SOCLE_RUN_MODE="audit")
    finally:
        os.close(write)
    with os.fdopen(read, encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert [line.split() for line in lines] == [["[audit]", "localhost", "ok", "Say", "something"],
                                                ["[audit]", "localhost", "skipped", "Skip", "this"]]
    assert "[audit]" not in proc.stdout + proc.stderr  # only on that descriptor


def test_no_progress_without_the_descriptor(tmp_path):
    proc = play(tmp_path)
    assert proc.returncode == 0 and "[run]" not in proc.stdout + proc.stderr
