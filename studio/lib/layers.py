"""The channel layers: in memory for one process, Redis pub/sub between several.

Upstream, in memory: Channels' InMemoryChannelLayer sweeps every channel for expired messages
on every receive and every group_send, starts a task per member for each group_send,
deep-copies the message for each member (a page fragment is a SafeString, which deepcopy
rebuilds) and builds a new asyncio.Queue on every receive only to throw it away.

Why replaced: one caption to a conversation with 200 open pages cost 200 sweeps of 200 channels
and 200 copies of the HTML; most of the fan-out's time went there. `FanOutInMemoryChannelLayer`
sweeps at most once a second, copies a group message once (each member gets its own shallow
copy) and keeps a channel's queue while a socket receives from it (the sweep drops queues
nobody waits on); what it delivers, to whom, with which capacity and expiry, is unchanged.
(Batching pushes, which lived here, is now the push path's, for every layer:
studio/conversations/push.py.)

Upstream, Redis: channels_redis's RedisChannelLayer stores a group's members in Redis and
puts a copy of each group message in every member's Redis queue; each process then pops its
sockets' copies one at a time (a blocking pop and a clean-up of its backup, per message). Its
RedisPubSubChannelLayer publishes a group message once per group, but subscribes a Redis
channel for every consumer's channel and only unsubscribes one when a receive is cancelled, so
a channel that is received from and then dropped (/healthz does exactly that) stays subscribed
for good (django/channels_redis#276, open).

Why replaced: at 200 pages watching a conversation at 50 captions a second, RedisChannelLayer
moved 10,000 messages a second through Redis for two processes and fell behind (6,160 a
second delivered). `RedisFanOutChannelLayer` keeps each process's channels and groups in
memory, as above, and crosses Redis once per process: a group message is published once on
the group's Redis channel, which a process subscribes to while one of its sockets is in the
group, and each process hands it to its own members; a message for one channel goes to the
Redis channel of the process (event loop) that made it. Like Redis pub/sub itself this is at
most once: what is published while a process is cut off from Redis does not reach its sockets
(a page gets the whole state again when its socket reconnects).

Added to both: `listening(groups)`, which of these groups have a member in any process, so
the push path renders nothing for a page or a wall nobody has open (on Redis, PUBSUB NUMSUB
counts the processes subscribed to a group: one round trip for all the groups asked).

Measured (bench/fanout.py, bench/RESULTS.md "Findings and fixes", 2, and "Fan-out, third
pass"): with the consumers' dispatch (consumers.py), 200 sockets in memory went from 2.7k to
9–9.7k delivered messages/s; on Redis two processes now deliver 10,000 a second to 200 sockets
with p99 1.4–2.6× the bare floor's (it saturated at 6,160 before).

Written against Channels 4.3 and redis-py 8 (pyproject.toml); tests/server/test_upstream.py
fails when an upgrade changes the InMemoryChannelLayer code this relies on.
"""

import asyncio
import contextlib
import logging
import secrets
import time
import types
import weakref
from copy import deepcopy

import msgpack
from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer
from redis import asyncio as aioredis

log = logging.getLogger(__name__)


