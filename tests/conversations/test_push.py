"""studio.conversations.push: batching in the push path (whatever the channel layer), sending
from sync code without waiting, and renders on the push path (`later`)."""

import asyncio
import time

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from studio.conversations import push


async def listener(*groups):
    layer = get_channel_layer()
    channel = await layer.new_channel()
    for group in groups:
        await layer.group_add(group, channel)
    await asyncio.sleep(0.1)  # a Redis layer's subscription is in place
    return layer, channel


async def received(layer, channel, count):
    return [await asyncio.wait_for(layer.receive(channel), 2) for _ in range(count)]


async def nothing_more(layer, channel):
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(layer.receive(channel), 0.3)
    return True


@pytest.mark.asyncio
async def test_pushes_given_in_one_turn_go_out_as_one_message_per_group_in_order():
    layer, channel = await listener("push-a", "push-b")
    await push.send_async([("push-a", "<p id=1></p>"), ("push-b", "<p id=x></p>")])
    await push.send_async([("push-a", "<p id=2></p>"), ("push-a", ""), ("push-a", "<p id=3>")])
    got = await received(layer, channel, 2)
    assert sorted(m["html"] for m in got) == ["<p id=1></p><p id=2></p><p id=3>", "<p id=x></p>"]
    assert all(m["type"] == "push" for m in got)
    assert await nothing_more(layer, channel)


@pytest.mark.asyncio
async def test_a_push_given_after_the_loop_turned_goes_out_on_its_own():
    # An idle loop sends each push at once: batching costs no wait.
    layer, channel = await listener("push-a")
    await push.send_async([("push-a", "first")])
    (first,) = await received(layer, channel, 1)
    await push.send_async([("push-a", "second")])
    (second,) = await received(layer, channel, 1)
    assert (first["html"], second["html"]) == ("first", "second")


@pytest.mark.asyncio
async def test_sync_code_in_a_worker_thread_hands_its_pushes_to_the_loop():
    layer, channel = await listener("push-a")

    def worker():
        push.send([("push-a", "one")])
        push.send([("push-a", "two")])
        return push._serving_loop()

    loop = await sync_to_async(worker)()
    assert loop is asyncio.get_running_loop()
    got = await received(layer, channel, 1)
    assert got[0]["html"] in ("onetwo", "one")
    if got[0]["html"] == "one":  # the loop turned between the two hand-overs
        assert (await received(layer, channel, 1))[0]["html"] == "two"


def test_sync_code_outside_a_server_sends_at_once():
    async def listen():
        return await listener("push-a")

    async def take(layer, channel):
        return await asyncio.wait_for(layer.receive(channel), 2)

    loop = asyncio.new_event_loop()
    try:
        layer, channel = loop.run_until_complete(listen())
        assert push._serving_loop() is None
        push.send([("push-a", "now")])  # no loop to hand over to: sent before it returns
        assert loop.run_until_complete(take(layer, channel))["html"] == "now"
    finally:
        loop.close()


def test_nothing_to_send_sends_nothing():
    push.send([("push-a", ""), ("push-b", "")])  # no loop, no layer call, no error


def _recorder(group):
    renders = []

    def render(parts):
        renders.append(sorted(parts))
        return [(group, f"render {len(renders)}")]

    return renders, render


@pytest.mark.asyncio
@pytest.mark.django_db  # renders run through database_sync_to_async
async def test_a_later_render_runs_after_the_caller_then_once_for_a_burst_with_every_part():
    layer, channel = await listener("push-t")
    renders, render = _recorder("push-t")

    def ask(*parts):
        push.later("test-key", render, 0.2, {part: ["push-t"] for part in parts})
        return list(renders)  # what had rendered by the time the caller returned

    assert await sync_to_async(ask)("page") == []  # not in the caller's thread
    assert [m["html"] for m in await received(layer, channel, 1)] == ["render 1"]
    for part in ("page", "wall", "page"):
        await sync_to_async(ask)(part)
    assert [m["html"] for m in await received(layer, channel, 1)] == ["render 2"]
    assert renders == [["page"], ["page", "wall"]]  # one render for the burst, of all it asked
    assert await nothing_more(layer, channel)


