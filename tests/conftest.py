"""Shared fixtures: the cast of users, the real ASGI server in a thread, and Chromium."""

import os
import socket
import threading
import time

import pytest

# Playwright's sync API keeps an event loop running in the test thread; ORM calls made from a
# browser test body would otherwise be refused as "async unsafe".
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
# No test reaches AWS: boto3 finds no credentials of the machine's and never asks an instance
# metadata service (the recording tests bring a local S3 server and their own keys).
for _name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
    os.environ.pop(_name, None)
os.environ.update(
    AWS_EC2_METADATA_DISABLED="true",
    AWS_CONFIG_FILE="/nonexistent/aws-config",
    AWS_SHARED_CREDENTIALS_FILE="/nonexistent/aws-credentials",
)

PASSWORD = "correct-horse-battery-9"
WS_MAX_SIZE = 65536


def make_user(username, role=None, **extra):
    from django.contrib.auth.models import Group, User

    user = User.objects.create_user(username=username, password=PASSWORD, **extra)
    if role:
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


@pytest.fixture
def operator(db):
    return make_user("olivia", "Operator")


@pytest.fixture
def operator2(db):
    return make_user("oscar", "Operator")


@pytest.fixture
def supervisor(db):
    return make_user("sam", "Supervisor")


@pytest.fixture
def admin_user(db):
    return make_user("ada", "Admin", is_staff=True)


@pytest.fixture
def outsider(db):
    """Signed in, but with no role."""
    return make_user("nora")


# --- The real ASGI app served by uvicorn in a thread ---------------------------------------


class StudioServer:
    def __init__(self):
        import asyncio

        import uvicorn

        from studio.asgi import application

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        # As `make run` serves it (WS_MAX_SIZE in the Makefile, the Dockerfile's CMD).
        config = uvicorn.Config(
            application,
            lifespan="off",
            log_level="warning",
            ws="websockets-sansio",
            ws_max_size=WS_MAX_SIZE,
        )
        self.server = uvicorn.Server(config)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, daemon=True, name="studio-server")

    def _run(self):
        import asyncio

        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.server.serve(sockets=[self.sock]))

    def start(self):
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("test server did not start")
            time.sleep(0.02)

    def stop(self):
        self.server.should_exit = True
        self.thread.join(timeout=5)

    def wait_quiet(self, quiet=0.2, timeout=5.0):
        """Wait until no HTTP request is in flight and the database has been idle for `quiet` s.

        A test's last moments can start requests that outlive it (a closing page's leave
        beacon, the sandbox's webhook to the studio); one still writing when the test database
        is emptied deadlocks with PostgreSQL's TRUNCATE. Open websockets are left alone: they
        idle between messages and hold no locks.
        """
        from django.db import connection

        async def requests_in_flight():
            return sum(
                "RequestResponseCycle" in task.get_coro().__qualname__
                for task in self.server.server_state.tasks
            )

        def database_busy():
            if connection.vendor != "postgresql":
                return 0
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
                    " AND state <> 'idle'"
                )
                return cursor.fetchone()[0]

        deadline = time.monotonic() + timeout
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            if self.run_coroutine(requests_in_flight()) or database_busy():
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= quiet:
                return
            time.sleep(0.05)

    def run_coroutine(self, coroutine, timeout=5):
        """Run a coroutine on the server's loop (e.g. a channel-layer group_send)."""
        import asyncio

        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)


@pytest.fixture(scope="session")
def _studio_server(django_db_setup, django_db_blocker):
    server = StudioServer()
    server.start()
    yield server
    server.stop()
    release_test_database(django_db_blocker)


def release_test_database(django_db_blocker):
    """After a test server stops: leave nothing connected, so the test database can be dropped.

    The sandbox ticker and requests cut off at the end of a test leave connections open in the
    server's threads; on PostgreSQL the test database cannot be dropped while they are.
    """
    from django.db import connection

    from studio.sandbox.lifecycle import stop_ticker

    stop_ticker()
    if connection.vendor != "postgresql":
        return
    # Close the pool first (it would replace the sessions terminated below), and terminate
    # from a connection of its own: a pooled cursor would open a new pool, and new sessions.
    import psycopg

    connection.close_pool()
    database = connection.settings_dict
    with (
        django_db_blocker.unblock(),
        psycopg.connect(
            dbname=database["NAME"],
            user=database["USER"],
            password=database["PASSWORD"],
            host=database["HOST"],
            port=database["PORT"] or None,
            autocommit=True,
        ) as own,
    ):
        # pg_terminate_backend only signals; wait until the sessions are gone.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            left = own.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchone()[0]
            if not left:
                break
            time.sleep(0.1)


@pytest.fixture
def studio_server(_studio_server, transactional_db, settings):
    """The studio and its sandbox over real HTTP, sharing this test's database."""
    settings.STUDIO_PUBLIC_URL = _studio_server.url
    settings.TAVUS_API_BASE = _studio_server.url + "/sandbox"
    settings.TAVUS_API_KEY = ""
    settings.TAVUS_MODE = "sandbox"
    yield _studio_server
    # Before transactional_db empties the database: stop the sandbox clock (the next test's
    # first sandbox call starts it again) and let the server's last requests finish.
    from studio.sandbox.lifecycle import stop_ticker

    stop_ticker()
    _studio_server.wait_quiet()


