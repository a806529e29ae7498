"""studio.lib.layers: the in-memory layer one process uses, and the Redis layer several share.

The Redis tests need REDIS_URL (`make test-scale` sets it); each uses a prefix of its own, so
runs sharing a Redis never hear each other."""

import asyncio
import os
import secrets

import pytest
from asgiref.sync import async_to_sync

from studio.lib.layers import FanOutInMemoryChannelLayer, RedisFanOutChannelLayer

REDIS_URL = os.environ.get("REDIS_URL", "")
needs_redis = pytest.mark.skipif(not REDIS_URL, reason="needs REDIS_URL (make test-scale)")


async def members(layer, count: int, group="g"):
    channels = [await layer.new_channel() for _ in range(count)]
    for channel in channels:
        await layer.group_add(group, channel)
    return channels


def test_every_member_gets_its_own_copy():
    async def scenario():
        layer = FanOutInMemoryChannelLayer()
        a, b = await members(layer, 2)
        message = {"type": "command", "id": 1}
        await layer.group_send("g", message)
        message["id"] = 2  # the sender reusing its dict changes nothing already sent
        got_a, got_b = await layer.receive(a), await layer.receive(b)
        got_a["id"] = 3
        return got_a, got_b

    got_a, got_b = asyncio.run(scenario())
    assert got_b == {"type": "command", "id": 1} and got_a["id"] == 3


def test_a_group_message_reaches_every_member_at_once_in_order():
    async def scenario():
        layer = FanOutInMemoryChannelLayer()
        channels = await members(layer, 3)
        for html in ("<p id=a></p>", "<p id=b></p>"):
            await layer.group_send("g", {"type": "push", "html": html})
        # Already in every member's channel: nothing waits for a batch here any more.
        return [[layer.channels[c].get_nowait()[1]["html"] for _ in range(2)] for c in channels]

    assert asyncio.run(scenario()) == [["<p id=a></p>", "<p id=b></p>"]] * 3


def test_a_full_channel_misses_the_message_and_the_others_get_it():
    async def scenario():
        layer = FanOutInMemoryChannelLayer(capacity=1)
        full, other = await members(layer, 2)
        await layer.group_send("g", {"type": "push", "html": "1"})
        await layer.receive(other)
        await layer.group_send("g", {"type": "push", "html": "2"})  # `full` still holds "1"
        got = await layer.receive(full), await layer.receive(other)
        return got, layer.channels[full].qsize()

    (first, other), left = asyncio.run(scenario())
    assert first["html"] == "1" and other["html"] == "2"
    assert left == 0  # "2" never reached the full channel


def test_a_receiving_channel_keeps_its_queue_and_a_deserted_one_is_swept():
    async def scenario():
        layer = FanOutInMemoryChannelLayer()
        kept, gone = await members(layer, 2)
        waiting = asyncio.ensure_future(layer.receive(kept))
        await layer.group_send("g", {"type": "push", "html": "A"})
        await layer.receive(gone)  # and nobody receives from `gone` again
        await waiting
        again = asyncio.ensure_future(layer.receive(kept))  # the socket waits for the next
        await asyncio.sleep(0)
        layer._swept_at = 0  # a second later
        layer._clean_expired()
        state = (kept in layer.channels, gone in layer.channels)
        again.cancel()
        return state

    assert asyncio.run(scenario()) == (True, False)


def test_flush_forgets_channels_and_groups():
    async def scenario():
        layer = FanOutInMemoryChannelLayer()
        await members(layer, 2)
        await layer.group_send("g", {"type": "push", "html": "A"})
        await layer.flush()
        return layer.channels, layer.groups

    assert asyncio.run(scenario()) == ({}, {})


# --- Redis: several processes ----------------------------------------------------------------


def redis_layer(prefix: str) -> RedisFanOutChannelLayer:
    return RedisFanOutChannelLayer(hosts=[REDIS_URL], prefix=prefix)


async def settle():
    await asyncio.sleep(0.2)  # subscriptions reach Redis before anything is published


