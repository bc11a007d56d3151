"""The command line around the history: audit/apply store runs, history lists them, diff compares them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from synthetic_runs import control, host, run_id, started, write

from socle import cli, runner
from socle.history import History

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "runs"


@pytest.fixture
def fake_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """Replace the Ansible run by copying a prepared record to <out>/run.json."""
    queue: list[Path] = []

    def run(options, meanwhile=None):
        if meanwhile is not None:
            meanwhile()
        record = options.out_dir / "run.json"
        options.out_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy(queue.pop(0), record)
        return record, "successful"

    monkeypatch.setattr(runner, "run", run)
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all: {}\n", encoding="utf-8")
    return queue, inventory


def test_audit_then_apply_are_stored_and_the_second_report_shows_what_changed(fake_run, tmp_path, capsys) -> None:
    queue, inventory = fake_run
    db = tmp_path / "h.sqlite"
    queue += [FIXTURES / "audit-drift.json", FIXTURES / "apply.json"]
    common = ["-i", str(inventory), "-q", "--history", str(db)]
    assert cli.main(["audit", "--out", str(tmp_path / "a"), *common]) == 2
    first = (tmp_path / "a" / "report.html").read_text(encoding="utf-8")
    assert 'id="changes-since"' not in first  # nothing before it
    assert cli.main(["apply", "--out", str(tmp_path / "b"), *common, "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert f"history: {db}" in out and "csv: " in out
    html = (tmp_path / "b" / "report.html").read_text(encoding="utf-8")
    assert 'id="changes-since"' in html and "20251128T091500Z-3fa2c9d1" in html
    section = html.split('id="changes-since"', 1)[1].split("</section>", 1)[0]
    assert "<b>5</b> fixed" in section and "<b>0</b> regressed" in section
    assert (tmp_path / "b" / "results.csv").exists()
    assert [r.mode for r in History(db).runs()] == ["apply", "audit"]


def test_no_history_writes_no_database(fake_run, tmp_path, monkeypatch) -> None:
    queue, inventory = fake_run
    monkeypatch.setenv("SOCLE_HISTORY", str(tmp_path / "env.sqlite"))
    queue.append(FIXTURES / "audit-compliant.json")
    assert cli.main(["audit", "--out", str(tmp_path / "o"), "-i", str(inventory), "-q", "--no-history"]) == 0
    assert not (tmp_path / "env.sqlite").exists()
    queue.append(FIXTURES / "audit-compliant.json")
    assert cli.main(["audit", "--out", str(tmp_path / "o"), "-i", str(inventory), "-q"]) == 0
    assert (tmp_path / "env.sqlite").exists()  # SOCLE_HISTORY is the default


def test_a_broken_history_only_warns(fake_run, tmp_path, capsys) -> None:
    queue, inventory = fake_run
    db = tmp_path / "h.sqlite"
    db.write_bytes(b"garbage" * 1000)
    queue.append(FIXTURES / "audit-drift.json")
    code = cli.main(["audit", "--out", str(tmp_path / "o"), "-i", str(inventory), "-q", "--history", str(db)])
    assert code == 2  # the run's own verdict
    err = capsys.readouterr().err
    assert "warning: the run was not stored in the history" in err
    assert (tmp_path / "o" / "report.html").exists()


def _store(db: Path, tmp_path: Path) -> None:
    history = History(db)
    hostile = "pc\x1b[31m-<b>\u202e"
    history.store_file(write(tmp_path / "1.json", {
        hostile: host({"M4-LNX-SSH-IDLE": control(), "M4-LNX-GNOME-LOCK": control("drift")}, facility="F\x1b]0;x\x07"),
        "other": host({"M4-LNX-SSH-IDLE": control()}, facility="G"),
    }, run_id=run_id(1), started=started(1)))
    history.store_file(write(tmp_path / "2.json", {
        hostile: host({"M4-LNX-SSH-IDLE": control("drift"), "M4-LNX-GNOME-LOCK": control()}, facility="F\x1b]0;x\x07"),
    }, run_id=run_id(2), started=started(2)))


def test_history_command(tmp_path, capsys) -> None:
    db = tmp_path / "h.sqlite"
    _store(db, tmp_path)
    assert cli.main(["history", "--history", str(db)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\u202e" not in out
    lines = [line for line in out.splitlines() if line.startswith("2025")]
    assert [line.split()[0] for line in lines] == [run_id(2), run_id(1)]
    assert lines[0].split()[4:6] == ["50", "-16"]  # score 50, down from 66 (2 of 3 compliant)
    assert cli.main(["history", "--history", str(db), "--facility", "G", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in rows] == [run_id(1)] and rows[0]["scores"]["overall"] == 100
    assert cli.main(["history", "--history", str(db), "--host", "nobody"]) == 0
    assert "no run stored for host 'nobody'" in capsys.readouterr().out
    assert cli.main(["history", "--history", str(tmp_path / "absent.sqlite")]) == 1
    assert "no run history" in capsys.readouterr().err


def test_diff_command_exit_codes_and_output(tmp_path, capsys) -> None:
    db = tmp_path / "h.sqlite"
    _store(db, tmp_path)
    assert cli.main(["diff", run_id(1), run_id(2), "--history", str(db)]) == 2  # SSH regressed
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\u202e" not in out and "pc\\x1b[31m-<b>\\u202e" in out
    assert "regressed 1, new 0, fixed 1, no longer assessed 0" in out  # "other" was compliant: not listed
    assert "M4-LNX-SSH-IDLE" in out and "compliant -> drift" in out
    assert cli.main(["diff", run_id(2), run_id(1), "--history", str(db)]) == 2  # GNOME lock regressed the other way
    assert "note: the first run started after the second one" in capsys.readouterr().out
    capsys.readouterr()
    assert cli.main(["diff", str(tmp_path / "1.json"), str(tmp_path / "1.json"), "--history", str(db)]) == 0
    assert "no change of status" in capsys.readouterr().out
    assert cli.main(["diff", run_id(1), run_id(2), "--history", str(db), "--json"]) == 2
    data = json.loads(capsys.readouterr().out)
    assert data["worse"] is True and data["counts"]["regressed"] == 1
    assert {(c["kind"], c["control"]) for c in data["changes"]} >= {("regressed", "M4-LNX-SSH-IDLE"),
                                                                     ("fixed", "M4-LNX-GNOME-LOCK")}
    assert cli.main(["diff", "nope", run_id(2), "--history", str(db)]) == 1
    assert "no run 'nope'" in capsys.readouterr().err


def test_report_command_uses_the_history_for_the_changes_section(tmp_path, capsys) -> None:
    db = tmp_path / "h.sqlite"
    History(db).store_file(FIXTURES / "audit-drift.json")
    copy = tmp_path / "r" / "run.json"
    copy.parent.mkdir()
    shutil.copy(FIXTURES / "audit-compliant.json", copy)
    assert cli.main(["report", str(copy), "--history", str(db)]) == 0
    html = (tmp_path / "r" / "report.html").read_text(encoding="utf-8")
    assert 'id="changes-since"' in html
    assert (tmp_path / "r" / "results.csv").exists()
    assert cli.main(["report", str(copy), "--no-history"]) == 0
    assert 'id="changes-since"' not in (tmp_path / "r" / "report.html").read_text(encoding="utf-8")
    assert len(History(db).runs()) == 1  # report re-renders, it does not store


def test_history_import_stores_records_made_outside_the_cli(tmp_path, capsys) -> None:
    db = tmp_path / "h.sqlite"
    args = ["history", "--history", str(db), "--import", str(FIXTURES / "audit-drift.json"),
            "--import", str(FIXTURES / "apply.json")]
    assert cli.main(args) == 0
    captured = capsys.readouterr()
    assert "stored: 20251128T091500Z-3fa2c9d1" in captured.err
    assert [line.split()[0] for line in captured.out.splitlines() if line.startswith("2025")] == [
        "20251128T093012Z-b71e04aa", "20251128T091500Z-3fa2c9d1"]
    assert cli.main(args) == 0
    assert "already stored: 20251128T091500Z-3fa2c9d1" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text("{}", encoding="utf-8")
    assert cli.main(["history", "--history", str(db), "--import", str(bad)]) == 1
    assert "invalid run record" in capsys.readouterr().err
    assert len(History(db).runs()) == 2


def test_history_by_facility_is_the_msp_overview(tmp_path, capsys) -> None:
    db = tmp_path / "h.sqlite"
    history = History(db)
    day1 = {"a1": host({"M4-LNX-SSH-IDLE": control("drift")}, facility="EHPAD A"),
            "b1": host({"M4-LNX-SSH-IDLE": control()}, facility="SSIAD \x1b[2JB")}
    day2 = {"a1": host({"M4-LNX-SSH-IDLE": control()}, facility="EHPAD A")}
    history.store_file(write(tmp_path / "1.json", day1, run_id=run_id(1), started=started(1)))
    history.store_file(write(tmp_path / "2.json", day2, run_id=run_id(2), started=started(2)))
    assert cli.main(["history", "--history", str(db), "--by-facility"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out
    lines = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith(("EHPAD", "SSIAD"))}
    assert lines["EHPAD"][2:7] == [run_id(2), "audit", "1", "100", "+100"]  # fixed since day 1
    assert lines["SSIAD"][2:6] == [run_id(1), "audit", "1", "100"]  # its latest run is day 1's
    assert cli.main(["history", "--history", str(db), "--by-facility", "--json"]) == 0
    data = {entry["facility"]: entry for entry in json.loads(capsys.readouterr().out)}
    assert data["EHPAD A"]["previous"]["scores"]["overall"] == 0 and data["SSIAD \x1b[2JB"]["previous"] is None