# --- Chromium (Debian's, never a downloaded one) -------------------------------------------

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]


# --- Time windows: the same test on any day -------------------------------------------------

# Tests marked `time_window` (webhook grace, retention, alerts, "today", the reconciler's
# rules, cue times) run three times: on today's clock, and with the clock moved a year ahead
# and a year back. A fixture that stamps a fixed date instead of one relative to now then
# fails on at least one of them, today rather than on the day the date falls out of a window.
CLOCKS = {"today": 0, "year-ahead": 365, "year-back": -365}


def pytest_generate_tests(metafunc):
    if metafunc.definition.get_closest_marker("time_window"):
        metafunc.fixturenames.append("clock")
        metafunc.parametrize("clock", list(CLOCKS), indirect=True)


@pytest.fixture
def clock(request):
    """The name of the clock a time_window test runs on (see _moved_clock)."""
    return request.param


@pytest.fixture(autouse=True)
def _moved_clock(request):
    # Autouse, so the clock moves before any other fixture writes a row.
    callspec = getattr(request.node, "callspec", None)
    name = callspec.params.get("clock") if callspec else None
    if not name or not CLOCKS[name]:
        yield
        return
    from datetime import timedelta

    import time_machine
    from django.utils import timezone

    with time_machine.travel(timezone.now() + timedelta(days=CLOCKS[name]), tick=True):
        yield


@pytest.fixture(autouse=True)
def _fresh_connection_settings():
    # The Settings page's row is cached per process for a few seconds; rows do not outlive
    # a test, so neither may the cache.
    from studio.connection import current

    current.forget()
    yield
    current.forget()


@pytest.fixture(autouse=True)
def _fresh_search_throttle():
    # The live index's per-process throttle is keyed by conversation pk, and pks repeat
    # between tests.
    from studio.conversations import search

    search._last_indexed.clear()


@pytest.fixture(scope="session", autouse=True)
def _patient_expectations():
    # Shared, noisy 2-core machines: give page assertions room rather than flaking.
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": "/usr/bin/chromium",
        "args": CHROMIUM_ARGS,
    }


@pytest.fixture
def login_as(studio_server, browser):
    """Open a new browser context signed in as the given user (session cookie, no form)."""
    from django.test import Client

    contexts = []

    def _login(user):
        client = Client()
        client.force_login(user)
        context = browser.new_context(base_url=studio_server.url)
        context.add_cookies(
            [
                {
                    "name": "sessionid",
                    "value": client.cookies["sessionid"].value,
                    "url": studio_server.url,
                }
            ]
        )
        # Lets tests wait until the htmx websocket is open before pushing to it.
        context.add_init_script(
            "document.addEventListener('htmx:wsOpen', () => { window.__wsOpen = true; });"
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        return page

    yield _login
    for context in contexts:
        context.close()


def is_browser(item) -> bool:
    names = set(getattr(item, "fixturenames", ()))
    return bool(names & {"page", "browser", "login_as"}) or bool(item.get_closest_marker("browser"))


def pytest_collection_modifyitems(config, items):
    # Once Playwright has started its loop, later pytest-asyncio tests cannot run: browser
    # journeys go last.
    items.sort(key=lambda item: 1 if is_browser(item) else 0)


# Every page of every browser journey reports Content-Security-Policy violations (in every
# frame: the sandbox room page and daily-js's frames too); a journey with any fails.
CSP_WATCH = """
document.addEventListener('securitypolicyviolation', (e) => {
  window.__studioCspViolation(
    e.effectiveDirective + ' blocked ' + (e.blockedURI || 'inline') + ' on ' + location.pathname
    + (e.sourceFile ? ' from ' + e.sourceFile + ':' + e.lineNumber : '')
    + (e.sample ? ' (' + e.sample + ')' : ''));
});
"""


@pytest.fixture(autouse=True)
def _no_csp_violations(request, monkeypatch):
    if not is_browser(request.node):
        yield
        return
    from playwright.sync_api import Browser

    violations: list[str] = []
    new_context = Browser.new_context

    def watched(self, *args, **kwargs):
        context = new_context(self, *args, **kwargs)
        context.expose_binding("__studioCspViolation", lambda source, text: violations.append(text))
        context.add_init_script(CSP_WATCH)
        return context

    monkeypatch.setattr(Browser, "new_context", watched)
    yield violations
    assert not violations, f"Content-Security-Policy blocked: {sorted(set(violations))}"


# --- A local S3-compatible server (moto) for recordings --------------------------------------
@pytest.fixture(scope="session")
def _s3_server():
    """moto's S3-compatible server, on a free local port, for the whole session."""
    from moto.server import ThreadedMotoServer

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3(_s3_server, monkeypatch):
    """AWS credentials and an endpoint in the environment (as an operator would set them),
    pointing boto3 at the local server; returns a client to set up buckets with."""
    import boto3

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", _s3_server)
    client = boto3.client("s3")
    yield client
    # A fresh start for the next test: every bucket emptied and removed.
    for bucket in client.list_buckets().get("Buckets", []):
        for item in client.list_objects_v2(Bucket=bucket["Name"]).get("Contents", []):
            client.delete_object(Bucket=bucket["Name"], Key=item["Key"])
        client.delete_bucket(Bucket=bucket["Name"])
