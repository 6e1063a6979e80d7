"""The dead-letter store: every rejected message with its reason, listable and replayable.

A SQLite file in the data directory (WAL mode, one commit per rejected message), so several
ingest workers on one machine share it and nothing rejected is lost in a crash.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DeadLetter:
    id: int
    received_at: int
    source: str
    topic: str
    reason: str
    payload: bytes


class DeadLetterStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS deadletters (id INTEGER PRIMARY KEY, received_at INTEGER NOT NULL, "
            "source TEXT NOT NULL, topic TEXT NOT NULL, reason TEXT NOT NULL, payload BLOB NOT NULL)"
        )

    def add(self, source: str, topic: str, reason: str, payload: bytes) -> int:
        cursor = self._db.execute(
            "INSERT INTO deadletters (received_at, source, topic, reason, payload) VALUES (?, ?, ?, ?, ?)",
            (int(time.time() * 1000), source, topic, reason, payload),
        )
        return int(cursor.lastrowid or 0)

    def list(self, reason: str | None = None, limit: int = 1000) -> list[DeadLetter]:
        query = "SELECT id, received_at, source, topic, reason, payload FROM deadletters"
        args: tuple[object, ...] = ()
        if reason:
            query += " WHERE reason LIKE ?"
            args = (f"%{reason}%",)
        query += " ORDER BY id LIMIT ?"
        return [DeadLetter(*row) for row in self._db.execute(query, (*args, limit))]

    def iter_all(self, ids: list[int] | None = None) -> Iterator[DeadLetter]:
        columns = "SELECT id, received_at, source, topic, reason, payload FROM deadletters"
        if ids:
            marks = ",".join("?" * len(ids))  # placeholders only; the ids go in as parameters
            rows = self._db.execute(f"{columns} WHERE id IN ({marks}) ORDER BY id", ids)
        else:
            rows = self._db.execute(f"{columns} ORDER BY id")
        yield from (DeadLetter(*row) for row in rows.fetchall())

    def remove(self, letter_id: int) -> None:
        self._db.execute("DELETE FROM deadletters WHERE id = ?", (letter_id,))

    def count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM deadletters").fetchone()[0])

    def close(self) -> None:
        self._db.close()
