"""Faults on the converged lab: a host unreachable from the start, a host lost mid-run, an interrupted
apply run again, a full file system on the target.

Runs after test_workflow.py and test_workflow_drift.py (the lab is converged). Each test puts the lab
back as it found it.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from socle import lab
from socle.record import load_record

pytestmark = pytest.mark.lab

HOSTS = {h.name: h for h in lab.read_state()}
TMOUT_FILE = "/etc/profile.d/00-socle-tmout.sh"


def socle(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "socle", *args], capture_output=True, text=True, timeout=timeout)


def as_root(host: str, script: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(lab.ssh_command(HOSTS[host], f"sudo -n sh -c {shlex.quote(script)}"),
                          capture_output=True, text=True, timeout=120)
    assert not check or proc.returncode == 0, (host, script, proc.stderr)
    return proc


def wait_ssh(host: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if as_root(host, "systemctl is-system-running --wait >/dev/null; true", check=False).returncode == 0:
            return
        time.sleep(2)
    raise AssertionError(f"{host} did not come back over SSH")


def test_host_unreachable_from_the_start(tmp_path):
    assert HOSTS, "no running lab: start it with `socle lab up`"
    # A PC of the facility that is switched off: nothing listens on its SSH port.
    ghost = {"all": {"hosts": {"ghost-pc": {"ansible_host": "127.0.0.1", "ansible_port": 1,
                                            "ansible_user": lab.OPERATOR}}}}
    path = tmp_path / "ghost.yml"
    path.write_text(yaml.safe_dump(ghost), encoding="utf-8")
    proc = socle("audit", "-q", "-i", str(lab.inventory_path()), "-i", str(path), "--tags", "M4-LNX-SSH-IDLE",
                 "--out", str(tmp_path / "out"))
    record = load_record(tmp_path / "out" / "run.json")
    assert record.hosts["ghost-pc"].status == "unreachable", proc.stderr
    for name in HOSTS:  # the others complete
        assert record.hosts[name].status == "ok"
        assert record.hosts[name].controls["M4-LNX-SSH-IDLE"].status == "compliant"
    assert proc.returncode == 1  # an unreachable host is an error of the run, never "compliant"
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "ghost-pc" in html


def test_host_lost_mid_run_the_others_complete(tmp_path):
    victim = sorted(HOSTS)[-1]
    container = HOSTS[victim].container
    # Not quiet: the progress lines (stderr) say when the victim is into the roles. It is stopped as soon
    # as its session lock is measured (the second role of five or more), however fast the run is.
    run = subprocess.Popen([sys.executable, "-m", "socle", "audit", "--out", str(tmp_path / "out")],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        seen = []
        for line in run.stderr:
            seen.append(line)
            if victim in line and "M4-LNX-SSH-IDLE" in line:
                break
        assert run.poll() is None, "the audit ended before the host could be stopped: " + "".join(seen[-5:])
        lab.podman("stop", "-t", "2", container, timeout=60)
        _out, err = run.communicate(timeout=900)
    finally:
        if run.poll() is None:
            run.kill()
        lab.podman("start", container, timeout=120)
        wait_ssh(victim)
    record = load_record(tmp_path / "out" / "run.json")
    assert record.hosts[victim].status == "unreachable", (record.hosts[victim].status, err[-2000:])
    for name in HOSTS:
        if name != victim:
            assert record.hosts[name].status == "ok", name
            assert {c for h, c in record.setting_drift_pairs() if h == name} == set()
            assert {c for c, r in record.hosts[name].controls.items() if r.status == "error"} == set()
            assert len(record.hosts[name].controls) >= 30  # the whole baseline, not cut short
    assert run.returncode == 1


def test_interrupted_apply_then_run_again_converges(tmp_path):
    host = sorted(HOSTS)[0]
    as_root(host, f"sed -i 's/^TMOUT=.*/TMOUT=0/' {TMOUT_FILE}; systemctl disable --now --quiet apt-daily.timer;"
                  " sed -i 's/^Checks .*/Checks 1/' /etc/clamav/freshclam.conf")
    run = subprocess.Popen([sys.executable, "-m", "socle", "apply", "-q", "--limit", host,
                            "--out", str(tmp_path / "cut")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, start_new_session=True)
    # Interrupt as soon as the first repair is made (session_lock runs second, before the firewall,
    # updates and antivirus roles): the run is then really half done, however fast it is.
    deadline = time.monotonic() + 300
    while as_root(host, f"grep -q '^TMOUT=0' {TMOUT_FILE}", check=False).returncode == 0:
        assert run.poll() is None, "apply ended without repairing TMOUT"
        assert time.monotonic() < deadline, "apply did not reach the session lock in 5 minutes"
        time.sleep(0.2)
    assert run.poll() is None, "apply ended before it could be interrupted"
    os.killpg(run.pid, signal.SIGINT)
    try:
        run.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(run.pid, signal.SIGKILL)
        run.communicate()
    # ansible-playbook runs in a terminal session of its own (ansible-runner): wait until it is gone too.
    site = str(lab.project_root() / "playbooks" / "site.yml")
    deadline = time.monotonic() + 120
    while subprocess.run(["pgrep", "-f", site], capture_output=True).returncode == 0:
        if time.monotonic() > deadline:
            subprocess.run(["pkill", "-KILL", "-f", site], check=False)
            break
        time.sleep(1)
    again = socle("apply", "-q", "--limit", host, "--out", str(tmp_path / "again"))
    assert again.returncode in (0, 2), again.stderr[-2000:]
    audit = socle("audit", "-q", "--limit", host, "--out", str(tmp_path / "audit"))
    record = load_record(tmp_path / "audit" / "run.json")
    assert record.setting_drift_pairs() == set(), record.setting_drift_pairs()
    assert not record.problem_pairs(), (record.problem_pairs(), audit.stderr[-1000:])


def test_full_file_system_gives_a_clear_error_and_leaves_the_file_whole(tmp_path):
    """A tmpfs of a few kB mounted over /etc/profile.d in the host's mount namespace, filled up."""
    host = sorted(HOSTS)[0]
    pid = lab.podman("inspect", "-f", "{{.State.Pid}}", HOSTS[host].container).stdout.strip()
    broken = "TMOUT=0\nreadonly TMOUT\nexport TMOUT\n"
    nsenter = ["nsenter", "-t", pid, "-m", "--"]
    subprocess.run([*nsenter, "mount", "-t", "tmpfs", "-o", "size=16k,mode=0755", "socle-full", "/etc/profile.d"],
                   check=True, capture_output=True, text=True)
    try:
        as_root(host, f"printf %s {shlex.quote(broken)} > {TMOUT_FILE} && chmod 0644 {TMOUT_FILE}"
                      " && (dd if=/dev/zero of=/etc/profile.d/.filler bs=1k 2>/dev/null; true)")
        assert as_root(host, "df -k --output=avail /etc/profile.d | tail -1").stdout.strip() == "0"
        proc = socle("apply", "-q", "--limit", host, "--tags", "M4-LNX-SHELL-TMOUT", "--out", str(tmp_path / "out"))
        record = load_record(tmp_path / "out" / "run.json")
        result = record.hosts[host].controls["M4-LNX-SHELL-TMOUT"]
        assert result.status == "error", result
        assert "space" in (result.message or "").lower(), result.message
        assert proc.returncode == 1
        # The file is whole: the old content, byte for byte, and no temporary file left beside it.
        assert as_root(host, f"cat {TMOUT_FILE}").stdout == broken
        assert as_root(host, "ls -A /etc/profile.d").stdout.split() == [".filler", Path(TMOUT_FILE).name]
    finally:
        subprocess.run([*nsenter, "umount", "/etc/profile.d"], check=True, capture_output=True, text=True)
    assert "TMOUT=900" in as_root(host, f"cat {TMOUT_FILE}").stdout  # the real file, untouched underneath
