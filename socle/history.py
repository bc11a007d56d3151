"""Run history in SQLite: every ``socle audit`` / ``socle apply`` run, for trends and diffs.

Where: ``--history PATH`` on the command line, else the ``SOCLE_HISTORY`` environment variable,
else ``$XDG_DATA_HOME/socle/history.sqlite`` (``~/.local/share/socle/history.sqlite``). Created on
first use, readable by its owner only.

What: each run's record exactly as the callback plugin wrote it (``run.json``, zlib-compressed),
plus one row per host and one per (host, control) with its status, so that the history and the
scores of a facility or a host come from a query rather than from re-reading every record. The
run record never carries secrets (``no_log`` results are censored before it is written), and the
history stores nothing else.

Concurrency: the database is in WAL mode and each run is stored in one ``BEGIN IMMEDIATE``
transaction with a generous busy timeout, so several runs finishing at once (one per facility, on
one controller) queue for the write lock instead of failing or corrupting the file; readers are
never blocked. Storing the same run twice is a no-op.
"""

from __future__ import annotations

import json
import os
import sqlite3
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from socle.record import CONTROL_STATUSES, MEASURES, RecordError, RunRecord, measure_of, parse_record
from socle.score import Scores, scores_from_counts

__all__ = ["ENV_VAR", "History", "HistoryError", "RunRow", "default_history_path", "load_run"]

