import json

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from studio.asgi import application
from studio.conversations.models import Utterance
from tests.conftest import make_user
from tests.conversations.factories import make_conversation

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
    headers = [(b"origin", b"http://127.0.0.1")]
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
    message = {
        "type": "room_event",
        "event": {"message_type": "sandbox", "event_type": "recording-started"},
    }
    await communicator.send_to(text_data=json.dumps(message))
    pushed = await communicator.receive_from()
    assert "● Recording" in pushed and "Recording started" in pushed
    await communicator.disconnect()
