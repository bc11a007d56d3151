"""A lab of its own, started and torn down: images are reused (never rebuilt), teardown leaves nothing.

Runs beside the main lab under another name, port range and state folder, so the other tests' hosts stay.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from socle import lab

pytestmark = pytest.mark.lab

NAME = "socle-lifecycle"


def podman(*args: str) -> str:
    env = {**os.environ, "CONTAINERS_CONF": str(lab.containers_conf())}
    proc = subprocess.run(["podman", *args], capture_output=True, text=True, env=env, timeout=300, check=True)
    return proc.stdout


def image_ids() -> dict[str, str]:
    out = {}
    for release in lab.RELEASES:
        for desktop in (True, False):
            image = f"{lab.IMAGE_REPO}:{lab.image_tag(release, desktop)}"
            if lab.image_exists(image):
                out[image] = podman("image", "inspect", "--format", "{{.Id}}", image).strip()
    return out


def test_up_reuses_the_cached_images_and_down_removes_every_trace(tmp_path: Path):
    env = {**os.environ, "SOCLE_LAB_NAME": NAME, "SOCLE_LAB_PORT": "2390", "SOCLE_LAB_DIR": str(tmp_path / "state"),
           "SOCLE_LAB_INVENTORY": str(tmp_path / "hosts.yml")}

    def socle_lab(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "socle", "lab", *args], capture_output=True, text=True,
                              env=env, timeout=900)

    before = image_ids()
    assert before, "the lab images are missing: the main lab builds them (`socle lab up`)"
    label = f"label=socle.lab={NAME}"
    try:
        up = socle_lab("up", "--count", "1", "--release", "13")
        assert up.returncode == 0, up.stdout[-2000:] + up.stderr[-2000:]
        assert "building" not in (up.stdout + up.stderr), "an image was rebuilt although it was cached"
        hosts = [lab.LabHost(**h) for h in json.loads((tmp_path / "state" / "lab.json").read_text())["hosts"]]
        assert (tmp_path / "hosts.yml").exists() and [h.release for h in hosts] == ["13"]
        assert podman("ps", "--filter", label, "--format", "{{.Names}}").split() == [hosts[0].container]
        argv = lab.ssh_command(hosts[0], "cat /proc/1/comm", key=tmp_path / "state" / "id_ed25519")
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        assert proc.stdout.strip() == "systemd", proc.stderr
    finally:
        down = socle_lab("down")
    assert down.returncode == 0, down.stdout[-2000:] + down.stderr[-2000:]
    assert podman("ps", "-a", "--filter", label, "--format", "{{.Names}}").split() == []
    assert podman("pod", "ps", "--filter", label, "--format", "{{.Name}}").split() == []
    assert not (tmp_path / "state" / "lab.json").exists() and not (tmp_path / "hosts.yml").exists()
    assert image_ids() == before, "teardown must keep the cached images"
    # The main lab is untouched.
    assert all(h.container.startswith("socle-lab-") for h in lab.read_state())
