"""Which host reports a facility's organisational records: the same one, run after run, within --limit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

INVENTORY = {"all": {
    "vars": {"ansible_connection": "local", "organisation_enabled": True, "socle_facility": "EHPAD A"},
    "hosts": {"zz-poste": {}, "deb13-desk": {}, "deb12-desk": {}, "autre": {"socle_facility": "EHPAD B"},
              "sans-org": {"organisation_enabled": False}},
}}


def reporters(tmp_path: Path, limit: str | None) -> dict[str, str]:
    (tmp_path / "inv.yml").write_text(yaml.safe_dump(INVENTORY), encoding="utf-8")
    (tmp_path / "play.yml").write_text(
        "- hosts: all\n  gather_facts: false\n"
        f"  vars_files: [{ROOT / 'roles' / 'organisation' / 'vars' / 'main.yml'}]\n"
        "  tasks:\n    - ansible.builtin.debug:\n"
        "        msg: 'REPORTER {{ inventory_hostname }} {{ __organisation_reporter }}'\n",
        encoding="utf-8")
    cmd = [str(Path(sys.executable).with_name("ansible-playbook")), "-i", str(tmp_path / "inv.yml"),
           str(tmp_path / "play.yml")] + (["--limit", limit] if limit else [])
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_LOCAL_TEMP": str(tmp_path / "t")}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:]
    lines = [line.split("REPORTER ", 1)[1].strip().rstrip('"')
             for line in proc.stdout.splitlines() if "REPORTER " in line]
    return dict(line.split(" ", 1) for line in lines)


@pytest.mark.parametrize(("limit", "expected"), [
    (None, {"zz-poste": "deb12-desk", "deb13-desk": "deb12-desk", "deb12-desk": "deb12-desk", "autre": "autre",
            "sans-org": "deb12-desk"}),
    # Within --limit only: a host outside the run cannot report.
    ("zz-poste,deb13-desk", {"zz-poste": "deb13-desk", "deb13-desk": "deb13-desk"}),
])
def test_the_first_host_by_name_of_the_facility_within_the_limit(tmp_path, limit, expected):
    assert reporters(tmp_path, limit) == expected