@needs_redis
def test_a_group_message_crosses_redis_once_per_process_and_reaches_every_member():
    prefix = f"test-{secrets.token_hex(4)}"

    async def scenario():
        one, two = redis_layer(prefix), redis_layer(prefix)  # two processes
        mine, theirs = await members(one, 2), await members(two, 3)
        await settle()
        await one.group_send("g", {"type": "push", "html": "<p>hello</p>"})
        got = [await asyncio.wait_for(one.receive(c), 2) for c in mine]
        got += [await asyncio.wait_for(two.receive(c), 2) for c in theirs]
        await asyncio.sleep(0.2)
        # Each member got it exactly once, the sender's own members included.
        left = [two._layer().channels[c].qsize() for c in theirs]
        left += [one._layer().channels[c].qsize() for c in mine]
        await one.flush()
        await two.flush()
        return got, left

    got, left = asyncio.run(scenario())
    assert got == [{"type": "push", "html": "<p>hello</p>"}] * 5
    assert left == [0] * 5


@needs_redis
def test_a_message_for_one_channel_reaches_the_process_that_made_it():
    prefix = f"test-{secrets.token_hex(4)}"

    async def scenario():
        one, two = redis_layer(prefix), redis_layer(prefix)
        channel = await two.new_channel()
        await settle()
        await one.send(channel, {"type": "command", "id": 7})
        got = await asyncio.wait_for(two.receive(channel), 2)
        await one.flush()
        await two.flush()
        return got

    assert asyncio.run(scenario()) == {"type": "command", "id": 7}


@needs_redis
def test_a_round_trip_through_a_fresh_channel_leaves_nothing_behind():
    # What /healthz does on every call: new_channel, send, receive. Nothing may pile up.
    prefix = f"test-{secrets.token_hex(4)}"

    async def scenario():
        layer = redis_layer(prefix)
        for n in range(20):
            channel = await layer.new_channel()
            await layer.send(channel, {"type": "health.ping", "n": n})
            assert await asyncio.wait_for(layer.receive(channel), 2) == {
                "type": "health.ping",
                "n": n,
            }
        loop_layer = layer._layer()
        loop_layer._swept_at = 0  # as a second later: the sweep drops what nobody waits on
        loop_layer._clean_expired()
        state = (dict(loop_layer.channels), set(loop_layer.subscribed))
        await layer.flush()
        return state, prefix

    (channels, subscribed), prefix = asyncio.run(scenario())
    assert channels == {}
    assert len(subscribed) == 1 and ":process:" in subscribed.pop()  # its own, and no more


@needs_redis
def test_a_process_whose_last_member_left_stops_hearing_the_group():
    prefix = f"test-{secrets.token_hex(4)}"

    async def scenario():
        one, two = redis_layer(prefix), redis_layer(prefix)
        (channel,) = await members(two, 1)
        await two.group_discard("g", channel)
        await settle()
        await one.group_send("g", {"type": "push", "html": "late"})
        await asyncio.sleep(0.3)
        state = (two._layer().channels.get(channel), set(two._layer().subscribed))
        await one.flush()
        await two.flush()
        return state

    queued, subscribed = asyncio.run(scenario())
    assert queued is None
    assert not any(":group:" in key for key in subscribed)


@needs_redis
def test_two_redis_databases_never_hear_each_other():
    # Pub/sub channels are server-wide: the database number in REDIS_URL keeps studios apart.
    prefix = f"test-{secrets.token_hex(4)}"
    base, _, db = REDIS_URL.rpartition("/")
    other = f"{base}/{(int(db) if db.isdigit() else 0) + 1}"

    async def scenario():
        one = redis_layer(prefix)
        two = RedisFanOutChannelLayer(hosts=[other], prefix=prefix)
        (channel,) = await members(two, 1)
        await settle()
        await one.group_send("g", {"type": "push", "html": "not for you"})
        await asyncio.sleep(0.3)
        queued = two._layer().channels.get(channel)
        await one.flush()
        await two.flush()
        return queued

    assert asyncio.run(scenario()) is None


@needs_redis
def test_sync_code_outside_a_server_can_publish():
    # A management command: each async_to_sync call runs in a loop of its own, which closes
    # right after; the layer closes that loop's connection with it.
    prefix = f"test-{secrets.token_hex(4)}"
    layer = redis_layer(prefix)
    for n in range(3):
        async_to_sync(layer.group_send)("g", {"type": "push", "html": str(n)})
    assert layer._layers == {}  # each loop's layer went with its loop
