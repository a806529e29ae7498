"""studio.conversations.push: batching in the push path (whatever the channel layer), sending
from sync code without waiting, and throttled renders."""

import asyncio

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


@pytest.mark.asyncio
@pytest.mark.django_db  # the later render runs through database_sync_to_async
async def test_a_throttled_render_runs_now_then_once_for_a_burst_with_every_part_asked():
    layer, channel = await listener("push-t")
    renders = []

    def render(parts):
        renders.append(sorted(parts))
        return [("push-t", f"render {len(renders)}")]

    def ask(*parts):
        pushes = push.throttled("test-key", render, 0.2, parts)
        push.send(pushes)
        return pushes

    first = await sync_to_async(ask)("page")
    later = [await sync_to_async(ask)(part) for part in ("page", "wall", "page")]
    assert first == [("push-t", "render 1")] and later == [[], [], []]
    got = await received(layer, channel, 2)
    assert [m["html"] for m in got] == ["render 1", "render 2"]
    assert renders == [["page"], ["page", "wall"]]  # one render later, of all that was asked
    assert await nothing_more(layer, channel)


def test_a_throttled_render_outside_a_server_always_runs():
    calls = []
    for _ in range(3):
        push.throttled("test-key", lambda parts: calls.append(parts) or [], 10)
    assert len(calls) == 3


@pytest.mark.asyncio
async def test_each_event_loop_throttles_on_its_own():
    # A render scheduled on a loop that has since closed must not hold back a new loop's.
    def ask():
        return push.throttled("shared-key", lambda parts: [("g", "rendered")], 60)

    assert await sync_to_async(ask)() == [("g", "rendered")]

    def in_another_loop():
        async def run():
            return await sync_to_async(ask)()

        return asyncio.run(run())

    assert await asyncio.to_thread(in_another_loop) == [("g", "rendered")]
