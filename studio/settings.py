"""Conversation Studio settings: everything comes from the environment.

The defaults run a fresh checkout on SQLite, the in-memory channel layer and the built-in Tavus
sandbox. See the README for the table of variables.
"""

import hashlib
import hmac
import os
import secrets
import tempfile
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent


def envbool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def envint(name: str, default: int | None) -> int | None:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, got {value!r}") from None


def envstr(name: str, default: str = "") -> str:
    return os.environ.get(name, "").strip() or default


# On for developers (`manage.py`, `make dev`, the tests); `make run` and the container, which
# staff start, set DEBUG=false: no debug pages, the studio's own error pages.
DEBUG = envbool("DEBUG", True)
PORT = envint("PORT", 8000)
# The instance's own data: the SQLite database (by default), uploads and the generated keys.
DATA_DIR = Path(envstr("STUDIO_DATA_DIR", str(BASE_DIR)))


def instance_secret(name: str) -> str:
    """A random secret generated on first start and kept in DATA_DIR, so it survives restarts
    without anyone having to invent one. SECRET_KEY in the environment still wins."""
    path = DATA_DIR / name
    try:
        if path.is_file():
            return path.read_text().strip()
        if not DATA_DIR.is_dir():
            DATA_DIR.mkdir(parents=True)
        # O_EXCL: of two processes starting at once, one writes the key and the other reads it.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if path.is_file():
            return path.read_text().strip()
        raise ImproperlyConfigured(f"Set SECRET_KEY, or make {DATA_DIR} a folder.") from None
    except OSError as exc:
        raise ImproperlyConfigured(
            f"Set SECRET_KEY, or let the studio write {path} ({exc.strerror})."
        ) from None
    value = secrets.token_urlsafe(50)
    with os.fdopen(fd, "w") as file:
        file.write(value + "\n")
    return value


SECRET_KEY = envstr("SECRET_KEY") or instance_secret(".secret-key")

ALLOWED_HOSTS = [h.strip() for h in envstr("ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")]
if not DEBUG and ALLOWED_HOSTS == ["*"]:
    raise ImproperlyConfigured("ALLOWED_HOSTS=* is unsafe when DEBUG is false.")
CSRF_TRUSTED_ORIGINS = [o.strip() for o in envstr("CSRF_TRUSTED_ORIGINS").split(",") if o.strip()]

# --- Tavus ---------------------------------------------------------------------------------
# Set here, these win over what an admin saves on the Settings page; unset, the page decides.
# The studio reads them through studio/connection/current.py, never directly: that follows the
# Settings page while the server runs. No key at all: the studio talks to its own sandbox,
# mounted at /sandbox in this same server.
TAVUS_API_KEY = envstr("TAVUS_API_KEY")
# The mode the process started in (code that has not moved to current.mode() yet reads it).
TAVUS_MODE = "tavus" if TAVUS_API_KEY else "sandbox"
STUDIO_PUBLIC_URL = envstr("STUDIO_PUBLIC_URL", f"http://127.0.0.1:{PORT}").rstrip("/")
STUDIO_PUBLIC_URL_FROM_ENV = bool(envstr("STUDIO_PUBLIC_URL"))
# Blank: Tavus's own address with a key, this server's sandbox without one.
TAVUS_API_BASE = envstr("TAVUS_API_BASE").rstrip("/")
# The sandbox's key is this install's own, derived from SECRET_KEY: never a well-known word that
# would open the sandbox's API (and its conversations' callback secrets) to anyone.
SANDBOX_API_KEY = (
    envstr("SANDBOX_API_KEY")
    or "sbx_"
    + hmac.new(SECRET_KEY.encode(), b"studio sandbox api key", hashlib.sha256).hexdigest()[:40]
)
# How the sandbox learns, per request, whether the studio runs on it and the studio's public
# address (the sandbox imports nothing of the studio; see studio/sandbox/host.py).
SANDBOX_HOST = "studio.connection.current.for_sandbox"
# The sandbox posts webhooks only to these address prefixes (comma-separated); empty: this
# studio's own public address + /hooks/ (no requests to other servers). Another studio that
# uses this one's sandbox as its "Tavus" is added here.
SANDBOX_CALLBACK_PREFIXES: list[str] = [
    p.strip() for p in envstr("SANDBOX_CALLBACK_PREFIXES").split(",") if p.strip()
]
# The sandbox downloads knowledge-base documents only from these prefixes; empty: this studio's
# own upload links (public address + /knowledge/files/). A link elsewhere ends as "error".
SANDBOX_FETCH_PREFIXES: list[str] = []
TAVUS_TIMEOUT = float(envstr("TAVUS_TIMEOUT", "10"))
TAVUS_CONCURRENCY_LIMIT = envint("TAVUS_CONCURRENCY_LIMIT", None)
SANDBOX_CONCURRENCY_LIMIT = envint("SANDBOX_CONCURRENCY_LIMIT", 3)
# Seconds the sandbox replica takes to "join" after a conversation is created.
SANDBOX_JOIN_DELAY = float(envstr("SANDBOX_JOIN_DELAY", "1.5"))
# Seconds each step of reading a knowledge-base document takes in the sandbox
# (started → processing → ready); Tavus takes minutes.
SANDBOX_DOCUMENT_STEP_SECONDS = float(envstr("SANDBOX_DOCUMENT_STEP_SECONDS", "1.5"))
# Where the sandbox sends its webhooks: normally the callback_url as given.
SANDBOX_WEBHOOK_RETRIES = envint("SANDBOX_WEBHOOK_RETRIES", 3)
# Whether the sandbox really copies a (short, real) video to the conversation's
# recording_s3_bucket_name before it sends recording_ready, as Tavus does, with the AWS
# credentials and endpoint in this environment (boto3's own variables); a copy that fails
# sends application.recording_copy_failed instead. Off: it says the recording is ready
# without copying anything.
SANDBOX_RECORDING_COPY = envbool("SANDBOX_RECORDING_COPY", False)
ORGANISATION_NAME = envstr("ORGANISATION_NAME", "Conversation Studio")
# How long the link a recording plays from (an S3 presigned URL) keeps working.
RECORDING_LINK_SECONDS = envint("RECORDING_LINK_SECONDS", 900)

