"""Which Tavus, which key, which public address, which limit, which mail server: read here,
everywhere.

Each value is the environment's when set (settings.py reads it at start), else what an admin
saved on the Settings page, else the default. The saved row is cached for CACHE_SECONDS in
each process, so a page does not cost a query per value, while a change made through another
server process applies here within seconds without a restart.
"""

import time
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError

TAVUS_API_BASE = "https://tavusapi.com"
CACHE_SECONDS = 3.0


@dataclass(frozen=True)
class Stored:
    api_key: str = ""
    api_base: str = ""
    public_url: str = ""
    concurrency_limit: int | None = None
    email_host: str = ""
    email_port: int | None = None
    email_security: str = "starttls"
    email_username: str = ""
    email_password: str = ""
    email_from: str = ""


@dataclass(frozen=True)
class Email:
    """Where invitation emails go out: Django's SMTP settings, from the environment or the page."""

    host: str
    port: int
    username: str
    password: str
    use_tls: bool
    use_ssl: bool
    sender: str
    from_environment: bool

    def options(self) -> dict:
        """The SMTP backend's options (studio/connection/mail.py)."""
        return {
            "host": self.host,
            "port": self.port,
            "username": self.username or None,
            "password": self.password or None,
            "use_tls": self.use_tls,
            "use_ssl": self.use_ssl,
            "timeout": settings.SMTP_TIMEOUT,
        }


_cache: tuple[float, Stored] | None = None


def stored() -> Stored:
    """The Settings page's values (cached briefly)."""
    global _cache
    now = time.monotonic()
    cached = _cache
    if cached is not None and now - cached[0] < CACHE_SECONDS:
        return cached[1]
    from studio.connection.models import TavusConnection

    try:
        row = TavusConnection.objects.filter(pk=1).first()
    except DatabaseError:
        # Before the first migrate (manage.py check, collectstatic): nothing saved yet.
        return Stored()
    value = Stored()
    if row is not None:
        value = Stored(
            row.api_key,
            row.api_base,
            row.public_url,
            row.concurrency_limit,
            row.email_host,
            row.email_port,
            row.email_security,
            row.email_username,
            row.email_password,
            row.email_from,
        )
    _cache = (now, value)
    return value


def forget() -> None:
    """Read the saved row again on the next call (after a save, and between tests)."""
    global _cache
    _cache = None


def api_key() -> str:
    """The Tavus API key, or "" when the studio runs on its sandbox."""
    return settings.TAVUS_API_KEY or stored().api_key


def mode() -> str:
    """ "tavus" with a key, else "sandbox"."""
    return "tavus" if api_key() else "sandbox"


def sandbox_base() -> str:
    return f"http://127.0.0.1:{settings.PORT}/sandbox"


def api_base() -> str:
    if settings.TAVUS_API_BASE:
        return settings.TAVUS_API_BASE.rstrip("/")
    if mode() == "sandbox":
        return sandbox_base()
    return (stored().api_base or TAVUS_API_BASE).rstrip("/")


def public_url() -> str:
    """The studio's address as Tavus (and participants) reach it; webhooks go to /hooks/."""
    if not settings.STUDIO_PUBLIC_URL_FROM_ENV:
        saved = stored().public_url
        if saved:
            return saved.rstrip("/")
    return settings.STUDIO_PUBLIC_URL.rstrip("/")


def concurrency_limit() -> int | None:
    """The plan's concurrent conversations; None: no local check. Without a key the studio
    runs on its own sandbox: unless a limit is set, the sandbox's, past which it refuses as
    Tavus does."""
    if settings.TAVUS_CONCURRENCY_LIMIT is not None:
        return settings.TAVUS_CONCURRENCY_LIMIT
    saved = stored().concurrency_limit
    if saved is None and mode() == "sandbox":
        return settings.SANDBOX_CONCURRENCY_LIMIT
    return saved


DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}


def email() -> Email | None:
    """The mail server for invitation links, or None: then the studio sends nothing, and says
    so (the links are there to copy)."""
    env = settings.SMTP_FROM_ENVIRONMENT
    if env:
        user = env["username"]
        return Email(
            **env,
            sender=settings.DEFAULT_FROM_EMAIL or (user if "@" in user else ""),
            from_environment=True,
        )
    saved = stored()
    if not saved.email_host:
        return None
    return Email(
        host=saved.email_host,
        port=saved.email_port or DEFAULT_PORTS.get(saved.email_security, 587),
        username=saved.email_username,
        password=saved.email_password,
        use_tls=saved.email_security == "starttls",
        use_ssl=saved.email_security == "ssl",
        sender=saved.email_from,
        from_environment=False,
    )


def for_sandbox() -> tuple[bool, str]:
    """What the built-in sandbox asks (settings.SANDBOX_HOST): whether the studio runs on it
    now, and the studio's public address, the only place it calls back and downloads from."""
    return mode() == "sandbox", public_url()
