"""studio.lib.layers.FanOutInMemoryChannelLayer: the in-memory layer a single process uses."""

import asyncio

from studio.lib.layers import FanOutInMemoryChannelLayer


def layer_with(members: int, *, batch_members=3, batch_window=0.05):
    async def make():
        layer = FanOutInMemoryChannelLayer()
        layer.batch_members, layer.batch_window = batch_members, batch_window
        channels = [await layer.new_channel() for _ in range(members)]
        for channel in channels:
            await layer.group_add("g", channel)
        return layer, channels

    return make()


def test_every_member_gets_its_own_copy():
    async def scenario():
        layer, (a, b) = await layer_with(2)
        message = {"type": "command", "id": 1}
        await layer.group_send("g", message)
        message["id"] = 2  # the sender reusing its dict changes nothing already sent
        got_a, got_b = await layer.receive(a), await layer.receive(b)
        got_a["id"] = 3
        return got_a, got_b

    got_a, got_b = asyncio.run(scenario())
    assert got_b == {"type": "command", "id": 1} and got_a["id"] == 3


def test_a_small_group_gets_each_push_at_once():
    async def scenario():
        layer, (a, b) = await layer_with(2)
        await layer.group_send("g", {"type": "push", "html": "<p id=one></p>"})
        first = await asyncio.wait_for(layer.receive(a), 0.01)  # no batching delay
        await layer.group_send("g", {"type": "push", "html": "<p id=two></p>"})
        return first, await layer.receive(a), await layer.receive(b), await layer.receive(b)

    one, two, b_one, b_two = asyncio.run(scenario())
    assert one == b_one == {"type": "push", "html": "<p id=one></p>"}
    assert two == b_two == {"type": "push", "html": "<p id=two></p>"}


def test_a_big_group_gets_the_pushes_of_one_window_in_one_frame_in_order():
    async def scenario():
        layer, members = await layer_with(3)
        for html in ("<p id=a></p>", "<p id=b></p>", "<p id=c></p>"):
            await layer.group_send("g", {"type": "push", "html": html})
        assert all(layer.channels.get(m) is None for m in members)  # held for the window
        frames = [await layer.receive(m) for m in members]
        await layer.group_send("g", {"type": "push", "html": "<p id=d></p>"})
        later = await layer.receive(members[0])
        return frames, later

    frames, later = asyncio.run(scenario())
    assert frames == [{"type": "push", "html": "<p id=a></p><p id=b></p><p id=c></p>"}] * 3
    assert later == {"type": "push", "html": "<p id=d></p>"}  # the next window, a new frame


def test_nothing_overtakes_a_waiting_batch():
    async def scenario():
        layer, members = await layer_with(3, batch_window=10)
        await layer.group_send("g", {"type": "push", "html": "A"})
        await layer.group_send("g", {"type": "command", "id": 7})  # sends the batch first
        return [await asyncio.wait_for(layer.receive(members[0]), 1) for _ in range(2)]

    assert asyncio.run(scenario()) == [{"type": "push", "html": "A"}, {"type": "command", "id": 7}]


def test_flush_drops_a_waiting_batch():
    async def scenario():
        layer, members = await layer_with(3)
        await layer.group_send("g", {"type": "push", "html": "A"})
        await layer.flush()
        await asyncio.sleep(0.1)  # the window passes: nothing is left to send
        return layer.channels

    assert asyncio.run(scenario()) == {}
