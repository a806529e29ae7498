"""A scripted Tavus behind httpx.MockTransport, for the faults the sandbox cannot produce."""

import json

import httpx
import pytest

from studio.tavus import client


class FakeTavus:
    """Answers each request with the next scripted reply; the last one repeats."""

    def __init__(self):
        self.requests: list[httpx.Request] = []
        self.replies: list = []
        self.pauses: list[float] = []

    def reply(self, *replies):
        """Each reply: (status, body) with body a dict/list (JSON), str or bytes; or an
        httpx exception class to raise."""
        self.replies.extend(replies)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        if isinstance(reply, type) and issubclass(reply, Exception):
            raise reply("scripted failure", request=request)
        status, body = reply
        if isinstance(body, dict | list):
            return httpx.Response(status, json=body)
        if isinstance(body, str):
            return httpx.Response(status, text=body)
        return httpx.Response(status, content=body)

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]

    def last_json(self):
        return json.loads(self.last.content)


@pytest.fixture
def fake_tavus(settings, monkeypatch):
    settings.TAVUS_API_BASE = "https://tavus.test"
    settings.TAVUS_API_KEY = "live-key"
    settings.SANDBOX_API_KEY = "sandbox"
    settings.TAVUS_TIMEOUT = 2
    fake = FakeTavus()
    # Record the retry pause instead of sleeping through it.
    monkeypatch.setattr(client, "sleep", fake.pauses.append)
    with client.use_transport(httpx.MockTransport(fake.handle)):
        yield fake
