"""The in-memory channel layer (one process, no REDIS_URL), made cheap to fan out through.

Upstream: Channels' InMemoryChannelLayer sweeps every channel for expired messages on every
receive and every group_send, starts a task per member for each group_send, deep-copies the
message for each member (a page fragment is a SafeString, which deepcopy rebuilds) and builds a
new asyncio.Queue on every receive only to throw it away.

Why replaced: one caption to a conversation with 200 open pages cost 200 sweeps of 200 channels
and 200 copies of the HTML; most of the fan-out's time went there. This layer sweeps at most
once a second, copies a group message once (each member gets its own shallow copy) and builds a
channel's queue only when it has none; what it delivers, to whom, with which capacity and
expiry, is unchanged.

Big groups get their pushes in batches. Each delivered message costs the event loop ~0.1 ms
(consumer dispatch, websocket framing, the write), so one process delivers roughly 8,000 a
second: a conversation watched by 200 pages at 50 captions a second needs 10,000, and the loop
fell further behind with every caption. A `push` (studio.conversations.push: HTML fragments to
swap in, in order) to a group of `batch_members` or more waits up to `batch_window` seconds for
the pushes that follow it to the same group; they go out together, one frame per member, as a
caption and its streaming line already do. Pushes stay in order within their group; small
groups (a page or two, the usual case) are not delayed at all.

Measured (bench/fanout.py: one relay, 1,000 captions at 50/s, 1/50/200 watching sockets;
bench/RESULTS.md "Findings and fixes", 2, and "second pass", 6): with the consumers' dispatch
(consumers.py), 200 sockets went from 2.7k to 9–9.7k delivered messages/s and p50 from 5.7 s
to 90–180 ms; batching took M = 200 from saturated to p50 43–47 ms, p99 88–114 ms (a 10 ms
window: p99 743 ms; 30–50 ms: 91–125 ms).

Written against Channels 4.3 (pyproject.toml); tests/server/test_upstream.py fails when an
upgrade changes the InMemoryChannelLayer code this relies on.
"""

import asyncio
import contextlib
import time
from copy import deepcopy

from channels.layers import InMemoryChannelLayer


class FanOutInMemoryChannelLayer(InMemoryChannelLayer):
    sweep_every = 1.0  # seconds
    _swept_at = 0.0
    batch_members = 100  # 50 pages keep up without batching (bench/RESULTS.md)
    batch_window = 0.02  # seconds: unnoticeable on a caption; 0.01 and 0.03–0.05 measured worse

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._batches: dict[str, tuple[dict, list[str]]] = {}  # group -> (first push, HTML)

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
        if shared.get("type") == "push" and isinstance(shared.get("html"), str):
            if group in self._batches:
                self._batches[group][1].append(shared["html"])
                return
            if len(self.groups.get(group, ())) >= self.batch_members:
                self._batches[group] = (shared, [shared["html"]])
                asyncio.get_running_loop().call_later(self.batch_window, self._send_batch, group)
                return
        else:
            self._send_batch(group)  # a waiting batch goes first: nothing overtakes it
        self._deliver(group, shared)

    def _send_batch(self, group: str) -> None:
        batch = self._batches.pop(group, None)
        if batch is not None:
            first, html = batch
            self._deliver(group, {**first, "html": "".join(html)})

    def _deliver(self, group: str, shared: dict) -> None:
        expires = time.time() + self.expiry
        for channel in list(self.groups.get(group, ())):
            queue = self._queue(channel)
            # As with the stock layer, a full channel misses this message.
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait((expires, dict(shared)))

    async def flush(self):
        self._batches.clear()
        await super().flush()
