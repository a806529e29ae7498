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
request, a relayed event's ingest) never waits behind the loop's deliveries. What sums a
conversation up (its status, the wall's tile and board) is rendered on this path too, after
the change and only for groups someone listens to (`later`). Measured in bench/RESULTS.md
("Fan-out", "Caption wall", "Webhook ingest").
"""

import asyncio
import contextlib
import contextvars
import logging
import os
import weakref
from collections.abc import Callable, Iterable

from asgiref.sync import SyncToAsync, async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.db import transaction

log = logging.getLogger(__name__)

type Pushes = list[tuple[str, str]]  # (group, HTML), in the order they are to go out
type Render = Callable[[frozenset[str]], Pushes]  # see later()

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


async def _listened(groups: set[str]) -> set[str]:
    """Which of these groups a socket may be in. Asked of the layer when it can tell
    (studio/lib/layers.py); a layer that cannot, or cannot now, is taken to say all."""
    listening = getattr(get_channel_layer(), "listening", None)
    if listening is None or not groups:
        return groups
    try:
        return await listening(groups)
    except Exception:
        log.warning("could not ask the channel layer who listens", exc_info=True)
        return groups


class _Later:
    """One event loop's renders asked for by key (see `later`); kept per loop, as the renders
    it runs are that loop's pushes."""

    def __init__(self):
        # key -> [render, {part: groups}, spacing] still to render, in the order first asked
        self.waiting: dict[str, list] = {}
        self.rendered: dict[str, float] = {}  # key -> loop.time() of its last render
        self.running: asyncio.Task | None = None
        self.wake = asyncio.Event()

    def ask(self, key: str, render: Render, every: float, audiences: dict) -> None:
        entry = self.waiting.setdefault(key, [render, {}, every])
        entry[0], entry[2] = render, every  # the latest asker's: it knows the latest state
        for part, groups in audiences.items():
            entry[1][part] = tuple(dict.fromkeys((*entry[1].get(part, ()), *groups)))
        self.wake.set()
        if self.running is None:
            self.running = asyncio.get_running_loop().create_task(self._run())

    def _due(self, key: str) -> float:
        return self.rendered.get(key, float("-inf")) + self.waiting[key][2]

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self.waiting:
                now = loop.time()
                due = [key for key in self.waiting if now >= self._due(key)]
                if not due:
                    self.wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(
                            self.wake.wait(), min(map(self._due, self.waiting)) - now
                        )
                    continue
                asked = [(key, *self.waiting.pop(key)) for key in due]
                # Only the parts someone may see: nobody watching, nothing rendered (a socket
                # that joins later reads the whole state when it connects). One question to
                # the layer for the whole round.
                heard = await _listened(
                    {g for _, _, parts, _ in asked for gs in parts.values() for g in gs}
                )
                jobs = []
                for key, render, audiences, _ in asked:
                    parts = frozenset(
                        p for p, groups in audiences.items() if heard.intersection(groups)
                    )
                    if parts:
                        self.rendered[key] = now
                        jobs.append((key, render, parts))
                if jobs:
                    # Every render due in one trip to a worker thread, and out together.
                    try:
                        _add(await database_sync_to_async(_render_all)(jobs))
                    except Exception:
                        # A page that missed a push gets the whole state when it reconnects.
                        log.exception("rendering %s failed", [key for key, *_ in jobs])
                if len(self.rendered) > 10_000:  # keys name conversations: forget quiet ones
                    self.rendered = {k: t for k, t in self.rendered.items() if now - t < 60}
        finally:
            self.running = None


def _render_all(jobs) -> Pushes:
    pushes: Pushes = []
    for key, render, parts in jobs:
        try:
            pushes += render(parts)
        except Exception:
            log.exception("rendering %s for its push failed", key)
    return pushes


_laters: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # event loop -> _Later


def _ask_later(key: str, render: Render, every: float, audiences: dict) -> None:
    """On the loop: hand the render to its _Later."""
    loop = asyncio.get_running_loop()
    later_ = _laters.get(loop)
    if later_ is None:
        later_ = _laters[loop] = _Later()
    later_.ask(key, render, every, audiences)


def later(key: str, render: Render, every: float, audiences: dict[str, Iterable[str]]) -> None:
    """Render on the push path instead of here, and send what it returns. For what sums up a
    conversation or all of them (a live page's status, the wall's tile, board and strips),
    which a webhook, a relayed event or a job changes and whose render costs more than the
    change itself.

    `audiences` names the parts the render can show and the groups each part goes to; the
    render gets the parts someone may be listening to, and is not run when nobody is. Asked
    again before it ran, it runs once, with every part asked meanwhile; and a key renders at
    most once every `every` seconds, so a burst of changes (Tavus's webhooks around an
    ending, a storm of retries, 700 endings in a benchmark) costs a few renders, not one
    each, and shows the state after the last. The first change waits for no more than the
    loop's next turn. The render reads what it shows afresh: it runs after the change was
    committed, in a worker thread, with every other render due at that moment.

    Outside a server (a management command, a plain test) it renders and sends at once."""
    loop = _serving_loop()
    if loop is None:
        send(render(frozenset(audiences)))
        return
    audiences = {part: tuple(groups) for part, groups in audiences.items()}

    def hand_over():
        # In a context of its own: the render must not run inside the request that asked for
        # it (asgiref ties a request's worker thread to the request's context).
        loop.call_soon_threadsafe(
            _ask_later, key, render, every, audiences, context=contextvars.Context()
        )

    # Once the caller's transaction (if any) is committed: the render reads from another
    # connection. Outside a transaction, at once.
    transaction.on_commit(hand_over)


def send_command(pk: int, event_id: int, envelope: dict) -> None:
    """Hand a steering command to the pages in conversation `pk`'s room."""
    layer = get_channel_layer()
    async_to_sync(layer.group_send)(hosts_group(pk), command_message(event_id, envelope))
