"""The push path: which socket groups exist, the messages they get, and how they are sent.

Every live update is HTML rendered once and fanned out through the channel layer to a group:

- `conversation-<pk>`: the staff live pages of one conversation;
- `conversation-<pk>-hosts`: the pages inside its room (live pages that joined, the join
  page), which carry steering commands into the room;
- `conversation-<pk>-join`: the join page's relay socket, one per join link (a new one tells
  the old to close with a `replaced` message);
- `monitor`: the supervisors' walls (every tile); `monitor-user-<id>`: an operator's wall
  (their own tiles); `monitor-board`: every wall's slot board.

Three message types: `push` (HTML fragments the htmx ws extension swaps in by id), `command` (a
steering command for the room) and `replaced` (above). Code that works out a change returns
`Pushes`, a list of (group, HTML) pairs, and whoever called it sends them: sync code with
`send()`, consumers with `await send_async()` from the event loop.

Batching, whatever the channel layer. Pushes go into this event loop's outbox and out on its
next turn, one `push` message per group carrying every fragment that group was given since, in
order. A loop with nothing else to do sends each push at once; a loop that is busy delivering
(200 sockets watching one conversation) has collected several by its next turn, and each
socket gets them in one frame. So the batch grows with the load and costs no wait when there is
none; on Redis it also means one message through Redis per group per turn. Sync code hands its
pushes to the loop it was called from and returns at once: a worker thread (a webhook's
request, a relayed event's ingest) never waits behind the loop's deliveries. Measured in
bench/RESULTS.md ("Fan-out", "Caption wall", "Webhook ingest").
"""

import asyncio
import contextlib
import contextvars
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterable

from asgiref.sync import SyncToAsync, async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

log = logging.getLogger(__name__)

type Pushes = list[tuple[str, str]]  # (group, HTML), in the order they are to go out
type Render = Callable[[frozenset[str]], Pushes]  # see throttled()

MONITOR_ALL, MONITOR_BOARD = "monitor", "monitor-board"
# A group gets at most one message this often; what comes for it meanwhile waits and goes in
# the next one (module docstring; bench/RESULTS.md "Fan-out, third pass").
SPACING = 0.015  # seconds


def conversation_group(pk: int) -> str:
    return f"conversation-{pk}"


def hosts_group(pk: int) -> str:
    return f"conversation-{pk}-hosts"


def join_group(pk: int) -> str:
    return f"conversation-{pk}-join"


def monitor_user_group(user_id) -> str:
    return f"monitor-user-{user_id}"


def push_message(html: str) -> dict:
    return {"type": "push", "html": html}


def command_message(event_id: int, envelope: dict) -> dict:
    return {"type": "command", "id": event_id, "envelope": envelope}


def replaced_message(channel_name: str) -> dict:
    """A new join socket for the same link: every other one closes."""
    return {"type": "replaced", "by": channel_name}


def _by_group(pushes: Pushes) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for group, html in pushes:
        if html:
            groups.setdefault(group, []).append(html)
    return groups


async def _group_send(batch: dict[str, list[str]]) -> None:
    layer = get_channel_layer()
    for group, parts in batch.items():
        try:
            await layer.group_send(group, push_message("".join(parts)))
        except Exception:
            # A page that missed a push gets the whole state when its socket reconnects.
            log.exception("push to group %s failed", group)


class Outbox:
    """One event loop's pushes waiting to go out (see the module's docstring)."""

    def __init__(self):
        self.waiting: dict[str, list[str]] = {}  # group -> fragments, in order
        self.sent_at: dict[str, float] = {}  # group -> loop.time() of its last message
        self.sending: asyncio.Task | None = None
        self.wake = asyncio.Event()

    def add(self, pushes: Pushes) -> None:
        for group, parts in _by_group(pushes).items():
            self.waiting.setdefault(group, []).extend(parts)
        if self.waiting:
            self.wake.set()
            if self.sending is None:
                self.sending = asyncio.get_running_loop().create_task(self._send())

    async def _send(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self.waiting:
                now = loop.time()
                due = {
                    group: parts
                    for group, parts in self.waiting.items()
                    if now >= self.sent_at.get(group, -SPACING) + SPACING
                }
                if not due:
                    # Wait for the first group's spacing to pass, or for another group's push.
                    first = min(self.sent_at[group] for group in self.waiting) + SPACING
                    self.wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.wake.wait(), first - now)
                    continue
                for group in due:
                    del self.waiting[group]
                    self.sent_at[group] = now
                # What arrives meanwhile (a trip to Redis) waits for the next round.
                await _group_send(due)
                if len(self.sent_at) > 1000:  # groups name conversations: forget quiet ones
                    self.sent_at = {g: t for g, t in self.sent_at.items() if now - t < SPACING}
        finally:
            self.sending = None


