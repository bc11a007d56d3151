"""Small synthetic run records for the history, diff, score, CSV and waiver tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from socle.record import RunRecord, parse_record


def control(status: str = "compliant", *, changed: bool | None = None, waiver: dict | None = None,
            **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "status": status,
        "changed": status == "drift" if changed is None else changed,
        "expected": "x",
        "actual": "y" if status == "drift" else "x",
        "diff": None,
        "message": None,
        "tasks": [{"name": "M4-LNX-SSH-IDLE | t", "result": "ok", "msg": None}],
    }
    if waiver is not None:
        data["waiver"] = waiver
    data.update(extra)
    return data


def host(controls: dict[str, dict[str, Any]], *, status: str = "ok", facility: str | None = "EHPAD Test",
         message: str | None = None) -> dict[str, Any]:
    return {"status": status, "message": message, "facility": facility, "platform": "Debian 12",
            "controls": controls}


def run_data(hosts: dict[str, Any], *, run_id: str = "20251128T091500Z-3fa2c9d1",
             started: str = "2025-11-28T09:15:00Z", mode: str = "audit") -> dict[str, Any]:
    return {
        "schema_version": 1,
        "run": {"id": run_id, "mode": mode, "started": started, "finished": started,
                "ansible_version": "2.19.14", "socle_version": "0.1.0", "playbooks": ["audit.yml"], "errors": []},
        "hosts": hosts,
    }


def make(hosts: dict[str, Any], **kwargs: Any) -> RunRecord:
    return parse_record(run_data(hosts, **kwargs))


def write(path: Path, hosts: dict[str, Any], **kwargs: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(run_data(hosts, **kwargs), ensure_ascii=False, indent=2), encoding="utf-8")
    return path


def run_id(day: int, suffix: str = "0000000a") -> str:
    """A valid run ID on 2025-11-<day> (day 1-28)."""
    return f"202511{day:02d}T090000Z-{suffix}"


def started(day: int) -> str:
    return f"2025-11-{day:02d}T09:00:00Z"
