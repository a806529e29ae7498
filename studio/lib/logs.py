"""Keep secrets out of the logs: webhook secrets, join tokens and meeting tokens live in URLs."""

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
