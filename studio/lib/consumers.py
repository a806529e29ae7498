"""A Channels websocket consumer without the database hop before every message.

Upstream: since Channels 4.2, `AsyncConsumer.dispatch` awaits `aclose_old_connections()` before
every handler, a trip to a worker thread that closes stale database connections, as Django does
around each request.

Why replaced: a socket here gets fanned-out HTML (`push` messages) that touches no database, and
every database call the studio's consumers make goes through `database_sync_to_async`, which
closes stale connections in its own thread anyway. With a few hundred sockets on one
conversation the hop per delivered message took ~15 % of the event loop, and a relayed event's
ingest queued behind those hops, so the relay fell behind its room.

Measured (bench/fanout.py, bench/RESULTS.md "Findings and fixes", 1 and 5): together with the
in-memory layer (layers.py), 200 watching sockets went from 2.7k to 9–9.7k delivered messages
a second; without the hop the relay keeps up with 50 events a second.

Written against Channels 4.3 (pyproject.toml); tests/server/test_upstream.py fails when the
upstream `dispatch` changes.
"""

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer


class NoHopWebsocketConsumer(AsyncWebsocketConsumer):
    """AsyncWebsocketConsumer whose handlers run straight from the event loop."""

    async def dispatch(self, message):
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)
