import json
from datetime import timedelta

import pytest
import time_machine
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from studio.asgi import application
from studio.conversations.models import Conversation, Event, Utterance
from studio.conversations.wall import alerts, refresh_alerts
from tests.conftest import make_user
from tests.conversations.factories import make_conversation

# Alerts, rules and windows that count from now: every test here runs on three clocks.
pytestmark = pytest.mark.time_window

T0 = timezone.now().replace(microsecond=0)


def codes(conversation, now, last_spoken=None):
    return [a.code for a in alerts(conversation, now, last_spoken)]


@pytest.fixture
def fresh(operator):
    conversation, _ = make_conversation(operator, created_at=T0, status="active")
    return conversation


def test_replica_late_alert_appears_after_30_seconds_and_clears_on_join(fresh):
    assert "replica_late" not in codes(fresh, T0 + timedelta(seconds=29))
    assert "replica_late" in codes(fresh, T0 + timedelta(seconds=31))
    fresh.replica_joined_at = T0 + timedelta(seconds=40)
    assert "replica_late" not in codes(fresh, T0 + timedelta(seconds=41))


def test_absent_timeout_near_alert(fresh):
    # The factory's absent timeout is 120 s: the alert shows in its last minute.
    fresh.replica_joined_at = T0
    assert "absent_near" not in codes(fresh, T0 + timedelta(seconds=59))
    assert "absent_near" in codes(fresh, T0 + timedelta(seconds=61))
    fresh.person_joined_at = T0 + timedelta(seconds=70)
    assert "absent_near" not in codes(fresh, T0 + timedelta(seconds=71))


def test_silence_alert_needs_someone_in_the_room(fresh):
    fresh.replica_joined_at = fresh.person_joined_at = T0
    fresh.people_in_room = 1
    assert "silence" in codes(fresh, T0 + timedelta(seconds=61))
    assert "silence" not in codes(fresh, T0 + timedelta(seconds=61), T0 + timedelta(seconds=30))
    fresh.people_in_room = 0
    assert "silence" not in codes(fresh, T0 + timedelta(seconds=61))


def test_ending_soon_alert_in_the_last_two_minutes(fresh):
    # max_call_duration is 600 s in the factory.
    fresh.replica_joined_at = fresh.person_joined_at = T0
    assert "ending_soon" not in codes(fresh, T0 + timedelta(seconds=470))
    assert "ending_soon" in codes(fresh, T0 + timedelta(seconds=490))


def test_end_unconfirmed_alert(fresh):
    fresh.replica_joined_at = fresh.person_joined_at = T0
    fresh.end_requested_at = T0 + timedelta(seconds=10)
    assert "end_unconfirmed" not in codes(fresh, T0 + timedelta(seconds=60))
    assert "end_unconfirmed" in codes(fresh, T0 + timedelta(seconds=71))
    fresh.status = "ended"
    assert codes(fresh, T0 + timedelta(seconds=71)) == []


@pytest.mark.parametrize("status", ["launching", "unknown"])
def test_stuck_alert(operator, status):
    conversation, _ = make_conversation(operator, created_at=T0, status=status, tavus_id=None)
    assert "stuck" not in codes(conversation, T0 + timedelta(seconds=59))
    assert "stuck" in codes(conversation, T0 + timedelta(seconds=61))


def test_thresholds_come_from_settings(fresh, settings):
    settings.ALERTS = {**settings.ALERTS, "replica_join": 5}
    assert "replica_late" in codes(fresh, T0 + timedelta(seconds=6))


def test_refresh_puts_new_alerts_on_the_timeline_once_and_clears_them(fresh):
    assert refresh_alerts(now=T0 + timedelta(seconds=31)) == 1
    fresh.refresh_from_db()
    assert fresh.alert_codes == ["replica_late"]
    assert refresh_alerts(now=T0 + timedelta(seconds=32)) == 0  # unchanged: nothing logged
    labels = [e.payload["label"] for e in fresh.events.filter(event_type="studio.alert")]
    assert labels == ["Alert: Replica not in the room after 31 s"]
    fresh._set(replica_joined_at=T0 + timedelta(seconds=33))
    refresh_alerts(now=T0 + timedelta(seconds=34))
    fresh.refresh_from_db()
    assert fresh.alert_codes == []