# Email for invitation links, through Django's email framework (its MAILERS, new in 6.1). The
# one mailer is Django's SMTP backend pointed, each time it connects, at the server the
# environment names here, else the one on the Settings page (studio/connection/mail.py). Neither:
# the studio sends no email and the links are there to copy. The variables keep Django's old
# setting names, which people know.
_email_port = envint("EMAIL_PORT", 587)
_email_ssl = envbool("EMAIL_USE_SSL", _email_port == 465)
_email_tls = envbool("EMAIL_USE_TLS", not _email_ssl and _email_port != 25)
if _email_ssl and _email_tls:
    raise ImproperlyConfigured("Set one of EMAIL_USE_TLS and EMAIL_USE_SSL, not both.")
# None: no mail server in the environment.
SMTP_FROM_ENVIRONMENT = (
    {
        "host": envstr("EMAIL_HOST"),
        "port": _email_port,
        "username": envstr("EMAIL_HOST_USER"),
        "password": envstr("EMAIL_HOST_PASSWORD"),
        "use_tls": _email_tls,
        "use_ssl": _email_ssl,
    }
    if envstr("EMAIL_HOST")
    else None
)
SMTP_TIMEOUT = envint("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = envstr("DEFAULT_FROM_EMAIL", "")
MAILERS = {"default": {"BACKEND": "studio.connection.mail.EmailBackend"}}

# --- Django --------------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "channels",
    "studio.accounts",
    "studio.connection",
    "studio.sandbox",
    "studio.library",
    "studio.knowledge",
    "studio.presets",
    "studio.conversations",
    "studio.monitor",
    "studio.history",
    "studio.usage",
    "studio.join",
    "studio.invites",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "studio.sandbox.middleware.SandboxOnlyInSandboxMode",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "studio.library.csp.ThumbnailSources",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "studio.urls"
ASGI_APPLICATION = "studio.asgi.application"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "studio.accounts.context.shell",
            ],
        },
    }
]

