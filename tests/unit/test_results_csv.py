"""results.csv: one row per host and control, hostile strings and spreadsheet formulas neutralised."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from synthetic_runs import control, host, make

from socle.record import load_record
from socle.report import write_reports
from socle.report.results_csv import COLUMNS, neutralise, render_csv

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "runs"


def rows(text: str) -> list[dict[str, str]]:
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:], newline="")))


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=HYPERLINK(\"http://evil\")", "'=HYPERLINK(\"http://evil\")"),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("  =1", "'  =1"),
        ("\uff1d1", "'\uff1d1"),  # full-width equals sign
        ("ClientAliveInterval 300", "ClientAliveInterval 300"),
        ("a=b", "a=b"),
        ("nul\x00byte", "nulbyte"),
        (None, ""),
        (True, "true"),
        (4, "4"),
    ],
)
def test_neutralise(value, cell) -> None:
    assert neutralise(value) == cell


def test_one_row_per_host_and_control_in_record_order() -> None:
    record = load_record(FIXTURES / "audit-drift.json")
    table = rows(render_csv(record))
    assert list(table[0]) == list(COLUMNS)
    assert [(r["host"], r["control"]) for r in table] == [(h.name, c.id) for h, c in record.results()]
    first_drift = next(r for r in table if r["status"] == "drift")
    assert first_drift["measure"] == "4" and first_drift["changed"] == "true"
    assert first_drift["facility"] == "EHPAD Les Tilleuls" and first_drift["run_id"] == record.run.id


def test_host_without_controls_still_has_a_row() -> None:
    record = load_record(FIXTURES / "hostile.json")
    table = rows(render_csv(record))
    unreachable = [r for r in table if r["host"] == "unreach'able\"&<host>"]
    assert len(unreachable) == 1
    assert unreachable[0]["control"] == "" and unreachable[0]["status"] == "unreachable"


def test_hostile_strings_survive_and_formulas_do_not() -> None:
    record = make({
        "=cmd|'/C calc'!A0": host({"M4-LNX-SSH-IDLE": control(
            "drift", expected="@SUM(1+1)", actual="-1\n\"quoted\", comma;semi", message="+danger",
            waiver={"reason": "=WEBSERVICE(\"http://x\")", "accepted_by": "Dr \"Who\" <b>", "expires": "2027-03-31",
                    "expired": False})}, facility="EHPAD \"L'Étoile\" & Cie"),
    })
    text = render_csv(record)
    (row,) = rows(text)
    assert row["host"] == "'=cmd|'/C calc'!A0"
    assert row["expected"] == "'@SUM(1+1)"
    assert row["actual"] == "'-1\n\"quoted\", comma;semi"  # quoting keeps the newline, quotes and separators
    assert row["message"] == "'+danger"
    assert row["waiver_reason"] == "'=WEBSERVICE(\"http://x\")"
    assert row["waiver_accepted_by"] == "Dr \"Who\" <b>" and row["waiver_expires"] == "2027-03-31"
    assert row["facility"] == "EHPAD \"L'Étoile\" & Cie"
    # no cell of the raw file starts a formula
    for cells in csv.reader(io.StringIO(text[1:], newline="")):
        for cell in cells:
            assert not cell.lstrip(" ").startswith(("=", "+", "-", "@")), cell


def test_write_reports_writes_the_csv(tmp_path: Path) -> None:
    paths = write_reports(FIXTURES / "apply.json", tmp_path, lang="en")
    assert paths["csv"] == tmp_path / "results.csv"
    raw = paths["csv"].read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
    table = rows(raw.decode("utf-8"))
    assert {r["mode"] for r in table} == {"apply"}
    assert any(r["title"] for r in table)  # titles from the real catalogue