def test_operators_see_only_their_own_tiles(client, operator, operator2, supervisor):
    make_conversation(operator, title="Olivia's session")
    make_conversation(operator2, title="Oscar's session")
    client.force_login(operator)
    html = client.get("/monitor/").content.decode()
    assert "Olivia&#x27;s session" in html and "Oscar&#x27;s session" not in html
    client.force_login(supervisor)
    html = client.get("/monitor/").content.decode()
    assert "Olivia&#x27;s session" in html and "Oscar&#x27;s session" in html


def test_board_counts_slots_and_recent_ends(client, supervisor, operator, settings):
    settings.TAVUS_CONCURRENCY_LIMIT = 3
    make_conversation(operator)
    make_conversation(
        operator, status="ended", ended_at=timezone.now(), end_reason="participant_left_timeout"
    )
    client.force_login(supervisor)
    html = client.get("/monitor/").content.decode()
    assert '1 <span class="of">of 3</span>' in html
    assert "Everyone left: 1" in html


def board_of(html: str) -> str:
    start = html.index('id="board"')
    return html[start : html.index("</section>", start)]


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (0, "None"),
        (48, "Under a minute"),
        (61, "1 minute"),
        (190, "3 minutes"),
        (3900, "1 h 5 min"),
    ],
)
def test_billed_time_is_in_words(seconds, words):
    from studio.conversations.wall import billed_text

    assert billed_text(seconds) == words


def test_a_call_of_48_seconds_is_not_zero_minutes_billed(client, supervisor, operator):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        make_conversation(operator)
        clock.shift(48)
        client.force_login(supervisor)
        board = board_of(client.get("/monitor/").content.decode())
    assert 'data-stat="billed">Under a minute</div>' in board
    assert "so far, across 1 running conversation" in board


def test_on_the_sandbox_the_board_gives_its_limit(client, supervisor, operator, settings):
    settings.TAVUS_API_KEY = ""
    settings.TAVUS_CONCURRENCY_LIMIT = None
    settings.SANDBOX_CONCURRENCY_LIMIT = 3
    for _ in range(3):
        make_conversation(operator)
    client.force_login(supervisor)
    board = board_of(client.get("/monitor/").content.decode())
    assert '3 <span class="of">of 3</span>' in board
    assert "All in use" in board


def test_the_board_names_nobody(client, operator, operator2, supervisor, settings):
    settings.TAVUS_CONCURRENCY_LIMIT = 3
    make_conversation(operator2, title="Oscar's session")
    make_conversation(operator, title="Olivia's session")
    for user in (operator, supervisor):
        client.force_login(user)
        board = board_of(client.get("/monitor/").content.decode())
        assert '2 <span class="of">of 3</span>' in board and "1 free" in board
        assert "oscar" not in board and "olivia" not in board
    client.force_login(operator)
    assert "oscar" not in client.get("/monitor/").content.decode().lower()


def test_recently_ended_lists_the_last_few_conversations_not_refused_launches(
    client, operator
):
    now = timezone.now()
    for minute in range(8):
        make_conversation(
            operator,
            title=f"Session {minute}",
            status="ended",
            ended_at=now - timedelta(minutes=minute),
            end_reason="participant_left_timeout",
        )
    make_conversation(
        operator,
        title="Refused launch",
        status="failed",
        ended_at=now,
        failure_reason="Tavus says every conversation slot on the plan is in use.",
    )
    client.force_login(operator)
    html = client.get("/monitor/").content.decode()
    recent = html[html.index('id="recent"') : html.index("empty-recent")]
    assert recent.count('class="recent-chip"') == 6
    assert "Session 0" in recent and "Session 5" in recent and "Session 6" not in recent
    assert "Refused launch" not in recent
    assert 'href="/history/">Everything that ended is in History' in html


def test_a_tile_joins_the_video_in_one_click(client, supervisor, operator):
    conversation, _ = make_conversation(operator)
    client.force_login(supervisor)
    html = client.get("/monitor/").content.decode()
    tile = html[html.index(f'id="tile-{conversation.pk}"') :]
    assert f'href="/conversations/{conversation.pk}/?join=1"' in tile[: tile.index("</article>")]
    joined = client.get(f"/conversations/{conversation.pk}/?join=1").content.decode()
    assert 'id="room-frame"' in joined  # the page joins, with no further step


def test_observer_page_does_not_join_the_room(client, operator, supervisor):
    conversation, _ = make_conversation(operator)
    client.force_login(supervisor)
    html = client.get(f"/conversations/{conversation.pk}/").content.decode()
    assert 'id="room-frame"' not in html and 'data-room-mode="observer"' in html
    assert "Join the video" in html and "takes one of the room" in html
    joined = client.get(f"/conversations/{conversation.pk}/?join=1").content.decode()
    assert 'data-room-mode="sandbox"' in joined