_outboxes: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # event loop -> Outbox


def _add(pushes: Pushes) -> None:
    """Put pushes in the running loop's outbox (only ever called on that loop)."""
    loop = asyncio.get_running_loop()
    outbox = _outboxes.get(loop)
    if outbox is None:
        outbox = _outboxes[loop] = Outbox()
    outbox.add(pushes)


def _serving_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop whose worker thread this is (a request's, a database_sync_to_async
    call's), as asgiref's async_to_sync finds it; None outside a server (a management
    command, a plain test). tests/server/test_upstream.py pins the asgiref code."""
    local = SyncToAsync.threadlocal
    if getattr(local, "main_event_loop_pid", None) != os.getpid():
        return None
    loop = getattr(local, "main_event_loop", None)
    return loop if loop is not None and loop.is_running() else None


async def send_async(pushes: Pushes) -> None:
    """Send from the event loop (a consumer): out on the loop's next turn."""
    _add(pushes)


def send(pushes: Pushes) -> None:
    """Send from sync code (views, jobs, a consumer's worker thread) without waiting."""
    if not any(html for _, html in pushes):
        return
    loop = _serving_loop()
    if loop is not None:
        loop.call_soon_threadsafe(_add, list(pushes), context=contextvars.Context())
    else:
        # No server loop to hand over to: send now, in a loop of our own.
        async_to_sync(_group_send)(_by_group(pushes))


class _Throttle:
    """One event loop's renders asked for by key, at most one per key every so often (see
    `throttled`); kept per loop, as the renders it schedules run on that loop."""

    def __init__(self):
        self.lock = threading.Lock()  # asked from request threads and worker threads alike
        self.rendered: dict[str, float] = {}  # key -> time.monotonic() of its last render
        self.waiting: dict[str, set[str]] = {}  # key -> what its scheduled render must show

    def ask(self, loop, key: str, render: Render, every: float, parts: Iterable[str]) -> Pushes:
        now = time.monotonic()
        with self.lock:
            if key in self.waiting:
                self.waiting[key].update(parts)  # the scheduled render shows this change too
                return []
            due = self.rendered.get(key, -every) + every
            later = now < due
            if later:
                self.waiting[key] = set(parts)
            else:
                self._rendered(key, now)
        if not later:
            return render(frozenset(parts))
        # In a context of its own: the render must not run inside the request that asked for
        # it (asgiref ties a request's worker thread to the request's context).
        loop.call_soon_threadsafe(
            self._schedule, key, render, due - now, context=contextvars.Context()
        )
        return []

    def _rendered(self, key: str, now: float) -> None:
        self.rendered[key] = now
        if len(self.rendered) > 10_000:  # keys name conversations: forget the quiet ones
            self.rendered = {k: t for k, t in self.rendered.items() if now - t < 60}

    def _schedule(self, key: str, render: Render, delay: float) -> None:
        asyncio.get_running_loop().call_later(
            delay, lambda: asyncio.ensure_future(self._render_later(key, render))
        )

    async def _render_later(self, key: str, render: Render) -> None:
        with self.lock:
            parts = frozenset(self.waiting.pop(key, ()))
            self._rendered(key, time.monotonic())
        try:
            _add(await database_sync_to_async(render)(parts))
        except Exception:
            log.exception("rendering %s for its push failed", key)


_throttles: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # event loop -> _Throttle
_throttles_lock = threading.Lock()


def throttled(key: str, render: Render, every: float, parts: Iterable[str] = ()) -> Pushes:
    """render(parts)'s pushes, for the caller to send with its own; but if `key` was rendered
    less than `every` seconds ago, none now, and one render `every` seconds after the last,
    sent from the event loop, of all the parts asked for meanwhile. For what sums up a
    conversation or all of them (a live page's status, the wall's board): a burst of changes
    (Tavus's webhooks around an ending, a storm of retries, 700 endings in a benchmark) costs
    a few renders, not one each, and shows the state after the last; a single change is not
    delayed at all. Outside a server (a management command, a plain test) it always renders."""
    loop = _serving_loop()
    if loop is None:
        return render(frozenset(parts))
    with _throttles_lock:
        throttle = _throttles.get(loop)
        if throttle is None:
            throttle = _throttles[loop] = _Throttle()
    return throttle.ask(loop, key, render, every, parts)


def send_command(pk: int, event_id: int, envelope: dict) -> None:
    """Hand a steering command to the pages in conversation `pk`'s room."""
    layer = get_channel_layer()
    async_to_sync(layer.group_send)(hosts_group(pk), command_message(event_id, envelope))
