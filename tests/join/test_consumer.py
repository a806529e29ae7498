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
from tests.conversations.factories import steer_event
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
    settings.RELAY_MAX_CHARS = 512
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
    assert "Captions are coming from the participant's page." in await staff.receive_from()
    conversation = await sync_to_async(Conversation.objects.get)(pk=conversation.pk)
    assert conversation.host_pages == 1 and conversation.host_connected
    assert conversation.join_page_connected

    event = await sync_to_async(steer_event)(conversation, "Echo: hello")
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
    assert "No captions yet: they start once someone joins" in await staff.receive_from()
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


# --- What a participant's page may report (studio/conversations/consumers.py's table) ---------


async def flush(join, staff, conversation, seq):
    """A good line through the join socket, awaited on the staff page: everything the join
    socket got before it has been handled (a socket's messages are handled in order)."""
    await join.send_json_to(room_event(conversation.tavus_id, seq, f"marker {seq}"))
    while f"marker {seq}" not in await staff.receive_from():
        pass


@sync_to_async
def fresh(conversation):
    return Conversation.objects.get(pk=conversation.pk)


async def test_it_takes_the_replicas_words_the_person_cannot_type_them_into_other_mouths():
    launcher, conversation = await setup()
    staff = await staff_page(launcher, conversation)
    join, _, _ = await connect(conversation.join_token)
    # The page keeps only the replica's app-messages (relay.js), and is the only witness of
    # the captions when no staff page is in the room: the replica's words are taken.
    await join.send_json_to(room_event(conversation.tavus_id, 1, "Welcome!", role="replica"))
    await join.send_json_to(room_event(conversation.tavus_id, 2, "Hi", role="pal"))
    # Speakers Tavus never names are not: a made-up one, and one too long to store.
    await join.send_json_to(room_event(conversation.tavus_id, 3, "I am the CEO", role="ceo"))
    await join.send_json_to(room_event(conversation.tavus_id, 4, "x", role="narrator" * 5))
    await flush(join, staff, conversation, 5)
    rows = await sync_to_async(list)(
        Utterance.objects.filter(conversation=conversation).values_list("role", "text")
    )
    assert rows == [("replica", "Welcome!"), ("replica", "Hi"), ("user", "marker 5")]
    await join.disconnect()
    await staff.disconnect()


async def test_presence_counts_the_person_once_and_nobody_else():
    launcher, conversation = await setup()
    staff = await staff_page(launcher, conversation)
    join, _, _ = await connect(conversation.join_token)
    tavus_joined = room_event(conversation.tavus_id, 1, "", event_type="conversation.joined")
    # The old forgery: Tavus-style joined events, five of them. Refused from this page.
    for n in range(5):
        tavus_joined["event"]["inference_id"] = f"join-{n}"
        tavus_joined["event"]["properties"]["participant_id"] = f"ghost-{n}"
        await join.send_json_to(tavus_joined)
    # Its own person, reported five times: one person.
    for _ in range(5):
        await join.send_json_to(
            {"type": "presence", "state": "joined", "self": True, "participant_id": "robin-1"}
        )
    # Someone else, or a second "self": a participant's page reports only itself.
    await join.send_json_to(
        {"type": "presence", "state": "joined", "self": False, "participant_id": "mallory-1"}
    )
    await join.send_json_to(
        {"type": "presence", "state": "joined", "self": True, "participant_id": "robin-2"}
    )
    await flush(join, staff, conversation, 2)
    row = await fresh(conversation)
    assert row.people_in_room == 1 and set(row.room_people) == {"robin-1"}
    assert row.person_joined_at is not None
    joined = await sync_to_async(list)(
        Event.objects.filter(conversation=conversation, event_type="conversation.joined")
    )
    assert [e.payload["properties"]["participant_id"] for e in joined] == ["robin-1"]
    # It cannot take anyone else out either.
    await sync_to_async(row.note_presence)("host-1", present=True, name="olivia")
    await join.send_json_to(
        {"type": "presence", "state": "left", "self": False, "participant_id": "host-1"}
    )
    await flush(join, staff, conversation, 3)
    assert set((await fresh(conversation)).room_people) == {"robin-1", "host-1"}
    await join.disconnect()
    await staff.disconnect()


async def test_when_the_join_page_leaves_its_person_leaves_with_it():
    launcher, conversation = await setup()
    staff = await staff_page(launcher, conversation)
    join, _, _ = await connect(conversation.join_token)
    await join.send_json_to({"type": "heartbeat"})
    await join.send_json_to(
        {"type": "presence", "state": "joined", "self": True, "participant_id": "robin-1"}
    )
    await flush(join, staff, conversation, 1)
    assert (await fresh(conversation)).people_in_room == 1
    # Daily's left-meeting or the tab's pagehide: the page says it is leaving.
    await join.send_json_to({"type": "leaving"})
    await flush(join, staff, conversation, 2)
    row = await fresh(conversation)
    assert row.people_in_room == 0 and row.host_pages == 0 and row.join_page_seen_at is None
    # A socket that just closes (the tab crashed) takes its person out too.
    await join.send_json_to(
        {"type": "presence", "state": "joined", "self": True, "participant_id": "robin-1"}
    )
    await flush(join, staff, conversation, 3)
    await join.disconnect()
    while "0" not in await staff.receive_from():  # the live page learns it
        pass
    assert (await fresh(conversation)).people_in_room == 0
    await staff.disconnect()


