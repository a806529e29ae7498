"""daily-js as the studio serves it, and the Content-Security-Policy each page that uses it needs.

The package comes from npm at the exact version package.json names; package-lock.json records
its tarball's integrity and `npm ci` (run by `make`) refuses any other bytes. The studio serves
its browser build from its own static files (STATIC_PATH; settings.STATICFILES_DIRS maps it).

What the pinned daily-js asks of Daily's hosts, read from the package's dist/daily.js (0.92.2;
tests/server/test_daily_js.py reads it again, so a version with other hosts fails a test):
- Daily's base domains, in the order it fails over to when one cannot be reached.
- A call frame (Daily.createFrame: the staff live page) loads the room page in an iframe, the
  room URL's host first, then the same subdomain on the other base domains.
- A call object (Daily.createCallObject: the participant's join page) loads Daily's
  call-machine bundle from https://c.<base domain>/call-machine/versioned/<version>/; with
  dailyConfig.avoidEval it is a <script>, so the page needs no 'unsafe-eval'. The call machine
  itself is not in the npm package: it then reaches Daily's API and media servers on the same
  base domains over https and wss, and (Daily's CSP guide) runs helpers as blob: workers.
- Either reports its fatal errors (connection-error, no-room, end-of-life) to Daily's own
  Sentry project, from the page.
Nothing else: no fonts, images or styles from Daily's hosts in the page itself.
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.utils.csp import CSP

STATIC_PATH = "vendor/daily-js/daily.js"
BASE_DOMAINS = ("daily.co", "dailywebrtc.com", "dailywebrtc.net")
CALL_MACHINE_HOSTS = tuple(f"https://c.{domain}" for domain in BASE_DOMAINS)
ERROR_REPORTS = "https://o77906.ingest.sentry.io"
# Tavus's rooms live at https://tavus.daily.co/<conversation id> (Tavus's conversation_url).
TAVUS_ROOM_URL = "https://tavus.daily.co/"


def _studio_policy_plus(extra: dict[str, list[str]]) -> dict:
    policy = {name: list(sources) for name, sources in settings.SECURE_CSP.items()}
    for name, sources in extra.items():
        policy[name] = [*policy.get(name, []), *sources]
    return policy


def room_origins(room_url: str) -> list[str]:
    """The origins a call frame may load a room from: the room's own, then its fail-over twins."""
    parts = urlsplit(room_url or TAVUS_ROOM_URL)
    host = parts.hostname or ""
    for domain in BASE_DOMAINS:
        if host.endswith("." + domain):
            subdomain = host.removesuffix("." + domain)
            return [f"https://{subdomain}.{twin}" for twin in BASE_DOMAINS]
    return [f"{parts.scheme}://{parts.netloc}"]


def call_frame_csp(room_url: str) -> dict:
    """The studio's policy plus what a call frame for this room loads."""
    return _studio_policy_plus(
        {"frame-src": room_origins(room_url), "connect-src": [ERROR_REPORTS]}
    )


def call_object_csp() -> dict:
    """The studio's policy plus what a call object loads: the call-machine bundle as a script,
    and what the call machine reaches (Daily's servers, its blob: helpers)."""
    servers = [f"{scheme}://*.{domain}" for domain in BASE_DOMAINS for scheme in ("https", "wss")]
    return _studio_policy_plus(
        {
            "script-src": [*CALL_MACHINE_HOSTS, "blob:"],
            "connect-src": [*servers, ERROR_REPORTS],
            "worker-src": [CSP.SELF, "blob:"],
        }
    )
