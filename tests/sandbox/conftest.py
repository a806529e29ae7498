"""Fixtures for the sandbox tests: a webhook receiver, API targets, and control of the ticker."""

import json
import os
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from django.conf import settings

from tests.conftest import StudioServer, release_test_database


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    # Several engineers run their own test folders at once on this machine; the sandbox tests
    # keep their own SQLite file so one run's create/flush/destroy never hits another's.
    # (When the whole suite runs, the first folder's database is used for everything.)
    from django.conf import settings

    database = settings.DATABASES["default"]
    if "sqlite" in database["ENGINE"] and database.get("TEST", {}).get("NAME"):
        database["TEST"]["NAME"] += "-sandbox"  # still matched by .gitignore's .test-db.sqlite3*


class SandboxServer(StudioServer):
    """StudioServer serving only Django's HTTP handler (what studio.asgi routes HTTP to).

    The sandbox speaks HTTP only; leaving the websocket stack out keeps these tests independent
    of the studio apps' consumers. Same uvicorn, same HTTP handler, same threads.
    """

    def __init__(self):  # noqa: D107 - replaces StudioServer's, which imports studio.asgi
        import asyncio
        import socket

        import uvicorn

        from studio.lib.handlers import OneHopASGIHandler

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(OneHopASGIHandler(), lifespan="off", log_level="warning")
        self.server = uvicorn.Server(config)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, daemon=True, name="sandbox-server")


@pytest.fixture(scope="session")
def _studio_server(django_db_setup, django_db_blocker):
    server = SandboxServer()
    server.start()
    yield server
    server.stop()
    release_test_database(django_db_blocker)


@pytest.fixture(autouse=True)
def _local_callbacks(settings):
    # The receivers these tests run are on 127.0.0.1, beside the sandbox; the studio's own
    # default (only its /hooks/) is tested in test_api_contract.
    settings.SANDBOX_CALLBACK_PREFIXES = ["http://127.0.0.1:"]
    # Likewise the documents they serve for the knowledge base.
    settings.SANDBOX_FETCH_PREFIXES = ["http://127.0.0.1:"]


@pytest.fixture(autouse=True)
def _sandbox_urls(settings):
    # Only the sandbox's URLs (mounted at /sandbox/ as in studio/urls.py) plus test helpers, so
    # work in progress elsewhere in the studio can't break the sandbox's tests.
    settings.ROOT_URLCONF = "tests.sandbox.urls"


@pytest.fixture(autouse=True)
def _sandbox_ticker(request, monkeypatch):
    """Tests drive the clock with tick(now) unless they run a real server (or ask for it)."""
    from studio.sandbox import lifecycle

    if {"studio_server", "real_ticker"} & set(request.fixturenames):
        # Set up after the transactional database so the ticker stops before the flush.
        request.getfixturevalue("transactional_db")
        yield
        lifecycle.stop_ticker()
    else:
        lifecycle.stop_ticker()
        monkeypatch.setattr(lifecycle, "ensure_ticker", lambda: None)
        yield


@pytest.fixture
def real_ticker():
    """Marks a test that lets sandbox requests start the real ticker thread."""


@pytest.fixture
def fast_sandbox(settings):
    """Short timers, so lifecycle journeys over real time take a second or two."""
    settings.SANDBOX_JOIN_DELAY = 0.1
    settings.SANDBOX_WEBHOOK_RETRIES = 3
    settings.SANDBOX_CONCURRENCY_LIMIT = 3
    return settings


@pytest.fixture
def fast_backoff(monkeypatch):
    from studio.sandbox import webhooks

    monkeypatch.setattr(webhooks, "BACKOFF_SECONDS", 0.05)


# --- A webhook receiver ----------------------------------------------------------------------


class HookServer:
    """Records every POST; can answer 500 to the first N or to all of them."""

    def __init__(self):
        self.bodies: list[dict] = []  # accepted deliveries, in arrival order
        self.attempts: list[tuple[float, dict, int]] = []  # (time, body, status answered)
        self.fail_first = 0
        self.always_fail = False
        self._cond = threading.Condition()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with hook._cond:
                    failing = hook.always_fail or len(hook.attempts) < hook.fail_first
                    status = 500 if failing else 200
                    hook.attempts.append((time.monotonic(), body, status))
                    if not failing:
                        hook.bodies.append(body)
                    hook._cond.notify_all()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hooks/tavus/s3cret/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.bodies) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    types = [b.get("event_type") for b in self.bodies]
                    raise AssertionError(f"expected {count} webhooks, got {types}")
                self._cond.wait(remaining)
            return list(self.bodies)

    def types(self) -> list[str]:
        with self._cond:
            return [b["event_type"] for b in self.bodies]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def hooks():
    server = HookServer()
    yield server
    server.close()


# --- API targets: the sandbox always, real Tavus when asked ----------------------------------


@dataclass
class Target:
    name: str
    base_url: str
    api_key: str
    http: httpx.Client = field(init=False)

    def __post_init__(self):
        self.http = httpx.Client(
            base_url=self.base_url,
            headers={"x-api-key": self.api_key},
            timeout=httpx.Timeout(20.0, connect=5.0),
        )

    @property
    def live(self) -> bool:
        return self.name == "tavus"

    def sandbox_only(self, why: str) -> None:
        if self.live:
            pytest.skip(f"sandbox only: {why}")

    def stock_replica_id(self) -> str:
        data = self.http.get("/v2/replicas", params={"replica_type": "system", "limit": 1})
        return data.json()["data"][0]["replica_id"]


@pytest.fixture(
    params=[
        "sandbox",
        pytest.param("tavus", marks=pytest.mark.live_tavus),
    ]
)
def tavus(request, transactional_db):
    """The same contract tests against the sandbox and (TAVUS_LIVE_TESTS=1) real Tavus."""
    # transactional_db is named here, not fetched later: pytest-django only creates the test
    # database when some collected test asks for a db fixture by name.
    if request.param == "tavus":
        key = os.environ.get("TAVUS_API_KEY", "")
        if os.environ.get("TAVUS_LIVE_TESTS") != "1" or not key:
            pytest.skip("set TAVUS_LIVE_TESTS=1 and TAVUS_API_KEY to run against real Tavus")
        target = Target("tavus", os.environ.get("TAVUS_LIVE_BASE", "https://tavusapi.com"), key)
    else:
        server = request.getfixturevalue("studio_server")
        request.getfixturevalue("fast_sandbox")
        target = Target("sandbox", server.url + "/sandbox", settings.SANDBOX_API_KEY)
    yield target
    target.http.close()
