"""restic helpers shared by Socle's backup modules: run restic, parse its JSON, decide ages.

Pure functions (parsers, decisions) take plain values so the unit tests can feed them recorded
outputs. Nothing here ever returns or logs a repository password: restic reads it from a file
(RESTIC_PASSWORD_FILE) or from the environment (RESTIC_PASSWORD), never from the command line.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

RESTIC = "/usr/bin/restic"
_FRACTION_RE = re.compile(
    r"^(?P<head>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2})(?:\.(?P<frac>\d+))?(?P<tz>Z|[+-]\d{2}:?\d{2})?$"
)


def parse_time(value: str) -> datetime:
    """A restic timestamp (RFC 3339 with nanoseconds, e.g. 2026-11-28T16:09:02.123456789+01:00)."""
    match = _FRACTION_RE.match(value.strip())
    if not match:
        raise ValueError(f"not a restic timestamp: {value!r}")
    frac = (match["frac"] or "0")[:6].ljust(6, "0")
    tz = match["tz"] or "+00:00"
    if tz == "Z":
        tz = "+00:00"
    elif ":" not in tz:
        tz = tz[:3] + ":" + tz[3:]
    return datetime.fromisoformat(f"{match['head']}.{frac}{tz}")


def parse_snapshots(text: str) -> list[dict]:
    """The snapshots of ``restic snapshots --json``; raises ValueError on anything else."""
    try:
        data = json.loads(text or "null")
    except json.JSONDecodeError as exc:
        raise ValueError(f"restic snapshots did not print JSON: {exc}") from exc
    if data is None:
        return []
    if not isinstance(data, list) or not all(isinstance(s, dict) and "time" in s for s in data):
        raise ValueError("restic snapshots: expected a JSON list of snapshots with a time")
    return data


def latest_snapshot(snapshots: list[dict], host: str | None = None) -> dict | None:
    """The newest snapshot (of ``host`` when given), or None."""
    mine = [s for s in snapshots if host is None or s.get("hostname") == host]
    return max(mine, key=lambda s: parse_time(s["time"]), default=None)


def _age_text(hours: float) -> str:
    if hours < 48:
        return f"{hours:.1f} h"
    return f"{hours / 24:.1f} days"


def snapshot_age_finding(snapshot: dict | None, now: datetime, max_age_h: int, label: str) -> dict:
    """Finding for the age of the newest snapshot of a repository."""
    expected = f"{label}: newest snapshot at most {max_age_h} h old"
    if snapshot is None:
        return {"status": "drift", "expected": expected, "actual": f"{label}: no snapshot of this host"}
    taken = parse_time(snapshot["time"])
    hours = (now - taken).total_seconds() / 3600
    short = str(snapshot.get("short_id") or str(snapshot.get("id", ""))[:8])
    when = taken.astimezone(UTC)
    actual = f"{label}: newest snapshot {short} taken {when:%Y-%m-%d %H:%M} UTC, {_age_text(hours)} old"
    return {"status": "compliant" if hours <= max_age_h else "drift", "expected": expected, "actual": actual}


def parse_check_status(text: str | None) -> dict | None:
    """The status line the check unit writes after each run: ``<epoch> <SERVICE_RESULT> <EXIT_STATUS>``."""
    if not text or not text.strip():
        return None
    parts = text.strip().split()
    try:
        when = datetime.fromtimestamp(int(parts[0]), tz=UTC)
    except (ValueError, IndexError, OverflowError) as exc:
        raise ValueError(f"unreadable check status line: {text.strip()[:80]!r}") from exc
    result = parts[1] if len(parts) > 1 else "unknown"
    exit_status = parts[2] if len(parts) > 2 else ""
    return {"date": when, "result": result, "exit_status": exit_status}


def check_finding(status: dict | None, now: datetime, max_age_d: int) -> dict:
    """Finding for the last ``restic check`` run: it must have succeeded within ``max_age_d`` days."""
    expected = f"last restic check successful, at most {max_age_d} days ago"
    if status is None:
        return {"status": "drift", "expected": expected, "actual": "no restic check recorded yet"}
    days = (now - status["date"]).total_seconds() / 86400
    ok = status["result"] == "success" and days <= max_age_d
    actual = (
        f"last restic check {status['date']:%Y-%m-%d %H:%M} UTC ({days:.1f} days ago): {status['result']}"
        + (f" (exit status {status['exit_status']})" if status["result"] != "success" and status["exit_status"] else "")
    )
    return {"status": "compliant" if ok else "drift", "expected": expected, "actual": actual}


def parse_restore_record(text: str | None) -> dict | None:
    """The record ``playbooks/restore-test.yml`` writes: JSON with date (ISO 8601 UTC) and result."""
    if not text or not text.strip():
        return None
    try:
        data = json.loads(text)
        return {**data, "date": parse_time(str(data["date"])), "result": str(data["result"])}
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"unreadable restore-test record: {exc}") from exc


def restore_finding(record: dict | None, now: datetime, max_age_d: int) -> dict:
    """Finding for the automated restore test: a success within ``max_age_d`` days."""
    expected = f"restore test successful, at most {max_age_d} days ago"
    if record is None:
        return {"status": "drift", "expected": expected, "actual": "no restore test recorded on this host"}
    days = (now - record["date"]).total_seconds() / 86400
    ok = record["result"] == "success" and days <= max_age_d
    actual = f"last restore test {record['date']:%Y-%m-%d %H:%M} UTC ({days:.1f} days ago): {record['result']}"
    if record.get("sample"):
        actual += f", sample {record['sample']}"
    return {"status": "compliant" if ok else "drift", "expected": expected, "actual": actual}


def classify_open_error(stderr: str) -> str:
    """Why ``restic cat config`` failed: missing (no repository there), password, or unreachable."""
    text = stderr.lower()
    if "wrong password" in text or "no key found" in text:
        return "password"
    if "is there a repository at the following location" in text or "does not exist" in text:
        return "missing"
    if "unable to start the sftp session" in text or "connection" in text or "permission denied" in text:
        return "unreachable"
    return "other"


def restic_argv(repository: str, options: list[str], *command: str) -> list[str]:
    """The restic argv for one repository (``-r`` and the ``-o`` extended options first)."""
    argv = [RESTIC, "-r", repository]
    for option in options:
        argv += ["-o", option]
    return argv + list(command)


def scrub(text: str, secrets: list[str]) -> str:
    """Replace every secret in text (belt and braces: restic never prints the password)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "********")
    return text