@pytest.mark.asyncio
@pytest.mark.django_db
async def test_a_later_render_shows_only_the_parts_someone_listens_to():
    layer, channel = await listener("push-page")
    renders, render = _recorder("push-page")

    def ask(audiences):
        push.later("test-key", render, 0, audiences)

    await sync_to_async(ask)({"page": ["push-page"], "wall": ["push-wall", "push-board"]})
    await received(layer, channel, 1)
    assert renders == [["page"]]
    # Nobody in any of its groups: not rendered at all.
    await sync_to_async(ask)({"wall": ["push-wall", "push-board"]})
    await asyncio.sleep(0.2)
    assert renders == [["page"]]
    # A socket joins the board: the next change renders for it.
    await layer.group_add("push-board", channel)
    await sync_to_async(ask)({"wall": ["push-wall", "push-board"]})
    await received(layer, channel, 1)
    assert renders == [["page"], ["wall"]]


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_later_render_asked_inside_a_transaction_waits_for_its_commit():
    # The render reads from another connection: asked before the change is committed, it
    # would show the state before it.
    from django.db import transaction

    layer, channel = await listener("push-c")
    renders, render = _recorder("push-c")

    def change_then_ask():
        with transaction.atomic():
            push.later("test-key", render, 0, {"page": ["push-c"]})
            time.sleep(0.3)  # the loop and its render thread are free meanwhile
            return list(renders)

    # A thread of its own, so the render's worker thread is free while the change is open.
    assert await sync_to_async(change_then_ask, thread_sensitive=False)() == []
    assert [m["html"] for m in await received(layer, channel, 1)] == ["render 1"]


@pytest.mark.asyncio
@pytest.mark.django_db
async def test_renders_due_together_go_out_together_and_a_failing_one_spoils_nothing():
    layer, channel = await listener("push-a", "push-b")

    def broken(parts):
        raise RuntimeError("template went missing")

    def ask():
        push.later("key-a", lambda parts: [("push-a", "a")], 0, {"a": ["push-a"]})
        push.later("key-broken", broken, 0, {"a": ["push-a"]})
        push.later("key-b", lambda parts: [("push-b", "b")], 0, {"b": ["push-b"]})

    await sync_to_async(ask)()
    got = await received(layer, channel, 2)
    assert sorted(m["html"] for m in got) == ["a", "b"]
    assert await nothing_more(layer, channel)


def test_a_later_render_outside_a_server_renders_and_sends_at_once():
    calls = []

    async def listen():
        return await listener("push-a")

    loop = asyncio.new_event_loop()
    try:
        layer, channel = loop.run_until_complete(listen())
        for _ in range(2):
            push.later("test-key", lambda parts: calls.append(parts) or [("push-a", "x")], 10, {
                "page": ["push-a"]
            })
        assert calls == [frozenset({"page"})] * 2
        got = loop.run_until_complete(received(layer, channel, 2))
        assert [m["html"] for m in got] == ["x", "x"]
    finally:
        loop.close()


@pytest.mark.asyncio
@pytest.mark.django_db
async def test_each_event_loop_spaces_its_renders_on_its_own():
    # A render spaced on a loop that has since closed must not hold back a new loop's.
    def ask(done):
        push.later("shared-key", lambda parts: done.append(parts) or [], 60, {"p": ["g"]})

    async def twice(done):
        layer, channel = await listener("g")
        await sync_to_async(ask)(done)
        while not done:
            await asyncio.sleep(0.01)

    first, second = [], []
    await twice(first)
    await asyncio.to_thread(lambda: asyncio.run(twice(second)))
    assert first == second == [frozenset({"p"})]
