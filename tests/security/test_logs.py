import json
import logging

from django.conf import settings

from studio.lib.logs import RedactSecrets, redact
from tests.conversations.factories import make_conversation


def test_secrets_in_urls_are_redacted():
    line = (
        "Bad Request: /hooks/tavus/s3cr3t-Token_x/ then /join/AbC123/ and "
        "http://room/x?t=eyJhbGciOi.payload.sig&y=1 with x-api-key: sk_live_123"
    )
    cleaned = redact(line)
    for secret in ("s3cr3t-Token_x", "AbC123", "eyJhbGciOi.payload.sig", "sk_live_123"):
        assert secret not in cleaned
    assert "/hooks/tavus/[redacted]/" in cleaned and "&y=1" in cleaned


def test_the_console_handler_redacts(client, operator, caplog):
    assert "redact" in settings.LOGGING["handlers"]["console"]["filters"]
    conversation, secret = make_conversation(operator)
    with caplog.at_level(logging.WARNING, logger="django.request"):
        client.post(f"/hooks/tavus/{secret}/", "{bad", content_type="application/json")
    record = next(r for r in caplog.records if r.name == "django.request")
    RedactSecrets().filter(record)
    assert secret not in record.getMessage()
    assert json.dumps(record.getMessage())