# --- steering -------------------------------------------------------------------------------


def test_operators_cannot_steer(client, operator):
    conversation, _ = make_conversation(operator)
    client.force_login(operator)
    response = client.post(
        f"/conversations/{conversation.pk}/steer/", {"action": "echo", "text": "hi"}
    )
    assert response.status_code == 403
    assert "Step in" not in client.get(f"/conversations/{conversation.pk}/").content.decode()


def test_steering_without_a_page_in_the_room_explains(client, supervisor, operator):
    conversation, _ = make_conversation(operator)
    client.force_login(supervisor)
    response = client.post(
        f"/conversations/{conversation.pk}/steer/",
        {"action": "echo", "text": "Hello"},
        HTTP_HX_REQUEST="true",
    )
    assert "No page is in the room right now" in response.content.decode()
    assert not conversation.events.filter(event_type="studio.steer").exists()


def test_steering_needs_words_for_echo(client, supervisor, operator):
    conversation, _ = make_conversation(operator, host_pages=1, page_seen_at=timezone.now())
    client.force_login(supervisor)
    response = client.post(
        f"/conversations/{conversation.pk}/steer/",
        {"action": "echo", "text": "  "},
        HTTP_HX_REQUEST="true",
    )
    assert "Type what the replica should use." in response.content.decode()


def test_steering_is_audited(client, supervisor, operator):
    conversation, _ = make_conversation(operator, host_pages=1, page_seen_at=timezone.now())
    client.force_login(supervisor)
    response = client.post(
        f"/conversations/{conversation.pk}/steer/",
        {"action": "overwrite", "text": "Be brief."},
        HTTP_HX_REQUEST="true",
    )
    assert "Sent." in response.content.decode()
    event = conversation.events.get(event_type="studio.steer")
    assert event.actor == supervisor
    assert event.payload["label"] == "sam replaced the context with: “Be brief.”"
    assert event.payload["command"] == "conversation.overwrite_llm_context"
    page = client.get(f"/conversations/{conversation.pk}/").content.decode()
    assert "sam replaced the context with" in page


# --- sockets --------------------------------------------------------------------------------


@sync_to_async
def _cookie(user):
    from django.test import Client

    c = Client()
    c.force_login(user)
    return f"sessionid={c.cookies['sessionid'].value}".encode()


