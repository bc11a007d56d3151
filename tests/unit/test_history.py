"""Run history in SQLite: storing, listing with scores, previous run, run look-up, concurrent writers."""

from __future__ import annotations

import json
import multiprocessing
import os
import sqlite3
import stat
import zlib
from pathlib import Path

import pytest
from synthetic_runs import control, host, run_data, run_id, started, write

from socle.history import History, HistoryError, default_history_path, load_run
from socle.record import RecordError

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "runs"


def test_default_path_order(tmp_path: Path) -> None:
    assert default_history_path({"SOCLE_HISTORY": str(tmp_path / "h.db"), "XDG_DATA_HOME": "/x"}) == tmp_path / "h.db"
    assert default_history_path({"XDG_DATA_HOME": "/data"}) == Path("/data/socle/history.sqlite")
    assert default_history_path({}) == Path.home() / ".local/share/socle/history.sqlite"
    assert default_history_path({"SOCLE_HISTORY": ""}) == Path.home() / ".local/share/socle/history.sqlite"


def test_store_keeps_the_record_bytes_and_is_idempotent(tmp_path: Path) -> None:
    history = History(tmp_path / "sub" / "history.sqlite")
    raw = (FIXTURES / "hostile.json").read_bytes()
    record, new = history.store_file(FIXTURES / "hostile.json")
    assert new is True
    assert history.store_file(FIXTURES / "hostile.json")[1] is False
    assert history.raw(record.run.id) == raw  # exactly as the callback wrote it, hostile strings included
    assert history.record("deadbeef") == record
    assert history.check() == "ok"
    with sqlite3.connect(history.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 1
        (blob,) = conn.execute("SELECT record FROM runs").fetchone()
    assert zlib.decompress(blob) == raw


def test_database_is_private_to_its_owner(tmp_path: Path) -> None:
    history = History(tmp_path / "h.sqlite")
    history.store_file(FIXTURES / "audit-drift.json")
    assert stat.S_IMODE(os.stat(history.path).st_mode) == 0o600


def test_invalid_record_is_not_stored(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    data = run_data({"h": host({"M4-LNX-SSH-IDLE": control("bogus")})})
    bad.write_text(json.dumps(data), encoding="utf-8")
    history = History(tmp_path / "h.sqlite")
    with pytest.raises(RecordError):
        history.store_file(bad)
    assert not history.path.exists() or history.runs() == []


def test_runs_newest_first_with_counts_and_scores(tmp_path: Path) -> None:
    history = History(tmp_path / "h.sqlite")
    for name in ("audit-drift", "apply", "audit-compliant"):
        history.store_file(FIXTURES / f"{name}.json")
    rows = history.runs()
    assert [r.mode for r in rows] == ["audit", "apply", "audit"]
    drift = rows[2]
    assert drift.exit_code == 2 and drift.hosts == 3 and drift.counts["drift"] == 5
    assert drift.scores.measures[4] == 37  # 3 compliant of 8 applicable (1 not applicable left out)
    assert drift.scores.overall == 37 and drift.scores.measures[1] is None
    assert [r.id for r in history.runs(limit=1)] == [rows[0].id]


def _facility_runs(tmp_path: Path) -> History:
    history = History(tmp_path / "h.sqlite")
    a = {"a1": host({"M4-LNX-SSH-IDLE": control("drift")}, facility="A"),
         "b1": host({"M4-LNX-SSH-IDLE": control(), "M5-LNX-FAILLOCK": control()}, facility="B")}
    b = {"b1": host({"M4-LNX-SSH-IDLE": control("drift")}, facility="B")}
    history.store_file(write(tmp_path / "1.json", a, run_id=run_id(1), started=started(1)))
    history.store_file(write(tmp_path / "2.json", b, run_id=run_id(2), started=started(2)))
    return history


def test_runs_limited_to_a_facility_or_a_host(tmp_path: Path) -> None:
    history = _facility_runs(tmp_path)
    only_a = history.runs(facility="A")
    assert [r.id for r in only_a] == [run_id(1)]
    assert only_a[0].hosts == 1 and only_a[0].counts["drift"] == 1 and only_a[0].counts["compliant"] == 0
    assert only_a[0].scores.overall == 0
    b_rows = history.runs(facility="B")
    assert [r.id for r in b_rows] == [run_id(2), run_id(1)]
    assert b_rows[1].scores.overall == 100 and b_rows[0].scores.overall == 0  # B got worse
    assert [r.id for r in history.runs(host="a1")] == [run_id(1)]
    assert history.runs(facility="nowhere") == []
    assert history.runs(facility="A", host="b1") == []


def test_previous_is_the_latest_earlier_run_of_the_same_hosts(tmp_path: Path) -> None:
    history = _facility_runs(tmp_path)
    later = write(tmp_path / "3.json", {"a1": host({"M4-LNX-SSH-IDLE": control()}, facility="A")},
                  run_id=run_id(3), started=started(3))
    record = load_run(str(later), history)
    assert history.previous(record).run.id == run_id(1)  # run 2 did not assess a1
    other = load_run(str(write(tmp_path / "4.json", {"zz": host({})}, run_id=run_id(4), started=started(4))),
                     history)
    assert history.previous(other) is None
    first = history.record(run_id(1))
    assert history.previous(first) is None  # nothing before it, and never itself


def test_previous_orders_by_utc_not_by_text(tmp_path: Path) -> None:
    history = History(tmp_path / "h.sqlite")
    hosts = {"h": host({"M4-LNX-SSH-IDLE": control()})}
    # 10:30+02:00 is 08:30Z: earlier than 09:00Z although its text sorts later
    history.store_file(write(tmp_path / "a.json", hosts, run_id=run_id(5, "0000000b"),
                             started="2025-11-05T10:30:00+02:00"))
    history.store_file(write(tmp_path / "b.json", hosts, run_id=run_id(5, "0000000c"), started=started(5)))
    now = load_run(str(write(tmp_path / "c.json", hosts, run_id=run_id(6), started=started(6))), history)
    assert history.previous(now).run.id == run_id(5, "0000000c")
    assert [r.id for r in history.runs()] == [run_id(5, "0000000c"), run_id(5, "0000000b")]


def test_resolve_run_references(tmp_path: Path) -> None:
    history = _facility_runs(tmp_path)
    assert history.resolve(run_id(1)) == run_id(1)
    assert history.resolve("20251101") == run_id(1)
    with pytest.raises(HistoryError, match="matches 2 runs"):
        history.resolve("0000000a")
    with pytest.raises(HistoryError, match="no run 'nope'"):
        history.resolve("nope")
    with pytest.raises(HistoryError, match="no run history"):
        History(tmp_path / "absent.sqlite").runs()


def test_load_run_prefers_an_existing_file(tmp_path: Path) -> None:
    path = write(tmp_path / "x.json", {"h": host({})}, run_id=run_id(9))
    assert load_run(str(path), None).run.id == run_id(9)
    with pytest.raises(HistoryError, match="no run history"):
        load_run("20251109", None)


def test_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(HistoryError, match="cannot open the run history"):
        History(path).runs()


def test_newer_database_version_is_refused(tmp_path: Path) -> None:
    history = History(tmp_path / "h.sqlite")
    history.store_file(FIXTURES / "apply.json")
    with sqlite3.connect(history.path) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(HistoryError, match="version 99"):
        history.runs()


def _writer(args: tuple[str, str, int]) -> int:
    folder, db, worker = args
    history = History(db)
    stored = 0
    for n in range(6):
        hosts = {f"w{worker}-h{i}": host({"M4-LNX-SSH-IDLE": control("drift" if (n + i) % 2 else "compliant"),
                                          "M5-LNX-FAILLOCK": control()}) for i in range(20)}
        path = write(Path(folder) / f"{worker}-{n}.json", hosts, run_id=f"202511{n + 1:02d}T090000Z-{worker:08x}",
                     started=started(n + 1))
        stored += history.store_file(path)[1]
        history.runs(limit=3)  # readers interleave with writers
    return stored


def test_concurrent_processes_do_not_corrupt_the_history(tmp_path: Path) -> None:
    db = str(tmp_path / "h.sqlite")
    workers = 4
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        stored = pool.map(_writer, [(str(tmp_path), db, w) for w in range(workers)])
    assert stored == [6] * workers
    history = History(db)
    assert history.check() == "ok"
    rows = history.runs(limit=100)
    assert len(rows) == 6 * workers and len({r.id for r in rows}) == 6 * workers
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM results").fetchone()[0] == 6 * workers * 20 * 2
        assert conn.execute("SELECT COUNT(*) FROM hosts").fetchone()[0] == 6 * workers * 20


def test_history_holds_the_record_and_figures_derived_from_it_only(tmp_path: Path) -> None:
    """A guard: a new table or column must be reviewed for secrets before this test is changed."""
    history = History(tmp_path / "h.sqlite")
    history.store_file(FIXTURES / "audit-drift.json")
    with sqlite3.connect(history.path) as conn:
        tables = {name: [c[1] for c in conn.execute(f"PRAGMA table_info({name})")]  # noqa: S608 - names from sqlite
                  for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {
        "runs": ["id", "mode", "started", "started_utc", "finished", "socle_version", "exit_code", "stored_at",
                 "record"],
        "hosts": ["run_id", "host", "facility", "status"],
        "results": ["run_id", "host", "control", "measure", "status"],
    }


def test_database_errors_while_reading_become_history_errors(tmp_path: Path) -> None:
    history = History(tmp_path / "h.sqlite")
    history.store_file(FIXTURES / "apply.json")
    with sqlite3.connect(history.path) as conn:
        conn.execute("DROP TABLE results")
    with pytest.raises(HistoryError, match="no such table: results"):
        history.runs()
