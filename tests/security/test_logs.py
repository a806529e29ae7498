import asyncio
import contextlib
import json
import logging

import httpx
import pytest
import websockets
from django.conf import settings

from studio.lib.logs import RedactSecrets, redact
from tests.conversations.factories import make_conversation, webhook
from tests.instance import Instance, container_command


def test_secrets_in_urls_are_redacted():
    line = (
        "Bad Request: /hooks/tavus/s3cr3t-Token_x/ then /join/AbC123/ and "
        "http://room/x?t=eyJhbGciOi.payload.sig&y=1 with x-api-key: sk_live_123 "
        "POST /invite/Inv1t3Tok/start"
    )
    cleaned = redact(line)
    secrets = ("s3cr3t-Token_x", "AbC123", "eyJhbGciOi.payload.sig", "sk_live_123", "Inv1t3Tok")
    for secret in secrets:
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


def test_a_stored_webhook_keeps_no_secret(client, operator):
    conversation, secret = make_conversation(operator)
    body = webhook(conversation, "system.replica_joined")
    body["webhook_url"] = f"https://studio.example.com/hooks/tavus/{secret}/"
    assert client.post(f"/hooks/tavus/{secret}/", json.dumps(body),
                       content_type="application/json").status_code == 200
    stored = conversation.events.get().payload
    assert secret not in json.dumps(stored)
    assert stored["webhook_url"] == "https://studio.example.com/hooks/tavus/[redacted]/"


def test_document_and_download_links_are_redacted_too():
    line = "POST /hooks/documents/12/d0cS3cret/ and GET /knowledge/files/f1leT0ken/"
    assert "d0cS3cret" not in redact(line) and "f1leT0ken" not in redact(line)


def test_uvicorns_access_lines_keep_their_format_when_redacted():
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "POST", "/hooks/tavus/abcSECRET/", "1.1", 404), None,
    )
    RedactSecrets().filter(record)
    assert record.args[2] == "/hooks/tavus/[redacted]/"  # uvicorn's formatter unpacks these
    assert "abcSECRET" not in record.getMessage()


@pytest.fixture
def started(tmp_path):
    instances = []

    def start(command=None, **env):
        instance = Instance(tmp_path / f"i{len(instances)}", **env)
        instances.append(instance)
        return instance.start(command(instance.port) if command else None)

    yield start
    for instance in instances:
        instance.stop()


def test_the_server_log_of_make_run_keeps_join_tokens_out(started):
    instance = started()

    async def knock():
        url = f"ws://127.0.0.1:{instance.port}/ws/join/J0inT0kenSecret/"
        with contextlib.suppress(Exception):
            async with websockets.connect(url, origin=instance.url):
                pass

    asyncio.run(knock())
    log = instance.log()
    assert "/ws/join/[redacted]/" in log
    assert "J0inT0kenSecret" not in log


@pytest.mark.parametrize("debug", ["true", "false"])
def test_the_containers_access_log_and_django_keep_webhook_secrets_out(started, debug):
    def local(port):
        return [p.replace("0.0.0.0", "127.0.0.1") for p in container_command(port)]

    instance = started(local, DEBUG=debug)
    httpx.post(instance.url + "/hooks/tavus/H00kSecretValue/", json={})
    log = instance.log()
    assert "/hooks/tavus/[redacted]/" in log
    assert "H00kSecretValue" not in log
