"""The in-memory channel layer (one process, no REDIS_URL), made cheap to fan out through.

Channels' InMemoryChannelLayer sweeps every channel for expired messages on every receive and
every group_send, starts a task per member for each group_send, and deep-copies the message for
each member (a page fragment is a SafeString, which deepcopy rebuilds). One caption to a
conversation with 200 open pages then costs 200 sweeps of 200 channels and 200 copies of the
HTML, and every receive builds a new asyncio.Queue only to throw it away: most of the fan-out's
time went there (bench/fanout.py, bench/RESULTS.md). This layer sweeps at most once a second,
copies a group message once (each member gets its own shallow copy) and builds a channel's queue
only when it has none; what it delivers, to whom, with which capacity and expiry, is unchanged.
"""

import asyncio
import contextlib
import time
from copy import deepcopy

from channels.layers import InMemoryChannelLayer


class FanOutInMemoryChannelLayer(InMemoryChannelLayer):
    sweep_every = 1.0  # seconds
    _swept_at = 0.0

    def _clean_expired(self):
        now = time.monotonic()
        if now - self._swept_at >= self.sweep_every:
            self._swept_at = now
            super()._clean_expired()

    def _queue(self, channel: str) -> asyncio.Queue:
        queue = self.channels.get(channel)
        if queue is None:
            queue = self.channels[channel] = asyncio.Queue(maxsize=self.get_capacity(channel))
        return queue

    async def receive(self, channel):
        self.require_valid_channel_name(channel)
        self._clean_expired()
        queue = self._queue(channel)
        try:
            _, message = await queue.get()
        finally:
            if queue.empty():
                self.channels.pop(channel, None)
        return message

    async def group_send(self, group, message):
        assert isinstance(message, dict), "Message is not a dict"
        self.require_valid_group_name(group)
        self._clean_expired()
        shared = deepcopy(message)  # the sender may change its dict afterwards
        expires = time.time() + self.expiry
        for channel in list(self.groups.get(group, ())):
            queue = self._queue(channel)
            # As with the stock layer, a full channel misses this message.
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait((expires, dict(shared)))
