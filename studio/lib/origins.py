"""Websocket connections only from the studio's own pages: the Origin must match exactly.

Upstream: Channels' AllowedHostsOriginValidator accepts a websocket when the Origin header's
*host* is in ALLOWED_HOSTS, whatever its scheme and port. Browsers send cookies to every port of
a host (cookies are not port-scoped), so a page served from another port of the same machine
(http://127.0.0.1:9999) could open /ws/monitor/ with a signed-in supervisor's session and read
the wall. There is no websocket equivalent of CSRF tokens: the Origin is the check.

Here the rule is Django's own CSRF origin rule (CsrfViewMiddleware): the Origin must equal the
request's own origin — http for ws://, https for wss:// (uvicorn sets the scheme from a trusted
proxy's X-Forwarded-Proto), and the Host header, itself in ALLOWED_HOSTS — or be one of
CSRF_TRUSTED_ORIGINS (with Django's "https://*.example.com" form), or the origin of
STUDIO_PUBLIC_URL. No figure: a security rule, proven by tests/security/test_ws_origins.py.
"""

from urllib.parse import urlsplit

from asgiref.sync import sync_to_async
from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host


def _header(scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin1")
    return ""


def _trusted(origin: str, public_url: str) -> bool:
    public = urlsplit(public_url)
    if origin == f"{public.scheme}://{public.netloc}":
        return True
    for trusted in settings.CSRF_TRUSTED_ORIGINS:
        if origin == trusted:
            return True
        # Django's form "https://*.example.com": any subdomain of example.com, same scheme.
        scheme, _, host = trusted.partition("://")
        wildcard = host.startswith("*.") and origin.startswith(scheme + "://")
        if wildcard and urlsplit(origin).netloc.endswith(host[1:]):
            return True
    return False


def origin_allowed(scope, public_url: str | None = None) -> bool:
    origin = _header(scope, b"origin")
    if not origin or origin == "null":
        return False
    if _trusted(origin, public_url or settings.STUDIO_PUBLIC_URL):
        return True
    host = _header(scope, b"host")
    domain, _ = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return False
    scheme = "https" if scope.get("scheme") == "wss" else "http"
    return origin == f"{scheme}://{host}"


class ExactOriginValidator:
    """ASGI middleware: deny a websocket whose Origin is not exactly one of the studio's own.

    `public_url`, when given, is asked for the public address on each connection (it may change
    while the server runs, and may need the database: it is called in a thread)."""

    def __init__(self, application, public_url=None):
        self.application = application
        self.public_url = public_url

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket":
            public = await sync_to_async(self.public_url)() if self.public_url else None
            if not origin_allowed(scope, public):
                return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)