ENV_VAR = "SOCLE_HISTORY"
#: Version of the database layout, kept in ``PRAGMA user_version``.
DB_VERSION = 1
#: Seconds a writer waits for another one to finish before giving up.
BUSY_TIMEOUT_S = 120.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id          TEXT PRIMARY KEY,
    mode        TEXT NOT NULL,
    started     TEXT NOT NULL,     -- as in the record
    started_utc TEXT NOT NULL,     -- normalised for ordering: YYYY-MM-DDTHH:MM:SSZ
    finished    TEXT,
    socle_version TEXT NOT NULL,
    exit_code   INTEGER NOT NULL,
    stored_at   TEXT NOT NULL,
    record      BLOB NOT NULL      -- zlib(run.json bytes as written by the callback plugin)
);
CREATE INDEX IF NOT EXISTS runs_by_start ON runs (started_utc);
CREATE TABLE IF NOT EXISTS hosts (
    run_id   TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    host     TEXT NOT NULL,
    facility TEXT,
    status   TEXT NOT NULL,
    PRIMARY KEY (run_id, host)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS hosts_by_host ON hosts (host, run_id);
CREATE INDEX IF NOT EXISTS hosts_by_facility ON hosts (facility, run_id);
CREATE TABLE IF NOT EXISTS results (
    run_id   TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    host     TEXT NOT NULL,
    control  TEXT NOT NULL,
    measure  INTEGER,
    status   TEXT NOT NULL,
    PRIMARY KEY (run_id, host, control)
) WITHOUT ROWID;
"""


class HistoryError(Exception):
    """The history cannot be opened, or a run asked for is not in it."""


def default_history_path(environ: dict[str, str] | None = None) -> Path:
    """``$SOCLE_HISTORY``, else ``$XDG_DATA_HOME/socle/history.sqlite``, else ``~/.local/share/...``."""
    env = os.environ if environ is None else environ
    if env.get(ENV_VAR):
        return Path(env[ENV_VAR]).expanduser()
    base = Path(env["XDG_DATA_HOME"]).expanduser() if env.get("XDG_DATA_HOME") else Path.home() / ".local" / "share"
    return base / "socle" / "history.sqlite"


def _utc(value: str) -> str:
    return datetime.fromisoformat(value.replace("z", "Z")).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class RunRow:
    """One run as ``socle history`` lists it, its figures limited to the hosts asked for."""

    id: str
    mode: str
    started: str
    exit_code: int
    hosts: int
    hosts_not_ok: int
    counts: dict[str, int]  # control statuses over the hosts asked for
    scores: Scores

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "mode": self.mode,
            "started": self.started,
            "exit_code": self.exit_code,
            "hosts": self.hosts,
            "hosts_not_ok": self.hosts_not_ok,
            "counts": dict(self.counts),
            "scores": self.scores.as_dict(),
        }


class History:
    """The run history database at ``path`` (created when first written to)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    # -- connection -------------------------------------------------------------------------------
    def _connect(self, create: bool) -> sqlite3.Connection:
        if not self.path.exists():
            if not create:
                raise HistoryError(f"no run history at {self.path} (runs are stored there by socle audit/apply)")
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            # owner-only from the start; SQLite gives the -wal and -shm files the same mode
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        conn = None
        try:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            conn.execute("PRAGMA foreign_keys = ON")
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")  # safe in WAL mode: a crash loses no committed run
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > DB_VERSION:
                raise HistoryError(
                    f"{self.path}: history database version {version}; this Socle reads version {DB_VERSION}"
                )
            if version < DB_VERSION:
                with _transaction(conn):
                    for statement in filter(str.strip, _SCHEMA.split(";")):
                        conn.execute(statement)
                    conn.execute(f"PRAGMA user_version = {DB_VERSION}")
        except (sqlite3.DatabaseError, HistoryError) as exc:
            if conn is not None:
                conn.close()
            if isinstance(exc, HistoryError):
                raise
            raise HistoryError(f"{self.path}: cannot open the run history: {exc}") from exc
        return conn

    @contextmanager
    def _open(self, create: bool = False) -> Iterator[sqlite3.Connection]:
        conn = self._connect(create)
        try:
            yield conn
        except sqlite3.DatabaseError as exc:
            raise HistoryError(f"{self.path}: {exc}") from exc
        finally:
            conn.close()

    # -- writing ----------------------------------------------------------------------------------
    def store(self, record: RunRecord, raw: bytes) -> bool:
        """Store one run (``raw``: the run.json bytes it was parsed from). False if already stored."""
        hosts = [(record.run.id, h.name, h.facility, h.status) for h in record.hosts.values()]
        results = [
            (record.run.id, h.name, c.id, measure_of(c.id), c.status) for h, c in record.results()
        ]
        blob = zlib.compress(raw, 6)
        stored_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        try:
            with self._open(create=True) as conn, _transaction(conn):
                if conn.execute("SELECT 1 FROM runs WHERE id = ?", (record.run.id,)).fetchone():
                    return False
                conn.execute(
                    "INSERT INTO runs (id, mode, started, started_utc, finished, socle_version, exit_code,"
                    " stored_at, record) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (record.run.id, record.run.mode, record.run.started, _utc(record.run.started),
                     record.run.finished, record.run.socle_version, record.exit_code(), stored_at, blob),
                )
                conn.executemany("INSERT INTO hosts VALUES (?, ?, ?, ?)", hosts)
                conn.executemany("INSERT INTO results VALUES (?, ?, ?, ?, ?)", results)
        except sqlite3.DatabaseError as exc:
            raise HistoryError(f"{self.path}: cannot store run {record.run.id}: {exc}") from exc
        return True

    def store_file(self, path: str | Path) -> tuple[RunRecord, bool]:
        """Validate and store a run.json file; return its record and whether it was new."""
        raw = Path(path).read_bytes()
        record = _parse(raw, str(path))
        return record, self.store(record, raw)

    # -- reading ----------------------------------------------------------------------------------
    def resolve(self, ref: str) -> str:
        """The full run ID for ``ref``: a whole run ID, or a unique start or end of one."""
        with self._open() as conn:
            rows = [r[0] for r in conn.execute(
                "SELECT id FROM runs WHERE id = ? OR substr(id, 1, length(?)) = ? OR substr(id, -length(?)) = ?"
                " ORDER BY started_utc", (ref, ref, ref, ref, ref))]
        if ref in rows:
            return ref
        if not rows:
            raise HistoryError(f"no run {ref!r} in {self.path} (see socle history)")
        if len(rows) > 1:
            raise HistoryError(f"{ref!r} matches {len(rows)} runs in {self.path}: {', '.join(rows[:5])}")
        return rows[0]

    def record(self, ref: str) -> RunRecord:
        """The stored record of a run (validated again as it is read)."""
        run_id = self.resolve(ref)
        with self._open() as conn:
            (blob,) = conn.execute("SELECT record FROM runs WHERE id = ?", (run_id,)).fetchone()
        return _parse(zlib.decompress(blob), f"{self.path}#{run_id}")

    def raw(self, ref: str) -> bytes:
        """The run.json bytes of a stored run, as the callback plugin wrote them."""
        run_id = self.resolve(ref)
        with self._open() as conn:
            (blob,) = conn.execute("SELECT record FROM runs WHERE id = ?", (run_id,)).fetchone()
        return zlib.decompress(blob)

    def previous(self, record: RunRecord) -> RunRecord | None:
        """The latest run started before ``record`` that assessed at least one of its hosts."""
        if not self.path.exists() or not record.hosts:
            return None
        with self._open() as conn:
            row = conn.execute(
                "SELECT r.id FROM runs r WHERE r.started_utc < ? AND r.id != ? AND EXISTS ("
                " SELECT 1 FROM hosts h WHERE h.run_id = r.id AND h.host IN (SELECT value FROM json_each(?)))"
                " ORDER BY r.started_utc DESC, r.id DESC LIMIT 1",
                (_utc(record.run.started), record.run.id, json.dumps(list(record.hosts))),
            ).fetchone()
        return self.record(row[0]) if row else None

    def runs(self, facility: str | None = None, host: str | None = None, limit: int = 20) -> list[RunRow]:
        """The latest ``limit`` runs (newest first) that assessed the facility / host asked for.

        Counts and scores cover only the hosts asked for (every host when neither is given).
        """
        # Fixed SQL, values bound: a NULL filter matches every host.
        params = {"facility": facility, "host": host, "limit": limit}
        with self._open() as conn:
            ids = conn.execute(
                "SELECT r.id, r.mode, r.started, r.exit_code FROM runs r WHERE EXISTS ("
                " SELECT 1 FROM hosts h WHERE h.run_id = r.id AND"
                " (:facility IS NULL OR h.facility = :facility) AND (:host IS NULL OR h.host = :host))"
                " ORDER BY r.started_utc DESC, r.id DESC LIMIT :limit",
                params,
            ).fetchall()
            out = []
            for run_id, mode, started, exit_code in ids:
                params["run_id"] = run_id
                host_rows = conn.execute(
                    "SELECT h.status, COUNT(*) FROM hosts h WHERE h.run_id = :run_id AND"
                    " (:facility IS NULL OR h.facility = :facility) AND (:host IS NULL OR h.host = :host)"
                    " GROUP BY h.status",
                    params,
                ).fetchall()
                counted = conn.execute(
                    "SELECT x.measure, x.status, COUNT(*) FROM results x JOIN hosts h"
                    " ON h.run_id = x.run_id AND h.host = x.host WHERE x.run_id = :run_id AND"
                    " (:facility IS NULL OR h.facility = :facility) AND (:host IS NULL OR h.host = :host)"
                    " GROUP BY x.measure, x.status",
                    params,
                ).fetchall()
                per_measure: dict[int, dict[str, int]] = {m: {} for m in MEASURES}
                counts = dict.fromkeys(CONTROL_STATUSES, 0)
                for measure, status, n in counted:
                    counts[status] = counts.get(status, 0) + n
                    if measure in per_measure:
                        per_measure[measure][status] = n
                out.append(RunRow(
                    id=run_id, mode=mode, started=started, exit_code=exit_code,
                    hosts=sum(n for _s, n in host_rows),
                    hosts_not_ok=sum(n for s, n in host_rows if s != "ok"),
                    counts=counts, scores=scores_from_counts(per_measure),
                ))
        return out

    def facilities(self) -> list[str | None]:
        """Every facility the history has seen (``None`` for hosts without one), by name."""
        with self._open() as conn:
            names = [r[0] for r in conn.execute("SELECT DISTINCT facility FROM hosts")]
        return sorted(names, key=lambda n: (n is None, n or ""))

    def check(self) -> str:
        """``PRAGMA integrity_check``'s answer (``ok`` when the file is sound)."""
        with self._open() as conn:
            return "; ".join(r[0] for r in conn.execute("PRAGMA integrity_check"))


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """One write transaction, taken at once (BEGIN IMMEDIATE): writers queue, never deadlock."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _parse(raw: bytes, source: str) -> RunRecord:
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RecordError(source, [("$", f"not a JSON run record: {exc}")]) from exc
    return parse_record(data, source)


def load_run(ref: str, history: History | None) -> RunRecord:
    """A run named by a run.json path or by a run ID (or a unique part of one) in ``history``."""
    path = Path(ref)
    if path.is_file():
        return _parse(path.read_bytes(), ref)
    if history is None:
        raise HistoryError(f"{ref}: no such file, and no run history to look the run up in")
    return history.record(ref)
