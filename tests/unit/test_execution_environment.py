"""The AWX execution environment definition: ansible-builder accepts it, with the project's pins."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Za-z0-9_.\[\]-]+)==([^\s#]+)", line)
        if match:
            found[match.group(1).lower().split("[")[0]] = match.group(2)
    return found


def test_ansible_builder_creates_the_build_context(tmp_path):
    builder = Path(sys.executable).with_name("ansible-builder")
    proc = subprocess.run([str(builder), "create", "-f", str(ROOT / "execution-environment.yml"), "-c",
                           str(tmp_path / "context")], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    containerfile = (tmp_path / "context" / "Containerfile").read_text(encoding="utf-8")
    assert "ansible-core==2.19.14" in containerfile and "ansible-runner==2.4.3" in containerfile
    built = tmp_path / "context" / "_build"
    assert "weasyprint==70.0" in (built / "requirements.txt").read_text(encoding="utf-8")
    assert "ansible.windows" in (built / "requirements.yml").read_text(encoding="utf-8")


def test_execution_environment_pins_match_the_project():
    project = pins(ROOT / "requirements.txt")
    ee = pins(ROOT / "awx" / "requirements.txt")
    assert ee and all(project[name] == version for name, version in ee.items()), (ee, project)
    spec = yaml.safe_load((ROOT / "execution-environment.yml").read_text(encoding="utf-8"))
    assert spec["dependencies"]["ansible_core"]["package_pip"] == f"ansible-core=={project['ansible-core']}"
    assert spec["dependencies"]["ansible_runner"]["package_pip"] == f"ansible-runner=={project['ansible-runner']}"


def test_collections_cover_every_fqcn_the_roles_use():
    listed = {c["name"] for c in yaml.safe_load((ROOT / "awx" / "collections.yml").read_text())["collections"]}
    used = set()
    for path in [*ROOT.glob("roles/**/*.yml"), *ROOT.glob("playbooks/*.yml")]:
        for match in re.finditer(r"\b((?:ansible|community)\.[a-z_]+)\.[a-z_]+:", path.read_text(encoding="utf-8")):
            if match.group(1) != "ansible.builtin":
                used.add(match.group(1))
    assert used and used <= listed, used - listed