async def test_a_forged_recording_start_is_refused():
    launcher, conversation = await setup()
    staff = await staff_page(launcher, conversation)
    join, _, _ = await connect(conversation.join_token)
    await join.send_json_to({"type": "recording", "state": "started"})
    sandbox_style = {"message_type": "sandbox", "event_type": "recording-started"}
    await join.send_json_to({"type": "room_event", "event": sandbox_style})
    await flush(join, staff, conversation, 1)
    assert (await fresh(conversation)).recording_started_at is None
    await join.disconnect()
    await staff.disconnect()


async def test_an_ack_counts_only_for_a_command_sent_to_that_socket():
    launcher, conversation = await setup()
    staff = await staff_page(launcher, conversation)
    join, _, _ = await connect(conversation.join_token)
    event = await sync_to_async(steer_event)(conversation, "Echo: hello")
    # Never delivered to this page: the ack is refused.
    await join.send_json_to({"type": "command_ack", "id": event.pk})
    await flush(join, staff, conversation, 1)
    await sync_to_async(event.refresh_from_db)()
    assert event.payload["delivered"] is False
    # Delivered to it (it is a host): now it counts.
    await join.send_json_to({"type": "heartbeat"})
    await staff.receive_from()  # "Captions are coming from the participant's page."
    envelope = {"message_type": "conversation", "event_type": "conversation.interrupt"}
    await get_channel_layer().group_send(
        f"conversation-{conversation.pk}-hosts",
        {"type": "command", "id": event.pk, "envelope": envelope},
    )
    assert json.loads(await join.receive_from())["studio_command"] == event.pk
    await join.send_json_to({"type": "command_ack", "id": event.pk})
    assert "sent into the room" in await staff.receive_from()
    await join.disconnect()
    await staff.disconnect()


async def test_one_socket_per_link_a_new_one_replaces_the_old():
    launcher, conversation = await setup()
    staff = await staff_page(launcher, conversation)
    first, _, _ = await connect(conversation.join_token)
    await first.send_json_to(
        {"type": "presence", "state": "joined", "self": True, "participant_id": "robin-1"}
    )
    await flush(first, staff, conversation, 1)
    second, connected, _ = await connect(conversation.join_token)
    assert connected
    closed = await first.receive_output()
    assert closed == {"type": "websocket.close", "code": 4409}
    # The old page's person went with it; the new socket relays.
    await second.send_json_to(
        {"type": "presence", "state": "joined", "self": True, "participant_id": "robin-2"}
    )
    await flush(second, staff, conversation, 2)
    assert set((await fresh(conversation)).room_people) == {"robin-2"}
    await second.disconnect()
    await staff.disconnect()


async def test_a_long_utterance_in_hindi_or_japanese_is_stored():
    # 1,500 characters of Devanagari are 4,500 bytes of UTF-8, but what Daily counts (and
    # allows) is 4,096 characters of the app-message's JSON.
    launcher, conversation = await setup()
    staff = await staff_page(launcher, conversation)
    join, _, _ = await connect(conversation.join_token)
    hindi = ("नमस्ते, आप कैसे हैं? " * 80)[:1500]
    japanese = ("こんにちは、お元気ですか。" * 200)[:2000]
    await join.send_json_to(room_event(conversation.tavus_id, 1, hindi, role="replica"))
    await join.send_json_to(room_event(conversation.tavus_id, 2, japanese))
    await flush(join, staff, conversation, 3)
    texts = await sync_to_async(list)(
        Utterance.objects.filter(conversation=conversation).values_list("text", flat=True)
    )
    assert texts == [hindi, japanese, "marker 3"]
    await join.disconnect()
    await staff.disconnect()


async def test_an_app_message_over_dailys_limit_is_refused_and_logged_once(caplog):
    launcher, conversation = await setup()
    staff = await staff_page(launcher, conversation)
    join, _, _ = await connect(conversation.join_token)
    caplog.set_level("INFO", logger="studio.conversations.consumers")
    too_long = room_event(conversation.tavus_id, 1, "a" * 4100)
    await join.send_json_to(too_long)
    await flush(join, staff, conversation, 2)
    assert not await sync_to_async(Utterance.objects.filter(seq=1).exists)()
    lines = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(lines) == 1 and "over Daily's 4096" in lines[0] and "join page" in lines[0]
    await join.disconnect()
    await staff.disconnect()