DATABASE_URL = envstr("DATABASE_URL", f"sqlite:///{DATA_DIR / 'db.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Django's backend plus one lock for this process's writers (studio/lib/sqlite/base.py).
    DATABASES["default"]["ENGINE"] = "studio.lib.sqlite"
    # WAL lets readers run beside the one writer; IMMEDIATE takes the write lock up front so
    # two threads never deadlock upgrading read locks; the timeout waits instead of failing.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # Requests' threads are reused (studio/lib/handlers.py), so their connections can be:
    # opening one (with its PRAGMAs) was ~15 % of a webhook's time. PostgreSQL has its pool.
    DATABASES["default"]["CONN_MAX_AGE"] = envint("DATABASE_CONN_MAX_AGE", 600)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # A file, not :memory:, so the test server's threads share it; one per test process so
    # parallel runs never clobber each other.
    DATABASES["default"]["TEST"] = {
        "NAME": os.path.join(tempfile.gettempdir(), f"studio-test-{os.getpid()}.sqlite3")
    }
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A pool per process: without one, every request and every relayed websocket message opened
    # a new PostgreSQL connection (TCP + SCRAM, ~5 ms), which capped a live page's relay below
    # 50 events/s (bench/RESULTS.md, "Fan-out" on Redis).
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 2,
        "max_size": envint("DATABASE_POOL_SIZE", 20),
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = envstr("REDIS_URL")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # Redis pub/sub, once per process per group message (studio/lib/layers.py).
            "BACKEND": "studio.lib.layers.RedisFanOutChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "studio.lib.layers.FanOutInMemoryChannelLayer"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = envstr("TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(envstr("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [
    BASE_DIR / "static",
    # daily-js's browser build, from the npm package `make` installs at its pinned version
    # (package-lock.json; studio/daily.py says what it loads). Served as vendor/daily-js/daily.js.
    ("vendor/daily-js", BASE_DIR / "node_modules" / "@daily-co" / "daily-js" / "dist"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(envstr("MEDIA_ROOT", str(DATA_DIR / "media")))

# Files uploaded for the knowledge base wait here (never served under MEDIA_URL) until Tavus
# has read them; Tavus fetches each through a link that works this many seconds.
KNOWLEDGE_FILES_ROOT = Path(envstr("KNOWLEDGE_FILES_ROOT", str(BASE_DIR / "private")))
KNOWLEDGE_LINK_SECONDS = envint("KNOWLEDGE_LINK_SECONDS", 3600)
# How often (seconds) an open Documents page asks Tavus about documents still being read.
KNOWLEDGE_REFRESH_SECONDS = envint("KNOWLEDGE_REFRESH_SECONDS", 3)

# Keys the per-person memory stores (presets/models.memory_store_key). Changing it makes every
# replica forget everyone, so it is separate from SECRET_KEY when set.
MEMORY_STORE_SECRET = envstr("MEMORY_STORE_SECRET")

# Tools a replica calls during a call can be answered by an HTTPS endpoint of yours (the tool's
# "Answer automatically from" address): only hosts named here (comma-separated, "host" or
# "host:port") are ever called, each call waits at most TOOL_ENDPOINT_TIMEOUT seconds, and an
# answer over TOOL_ENDPOINT_MAX_BYTES is refused. Anything else falls back to a supervisor.
TOOL_ENDPOINT_ALLOWLIST = [
    host.strip().lower()
    for host in envstr("TOOL_ENDPOINT_ALLOWLIST").split(",")
    if host.strip()
]
TOOL_ENDPOINT_TIMEOUT = envint("TOOL_ENDPOINT_TIMEOUT", 5)
TOOL_ENDPOINT_MAX_BYTES = envint("TOOL_ENDPOINT_MAX_BYTES", 3000)
# At most this many automatic calls per conversation: a join link's holder could relay made-up
# tool calls, and each would otherwise reach your endpoint.
TOOL_ENDPOINT_MAX_PER_CONVERSATION = envint("TOOL_ENDPOINT_MAX_PER_CONVERSATION", 50)
# A CA bundle (PEM) to trust besides the usual ones, for endpoints on a private CA.
TOOL_ENDPOINT_CA_FILE = envstr("TOOL_ENDPOINT_CA_FILE")
# When set, each call carries X-Studio-Signature: sha256=<HMAC-SHA256 of the body>, so the
# endpoint can tell the studio's calls from anyone else's.
TOOL_ENDPOINT_SECRET = envstr("TOOL_ENDPOINT_SECRET")

# --- Security ------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
X_FRAME_OPTIONS = "SAMEORIGIN"
# SAMEORIGIN, not DENY: the live page frames the sandbox room page served by this same site.
SILENCED_SYSTEM_CHECKS = ["security.W019"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Served over HTTPS (the public address says so): cookies only over HTTPS, HSTS. `make run` on
# http://127.0.0.1 is production-like but plain HTTP, where secure cookies could not sign in.
if not DEBUG and STUDIO_PUBLIC_URL.startswith("https://"):
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# Only this site. The two pages that join a real Tavus room add exactly what daily-js loads
# from Daily's hosts there (studio/daily.py: call_frame_csp, call_object_csp).
# Only this site. Pages that need more extend this per response: the live and join pages add
# exactly what daily-js loads (studio/daily.py); pages add the hosts of replica thumbnails
# (studio/library/csp.py). Inline <style> only with the nonce (a <noscript> rule on the preset
# editor); htmx's own indicator styles are turned off in base.html and live in studio.css.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF, "data:", "blob:"],
    "media-src": [CSP.SELF, "blob:"],
    # 'self' covers this site's own ws:// and wss:// (CSP Level 3), so no other socket.
    "connect-src": [CSP.SELF],
    "frame-src": [CSP.SELF],
    "frame-ancestors": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
}

# --- Studio behaviour ----------------------------------------------------------------------
STUDIO_ADMIN_USERNAME = envstr("STUDIO_ADMIN_USERNAME")
STUDIO_ADMIN_PASSWORD = envstr("STUDIO_ADMIN_PASSWORD")
# The reconciler (see studio/conversations/reconcile.py).
RECONCILE_INTERVAL = envint("RECONCILE_INTERVAL", 30)
RECONCILE_UNKNOWN_GIVE_UP_SECONDS = envint("RECONCILE_UNKNOWN_GIVE_UP_SECONDS", 300)
# End a conversation nobody joined after this long (0 = leave it to Tavus's absent timeout).
END_IF_NOBODY_JOINS_SECONDS = envint("END_IF_NOBODY_JOINS_SECONDS", 180)
# End a conversation whose live page is gone and whose room is empty after this long.
PAGE_GONE_SECONDS = envint("PAGE_GONE_SECONDS", 90)
# Monitoring alerts: thresholds in seconds, re-checked every ALERT_INTERVAL seconds.
ALERTS = {
    "replica_join": envint("ALERT_REPLICA_JOIN_SECONDS", 30),
    "absent_near": envint("ALERT_ABSENT_NEAR_SECONDS", 60),
    "silence": envint("ALERT_SILENCE_SECONDS", 60),
    "ending_soon": envint("ALERT_ENDING_SOON_SECONDS", 120),
    "end_slow": envint("ALERT_END_UNCONFIRMED_SECONDS", 60),
    "stuck": envint("ALERT_STUCK_SECONDS", 60),
    # How long a triggered guardrail stays an alert on the wall's tile.
    "guardrail": envint("ALERT_GUARDRAIL_SECONDS", 120),
    # How long a completed objective or a tool call shows on the tile (not an alert).
    "note": envint("ALERT_NOTE_SECONDS", 30),
}
ALERT_INTERVAL = envint("ALERT_INTERVAL", 5)
# Sign-in throttling, per client (address): a few failures are free, then each doubles the wait
# (2, 4, 8 … seconds, at most SIGNIN_MAX_WAIT_SECONDS). Failures older than the window are
# forgotten. Nothing locks a username for everyone.
SIGNIN_WINDOW_SECONDS = envint("SIGNIN_WINDOW_SECONDS", 900)
SIGNIN_FREE_FAILURES = envint("SIGNIN_FREE_FAILURES", 5)  # one username, from one client
SIGNIN_FREE_FAILURES_PER_CLIENT = envint("SIGNIN_FREE_FAILURES_PER_CLIENT", 20)  # any names
SIGNIN_MAX_WAIT_SECONDS = envint("SIGNIN_MAX_WAIT_SECONDS", 900)
WEBHOOK_MAX_BYTES = envint("WEBHOOK_MAX_BYTES", 1_000_000)
# Webhook secrets stop working this long after a conversation ends (artifacts come late).
WEBHOOK_GRACE_SECONDS = envint("WEBHOOK_GRACE_SECONDS", 6 * 3600)
# The largest in-room event a page relays: what Daily allows one app-message (4,096 characters
# of its JSON, counted as daily-js counts them; studio/conversations/consumers.py).
RELAY_MAX_CHARS = envint("RELAY_MAX_CHARS", 4096)
# Per relaying socket; a room's streamed speech plus captions can pass 50 messages a second.
RELAY_MAX_PER_SECOND = envint("RELAY_MAX_PER_SECOND", 100)
# All the relaying sockets of one conversation together (per server process): two pages in the
# room (the launcher's and the join page) relay the same events twice.
RELAY_CONVERSATION_MAX_PER_SECOND = envint("RELAY_CONVERSATION_MAX_PER_SECOND", 200)

# Django's own "django" logger goes through the redacting console handler too: in DEBUG it
# otherwise keeps a console handler of its own that printed "Not Found: /hooks/tavus/<secret>/".
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "filters": {"redact": {"()": "studio.lib.logs.RedactSecrets"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact"]}
    },
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "INFO")},
    "loggers": {
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
