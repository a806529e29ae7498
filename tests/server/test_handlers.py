"""The studio's HTTP handler (studio/lib/handlers.py) and SQLite backend (studio/lib/sqlite/)."""

import asyncio
import threading
import time

import pytest
from django.db import OperationalError, connection, transaction

from studio.lib.handlers import OneHopASGIHandler, RequestThread


async def _get(handler, path):
    sent = []
    request = {"type": "http.request", "body": b"", "more_body": False}

    async def receive():
        nonlocal request
        if request:
            message, request = request, None
            return message
        await asyncio.sleep(3600)  # the client never disconnects mid-test

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    await handler(scope, receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


@pytest.mark.django_db(transaction=True)
def test_requests_reuse_one_thread_and_its_database_connection():
    handler = OneHopASGIHandler()
    seen = []

    async def two_requests():
        for _ in range(2):
            status, body = await _get(handler, "/healthz")
            assert status == 200 and b'"status": "ok"' in body
            seen.append(list(handler.threads))

    asyncio.run(two_requests())
    assert len(seen[0]) == 1 and seen[0] == seen[1]  # handed back, then used again
    thread = seen[0][0]
    on_it = thread.submit(lambda: (threading.current_thread().name, connection.connection))
    name, dbapi_connection = on_it.result()
    assert name.startswith("request")
    assert dbapi_connection is not None  # still open for the next request


def test_the_middleware_runs_in_one_thread_hop():
    # Django's stock handler adapts each sync middleware to async (two hops each).
    handler = OneHopASGIHandler()
    assert not asyncio.iscoroutinefunction(handler._middleware_chain)


def test_a_thread_still_running_a_request_is_not_reused():
    thread = RequestThread()
    gate = threading.Event()
    assert thread.idle()
    thread.submit(gate.wait, 5)
    assert not thread.idle()  # e.g. the client gave up while the view was running
    gate.set()
    thread.last.result(5)
    assert thread.idle()
    thread.shutdown()


sqlite_only = pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's writer lock")


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_sqlite_writers_in_one_process_take_turns(operator):
    from studio.conversations.models import Lease

    order = []
    first_in = threading.Event()

    from studio.lib.sqlite.base import _writer

    def first():
        with transaction.atomic():
            Lease.acquire("a", "first", 60)
            order.append(f"lock held: {_writer.locked()}")
            first_in.set()
            time.sleep(0.3)
            order.append("first commits")
        connection.close()

    def second():
        first_in.wait(5)
        with transaction.atomic():  # waits for the first to commit, without a busy error
            order.append("second begins")
            Lease.acquire("b", "second", 60)
        connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert order == ["lock held: True", "first commits", "second begins"]
    assert not _writer.locked()
    assert set(Lease.objects.values_list("name", flat=True)) == {"a", "b"}


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_writer_lets_the_next_one_in(operator, settings):
    from studio.conversations.models import Lease

    with pytest.raises(RuntimeError), transaction.atomic():
        Lease.acquire("a", "first", 60)
        raise RuntimeError("the view failed")
    from studio.lib.sqlite.base import _writer

    assert not _writer.locked()  # a failed view must not keep everyone else out
    with transaction.atomic():
        Lease.acquire("b", "second", 60)
    assert list(Lease.objects.values_list("name", flat=True)) == ["b"]


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_a_writer_that_waits_too_long_gets_database_is_locked(operator):
    holding, done = threading.Event(), threading.Event()
    errors = []

    def hold():
        with transaction.atomic():
            holding.set()
            done.wait(10)
        connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    holding.wait(5)
    options = connection.settings_dict["OPTIONS"]
    old = options.get("timeout")
    options["timeout"] = 0.2
    try:
        with transaction.atomic():
            pass
    except OperationalError as exc:
        errors.append(str(exc))
    finally:
        options["timeout"] = old
        done.set()
        holder.join(10)
    assert errors == ["database is locked"]
