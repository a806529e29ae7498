"""A studio instance started exactly as `make run` starts it, in a process of its own.

The server's command line is read from `make -n run`, so a test of this instance is a test of
what staff actually start: DEBUG off, collected static files, a secret key generated into the
instance's data folder. Each instance gets its own data folder, database and port.
"""

import os
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
ADMIN, ADMIN_PASSWORD = "ines", "instance-admin-password-7"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def container_command(port: int) -> list[str]:
    """The server command the Dockerfile's CMD runs (after migrating), on this port."""
    text = (ROOT / "Dockerfile").read_text()
    cmd = next(line for line in text.splitlines() if line.startswith("CMD"))
    serve = cmd[cmd.index("exec uvicorn") + len("exec "):cmd.rindex('"')]
    return [".venv/bin/" + part if part == "uvicorn" else part.replace("$PORT", str(port))
            for part in shlex.split(serve)]


def run_command(port: int) -> list[str]:
    """The server command `make run` would run on this port (without running it)."""
    lines = subprocess.run(
        ["make", "-s", "-n", "run", f"PORT={port}"],
        cwd=ROOT, capture_output=True, text=True, check=True, timeout=60,
    ).stdout.splitlines()
    (line,) = [line for line in lines if "uvicorn" in line and "studio.asgi" in line]
    return shlex.split(line)


class Instance:
    def __init__(self, data_dir: Path, **env):
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST"))}
        for name in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "TAVUS_API_KEY", "DEBUG"):
            base.pop(name, None)
        self.env = {
            **base,
            "STUDIO_DATA_DIR": str(data_dir),
            "STATIC_ROOT": str(data_dir / "static"),
            "STUDIO_ADMIN_USERNAME": ADMIN,
            "STUDIO_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "PORT": str(self.port),
            **env,
        }
        self.log_path = data_dir / "server.log"
        self.process = None

    def manage(self, *args) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT, env={**self.env, "DEBUG": "false"}, capture_output=True, text=True,
            timeout=120,
        )

    def start(self, command: list[str] | None = None) -> "Instance":
        for step in (["migrate", "--noinput", "-v", "0"], ["ensure_admin"],
                     ["collectstatic", "--noinput", "-v", "0"]):
            result = self.manage(*step)
            assert result.returncode == 0, result.stdout + result.stderr
        command = command or run_command(self.port)
        # `VAR=value ... .venv/bin/uvicorn ...`: the assignments become the environment.
        at = next(i for i, part in enumerate(command) if part.endswith("uvicorn"))
        env = {**self.env, **dict(part.split("=", 1) for part in command[:at])}
        argv = [str(ROOT / command[at]), *command[at + 1:]]
        self._log = open(self.log_path, "w", encoding="utf-8")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=self._log,
                                        stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the instance exited:\n{self.log()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the instance did not answer /healthz:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def signed_in(self, username=ADMIN, password=ADMIN_PASSWORD) -> httpx.Client:
        """An HTTP client signed in through the real sign-in form."""
        client = httpx.Client(base_url=self.url, timeout=10)
        client.get("/login/")
        response = client.post(
            "/login/",
            data={"username": username, "password": password,
                  "csrfmiddlewaretoken": client.cookies["csrftoken"]},
        )
        assert response.status_code == 302, response.text
        return client

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self.process:
            self._log.close()
