"""daily-js as pinned and served: the file the pages name is in the pinned package, the CSP
allows the hosts the package names and no others, and the pages and the sandbox's shim keep to
daily-js's own types (tsc against its index.d.ts)."""

import json
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.test import Client

from studio import daily
from tests.conversations.factories import make_conversation
from tests.join.conftest import joinable

ROOT = Path(settings.BASE_DIR)
PACKAGE = ROOT / "node_modules" / "@daily-co" / "daily-js"
MISSING = "node_modules is missing: `make test` installs it (npm ci, package-lock.json)"


def pinned_version() -> str:
    wanted = json.loads((ROOT / "package.json").read_text())["dependencies"]["@daily-co/daily-js"]
    locked = json.loads((ROOT / "package-lock.json").read_text())
    entry = locked["packages"]["node_modules/@daily-co/daily-js"]
    assert entry["version"] == wanted, "package.json and package-lock.json disagree"
    assert entry["integrity"].startswith("sha512-"), "the lockfile records the tarball's hash"
    return wanted


def served_daily_js(html: str) -> str:
    sources = re.findall(r'<script[^>]*\bsrc="([^"]+)"', html)
    named = [src for src in sources if "daily" in src and "shim" not in src]
    assert len(named) == 1, sources
    return named[0]


@pytest.fixture
def pages(db, operator, settings):
    """The two pages that load daily-js in a real room: the launcher's live page (a call
    frame) and the join page (a call object)."""
    settings.TAVUS_API_KEY = "a-real-key"  # the studio talks to Tavus, not its sandbox
    live, _ = make_conversation(operator, conversation_url="https://tavus.daily.co/c1")
    staff = Client()
    staff.force_login(operator)
    joining = joinable(operator, conversation_url="https://tavus.daily.co/c2")
    return {
        "live": staff.get(f"/conversations/{live.pk}/"),
        "join": Client().get(f"/join/{joining.join_token}/"),
    }


@pytest.mark.parametrize("page", ["live", "join"])
def test_the_page_loads_a_file_that_is_in_the_pinned_package(pages, page):
    assert PACKAGE.is_dir(), MISSING
    src = served_daily_js(pages[page].content.decode())
    assert src.startswith(settings.STATIC_URL), "served by the studio, not a CDN"
    found = finders.find(src.removeprefix(settings.STATIC_URL))
    assert found, f"{src} names no file in the studio's static files"
    found = Path(found).resolve()
    assert found.is_relative_to(PACKAGE.resolve()), f"{found} is not from the daily-js package"
    package = json.loads((PACKAGE / "package.json").read_text())
    assert package["version"] == pinned_version()
    # The browser build the package itself names (package.json "main"), not a guess.
    assert found == (PACKAGE / package["main"]).resolve()


def read_package_hosts() -> dict:
    """What dist/daily.js itself says it reaches, so a version with other hosts fails here."""
    code = (PACKAGE / "dist" / "daily.js").read_text()
    bases = re.search(r'\["daily\.co"(?:,"[a-z.]+")*\]', code)
    machine = re.search(r'"https://([a-z]+)\."\.concat\(\w+,"/call-machine/', code)
    dsn = re.search(r'dsn:"https://[0-9a-f]+@([a-z0-9.]+)/', code)
    assert bases and machine and dsn, "daily.js no longer reads as it did: check studio/daily.py"
    return {
        "bases": tuple(json.loads(bases.group(0))),
        "machine": machine.group(1),
        "reports": "https://" + dsn.group(1),
    }


def directive(policy: str, name: str) -> list[str]:
    match = re.search(rf"(?:^|; ){name} ([^;]+)", policy)
    return match.group(1).split() if match else []


def test_the_csp_hosts_are_the_ones_the_package_names():
    assert PACKAGE.is_dir(), MISSING
    hosts = read_package_hosts()
    assert hosts["bases"] == daily.BASE_DOMAINS
    assert tuple(
        f"https://{hosts['machine']}.{base}" for base in hosts["bases"]
    ) == daily.CALL_MACHINE_HOSTS
    assert hosts["reports"] == daily.ERROR_REPORTS


def test_a_call_frame_may_frame_the_room_and_its_fail_overs_and_nothing_else(pages):
    policy = pages["live"]["Content-Security-Policy"]
    assert directive(policy, "frame-src") == [
        "'self'",
        "https://tavus.daily.co",
        "https://tavus.dailywebrtc.com",
        "https://tavus.dailywebrtc.net",
    ]
    assert directive(policy, "script-src")[:1] == ["'self'"]
    assert not [s for s in directive(policy, "script-src") if "daily" in s]
    assert daily.ERROR_REPORTS in directive(policy, "connect-src")
    assert "worker-src" not in policy and "'unsafe-eval'" not in policy


def test_a_call_object_may_load_the_call_machine_and_reach_dailys_servers(pages):
    policy = pages["join"]["Content-Security-Policy"]
    script = directive(policy, "script-src")
    assert [s for s in script if "daily" in s] == list(daily.CALL_MACHINE_HOSTS)
    assert "'unsafe-eval'" not in script and "'unsafe-inline'" not in script
    connect = directive(policy, "connect-src")
    for base in daily.BASE_DOMAINS:
        assert f"https://*.{base}" in connect and f"wss://*.{base}" in connect
    assert daily.ERROR_REPORTS in connect
    assert directive(policy, "frame-src") == ["'self'"]


def test_a_room_elsewhere_is_framed_from_its_own_origin_only():
    assert daily.room_origins("https://rooms.example.org/abc") == ["https://rooms.example.org"]
    assert daily.room_origins("https://acme.daily.co/abc")[0] == "https://acme.daily.co"


def test_pages_and_the_sandbox_shim_keep_to_daily_js_types():
    """tsc --checkJs against daily-js's index.d.ts (tsconfig.json): every event the pages listen
    to and every method they call exists, every fatal error they handle is a real
    DailyFatalErrorType, join() failures are read in their real shape, and the shim implements
    what the join page calls with daily-js's signatures and emits only daily-js's events."""
    tsc = ROOT / "node_modules" / ".bin" / "tsc"
    assert tsc.exists(), MISSING
    node = shutil.which("node")
    assert node, "Node.js is needed for the type check (make installs it)"
    result = subprocess.run(
        [str(tsc), "-p", str(ROOT / "tsconfig.json"), "--pretty", "false"],
        capture_output=True, text=True, cwd=ROOT, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    checked = json.loads((ROOT / "tsconfig.json").read_text())["files"]
    assert "studio/sandbox/static/sandbox/daily-shim.js" in checked
    assert {urlsplit(f).path for f in checked} >= {
        "static/studio/relay.js", "static/studio/live.js", "static/studio/join/call.js"
    }
