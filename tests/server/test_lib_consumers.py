"""studio.lib.consumers.NoHopWebsocketConsumer: channel-layer messages taken by a task of their
own, after `connect`; pushes beside the socket's own messages, anything else after them."""

import asyncio
import logging

import pytest
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from studio.lib.consumers import NoHopWebsocketConsumer

# channels.testing closes stale database connections around each message, as a server does.
pytestmark = [pytest.mark.asyncio, pytest.mark.django_db]


class Page(NoHopWebsocketConsumer):
    """A socket in group `lib-test`: `push` messages are sent on; a socket message waits for
    the test to let it go; `fail` is a handler with a bug; `note` is any other message."""

    released: asyncio.Event

    async def connect(self):
        await self.channel_layer.group_add("lib-test", self.channel_name)
        await asyncio.sleep(0.2)  # rendering the first state takes a while
        await self.accept()
        await self.send(text_data="first state")

    async def receive(self, text_data=None, bytes_data=None):
        if text_data == "close":
            await self.close(code=4000)
            return
        await Page.released.wait()  # e.g. a relayed event being stored
        await self.send(text_data=f"stored {text_data}")

    async def push(self, message):
        await self.send(text_data=message["html"])

    async def fail(self, message):
        raise RuntimeError("a bug in a handler")

    async def note(self, message):
        await self.send(text_data="noted")

    async def disconnect(self, code):
        await self.channel_layer.group_discard("lib-test", self.channel_name)


async def connected():
    Page.released = asyncio.Event()
    communicator = WebsocketCommunicator(Page.as_asgi(), "/ws/test/")
    task = asyncio.ensure_future(communicator.connect())
    await asyncio.sleep(0.05)  # inside connect(): in the group, not yet accepted
    await get_channel_layer().group_send("lib-test", {"type": "push", "html": "early push"})
    connected, _ = await task
    assert connected
    return communicator


async def test_what_the_group_sent_during_connect_follows_the_first_state():
    page = await connected()
    assert await page.receive_from() == "first state"
    assert await page.receive_from() == "early push"
    await page.disconnect()


async def test_pushes_keep_flowing_while_a_socket_message_is_handled():
    page = await connected()
    await page.receive_from()
    await page.receive_from()
    await page.send_to(text_data="caption 1")  # its handler now waits
    await get_channel_layer().group_send("lib-test", {"type": "push", "html": "meanwhile"})
    assert await page.receive_from() == "meanwhile"
    Page.released.set()
    assert await page.receive_from() == "stored caption 1"
    await page.disconnect()


async def test_other_group_messages_wait_for_the_socket_message_being_handled():
    # Their handlers may change the consumer's state (the join page's `replaced`): in order.
    page = await connected()
    await page.receive_from()
    await page.receive_from()
    await page.send_to(text_data="caption 2")
    await get_channel_layer().group_send("lib-test", {"type": "note"})
    assert await page.receive_nothing(timeout=0.3)
    Page.released.set()
    assert await page.receive_from() == "stored caption 2"
    assert await page.receive_from() == "noted"
    await page.disconnect()


async def test_nothing_is_sent_to_a_socket_being_closed():
    page = await connected()
    await page.receive_from()
    await page.receive_from()
    await page.send_to(text_data="close")
    assert (await page.receive_output())["type"] == "websocket.close"
    await get_channel_layer().group_send("lib-test", {"type": "push", "html": "too late"})
    assert await page.receive_nothing(timeout=0.3)
    await page.disconnect()


async def test_a_handler_bug_is_logged_and_closes_the_socket(caplog):
    page = await connected()
    await page.receive_from()
    await page.receive_from()
    with caplog.at_level(logging.ERROR, logger="studio.lib.consumers"):
        await get_channel_layer().group_send("lib-test", {"type": "fail"})
        closed = await page.receive_output()
    assert closed == {"type": "websocket.close", "code": 1011}
    assert "fail failed" in caplog.text and "a bug in a handler" in caplog.text
    await page.disconnect()
