"""ClamAV signature database headers and the signature-age decision, shared by modules and tests.

A ClamAV database (``daily.cvd``, ``daily.cld``, ``main.cvd``, ...) starts with a 512-byte ASCII
header, padded with spaces: ``ClamAV-VDB:<build time>:<version>:<signatures>:<functionality
level>:<md5>:<digital signature>:<builder>:<build time in seconds>``. The build time is written by
sigtool as ``%d %b %Y %H-%M %z`` (a dash instead of a colon, the field separator). A ``.cld`` file,
kept up to date by freshclam with incremental updates, carries the header of its latest version.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone

from ansible.module_utils.socle_measure import MeasureError

UTC = timezone.utc  # noqa: UP017 - datetime.UTC is Python 3.11+, RHEL 9 runs 3.9

HEADER_SIZE = 512
MAGIC = "ClamAV-VDB:"
DATABASES = ("daily", "main", "bytecode")


class HeaderError(ValueError):
    """The file is not a ClamAV signature database."""


def parse_header(data: bytes) -> dict:
    """Fields of a database header: name-free dict with version, signatures and build time (UTC)."""
    text = data[:HEADER_SIZE].decode("ascii", errors="replace")
    if not text.startswith(MAGIC):
        raise HeaderError("no ClamAV-VDB header")
    fields = text.rstrip(" \x00\n").split(":")
    if len(fields) < 4:
        raise HeaderError("truncated ClamAV-VDB header")
    built = None
    if len(fields) > 8 and fields[8].strip().isdigit():
        built = datetime.fromtimestamp(int(fields[8].strip()), UTC)
    else:
        for fmt in ("%d %b %Y %H-%M %z", "%d %b %Y %H-%M"):
            try:
                built = datetime.strptime(fields[1].strip(), fmt)
            except ValueError:
                continue
            if built.tzinfo is None:
                built = built.replace(tzinfo=UTC)
            built = built.astimezone(UTC)
            break
    if built is None:
        raise HeaderError(f"unreadable build time {fields[1]!r}")
    try:
        version, signatures = int(fields[2]), int(fields[3])
    except ValueError as exc:
        raise HeaderError(f"unreadable version or signature count: {exc}") from exc
    return {"built": built, "version": version, "signatures": signatures}


def read_databases(folder: str) -> dict[str, dict]:
    """Header of each database found in folder, keyed by file name; unreadable ones carry 'error'."""
    found: dict[str, dict] = {}
    for name in DATABASES:
        for ext in ("cld", "cvd"):
            path = os.path.join(folder, f"{name}.{ext}")
            if not os.path.isfile(path):
                continue
            try:
                with open(path, "rb") as handle:
                    found[f"{name}.{ext}"] = parse_header(handle.read(HEADER_SIZE))
            except (OSError, HeaderError) as exc:
                found[f"{name}.{ext}"] = {"error": str(exc)}
    return found


def signature_age_finding(databases: dict[str, dict], now: datetime, max_age_h: int) -> dict:
    """Drift unless the newest readable database was built at most max_age_h hours before now.

    The daily database carries the new signatures; main and bytecode change rarely. The age is that
    of the newest build among the readable databases, so a host with only an old main.cvd is stale.
    """
    expected = f"ClamAV signatures built less than {max_age_h} h ago"
    readable = {n: d for n, d in databases.items() if "built" in d}
    if not databases:
        return {"status": "drift", "expected": expected, "actual": "no signature database"}
    if not readable:
        broken = ", ".join(f"{n}: {d['error']}" for n, d in sorted(databases.items()))
        return {"status": "drift", "expected": expected, "actual": f"no readable signature database ({broken})"}
    name, newest = max(readable.items(), key=lambda item: item[1]["built"])
    age = (now - newest["built"]).total_seconds() / 3600
    actual = (f"{name} version {newest['version']} built {newest['built']:%Y-%m-%d %H:%M} UTC"
              f" ({age:.0f} h ago)")
    if age < -1:
        return {"status": "drift", "expected": expected, "actual": actual + ": in the future, check the clock"}
    return {"status": "compliant" if age <= max_age_h else "drift", "expected": expected, "actual": actual}


ARGUMENT_SPEC = {
    "database_dir": {"type": "path", "default": "/var/lib/clamav"},
    "max_age_h": {"type": "int", "default": 48},
}


def measure(_module, params: dict) -> dict:
    """socle_clamav_facts' result for validated ``params``. Raises MeasureError."""
    if params["max_age_h"] < 1:
        raise MeasureError("max_age_h: must be 1 hour or more")
    databases = read_databases(params["database_dir"])
    result = signature_age_finding(databases, datetime.now(UTC), params["max_age_h"])
    shown = {name: ({**d, "built": d["built"].isoformat()} if "built" in d else d) for name, d in databases.items()}
    return {"changed": False, "socle_finding": result, "databases": shown}


def build_header(built: datetime, version: int = 27000, signatures: int = 2000000, with_seconds: bool = True) -> bytes:
    """A header in sigtool's format (for tests and fixtures): 512 bytes, space padded."""
    local = built.astimezone(UTC)
    fields = [
        "ClamAV-VDB", local.strftime("%d %b %Y %H-%M +0000"), str(version), str(signatures), "90",
        "0" * 32, "X" * 20, "socle-test",
    ]
    if with_seconds:
        fields.append(str(int(built.timestamp())))
    text = ":".join(fields)
    return text.encode("ascii").ljust(HEADER_SIZE, b" ")
