import json

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from studio.asgi import application
from studio.conversations import consumers
from studio.conversations.models import Conversation, Utterance
from tests.conftest import make_user
from tests.conversations.factories import make_conversation, steer_event

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


@sync_to_async
def cookie_for(user):
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


@sync_to_async
def setup(launcher_role="Operator"):
    launcher = make_user("olivia", launcher_role)
    conversation, _ = make_conversation(launcher)
    return launcher, conversation


async def connect(user, conversation):
    headers = [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")]
    if user is not None:
        headers.append((b"cookie", await cookie_for(user)))
    communicator = WebsocketCommunicator(
        application, f"/ws/conversations/{conversation.pk}/", headers=headers
    )
    connected, code = await communicator.connect()
    return communicator, connected, code


def utterance(conversation, seq, speech, role="user"):
    return {
        "type": "room_event",
        "event": {
            "message_type": "conversation",
            "event_type": "conversation.utterance",
            "conversation_id": conversation.tavus_id,
            "inference_id": f"inf-{seq}",
            "seq": seq,
            "timestamp": 1764064800.5,
            "properties": {"role": role, "speech": speech},
        },
    }


async def test_anonymous_socket_is_refused():
    _, conversation = await setup()
    communicator, connected, code = await connect(None, conversation)
    assert not connected and code == 4403


async def test_another_operator_is_refused():
    _, conversation = await setup()
    other = await sync_to_async(make_user)("oscar", "Operator")
    communicator, connected, code = await connect(other, conversation)
    assert not connected and code == 4403


async def test_launcher_gets_the_current_state_on_connect():
    launcher, conversation = await setup()
    await sync_to_async(Utterance.objects.create)(
        conversation=conversation, role="user", text="Earlier line", dedupe_key="seq:1"
    )
    communicator, connected, _ = await connect(launcher, conversation)
    assert connected
    snapshot = await communicator.receive_from()
    assert 'id="live-status"' in snapshot and 'id="captions"' in snapshot
    assert "Earlier line" in snapshot
    await communicator.disconnect()


async def test_a_relayed_utterance_reaches_a_supervisor_once():
    launcher, conversation = await setup()
    supervisor = await sync_to_async(make_user)("sam", "Supervisor")
    relay, _, _ = await connect(launcher, conversation)
    watcher, connected, _ = await connect(supervisor, conversation)
    assert connected
    await relay.receive_from()
    await watcher.receive_from()
    message = utterance(conversation, 5, "I'd like to practise <b>negotiation</b>")
    await relay.send_to(text_data=json.dumps(message))
    pushed = await watcher.receive_from()
    assert "I&#x27;d like to practise &lt;b&gt;negotiation&lt;/b&gt;" in pushed
    assert 'hx-swap-oob="beforeend"' in pushed
    # The same event relayed again (a second page in the room) adds no caption.
    await relay.send_to(text_data=json.dumps(message))
    assert await watcher.receive_nothing(timeout=0.3)
    assert await sync_to_async(Utterance.objects.filter(conversation=conversation).count)() == 1
    await relay.disconnect()
    await watcher.disconnect()


async def test_reconnect_snapshot_has_the_captions_so_far():
    launcher, conversation = await setup()
    relay, _, _ = await connect(launcher, conversation)
    await relay.receive_from()
    await relay.send_to(text_data=json.dumps(utterance(conversation, 1, "First")))
    await relay.receive_from()
    await relay.disconnect()
    again, _, _ = await connect(launcher, conversation)
    assert "First" in await again.receive_from()
    await again.disconnect()


@pytest.mark.parametrize(
    "payload",
    [
        "not json",
        json.dumps({"type": "something_else"}),
        json.dumps({"type": "room_event", "event": "nope"}),
        json.dumps(
            {
                "type": "room_event",
                "event": {"message_type": "conversation", "event_type": "conversation.unknown"},
            }
        ),
        "x" * 5000,
    ],
)
async def test_bad_messages_are_refused_without_closing(payload):
    launcher, conversation = await setup()
    communicator, _, _ = await connect(launcher, conversation)
    await communicator.receive_from()
    await communicator.send_to(text_data=payload)
    assert await communicator.receive_nothing(timeout=0.3)
    # Still alive: a good message goes through afterwards.
    await communicator.send_to(text_data=json.dumps(utterance(conversation, 9, "Still here")))
    assert "Still here" in await communicator.receive_from()
    await communicator.disconnect()


async def test_events_for_another_conversation_are_refused():
    launcher, conversation = await setup()
    communicator, _, _ = await connect(launcher, conversation)
    await communicator.receive_from()
    foreign = utterance(conversation, 3, "Sneaky")
    foreign["event"]["conversation_id"] = "c999999999"
    await communicator.send_to(text_data=json.dumps(foreign))
    assert await communicator.receive_nothing(timeout=0.3)
    assert not await sync_to_async(Utterance.objects.exists)()
    await communicator.disconnect()


async def test_too_frequent_messages_are_refused(settings):
    settings.RELAY_MAX_PER_SECOND = 3
    launcher, conversation = await setup()
    communicator, _, _ = await connect(launcher, conversation)
    await communicator.receive_from()
    for seq in range(1, 8):
        await communicator.send_to(text_data=json.dumps(utterance(conversation, seq, f"L{seq}")))
    received = []
    while not await communicator.receive_nothing(timeout=0.3):
        received.append(await communicator.receive_from())
    # Pushes close together may share a frame (studio.conversations.push): count the lines.
    assert "".join(received).count('class="caption role-') == 3
    await communicator.disconnect()


async def test_streaming_updates_the_live_line_in_place():
    launcher, conversation = await setup()
    communicator, _, _ = await connect(launcher, conversation)
    await communicator.receive_from()
    event = {
        "message_type": "conversation",
        "event_type": "conversation.utterance.streaming",
        "conversation_id": conversation.tavus_id,
        "inference_id": "inf-1",
        "seq": 2,
        "properties": {"role": "replica", "speech": "Hello the", "final": False},
    }
    await communicator.send_to(text_data=json.dumps({"type": "room_event", "event": event}))
    pushed = await communicator.receive_from()
    assert 'id="streaming-replica"' in pushed and "Hello the" in pushed
    assert not await sync_to_async(Utterance.objects.exists)()
    await communicator.disconnect()


async def test_recording_started_in_the_room_shows_the_indicator():
    launcher, conversation = await setup()
    communicator, _, _ = await connect(launcher, conversation)
    await communicator.receive_from()
    message = {"type": "recording", "state": "started"}
    await communicator.send_to(text_data=json.dumps(message))
    pushed = await communicator.receive_from()
    assert "● Recording" in pushed and "Recording started" in pushed
    await communicator.disconnect()


# --- A staff page in the room: presence, limits, refusals --------------------------------------


@sync_to_async
def fresh(conversation):
    return Conversation.objects.get(pk=conversation.pk)


def presence(state, participant_id, own=False, name=""):
    return json.dumps(
        {"type": "presence", "state": state, "self": own, "participant_id": participant_id,
         "name": name}
    )


async def test_a_staff_page_reports_everyone_it_sees_each_counted_once():
    launcher, conversation = await setup()
    page, _, _ = await connect(launcher, conversation)
    await page.receive_from()
    await page.send_to(text_data=presence("joined", "host-1", own=True, name="olivia"))
    assert "People in room" in await page.receive_from()
    for _ in range(3):  # the same person again (a second page in the room saw them too)
        await page.send_to(text_data=presence("joined", "robin-1", name="Robin"))
    await page.receive_from()
    assert await page.receive_nothing(timeout=0.2)
    row = await fresh(conversation)
    assert row.people_in_room == 2 and set(row.room_people) == {"host-1", "robin-1"}
    # The sandbox's room says who came and went itself (Tavus's own events): by participant.
    tavus_left = utterance(conversation, 9, "")
    tavus_left["event"].update(event_type="conversation.left")
    tavus_left["event"]["properties"] = {"role": "user", "participant_id": "robin-1"}
    await page.send_to(text_data=json.dumps(tavus_left))
    await page.receive_from()
    assert set((await fresh(conversation)).room_people) == {"host-1"}
    # The page goes: its own person leaves with it.
    await page.disconnect()
    assert (await fresh(conversation)).people_in_room == 0


async def test_a_page_that_leaves_the_room_stops_being_a_host_at_once():
    launcher, conversation = await setup()
    page, _, _ = await connect(launcher, conversation)
    await page.receive_from()
    await page.send_to(text_data=json.dumps({"type": "heartbeat"}))
    await page.send_to(text_data=presence("joined", "host-1", own=True))
    await page.receive_from()
    row = await fresh(conversation)
    assert row.host_pages == 1 and row.people_in_room == 1
    await page.send_to(text_data=json.dumps({"type": "leaving"}))
    await page.receive_from()  # the live page's status: nobody in the room
    row = await fresh(conversation)
    assert row.host_pages == 0 and row.people_in_room == 0 and row.nobody_in_room
    await page.disconnect()


async def test_a_staff_page_cannot_confirm_a_command_it_never_got():
    launcher, conversation = await setup()
    page, _, _ = await connect(launcher, conversation)
    await page.receive_from()
    event = await sync_to_async(steer_event)(conversation, "Echo: hi")
    await page.send_to(text_data=json.dumps({"type": "command_ack", "id": event.pk}))
    assert await page.receive_nothing(timeout=0.3)
    await sync_to_async(event.refresh_from_db)()
    assert event.payload["delivered"] is False
    await page.disconnect()


@pytest.fixture
def frozen_relay_clock(monkeypatch):
    """The relay limits' clock stands still: every message falls in one window."""
    monkeypatch.setattr(consumers, "_now", lambda: 1000.0)
    monkeypatch.setattr(consumers.Budget, "windows", {})


async def test_the_conversations_budget_holds_across_its_sockets(settings, frozen_relay_clock):
    settings.RELAY_MAX_PER_SECOND = 10
    settings.RELAY_CONVERSATION_MAX_PER_SECOND = 15
    launcher, conversation = await setup()
    supervisors = [
        await sync_to_async(make_user)(f"sam{n}", "Supervisor") for n in range(3)
    ]
    pages = []
    for user in [launcher, *supervisors]:
        page, _, _ = await connect(user, conversation)
        await page.receive_from()
        pages.append(page)
    for n, page in enumerate(pages):  # four sockets, twenty lines each
        for line in range(20):
            seq = n * 100 + line
            await page.send_to(text_data=json.dumps(utterance(conversation, seq, f"L{seq}")))
    for page in pages:
        while not await page.receive_nothing(timeout=0.3):
            await page.receive_from()
    stored = await sync_to_async(Utterance.objects.filter(conversation=conversation).count)()
    assert stored == 15
    for page in pages:
        await page.disconnect()


async def test_refusals_are_logged_once_per_burst(settings, frozen_relay_clock, caplog):
    settings.RELAY_MAX_PER_SECOND = 2
    caplog.set_level("INFO", logger="studio.conversations.consumers")
    launcher, conversation = await setup()
    page, _, _ = await connect(launcher, conversation)
    await page.receive_from()
    for seq in range(12):
        await page.send_to(text_data=json.dumps(utterance(conversation, seq, f"L{seq}")))
    await page.receive_from()
    await page.receive_from()
    assert await page.receive_nothing(timeout=0.3)
    await page.disconnect()
    lines = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert lines == [
        f"conversation {conversation.pk}: refused a message from the live page's relay "
        "(too frequent for one socket)",
        f"conversation {conversation.pk}: refused 9 more messages from the live page's relay "
        "(too frequent for one socket ×9)",
    ]

