"""The live page's websocket: state on connect, relayed in-room events in, HTML out."""

import json
import logging
import time

from channels.db import database_sync_to_async
from django.conf import settings
from django.db.models import F
from django.utils import timezone

from studio.accounts.roles import is_supervisor
from studio.conversations import live, push
from studio.conversations.models import Conversation, Event
from studio.conversations.push import Pushes
from studio.lib.consumers import NoHopWebsocketConsumer
from studio.tavus.events import EventError, parse_room_event

log = logging.getLogger(__name__)

# Close codes in the 4000 range are ours: 4403 = not allowed, 4404 = no such conversation.
NOT_ALLOWED, NOT_FOUND = 4403, 4404


@database_sync_to_async
def _load(pk: int, user):
    conversation = Conversation.objects.filter(pk=pk).first()
    if conversation is None:
        return None, False, ""
    if not user.is_authenticated or not conversation.can_view(user):
        return conversation, False, ""
    return conversation, True, live.snapshot_html(conversation)


@database_sync_to_async
def _page_seen(pk: int, joined: bool = False) -> None:
    fields = {"page_seen_at": timezone.now()}
    if joined:
        fields["host_pages"] = F("host_pages") + 1
    Conversation.objects.filter(pk=pk).update(**fields)


@database_sync_to_async
def _host_left(pk: int) -> None:
    Conversation.objects.filter(pk=pk, host_pages__gt=0).update(host_pages=F("host_pages") - 1)


@database_sync_to_async
def _confirm_command(pk: int, event_id) -> Pushes:
    """The host page sent a steering command into the room: say so on the timeline."""
    event = Event.objects.filter(pk=event_id, conversation_id=pk, event_type="studio.steer").first()
    if event is None or event.payload.get("delivered"):
        return []
    event.payload = {
        **event.payload,
        "delivered": True,
        "label": event.payload["label"] + " — sent into the room",
    }
    event.save(update_fields=["payload"])
    return [(push.conversation_group(pk), live.status_html(event.conversation))]


class ConversationOver(EventError):
    """A relayed event for a conversation that has ended (refused by the join page's socket)."""


@database_sync_to_async
def _ingest(pk: int, envelope: dict, *, require_live: bool = False) -> Pushes:
    """Store and apply a relayed event in a worker thread; the pushes go out from the loop."""
    conversation = Conversation.objects.get(pk=pk)
    if require_live and not conversation.is_live:
        raise ConversationOver("the conversation has ended")
    if envelope.get("message_type") == "sandbox" or envelope.get("type") == "recording":
        if envelope.get("event_type") in ("recording-started", "recording_started") or (
            envelope.get("state") == "started"
        ):
            return live.note_recording_started(conversation)
        return []
    event = parse_room_event(envelope, conversation_id=conversation.tavus_id)
    return live.ingest_room_event(conversation, event)


class PushConsumer(NoHopWebsocketConsumer):
    """A socket that gets fanned-out HTML (`push` messages) from the channel layer. Handlers
    skip Channels' database hop (studio/lib/consumers.py): the ORM is only ever reached
    through database_sync_to_async here."""

    async def push(self, event):
        """A `push` message (studio.conversations.push): HTML for the page to swap in."""
        await self.send(text_data=event["html"])


class RoomRelayConsumer(PushConsumer):
    """What a page inside the room does over its socket, whoever it belongs to.

    It relays in-room events (validated, size- and rate-limited, stored and fanned out to
    group `conversation-<pk>`), registers as a host with its heartbeat (group
    `conversation-<pk>-hosts`, so it gets steering commands to carry into the room) and
    confirms each command. Subclasses decide who may connect and call `start_relay`.
    Shared by the staff live page (below) and the participant's join page (studio.join).
    """

    can_relay = True
    # Refuse relayed events once the conversation is over (the join page's socket does).
    require_live = False

    def start_relay(self, pk: int) -> None:
        self.pk = pk
        self.group = push.conversation_group(pk)
        self.refused = 0
        self.is_host = False
        self.window_start, self.window_count = time.monotonic(), 0

    async def disconnect(self, code):
        if getattr(self, "is_host", False):
            await self.channel_layer.group_discard(push.hosts_group(self.pk), self.channel_name)
            await _host_left(self.pk)

    def _refuse(self, why: str) -> None:
        self.refused += 1
        log.info("conversation %s: refused relayed message (%s)", self.pk, why)

    def _over_rate(self) -> bool:
        now = time.monotonic()
        if now - self.window_start >= 1:
            self.window_start, self.window_count = now, 0
        self.window_count += 1
        return self.window_count > settings.RELAY_MAX_PER_SECOND

    async def receive(self, text_data=None, bytes_data=None):
        if not self.can_relay:
            return self._refuse("observer socket")
        if text_data is None or len(text_data.encode()) > settings.RELAY_MAX_BYTES:
            return self._refuse("too large or not text")
        if self._over_rate():
            return self._refuse("too frequent")
        try:
            message = json.loads(text_data)
        except ValueError:
            return self._refuse("not JSON")
        if isinstance(message, dict) and message.get("type") == "heartbeat":
            # A page inside the room: it keeps the conversation alive for the reconciler and
            # carries steering commands into the room.
            first = not self.is_host
            if first:
                self.is_host = True
                await self.channel_layer.group_add(push.hosts_group(self.pk), self.channel_name)
            return await self.heartbeat(first)
        if isinstance(message, dict) and message.get("type") == "command_ack":
            return await push.send_async(await _confirm_command(self.pk, message.get("id")))
        if not isinstance(message, dict) or message.get("type") != "room_event":
            return self._refuse("unknown message")
        envelope = message.get("event")
        if not isinstance(envelope, dict):
            return self._refuse("event must be an object")
        try:
            pushes = await self.ingest(envelope)
        except EventError as exc:
            return self._refuse(str(exc))
        await push.send_async(pushes)

    async def heartbeat(self, first: bool) -> None:
        await _page_seen(self.pk, joined=first)

    async def ingest(self, envelope: dict) -> Pushes:
        return await _ingest(self.pk, envelope, require_live=self.require_live)

    async def command(self, event):
        """A `command` message: a supervisor's steering command for the room (host pages only
        get these)."""
        await self.send(
            text_data=json.dumps({"studio_command": event["id"], "envelope": event["envelope"]})
        )


class ConversationConsumer(RoomRelayConsumer):
    """The staff live page: state on connect, every change pushed as HTML, and (from the
    launcher's or a supervisor's page in the room) the relay."""

    async def connect(self):
        pk = int(self.scope["url_route"]["kwargs"]["pk"])
        user = self.scope.get("user")
        conversation, allowed, snapshot = await _load(pk, user)
        if conversation is None or not allowed:
            await self.close(code=NOT_FOUND if conversation is None else NOT_ALLOWED)
            return
        self.start_relay(pk)
        # Relayed events are taken only from the launcher's or a supervisor's page.
        self.can_relay = conversation.launched_by_id == user.pk or is_supervisor(user)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send(text_data=snapshot)

    async def disconnect(self, code):
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)
        await super().disconnect(code)
