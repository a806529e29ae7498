"""The ticker thread over real time, and calling the sandbox from inside the same server."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from django.conf import settings

from studio.sandbox import lifecycle

KEY = {"x-api-key": settings.SANDBOX_API_KEY}


def _tickers():
    return [t for t in threading.enumerate() if t.name == "sandbox ticker" and t.is_alive()]


def test_ensure_ticker_starts_one_daemon_thread_per_process(real_ticker):
    first = lifecycle.ensure_ticker()
    assert lifecycle.ensure_ticker() is first
    assert first.daemon and first.is_alive()
    assert _tickers() == [first]
    lifecycle.stop_ticker()
    assert not first.is_alive()
    second = lifecycle.ensure_ticker()
    assert second is not first and _tickers() == [second]


def test_a_failing_tick_does_not_stop_the_ticker(real_ticker, monkeypatch, caplog):
    calls = []

    def flaky(now=None):
        calls.append(now)
        if len(calls) == 1:
            raise RuntimeError("database is locked")

    monkeypatch.setattr(lifecycle, "tick", flaky)
    thread = lifecycle.ensure_ticker()
    deadline = time.monotonic() + 3
    while len(calls) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(calls) >= 3 and thread.is_alive()
    assert "tick failed" in caplog.text


def test_the_ticker_runs_a_whole_conversation_in_real_time(studio_server, fast_sandbox, hooks):
    lifecycle.stop_ticker()
    response = httpx.post(
        studio_server.url + "/sandbox/v2/conversations",
        headers=KEY,
        json={
            "replica_id": "rfe12d8b9597",
            "callback_url": hooks.url,
            "properties": {"max_call_duration": 1},
        },
    )
    assert response.status_code == 200
    assert len(_tickers()) == 1  # creating a conversation started the clock
    started = time.monotonic()
    bodies = hooks.wait_for(4, timeout=6)
    assert [b["event_type"] for b in bodies] == [
        "system.replica_joined",
        "system.pal_joined",
        "system.shutdown",
        "application.transcription_ready",
    ]
    assert bodies[2]["properties"]["shutdown_reason"] == "max_call_duration"
    assert time.monotonic() - started < 4


def test_any_sandbox_request_restarts_the_ticker(studio_server):
    lifecycle.stop_ticker()
    assert _tickers() == []
    httpx.get(studio_server.url + "/sandbox/v2/conversations", headers=KEY)
    assert len(_tickers()) == 1


def test_a_request_can_call_the_sandbox_on_the_same_server_without_deadlock(studio_server):
    # tests/sandbox/urls.py: a sync view that calls the sandbox over HTTP while its own request
    # is still in flight, as the studio's launch view does. Several at once, to be sure.
    url = studio_server.url + "/test/call-the-sandbox/"
    with ThreadPoolExecutor(max_workers=4) as pool:
        responses = list(pool.map(lambda _: httpx.get(url, timeout=15), range(4)))
    assert [r.status_code for r in responses] == [200] * 4
    assert all(r.json()["conversation_id"].startswith("c") for r in responses)


def test_an_async_request_can_call_the_sandbox_on_the_same_server(studio_server):
    response = httpx.get(studio_server.url + "/test/call-the-sandbox-async/", timeout=15)
    assert response.status_code == 200
    assert response.json()["total_count"] == 11
