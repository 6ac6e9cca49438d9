"""SQLite: WAL checkpoints in a thread of their own, off the writers' path.

SQLite's automatic checkpoint copies the write-ahead log into the database file inside the
commit that crosses its threshold, so that commit returns late, and the process's other
writers wait for it in their queue (db.engine.transaction). With 100 KB posts that was about
a fifth of the database's time per post. Here a commit instead starts a PASSIVE checkpoint
on a connection of its own in a worker thread, where it runs beside the writers (it never
waits for one nor blocks one): at most one at a time per database, at most one start per
INTERVAL_SECONDS. The connections' own automatic checkpoint stays as a backstop, at
BACKSTOP_PAGES, for a log that grows faster than these keep up with.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time

from oak_maillist.logging import get_logger

log = get_logger(__name__)

INTERVAL_SECONDS = 0.05
BACKSTOP_PAGES = 10_000  # 40 MB of 4 KB pages (SQLite's own default: 1,000)


class Checkpoints:
    """Background checkpoints of the SQLite database file at `path`."""

    def __init__(self, path: str) -> None:
        self._path = path
        self.running: asyncio.Future[None] | None = None  # the checkpoint under way
        self._last_start = float("-inf")
        self._failing = False  # the last one failed (and said so)

    def after_commit(self) -> None:
        """A transaction commits (the engine's event comes just before the database's commit,
        whose pages the next checkpoint takes): start a checkpoint unless one runs or began
        just now."""
        now = time.monotonic()
        if self.running is not None or now - self._last_start < INTERVAL_SECONDS:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # committed outside an event loop (the backstop checkpoints)
            return
        self._last_start = now
        self.running = loop.run_in_executor(None, self._checkpoint)
        self.running.add_done_callback(self._finished)

    def _checkpoint(self) -> None:
        """In a worker thread: copy what the log holds into the database, as far as no
        reader needs it (PASSIVE)."""
        connection = sqlite3.connect(self._path, timeout=0)
        try:
            connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        finally:
            connection.close()

    def _finished(self, done: asyncio.Future[None]) -> None:
        """A failure is logged once until a checkpoint succeeds again (the next commit tries
        again; the backstop checkpoints meanwhile)."""
        self.running = None
        error = None if done.cancelled() else done.exception()
        if error is not None and not self._failing:
            log.warning("sqlite_checkpoint_failed", error=f"{type(error).__name__}: {error}")
        self._failing = error is not None
