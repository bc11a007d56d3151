"""socle_clamav_facts and module_utils/socle_clamav: signature age from real-format headers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from ansible.module_utils import socle_clamav as sc
from conftest import load_project_module

clamav = load_project_module("library", "socle_clamav_facts")
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
# A header as sigtool writes it (daily.cvd, 2024), seconds field included.
REAL = (b"ClamAV-VDB:10 Mar 2024 08-25 -0400:27210:2055912:90:b1b6c5f1f4e9a1b0c8d0a6d6e0f1a2b3:"
        b"Q9YkQ4K0VvXcJzR1:raynman:1710073512").ljust(512, b" ")


def write_db(folder, name: str, built: datetime, with_seconds: bool = True, body: bytes = b"\x1f\x8b") -> None:
    (folder / name).write_bytes(sc.build_header(built, with_seconds=with_seconds) + body)


def test_parse_recorded_header():
    header = sc.parse_header(REAL)
    assert header["version"] == 27210 and header["signatures"] == 2055912
    assert header["built"] == datetime(2024, 3, 10, 12, 25, 12, tzinfo=UTC)


def test_parse_header_without_seconds_uses_the_text_time():
    header = sc.parse_header(REAL[: REAL.index(b":raynman")].ljust(512, b" "))
    assert header["built"] == datetime(2024, 3, 10, 12, 25, tzinfo=UTC)


@pytest.mark.parametrize("data", [b"", b"\x1f\x8b\x08 gzip", b"ClamAV-VDB:x", b"ClamAV-VDB:bad date:1:2:90"])
def test_parse_header_refuses(data):
    with pytest.raises(sc.HeaderError):
        sc.parse_header(data)


@pytest.mark.parametrize(("files", "status", "words"), [
    ({}, "drift", "no signature database"),
    ({"daily.cld": 3, "main.cvd": 400}, "compliant", "daily.cld version 27000"),
    ({"daily.cvd": 72, "main.cvd": 400}, "drift", "(72 h ago)"),
    ({"main.cvd": 400}, "drift", "main.cvd"),
    ({"daily.cld": 47, "daily.cvd": 200}, "compliant", "daily.cld"),
])
def test_signature_age(tmp_path, files, status, words):
    for name, hours in files.items():
        write_db(tmp_path, name, NOW - timedelta(hours=hours), with_seconds=name != "main.cvd")
    found = sc.signature_age_finding(sc.read_databases(str(tmp_path)), NOW, 48)
    assert found["status"] == status and words in found["actual"], found


def test_unreadable_database_is_drift(tmp_path):
    (tmp_path / "daily.cld").write_bytes(b"\x00" * 600)
    found = sc.signature_age_finding(sc.read_databases(str(tmp_path)), NOW, 48)
    assert found["status"] == "drift" and "no readable" in found["actual"]


def test_future_database_is_drift(tmp_path):
    write_db(tmp_path, "daily.cvd", NOW + timedelta(days=3))
    assert sc.signature_age_finding(sc.read_databases(str(tmp_path)), NOW, 48)["status"] == "drift"


@pytest.mark.parametrize("check_mode", [True, False])
def test_module(run_module, tmp_path, check_mode):
    write_db(tmp_path, "daily.cld", datetime.now(UTC) - timedelta(hours=5))
    result = run_module(clamav, {"database_dir": str(tmp_path)}, check_mode=check_mode)
    assert result["changed"] is False and result["socle_finding"]["status"] == "compliant"
    assert result["databases"]["daily.cld"]["version"] == 27000
    again = run_module(clamav, {"database_dir": str(tmp_path), "max_age_h": 4}, check_mode=check_mode)
    assert again["changed"] is False and again["socle_finding"]["status"] == "drift"


def test_module_missing_folder_is_drift(run_module, tmp_path):
    result = run_module(clamav, {"database_dir": str(tmp_path / "none")})
    assert result["socle_finding"]["actual"] == "no signature database"


@pytest.mark.parametrize(("args", "words"), [({"max_age_h": 0}, "max_age_h"), ({"max_age_h": "un jour"}, "max_age_h")])
def test_module_bad_arguments(run_module, args, words):
    result = run_module(clamav, args)
    assert result["failed"] and words in result["msg"]
