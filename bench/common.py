"""What the benchmark scripts share: the machine line, percentiles, a studio server in a
subprocess on a temporary database, and appending a section to bench/RESULTS.md.

Everything runs on 127.0.0.1 in bounded loops; every server started here is stopped here.
"""

import contextlib
import os
import platform
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"
BIN = Path(sys.executable).parent


def _makefile_flags() -> list[str]:
    """The websocket flags `make run` gives uvicorn (SERVE in the Makefile), so the servers
    benchmarked here are started the same way."""
    for line in (ROOT / "Makefile").read_text(encoding="utf-8").splitlines():
        if line.startswith("SERVE ="):
            words = line.split()
            return [
                word
                for i, word in enumerate(words)
                if word.startswith("--ws-per-message-deflate")
                or (i and words[i - 1] == "--ws-per-message-deflate")
            ]
    return []


WS_DEFLATE = _makefile_flags()


def machine() -> str:
    # The load average says how much else was running: these machines are shared.
    return (
        f"{os.cpu_count()} CPUs, {platform.platform()}, Python {platform.python_version()},"
        f" SQLite {sqlite3.sqlite_version}; load average {os.getloadavg()[0]:.1f} at the end"
    )


def percentile(samples: list[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0..100); 0.0 for no samples."""
    if not samples:
        return 0.0
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def scale_services() -> tuple[str, str] | None:
    """(DATABASE_URL, REDIS_URL) when both point at PostgreSQL and Redis, else None."""
    database, redis = os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")
    if database.startswith(("postgres://", "postgresql://")) and redis:
        return database, redis
    return None


def fresh_postgres_database(url: str, name: str) -> str:
    """Drop and recreate database `name` next to the one `url` names; returns its URL."""
    import psycopg

    parts = urlsplit(url)
    with psycopg.connect(url.replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}"))


class Workspace:
    """A temporary SQLite database (or a fresh PostgreSQL one) plus the environment that
    points the studio at it. `setup_django()` configures this process for the same database,
    so a benchmark creates its users and conversations with the ORM before starting servers."""

    def __init__(self, name: str, *, postgres_url: str | None = None, redis_url: str = ""):
        self.dir = Path(tempfile.mkdtemp(prefix=f"studio-bench-{name}-"))
        if postgres_url:
            # Named after the configured database, so two checkouts' benchmarks never share one.
            base = urlsplit(postgres_url).path.strip("/") or "studio"
            self.database_url = fresh_postgres_database(postgres_url, f"{base}_bench_{name}")
        else:
            self.database_url = f"sqlite:///{self.dir / 'db.sqlite3'}"
        self.env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("DJANGO_ALLOW_ASYNC_UNSAFE", "TAVUS_API_KEY", "TAVUS_API_BASE")
        }
        self.env.update(
            DATABASE_URL=self.database_url,
            REDIS_URL=redis_url,
            # Another settings module may be benched (e.g. a tuning experiment).
            DJANGO_SETTINGS_MODULE=os.environ.get("DJANGO_SETTINGS_MODULE", "studio.settings"),
            LOG_LEVEL="WARNING",
            MEDIA_ROOT=str(self.dir / "media"),
            PYTHONUNBUFFERED="1",
        )
        # As in production (DEBUG off: no query log, compressed static files with a manifest),
        # but over plain HTTP on 127.0.0.1.
        self.env.update(
            DEBUG="false",
            SECRET_KEY="bench-only-secret-key-" + "x" * 40,
            SECURE_SSL_REDIRECT="false",
            ALLOWED_HOSTS="127.0.0.1,localhost,testserver",
        )
        self.servers: list[Server] = []

    def setup_django(self, **extra_env) -> None:
        os.environ.update({**self.env, **extra_env})
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        sys.path.insert(0, str(ROOT))
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        # What the Dockerfile does at build time (into STATIC_ROOT, which git ignores).
        call_command("collectstatic", interactive=False, verbosity=0)

    def server(self, *, lifespan=True, deflate: bool | None = None, **extra_env) -> "Server":
        server = Server(self, lifespan=lifespan, deflate=deflate, extra_env=extra_env)
        self.servers.append(server)
        return server

    def close(self) -> None:
        for server in self.servers:
            server.stop()
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
        if os.environ.get("BENCH_KEEP"):
            print(f"kept {self.dir}", flush=True)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


class Server:
    """`uvicorn studio.asgi:application` in a subprocess, as `make run` starts it."""

    def __init__(
        self, workspace: Workspace, *, lifespan: bool, deflate: bool | None, extra_env: dict
    ):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workspace.dir / f"server-{self.port}.log"
        env = {
            **workspace.env,
            "PORT": str(self.port),
            "STUDIO_PUBLIC_URL": self.url,
            **{k: str(v) for k, v in extra_env.items()},
        }
        # BENCH_PROFILE=dir: run each server under cProfile (its event loop thread), for
        # finding where a figure goes; `python -m pstats dir/server-<port>.prof` reads it.
        profile = os.environ.get("BENCH_PROFILE")
        self.profiled = bool(profile)
        command = [str(BIN / "uvicorn")]
        if profile:
            out = Path(profile) / f"server-{self.port}.prof"
            command = [sys.executable, "-m", "cProfile", "-o", str(out), "-m", "uvicorn"]
        with open(self.log_path, "w", encoding="utf-8") as log:
            self.process = subprocess.Popen(
                [
                    *command,
                    "studio.asgi:application",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--lifespan",
                    "on" if lifespan else "off",
                    "--ws",
                    "websockets-sansio",
                    *WS_DEFLATE,
                    *([] if deflate is None else ["--ws-per-message-deflate", str(deflate)]),
                    "--no-access-log",
                    "--log-level",
                    "warning",
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self, timeout: float = 60) -> "Server":
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited:\n{self.log()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return self
            time.sleep(0.1)
        raise RuntimeError(f"server did not answer /healthz:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def rss_mb(self) -> float:
        """The server's resident memory now, in MB."""
        with (
            contextlib.suppress(OSError),
            open(f"/proc/{self.process.pid}/status", encoding="ascii") as status,
        ):
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def cpu(self) -> tuple[float, float]:
        """CPU seconds this server has used so far: (whole process, its event loop's thread).
        On a shared machine a request's CPU time moves far less with the load than its
        latency does, so the benchmarks report it beside the rates."""
        return _cpu_seconds(f"/proc/{self.process.pid}/stat"), _cpu_seconds(
            f"/proc/{self.process.pid}/task/{self.process.pid}/stat"
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            # uvicorn re-raises the signal after its graceful shutdown: SIGTERM would end the
            # process before cProfile writes its file, SIGINT unwinds through it.
            if self.profiled:
                self.process.send_signal(signal.SIGINT)
            else:
                self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def _cpu_seconds(stat_path: str) -> float:
    with contextlib.suppress(OSError):
        with open(stat_path, encoding="ascii") as stat:
            fields = stat.read().rpartition(")")[2].split()
        # utime and stime, fields 14 and 15 of proc(5), in clock ticks.
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return 0.0


def session_cookie(user) -> str:
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def record(title: str, lines: list[str], *, enabled: bool = True) -> str:
    """Print a section and append it to bench/RESULTS.md (unless disabled)."""
    report = "\n".join(
        [f"## {title} — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC", "", f"- Machine: {machine()}"]
        + lines
        + [""]
    )
    print(report, flush=True)
    if enabled:
        header = "" if RESULTS.exists() else "# Benchmark results\n\n"
        with open(RESULTS, "a", encoding="utf-8") as out:
            out.write(header + report + "\n")
    return report


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def target(figure: str, value: str, floor: str, goal: str, met: bool | None) -> str:
    """One figure against its target: printed, and kept for `bench/run.py`'s closing table
    (BENCH_SUMMARY names the file it collects them in). met=None: a figure with no target."""
    state = "—" if met is None else verdict(met)
    row = f"| {figure} | {floor} | {value} | {goal} | {state} |"
    print(f"target: {figure}: {value} (floor {floor}; target {goal}): {state}", flush=True)
    summary = os.environ.get("BENCH_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as out:
            out.write(row + "\n")
    return row
