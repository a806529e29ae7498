"""Two real server processes sharing PostgreSQL and Redis (`make test-scale` sets them up).

Each test gets two `uvicorn studio.asgi:application --lifespan on` processes on free ports,
pointed at pytest-django's test database (so the test body creates users and conversations
with the ORM) and at the same Redis. Both run the reconciler every second.
"""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from django.conf import settings

from tests.conftest import WS_MAX_SIZE

ROOT = Path(__file__).resolve().parents[2]


def services_configured() -> bool:
    return bool(
        os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))
        and os.environ.get("REDIS_URL")
    )


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "scale: two server processes on PostgreSQL + Redis (make test-scale)"
    )


def pytest_collection_modifyitems(config, items):
    skip = pytest.mark.skip(
        reason="needs DATABASE_URL=postgres://... and REDIS_URL (run `make test-scale`)"
    )
    for item in items:
        if item.get_closest_marker("scale") and not services_configured():
            item.add_marker(skip)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_database_url() -> str:
    """pytest-django's test database, as a URL the server processes can use."""
    db = settings.DATABASES["default"]
    user, password = quote(db["USER"], safe=""), quote(db["PASSWORD"], safe="")
    return f"postgres://{user}:{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


class ServerProcess:
    """One `uvicorn studio.asgi:application` process (through tests/scale/serve.py)."""

    def __init__(self, name: str, env: dict, log_dir: Path):
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"server-{name}.log"
        self._log = open(self.log_path, "w", encoding="utf-8")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "tests/scale/serve.py",
                "studio.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--lifespan",
                "on",
                "--ws",
                "websockets-sansio",
                "--ws-max-size",
                str(WS_MAX_SIZE),
                "--ws-per-message-deflate",
                "false",
                "--no-access-log",
            ],
            cwd=ROOT,
            env={**env, "PORT": str(self.port)},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server {self.name} exited:\n{self.log()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server {self.name} did not answer /healthz:\n{self.log()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # uvicorn shuts down gracefully (lifespan cancels loops)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._log.close()


class LeaseLog:
    """The lease record both servers append to (see serve.py)."""

    def __init__(self, path: Path):
        self.path = path

    def entries(self, lease: str | None = None) -> list[dict]:
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()
        rows = [json.loads(line) for line in lines if line.strip()]
        return [r for r in rows if lease is None or r["lease"] == lease]

    def held(self, lease: str) -> list[tuple[float, float, int]]:
        """(taken, released, pid) for every completed hold of `lease`, in order taken."""
        open_by_pid, holds = {}, []
        for row in self.entries(lease):
            if row["ev"] == "acquired":
                open_by_pid[row["pid"]] = row["t"]
            elif row["ev"] == "released" and row["pid"] in open_by_pid:
                holds.append((open_by_pid.pop(row["pid"]), row["t"], row["pid"]))
        return sorted(holds)


@pytest.fixture
def two_servers(transactional_db, tmp_path):
    """Servers A and B on the same PostgreSQL database and Redis, migrated first."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env.update(
        DATABASE_URL=test_database_url(),
        REDIS_URL=os.environ["REDIS_URL"],
        DJANGO_SETTINGS_MODULE="studio.settings",
        RECONCILE_INTERVAL="1",
        ALERT_INTERVAL="1",
        LOG_LEVEL="INFO",
        SCALE_LEASE_LOG=str(tmp_path / "leases.jsonl"),
        SCALE_LEASE_HOLD="0.2",
        PYTHONUNBUFFERED="1",
    )
    # What a deployment does before starting its processes (a no-op on the test database, but
    # it proves the migrations apply cleanly on PostgreSQL and match the models).
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=120,
    )
    servers = [ServerProcess("A", env, tmp_path), ServerProcess("B", env, tmp_path)]
    try:
        for server in servers:
            server.wait_ready()
        yield servers
    finally:
        for server in servers:
            server.stop()
    for server in servers:
        # Anything the servers logged at ERROR (a failed reconciler pass, a 500) fails the test.
        assert " ERROR " not in server.log(), server.log()


@pytest.fixture
def lease_log(two_servers, tmp_path):
    return LeaseLog(tmp_path / "leases.jsonl")


@pytest.fixture
def server_env(two_servers):
    """The environment the servers run with, for `manage.py` commands beside them."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env.update(DATABASE_URL=test_database_url(), DJANGO_SETTINGS_MODULE="studio.settings")
    return env


def session_cookie(user) -> str:
    """A real session (stored in the shared database) for `user`, as a Cookie header."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"
