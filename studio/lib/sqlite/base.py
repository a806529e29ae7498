"""Django's SQLite backend, with this process's write transactions taking turns on a lock.

SQLite lets one connection write at a time. A second writer's BEGIN IMMEDIATE fails with
SQLITE_BUSY and the busy handler retries it after sleeping 1, 2, 5, 10 … 100 ms, so under
concurrent webhooks the writers mostly slept: with 16 at once, throughput fell by a fifth
and p99 went from 0.2 s to 1.4 s (bench/RESULTS.md, "Webhook ingest"). Here the threads of
one process queue on a lock instead and each starts the moment the previous one commits.
Other processes (manage.py commands) still meet the busy handler, as before.
"""

import threading

from django.db import OperationalError
from django.db.backends.sqlite3 import base

_writer = threading.Lock()


class DatabaseWrapper(base.DatabaseWrapper):
    _holds_writer = False

    def _start_transaction_under_autocommit(self):
        # The same wait as the connection's own busy timeout, and the same error after it.
        if not _writer.acquire(timeout=self.settings_dict["OPTIONS"].get("timeout", 5)):
            raise OperationalError("database is locked")
        self._holds_writer = True
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self._release_writer()
            raise

    def _release_writer(self):
        if self._holds_writer:
            self._holds_writer = False
            _writer.release()

    def _commit(self):
        try:
            return super()._commit()
        finally:
            self._release_writer()

    def _rollback(self):
        try:
            return super()._rollback()
        finally:
            self._release_writer()

    def _close(self):
        try:
            return super()._close()
        finally:
            self._release_writer()