async def _socket(user, path):
    headers = [
        (b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1"), (b"cookie", await _cookie(user))
    ]
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await communicator.connect()
    assert connected
    return communicator


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_monitor_socket_gets_new_tiles_by_visibility():
    from studio.conversations import live

    olivia = await sync_to_async(make_user)("olivia", "Operator")
    oscar = await sync_to_async(make_user)("oscar", "Operator")
    sam = await sync_to_async(make_user)("sam", "Supervisor")
    wall = await _socket(sam, "/ws/monitor/")
    oscars_wall = await _socket(oscar, "/ws/monitor/")
    assert 'id="board"' in await wall.receive_from()
    await oscars_wall.receive_from()
    conversation, _ = await sync_to_async(make_conversation)(olivia, title="Fresh one")
    await sync_to_async(live.publish_status)(conversation, launched=True)
    tile = await wall.receive_from()
    assert f'id="tile-{conversation.pk}"' in tile and "Fresh one" in tile
    assert 'id="board"' in await wall.receive_from()
    board = await oscars_wall.receive_from()  # Oscar gets the board, not Olivia's tile
    assert 'id="board"' in board and "Fresh one" not in board
    assert await oscars_wall.receive_nothing(timeout=0.3)
    await sync_to_async(conversation.mark_ended)("participant_left_timeout")
    await sync_to_async(live.publish_status)(conversation)
    gone = await wall.receive_from()
    assert 'hx-swap-oob="delete"' in gone and "Everyone left" in gone
    await wall.disconnect()
    await oscars_wall.disconnect()


async def _watched(**fields):
    """Olivia's conversation, with a supervisor's wall and her live page connected (snapshots
    read): (conversation, webhook secret, wall, page)."""
    olivia = await sync_to_async(make_user)("olivia", "Operator")
    sam = await sync_to_async(make_user)("sam", "Supervisor")
    conversation, secret = await sync_to_async(make_conversation)(olivia, **fields)
    wall = await _socket(sam, "/ws/monitor/")
    page = await _socket(olivia, f"/ws/conversations/{conversation.pk}/")
    await wall.receive_from()
    await page.receive_from()
    return conversation, secret, wall, page


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_webhooks_update_the_wall_only_for_what_it_shows():
    from django.test import Client

    from tests.conversations.factories import webhook

    conversation, secret, wall, page = await _watched(status=Conversation.LAUNCHING)

    def post(event_type, **properties):
        body = webhook(conversation, event_type, **properties)
        response = Client().post(f"/hooks/tavus/{secret}/", body, content_type="application/json")
        assert response.status_code == 200

    # The replica joining changes the tile, not the board (no slot taken or freed).
    await sync_to_async(post)("system.replica_joined")
    assert 'data-status="active"' in await page.receive_from()
    tile = await wall.receive_from()
    assert f'id="tile-{conversation.pk}"' in tile
    assert await wall.receive_nothing(timeout=0.3)
    # A recording arriving shows on the live page only.
    await sync_to_async(post)("application.recording_ready", bucket_name="b", s3_key="k.mp4")
    assert 'id="live-status"' in await page.receive_from()
    assert await wall.receive_nothing(timeout=0.3)
    # The end moves the tile to "recently ended" and refreshes the board.
    await sync_to_async(post)("system.shutdown", shutdown_reason="participant_left_timeout")
    assert 'hx-swap-oob="delete"' in await wall.receive_from()
    assert 'id="board"' in await wall.receive_from()
    await wall.disconnect()
    await page.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_relayed_caption_reaches_the_page_and_the_wall():
    # The relay's handler works out the page's and the wall's pushes in its worker thread and
    # sends them from the event loop, the page's first (studio.conversations.push).
    from tests.conversations.test_consumer import utterance

    conversation, _, wall, page = await _watched()
    await page.send_to(text_data=json.dumps(utterance(conversation, 1, "Hello from the room")))
    assert "Hello from the room" in await page.receive_from()
    tile = await wall.receive_from()
    assert f'id="tile-captions-{conversation.pk}"' in tile and "Hello from the room" in tile
    await wall.disconnect()
    await page.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_the_alert_pass_refreshes_the_board():
    olivia = await sync_to_async(make_user)("olivia", "Operator")
    sam = await sync_to_async(make_user)("sam", "Supervisor")
    await sync_to_async(make_conversation)(olivia)
    wall = await _socket(sam, "/ws/monitor/")
    await wall.receive_from()
    await sync_to_async(refresh_alerts)()
    assert 'id="board"' in await wall.receive_from()
    await wall.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_steering_command_reaches_the_host_page_and_is_confirmed():
    olivia = await sync_to_async(make_user)("olivia", "Operator")
    conversation, _ = await sync_to_async(make_conversation)(olivia)
    host = await _socket(olivia, f"/ws/conversations/{conversation.pk}/")
    await host.receive_from()
    await host.send_to(text_data=json.dumps({"type": "heartbeat"}))
    await host.receive_nothing(timeout=0.2)
    refreshed = await sync_to_async(Conversation.objects.get)(pk=conversation.pk)
    assert refreshed.host_connected

    from studio.conversations import push
    from studio.conversations.forms import SteerForm

    sam = await sync_to_async(make_user)("sam", "Supervisor")
    form = SteerForm({"action": "echo", "text": "Let's wrap up."})
    assert await sync_to_async(form.is_valid)()
    event, envelope = await sync_to_async(form.record)(refreshed, sam)
    await sync_to_async(push.send_command)(refreshed.pk, event.pk, envelope)
    command = json.loads(await host.receive_from())
    assert command["studio_command"] == event.pk
    assert command["envelope"]["event_type"] == "conversation.echo"
    assert command["envelope"]["properties"]["text"] == "Let's wrap up."
    await host.send_to(text_data=json.dumps({"type": "command_ack", "id": event.pk}))
    confirmation = await host.receive_from()
    assert "sent into the room" in confirmation
    await host.disconnect()
    refreshed = await sync_to_async(Conversation.objects.get)(pk=conversation.pk)
    assert refreshed.host_pages == 0


def test_captions_reach_the_tile(operator, db):
    conversation, _ = make_conversation(operator)
    Utterance.objects.create(conversation=conversation, role="user", text="One", dedupe_key="1")
    Utterance.objects.create(conversation=conversation, role="replica", text="Two", dedupe_key="2")
    Utterance.objects.create(conversation=conversation, role="user", text="Three", dedupe_key="3")
    from studio.conversations.wall import tile_context

    assert [u.text for u in tile_context(conversation)["captions"]] == ["Two", "Three"]
    assert Event.objects.count() == 0