class FanOutInMemoryChannelLayer(InMemoryChannelLayer):
    sweep_every = 1.0  # seconds
    _swept_at = 0.0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.receiving: dict[str, int] = {}  # channel -> receives waiting on it

    def _clean_expired(self):
        now = time.monotonic()
        if now - self._swept_at >= self.sweep_every:
            self._swept_at = now
            super()._clean_expired()
            # A channel's queue stays while someone receives from it (a socket takes message
            # after message: no new queue for each); an empty one nobody waits on goes.
            for channel, queue in list(self.channels.items()):
                if queue.empty() and not self.receiving.get(channel):
                    del self.channels[channel]

    def _queue(self, channel: str) -> asyncio.Queue:
        queue = self.channels.get(channel)
        if queue is None:
            queue = self.channels[channel] = asyncio.Queue(maxsize=self.get_capacity(channel))
        return queue

    async def receive(self, channel):
        self.require_valid_channel_name(channel)
        self._clean_expired()
        queue = self._queue(channel)
        if not queue.empty():
            return queue.get_nowait()[1]
        self.receiving[channel] = self.receiving.get(channel, 0) + 1
        try:
            _, message = await queue.get()
        finally:
            # An empty queue nobody waits on is dropped by the next sweep (the socket closed).
            if self.receiving[channel] > 1:
                self.receiving[channel] -= 1
            else:
                del self.receiving[channel]
        return message

    async def group_send(self, group, message):
        assert isinstance(message, dict), "Message is not a dict"
        self.require_valid_group_name(group)
        self._clean_expired()
        self._deliver(group, deepcopy(message))  # the sender may change its dict afterwards

    async def listening(self, groups) -> set[str]:
        """Which of these groups have a channel in them: the push path renders nothing for a
        group nobody is in (studio/conversations/push.py, `later`)."""
        return {group for group in groups if self.groups.get(group)}

    def _deliver(self, group: str, shared: dict) -> None:
        expires = time.time() + self.expiry
        for channel in list(self.groups.get(group, ())):
            queue = self._queue(channel)
            # As with the stock layer, a full channel misses this message.
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait((expires, dict(shared)))


def _pack(value) -> bytes:
    return msgpack.packb(value, use_bin_type=True)


def _unpack(data: bytes):
    return msgpack.unpackb(data, raw=False)


class _LoopLayer(FanOutInMemoryChannelLayer):
    """RedisFanOutChannelLayer's state in one event loop: its sockets' channels and groups in
    memory, one Redis client, and one task listening on the Redis channels it subscribes to."""

    def __init__(self, url: str, prefix: str, **kwargs):
        super().__init__(**kwargs)
        self.url = url
        self.id = secrets.token_hex(6)  # names this loop's channels: specific.<id>!<random>
        self.redis = aioredis.Redis.from_url(url)
        # Redis's pub/sub channels are server-wide, not per database: the database number
        # keeps two studios on one Redis (production and staging on 0 and 1) apart, as the
        # keys of RedisChannelLayer were.
        self.prefix = f"{prefix}:{self.redis.connection_pool.connection_kwargs.get('db', 0)}"
        self.pubsub = None
        self.listener: asyncio.Task | None = None
        self.subscribed: set[str] = set()

    def _group_key(self, group: str) -> str:
        return f"{self.prefix}:group:{group}"

    def _process_key(self, layer_id: str) -> str:
        return f"{self.prefix}:process:{layer_id}"

    async def _listen_to(self, key: str) -> None:
        if self.listener is None:
            self.pubsub = self.redis.pubsub()
            await self.pubsub.subscribe(self._process_key(self.id))
            self.subscribed.add(self._process_key(self.id))
            self.listener = asyncio.get_running_loop().create_task(self._listen())
        if key not in self.subscribed:
            self.subscribed.add(key)
            await self.pubsub.subscribe(key)

    async def _listen(self) -> None:
        while True:
            try:
                message = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
                if message is not None:
                    self._received(message["channel"].decode(), message["data"])
            except asyncio.CancelledError:
                raise
            except Exception:
                # Cut off from Redis: what is published meanwhile is lost (at most once).
                log.warning("channel layer: Redis unreachable, resubscribing", exc_info=True)
                await asyncio.sleep(1)
                with contextlib.suppress(Exception):
                    await self.pubsub.aclose()
                with contextlib.suppress(Exception):
                    self.pubsub = self.redis.pubsub()
                    await self.pubsub.subscribe(*self.subscribed)

    def _received(self, key: str, data: bytes) -> None:
        envelope = _unpack(data)
        if key.startswith(f"{self.prefix}:group:"):
            if envelope["from"] != self.id:  # this loop's own members already have it
                self._deliver(key.split(":group:", 1)[1], envelope["message"])
        else:
            with contextlib.suppress(ChannelFull):
                self._queue(envelope["channel"]).put_nowait(
                    (time.time() + self.expiry, envelope["message"])
                )

    async def new_channel(self, prefix="specific."):
        await self._listen_to(self._process_key(self.id))
        return f"{prefix}{self.id}!{secrets.token_hex(8)}"

    async def send(self, channel, message):
        """To a channel new_channel() made, in whichever process: always through Redis, even
        to this loop's own, so /healthz's round trip through the layer tests Redis too."""
        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_channel_name(channel)
        if "!" not in channel:
            raise ValueError(f"{channel!r}: only channels from new_channel() can be sent to")
        layer_id = channel.partition("!")[0].rpartition(".")[2]
        await self.redis.publish(
            self._process_key(layer_id), _pack({"channel": channel, "message": message})
        )

    async def group_add(self, group, channel):
        await super().group_add(group, channel)
        await self._listen_to(self._group_key(group))

    async def group_discard(self, group, channel):
        await super().group_discard(group, channel)
        key = self._group_key(group)
        if group not in self.groups and key in self.subscribed:
            self.subscribed.discard(key)
            await self.pubsub.unsubscribe(key)

    async def listening(self, groups) -> set[str]:
        """Which of these groups have a channel in them in any process: a process subscribes
        to a group's Redis channel while one of its channels is in it, so Redis counts the
        processes (one round trip for all the groups)."""
        found = await super().listening(groups)
        others = {self._group_key(group): group for group in groups if group not in found}
        if others:
            counts = await self.redis.pubsub_numsub(*others)
            found |= {others[key.decode()] for key, subscribers in counts if subscribers}
        return found

    async def group_send(self, group, message):
        # This loop's members at once; every other process through Redis, once.
        await super().group_send(group, message)
        envelope = {"from": self.id, "message": message}
        await self.redis.publish(self._group_key(group), _pack(envelope))

    async def flush(self):
        await super().flush()
        await self.close()

    async def close(self):
        if self.listener is not None:
            self.listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.listener
            self.listener = None
        if self.pubsub is not None:
            await self.pubsub.aclose()
            self.pubsub = None
        self.subscribed.clear()
        await self.redis.aclose()


