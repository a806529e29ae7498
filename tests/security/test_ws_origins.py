"""Websockets open only from the studio's own pages: the Origin must match exactly."""

import pytest
from channels.testing import WebsocketCommunicator
from django.test import Client

from studio.asgi import application
from studio.lib.origins import origin_allowed


def scope(origin, host="127.0.0.1:8000", scheme="ws"):
    headers = [(b"host", host.encode())]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    return {"type": "websocket", "scheme": scheme, "headers": headers}


@pytest.mark.parametrize(
    ("origin", "host", "scheme", "allowed"),
    [
        ("http://127.0.0.1:8000", "127.0.0.1:8000", "ws", True),
        ("http://localhost:8000", "localhost:8000", "ws", True),
        ("http://127.0.0.1:9999", "127.0.0.1:8000", "ws", False),  # another port, same host
        ("https://127.0.0.1:8000", "127.0.0.1:8000", "ws", False),  # another scheme
        ("http://127.0.0.1:8000", "127.0.0.1:8000", "wss", False),  # the page was https
        ("https://studio.example.com", "studio.example.com", "wss", False),  # host not allowed
        ("http://evil.example:8000", "127.0.0.1:8000", "ws", False),
        ("null", "127.0.0.1:8000", "ws", False),
        (None, "127.0.0.1:8000", "ws", False),
    ],
)
def test_the_origin_must_be_the_pages_own(settings, origin, host, scheme, allowed):
    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
    settings.STUDIO_PUBLIC_URL = "https://studio.example.net"
    assert origin_allowed(scope(origin, host, scheme)) is allowed


def test_trusted_origins_and_the_public_address_count(settings):
    settings.ALLOWED_HOSTS = ["studio.internal"]
    settings.STUDIO_PUBLIC_URL = "https://studio.example.com"
    settings.CSRF_TRUSTED_ORIGINS = ["https://*.example.org"]
    proxied = "studio.internal:8000"  # a proxy that does not pass the public Host on
    assert origin_allowed(scope("https://studio.example.com", proxied, "wss"))
    assert origin_allowed(scope("https://team.example.org", proxied, "wss"))
    assert not origin_allowed(scope("http://team.example.org", proxied, "wss"))
    assert not origin_allowed(scope("https://example.com.evil.net", proxied, "wss"))


async def _connect(headers):
    communicator = WebsocketCommunicator(application, "/ws/monitor/", headers=headers)
    connected, _ = await communicator.connect()
    await communicator.disconnect()
    return connected


@pytest.mark.django_db(transaction=True)
def test_a_page_on_another_port_cannot_open_the_wall_as_a_signed_in_supervisor(supervisor):
    import asyncio

    client = Client()
    client.force_login(supervisor)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    own = [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1"), (b"cookie", cookie)]
    other = [(b"origin", b"http://127.0.0.1:9999"), (b"host", b"127.0.0.1"), (b"cookie", cookie)]
    assert asyncio.run(_connect(own)) is True
    assert asyncio.run(_connect(other)) is False
