"""ws/join/<token>/: the join page's relay, authorised by the join token alone."""

import json

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.test import Client

from studio.asgi import application
from studio.conversations.models import Conversation, Event, Utterance
from tests.conftest import make_user
from tests.join.conftest import joinable

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]
ORIGIN = [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")]


@sync_to_async
def setup(**fields):
    launcher = make_user("olivia", "Operator")
    return launcher, joinable(launcher, **fields)


async def connect(token):
    communicator = WebsocketCommunicator(application, f"/ws/join/{token}/", headers=ORIGIN)
    connected, code = await communicator.connect()
    return communicator, connected, code


async def staff_page(user, conversation):
    """The launcher's live page, to see what the join page's relay fans out."""

    @sync_to_async
    def cookie():
        client = Client()
        client.force_login(user)
        return f"sessionid={client.cookies['sessionid'].value}".encode()

    communicator = WebsocketCommunicator(
        application,
        f"/ws/conversations/{conversation.pk}/",
        headers=[*ORIGIN, (b"cookie", await cookie())],
    )
    connected, _ = await communicator.connect()
    assert connected
    await communicator.receive_from()  # the snapshot
    return communicator


def room_event(conversation_id, seq, speech, event_type="conversation.utterance", role="user"):
    return {
        "type": "room_event",
        "event": {
            "message_type": "conversation",
            "event_type": event_type,
            "conversation_id": conversation_id,
            "inference_id": f"inf-{seq}",
            "seq": seq,
            "properties": {"role": role, "speech": speech},
        },
    }


async def refused(pk, before=0):
    count = await sync_to_async(Utterance.objects.filter(conversation_id=pk).count)()
    return count == before


# --- Who may connect -------------------------------------------------------------------------


async def test_an_unknown_token_is_refused():
    await setup()
    _, connected, code = await connect("not-a-real-token")
    assert not connected and code == 4404


async def test_an_ended_conversation_is_refused():
    _, conversation = await setup()
    await sync_to_async(conversation.mark_ended)("participant_left_timeout")
    _, connected, code = await connect(conversation.join_token)
    assert not connected and code == 4410


async def test_no_sign_in_is_needed_and_no_staff_html_is_sent():
    launcher, conversation = await setup()
    communicator, connected, _ = await connect(conversation.join_token)
    assert connected
    staff = await staff_page(launcher, conversation)
    await communicator.send_json_to(room_event(conversation.tavus_id, 1, "Hello there"))
    pushed = await staff.receive_from()
    assert "Hello there" in pushed
    # The staff page's HTML (timeline, captions panel) never reaches the person's page.
    assert await communicator.receive_nothing(timeout=0.3)
    await communicator.disconnect()
    await staff.disconnect()


# --- The relay ------------------------------------------------------------------------------


async def test_relayed_captions_are_stored_and_reach_the_staff_pages():
    launcher, conversation = await setup()
    staff = await staff_page(launcher, conversation)
    communicator, _, _ = await connect(conversation.join_token)
    await communicator.send_json_to(room_event(conversation.tavus_id, 1, "Good morning"))
    assert "Good morning" in await staff.receive_from()
    texts = await sync_to_async(list)(
        Utterance.objects.filter(conversation=conversation).values_list("text", flat=True)
    )
    assert texts == ["Good morning"]
    await communicator.disconnect()
    await staff.disconnect()


async def test_an_event_for_another_conversation_is_refused():
    launcher, conversation = await setup()
    other = await sync_to_async(joinable)(launcher, title="Someone else's call")
    communicator, _, _ = await connect(conversation.join_token)
    await communicator.send_json_to(room_event(other.tavus_id, 1, "Injected line"))
    await communicator.send_json_to({"type": "heartbeat"})  # a round trip, so it was handled
    assert await communicator.receive_nothing(timeout=0.2)
    assert await refused(conversation.pk) and await refused(other.pk)
    await communicator.disconnect()


async def test_another_conversations_token_cannot_write_into_this_one():
    launcher, conversation = await setup()
    other = await sync_to_async(joinable)(launcher, title="Someone else's call")
    # Holding the other link gives a socket for the other conversation only.
    communicator, connected, _ = await connect(other.join_token)
    assert connected
    await communicator.send_json_to(room_event(conversation.tavus_id, 1, "Sneaky line"))
    await communicator.send_json_to({"type": "heartbeat"})
    assert await communicator.receive_nothing(timeout=0.2)
    assert await refused(conversation.pk) and await refused(other.pk)
    await communicator.disconnect()


async def test_oversized_and_malformed_messages_are_refused(settings):
    settings.RELAY_MAX_BYTES = 512
    _, conversation = await setup()
    communicator, _, _ = await connect(conversation.join_token)
    await communicator.send_json_to(room_event(conversation.tavus_id, 1, "x" * 600))
    await communicator.send_to(text_data="not json")
    await communicator.send_json_to({"type": "room_event", "event": "a string"})
    await communicator.send_json_to(
        room_event(conversation.tavus_id, 2, "hi", event_type="conversation.made_up")
    )
    await communicator.send_json_to({"type": "heartbeat"})
    assert await communicator.receive_nothing(timeout=0.2)
    assert await refused(conversation.pk)
    await communicator.disconnect()


async def test_a_flood_is_cut_off(settings):
    settings.RELAY_MAX_PER_SECOND = 3
    _, conversation = await setup()
    communicator, _, _ = await connect(conversation.join_token)
    for seq in range(1, 8):
        await communicator.send_json_to(room_event(conversation.tavus_id, seq, f"line {seq}"))
    await communicator.send_json_to({"type": "heartbeat"})
    await communicator.receive_nothing(timeout=0.2)
    count = await sync_to_async(Utterance.objects.filter(conversation=conversation).count)()
    assert count == 3
    await communicator.disconnect()


async def test_once_the_conversation_ends_events_are_refused_and_the_page_is_told():
    _, conversation = await setup()
    communicator, _, _ = await connect(conversation.join_token)
    await sync_to_async(conversation.mark_ended)("end_conversation_endpoint_hit")
    await communicator.send_json_to(room_event(conversation.tavus_id, 1, "Too late"))
    assert json.loads(await communicator.receive_from()) == {"type": "ended"}
    assert (await communicator.receive_output())["type"] == "websocket.close"
    assert await refused(conversation.pk)


# --- Host: heartbeat, steering commands, who relays ---------------------------------------------


async def test_the_heartbeat_makes_it_a_host_that_carries_commands():
    launcher, conversation = await setup()
    staff = await staff_page(launcher, conversation)
    communicator, _, _ = await connect(conversation.join_token)
    await communicator.send_json_to({"type": "heartbeat"})
    # The live pages learn who relays now.
    assert "Relaying from: the participant's join page" in await staff.receive_from()
    conversation = await sync_to_async(Conversation.objects.get)(pk=conversation.pk)
    assert conversation.host_pages == 1 and conversation.host_connected
    assert conversation.join_page_connected

    event = await sync_to_async(Event.objects.create)(
        conversation=conversation,
        source=Event.STUDIO,
        event_type="studio.steer",
        dedupe_key="steer:1",
        payload={"label": "Echo: hello"},
    )
    envelope = {"message_type": "conversation", "event_type": "conversation.echo"}
    await get_channel_layer().group_send(
        f"conversation-{conversation.pk}-hosts",
        {"type": "command", "id": event.pk, "envelope": envelope},
    )
    command = json.loads(await communicator.receive_from())
    assert command == {"studio_command": event.pk, "envelope": envelope}
    await communicator.send_json_to({"type": "command_ack", "id": event.pk})
    assert "sent into the room" in await staff.receive_from()

    await communicator.disconnect()
    assert "Relaying from: no page yet" in await staff.receive_from()
    conversation = await sync_to_async(Conversation.objects.get)(pk=conversation.pk)
    assert conversation.host_pages == 0 and conversation.join_page_seen_at is None
    await staff.disconnect()


async def test_a_heartbeat_after_the_end_closes_the_socket():
    _, conversation = await setup()
    communicator, _, _ = await connect(conversation.join_token)
    await sync_to_async(conversation.mark_ended)("max_call_duration")
    await communicator.send_json_to({"type": "heartbeat"})
    assert json.loads(await communicator.receive_from()) == {"type": "ended"}
    assert (await communicator.receive_output())["type"] == "websocket.close"
