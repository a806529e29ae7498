"""A Channels websocket consumer that takes channel-layer messages cheaply.

Upstream: since Channels 4.2, `AsyncConsumer.dispatch` awaits `aclose_old_connections()` before
every handler, a trip to a worker thread that closes stale database connections, as Django does
around each request. And `AsyncConsumer.__call__` takes messages from the socket and from the
channel layer through `await_many_dispatch`: for every message it starts a new task to wait for
the next one and runs `asyncio.wait` over both sources, so the two never run at once.

Why replaced: a socket here gets fanned-out HTML (`push` messages) that touches no database, and
every database call the studio's consumers make goes through `database_sync_to_async`, which
closes stale connections in its own thread anyway. With a few hundred sockets on one
conversation the hop per delivered message took ~15 % of the event loop, and a relayed event's
ingest queued behind those hops, so the relay fell behind its room. Then what was left per
delivered message was mostly the task and `asyncio.wait` per message. Here the socket's own
messages (connect, receive, disconnect) are handled in order as before, and the channel layer's
by one long-lived task, started once `connect` is handled, which takes each message as it
comes. A `push` (HTML to send on, nothing else) goes out at once, so a page's pushes keep
flowing while its relayed event is being stored; any other message (a steering command, the
join page's `replaced`) waits until the socket's own handler is done, as before, since its
handler may change the consumer's state.

Measured (bench/fanout.py; bench/RESULTS.md "Findings and fixes", 1 and 5, and "Fan-out,
third pass"): without the hop the relay keeps up with 50 events a second; the task per
socket cut the event loop's time per delivered message by a third.

Written against Channels 4.3 (pyproject.toml); tests/server/test_upstream.py fails when the
upstream `__call__`, `dispatch` or `await_many_dispatch` change.
"""

import asyncio
import contextlib
import logging

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer

log = logging.getLogger(__name__)


class NoHopWebsocketConsumer(AsyncWebsocketConsumer):
    """AsyncWebsocketConsumer whose handlers run straight from the event loop, with the
    channel layer's messages taken by a task of their own (see the module's docstring).
    Message types in `unordered` are handled even while a socket message's handler awaits:
    their handlers must only send."""

    unordered = frozenset({"push"})

    async def __call__(self, scope, receive, send):
        self.scope = scope
        self.base_send = send
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        if self.channel_layer is not None:
            self.channel_name = await self.channel_layer.new_channel()
        self.in_order = asyncio.Lock()  # one handler at a time, `unordered` ones aside
        layer_task = None
        try:
            while True:
                message = await receive()
                async with self.in_order:
                    await self.dispatch(message)
                if layer_task is None and self.channel_layer is not None:
                    # After `connect`: what the groups sent meanwhile waits in the channel
                    # and follows the page's first state, as before.
                    layer_task = asyncio.ensure_future(self._take_layer_messages())
        except StopConsumer:
            pass
        finally:
            if layer_task is not None:
                layer_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await layer_task

    async def _take_layer_messages(self):
        receive, channel = self.channel_layer.receive, self.channel_name
        while True:
            message = await receive(channel)
            if self.closing:
                continue  # nothing more goes to a socket we are closing; disconnect ends this
            try:
                if message.get("type") in self.unordered:
                    await self.dispatch(message)
                else:
                    async with self.in_order:
                        await self.dispatch(message)
            except OSError:
                return  # the client went away under a push (uvicorn's ClientDisconnected)
            except Exception:
                # A bug: logged, and the page reconnects for a fresh state.
                log.exception("websocket %s: %s failed", channel, message.get("type"))
                with contextlib.suppress(Exception):
                    await self.close(code=1011)
                return

    closing = False

    async def close(self, code=None, reason=None):
        self.closing = True
        await super().close(code=code, reason=reason)

    async def dispatch(self, message):
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)
