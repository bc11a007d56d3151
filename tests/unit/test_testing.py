"""socle.testing: the helpers the molecule verifiers share (records of molecule's runs, flagged pairs)."""

from __future__ import annotations

import json
from pathlib import Path

from socle.testing import flagged, records_by_mode

HOST = "accueil-pc01.tilleuls.lan"


def write_record(folder: Path, stamp: str, mode: str, playbook: str, status: str) -> None:
    control = {"status": status, "changed": status == "drift", "expected": "x", "actual": "y", "diff": None,
               "message": None, "tasks": [{"name": "M4-LNX-SSH-IDLE | t", "result": "ok", "msg": None}]}
    data = {
        "schema_version": 1,
        "run": {"id": f"2025112{stamp}T091500Z-3fa2c9d1", "mode": mode, "started": "2025-11-28T09:15:00Z",
                "finished": "2025-11-28T09:17:42Z", "ansible_version": "2.19.14", "socle_version": "0.1.0",
                "playbooks": [playbook], "errors": []},
        "hosts": {HOST: {"status": "ok", "message": None, "facility": "EHPAD Test", "platform": "Debian 12",
                         "controls": {"M4-LNX-SSH-IDLE": control}}},
    }
    (folder / f"{stamp}.json").write_text(json.dumps(data), encoding="utf-8")


def test_records_by_mode_keeps_one_playbook_in_order(tmp_path: Path) -> None:
    write_record(tmp_path, "1", "audit", "converge.yml", "drift")
    write_record(tmp_path, "2", "apply", "prepare.yml", "compliant")
    write_record(tmp_path, "3", "apply", "converge.yml", "compliant")
    write_record(tmp_path, "4", "apply", "/x/y/converge.yml", "compliant")
    found = records_by_mode(tmp_path)
    assert [r.run.id[7] for r in found["audit"]] == ["1"]
    assert [r.run.id[7] for r in found["apply"]] == ["3", "4"]
    assert flagged(found["audit"][0]) == {(HOST, "M4-LNX-SSH-IDLE")}
    assert flagged(found["apply"][0]) == set()
    assert [r.run.id[7] for r in records_by_mode(tmp_path, playbook="prepare.yml")["apply"]] == ["2"]
    assert records_by_mode(tmp_path / "missing") == {"audit": [], "apply": []}
