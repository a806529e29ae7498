"""Keep secrets out of the logs: webhook secrets, join tokens and meeting tokens live in URLs.

Upstream: Django (`django.request`, `django.server`), uvicorn and httpx log request lines and
URLs as they are. Here a URL can be a credential: a conversation's webhook secret
(/hooks/tavus/<secret>/), a document's callback secret (/hooks/documents/<pk>/<secret>/), a
participant's join token (/join/<token>/, also /ws/join/<token>/), an invitation link's token
(/invite/<token>/), a document's download token
(/knowledge/files/<token>/), a private room's meeting token (?t=...), and Tavus's API key in a
logged header. This filter redacts them from every record before it is written: on the console
handler (settings.LOGGING) and, from studio/asgi.py, on uvicorn's own handlers, which print
connection and access lines that Django's logging configuration never sees.

Not a performance change, so no figure: the requirement is "secrets never in pages or logs",
proven by tests/security/test_logs.py. It uses only the standard library's logging.Filter.
"""

import logging
import re

_PATTERNS = [
    (re.compile(r"(/hooks/tavus/)[^/\s?]+"), r"\1[redacted]"),
    (re.compile(r"(/hooks/documents/\d+/)[^/\s?]+"), r"\1[redacted]"),
    (re.compile(r"(/knowledge/files/)[^/\s?]+"), r"\1[redacted]"),
    (re.compile(r"(/join/)[^/\s?]+"), r"\1[redacted]"),
    (re.compile(r"(/invite/)[^/\s?]+"), r"\1[redacted]"),
    (re.compile(r"([?&]t=)[^&\s]+"), r"\1[redacted]"),
    (re.compile(r"(x-api-key['\"]?\s*[:=]\s*['\"]?)[^'\"\s,}]+", re.I), r"\1[redacted]"),
]


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        # Redact the arguments in place, so formatters that read them (uvicorn's access
        # formatter unpacks client, method, path...) still work; then the message as a whole,
        # for a secret that only appears once it is formatted.
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


SERVER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "daphne")


def redact_server_logs() -> None:
    """Put the filter on the ASGI server's own handlers (which it configured before Django was
    set up, and which do not propagate to ours). A server started with no access log keeps
    none: this adds no handler, it filters the ones there are."""
    for name in SERVER_LOGGERS:
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, RedactSecrets) for f in handler.filters):
                handler.addFilter(RedactSecrets())