class RedisFanOutChannelLayer:
    """Several processes on one Redis (see the module's docstring). Each event loop that uses
    the layer gets its own `_LoopLayer`: a Redis connection belongs to one loop, and sync code
    outside a server (a management command) runs each call in a loop of its own."""

    extensions = ["groups", "flush"]

    def __init__(self, hosts=None, prefix="studio", **kwargs):
        if not hosts or isinstance(hosts, str):
            raise ValueError("hosts: a list with one Redis URL")
        self.url, self.prefix, self.kwargs = hosts[0], prefix, kwargs
        self._layers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def _layer(self) -> _LoopLayer:
        loop = asyncio.get_running_loop()
        layer = self._layers.get(loop)
        if layer is None:
            layer = self._layers[loop] = _LoopLayer(self.url, self.prefix, **self.kwargs)
            self._close_with(loop)
        return layer

    def _close_with(self, loop: asyncio.AbstractEventLoop) -> None:
        # A loop that async_to_sync made for one call closes right after it: close its
        # connections first rather than leave them to the garbage collector.
        original = loop.close

        def close(this):
            layer = self._layers.pop(this, None)
            if layer is not None and not this.is_running() and not this.is_closed():
                with contextlib.suppress(Exception):
                    this.run_until_complete(layer.close())
            this.close = original
            return original()

        loop.close = types.MethodType(close, loop)

    async def new_channel(self, prefix="specific."):
        return await self._layer().new_channel(prefix)

    async def send(self, channel, message):
        await self._layer().send(channel, message)

    async def receive(self, channel):
        return await self._layer().receive(channel)

    async def group_add(self, group, channel):
        await self._layer().group_add(group, channel)

    async def group_discard(self, group, channel):
        await self._layer().group_discard(group, channel)

    async def group_send(self, group, message):
        await self._layer().group_send(group, message)

    async def listening(self, groups):
        return await self._layer().listening(groups)

    async def flush(self):
        layer = self._layers.pop(asyncio.get_running_loop(), None)
        if layer is not None:
            await layer.flush()
