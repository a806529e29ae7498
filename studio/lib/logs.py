"""Keep secrets out of the logs: webhook secrets, join tokens and meeting tokens live in URLs.

Upstream: Django (`django.request`, `django.server`), uvicorn and httpx log request lines and
URLs as they are. Here a URL can be a credential: a conversation's webhook secret
(/hooks/tavus/<secret>/), a participant's join token (/join/<token>/), a private room's meeting
token (?t=...), and Tavus's API key in a logged header. This filter (settings.LOGGING, on the
console handler) redacts them from every record before it is written.

Not a performance change, so no figure: the requirement is "secrets never in pages or logs",
proven by tests/security/test_logs.py. It uses only the standard library's logging.Filter.
"""

import logging
import re

_PATTERNS = [
    (re.compile(r"(/hooks/tavus/)[^/\s?]+"), r"\1[redacted]"),
    (re.compile(r"(/join/)[^/\s?]+"), r"\1[redacted]"),
    (re.compile(r"([?&]t=)[^&\s]+"), r"\1[redacted]"),
    (re.compile(r"(x-api-key['\"]?\s*[:=]\s*['\"]?)[^'\"\s,}]+", re.I), r"\1[redacted]"),
]


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
