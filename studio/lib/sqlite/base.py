"""Django's SQLite backend, with this process's write transactions taking turns on a lock.

Upstream: with `transaction_mode="IMMEDIATE"` and a `timeout` (both set in settings.py) Django
begins every transaction with BEGIN IMMEDIATE. SQLite lets one connection write at a time, so a
second writer's BEGIN fails with SQLITE_BUSY and SQLite's busy handler retries it after sleeping
1, 2, 5, 10 … 100 ms, until the timeout.

Why replaced: under concurrent webhooks the writers mostly slept, and whoever retried at the
right moment went first, so the database sat idle between writers while others waited out a
sleep. Here the threads of one process queue on a lock instead and each starts the moment the
previous one commits. Other processes (manage.py commands) still meet the busy handler.

Measured (bench/webhooks.py --only sqlite: 5,000 webhooks from 16 clients, one process;
bench/RESULTS.md "SQLite writers: Django's IMMEDIATE mode against the writer lock"), four runs
each way, alternating: with the lock 158–202 webhooks/s, p99 223–283 ms; Django's IMMEDIATE
mode and timeout alone 131–182 webhooks/s, p99 755–982 ms (its p50 is lower, 36–51 ms against
68–86 ms: the lucky writers skip the queue). Every pair went to the lock, on throughput and
three to four times on p99.

Written against Django 6.1 (pyproject.toml); tests/server/test_upstream.py fails when an
upgrade changes the transaction methods overridden here.
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
