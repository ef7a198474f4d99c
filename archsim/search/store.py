"""Every evaluation persisted as it completes, in an embedded SQLite database (one row per genome).

Rows are committed one by one (WAL journal), so a search killed at any moment — Ctrl-C or kill -9 — loses
at most the evaluations in flight (one per worker: a result is stored as soon as it reaches the search
process); ``--resume`` reloads the rows and the search replays deterministically,
serving every known genome from the database: nothing lost, nothing evaluated twice.
"""
from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

from archsim.errors import ArchsimError

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS evaluations (
    genome_hash TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    genome TEXT NOT NULL,
    result TEXT NOT NULL,
    engine TEXT NOT NULL,
    seconds REAL NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS generations (gen INTEGER PRIMARY KEY, n_evals INTEGER, hv REAL, front TEXT);
"""


class EvalStore:
    def __init__(self, path: str | Path, *, config: dict | None = None, resume: bool = False):
        self.path = Path(path)
        if self.path.is_dir():
            raise ArchsimError(f"--db {self.path}: is a folder; name a database file (e.g. {self.path}/search.sqlite)")
        exists = self.path.exists()
        if exists and not resume:
            raise FileExistsError(f"{self.path} exists: pass --resume to continue that search, or another --db")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.con = sqlite3.connect(str(self.path))
            self.con.execute("PRAGMA journal_mode=WAL")
            self.con.execute("PRAGMA synchronous=NORMAL")
            self.con.executescript(SCHEMA)
            old = self.meta("config")
        except sqlite3.DatabaseError as exc:
            raise ArchsimError(f"--db {self.path}: not a search database ({exc})") from None
        if config is not None:
            config = json.loads(json.dumps(config, sort_keys=True))  # tuples → lists, as stored
            text = json.dumps(config, sort_keys=True)
            if old is not None and old != text:
                before = json.loads(old)
                differ = sorted(k for k in set(before) | set(config) if before.get(k) != config.get(k))
                raise ValueError(f"{self.path} holds a search with a different configuration "
                                 f"({', '.join(differ)} differ); use another --db")
            self.set_meta("config", text)

    def meta(self, key: str):
        row = self.con.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.con:
            self.con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def load(self) -> dict:
        rows = self.con.execute("SELECT genome_hash, result FROM evaluations ORDER BY seq").fetchall()
        return {h: json.loads(r) for h, r in rows}

    def add(self, genome_hash: str, genome, result: dict) -> None:
        with self.con:
            seq = self.con.execute("SELECT COALESCE(MAX(seq), -1) + 1 FROM evaluations").fetchone()[0]
            self.con.execute("INSERT OR IGNORE INTO evaluations VALUES (?, ?, ?, ?, ?, ?, ?)",
                             (genome_hash, seq, json.dumps([int(v) for v in genome]), json.dumps(result),
                              result.get("engine", ""), float(result.get("seconds", 0.0)), time.time()))

    def add_generation(self, gen: int, n_evals: int, hv: float, front) -> None:
        with self.con:
            self.con.execute("INSERT OR REPLACE INTO generations VALUES (?, ?, ?, ?)",
                             (gen, n_evals, hv, json.dumps(front)))

    def count(self) -> int:
        return self.con.execute("SELECT COUNT(*) FROM evaluations").fetchone()[0]

    def rows(self) -> list[dict]:
        out = []
        for h, seq, g, r in self.con.execute("SELECT genome_hash, seq, genome, result FROM evaluations ORDER BY seq"):
            out.append({"hash": h, "seq": seq, "genome": json.loads(g), **json.loads(r)})
        return out

    def close(self) -> None:
        self.con.close()


def stored_count(path: str | Path) -> int:
    """Evaluations stored in the database at ``path``, read-only (never creates the file): 0 while it does not
    exist or is locked — what a watcher polls while a search or sweep writes it."""
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=0.1)
        try:
            return con.execute("SELECT COUNT(*) FROM evaluations").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0
