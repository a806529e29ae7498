"""The live page's websocket: state on connect, relayed in-room events in, HTML out.

Who may report what. A page inside the room relays it (static/studio/relay.js). The staff live
page (the launcher's, or a supervisor's who joined the video) is signed in; the participant's
join page (studio.join) is anyone holding the link, so it may report only what its own browser
can know, and the studio refuses the rest:

  message (page -> studio)       staff live page in the room    join page
  room_event: an app-message     yes                            yes: the page keeps only the
    the replica sent (captions,                                 replica's app-messages, and is
    speaking, ...)                                              the only witness of captions
                                                                when no staff page is in
  room_event: objectives,        yes                            yes, by the same rule: Tavus
    guardrails, tool calls                                      sends them from the replica,
                                                                like captions (see below)
  room_event: Tavus's own        yes (the sandbox's room        no
    conversation.joined/left       sends them)
  presence: someone joined/left  anyone it saw in the room      only itself: one person
  recording started              yes                            no (Tavus or the launcher's
                                                                page say that)
  command_ack                    only for a command sent to this socket
  heartbeat, leaving             yes                            yes

Whoever sends it, an in-room event names only Tavus's speakers (user, replica) and this
conversation (studio.tavus.events.parse_room_event).

Objective, guardrail and tool-call events come from the replica as captions do, so the join
page relays them too: with only the participant in the room it is their sole witness. What a
made-up one could do is bounded as for captions: a false line on the record, a false alert on
the wall. A tool call is answered automatically only for a tool of this conversation's persona,
at most TOOL_ENDPOINT_MAX_PER_CONVERSATION times, and its arguments are what the person could
have said anyway (the replica's model fills them from the conversation): an endpoint treats
them as untrusted input (studio.conversations.behaviour).

Limits: each message is at most RELAY_MAX_CHARS characters as Daily counts an app-message
(JSON text, UTF-16 code units); each socket sends at most RELAY_MAX_PER_SECOND messages, and
all of one conversation's sockets in this process at most RELAY_CONVERSATION_MAX_PER_SECOND.
The server refuses frames over its websocket max size before reading them (uvicorn's
--ws-max-size, Makefile and Dockerfile). A refusal is logged once per burst, with its reason.
"""

import json
import logging
import time
from collections import Counter

from channels.db import database_sync_to_async
from django.conf import settings
from django.db.models import F
from django.utils import timezone

from studio.accounts.roles import is_supervisor
from studio.conversations import behaviour, live, push
from studio.conversations.models import Conversation, Event
from studio.conversations.push import Pushes
from studio.lib.consumers import NoHopWebsocketConsumer
from studio.tavus.events import EventError, app_message_length, parse_room_event

log = logging.getLogger(__name__)

# Close codes in the 4000 range are ours: 4403 = not allowed, 4404 = no such conversation.
NOT_ALLOWED, NOT_FOUND = 4403, 4404
# Room events that say who is in the room: Tavus's own, or the page's `presence` messages.
PRESENCE_EVENTS = ("conversation.joined", "conversation.left")
# Refusals closer together than this are one burst, logged once.
BURST_GAP_SECONDS = 5.0
# What the relay wraps an app-message in ({"type": "room_event", "event": ...}), at most.
WRAPPER_CHARS = 512
# The most a JSON text can spell one character with ("\uXXXX"): a frame longer than the
# allowed app-message written that way is refused before it is parsed.
JSON_CHARS_PER_CHAR = 6


def _now() -> float:
    """The relay limits' clock (tests freeze it)."""
    return time.monotonic()


class Budget:
    """Messages per second for one conversation, shared by its relay sockets in this process.

    Per process on purpose: a conversation's sockets are few (the join page's one socket per
    link, and signed-in staff pages) and a check on every message cannot afford a trip to
    Redis or the database. With N server processes one conversation can relay at most N times
    the budget; each socket is held to its own limit as well.
    """

    windows: dict[int, tuple[float, int]] = {}

    @classmethod
    def spend(cls, pk: int, limit: int) -> bool:
        now = _now()
        start, count = cls.windows.get(pk, (now, 0))
        if now - start >= 1:
            start, count = now, 0
            if len(cls.windows) > 1000:  # forget conversations that went quiet
                cls.windows = {k: v for k, v in cls.windows.items() if now - v[0] < 1}
        cls.windows[pk] = (start, count + 1)
        return count < limit


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
def _host_left(pk: int, join_page: bool) -> Pushes:
    """A page left the room: the live pages learn who relays now (and whether anyone does)."""
    Conversation.objects.filter(pk=pk, host_pages__gt=0).update(host_pages=F("host_pages") - 1)
    if join_page:
        Conversation.objects.filter(pk=pk).update(join_page_seen_at=None)
    conversation = Conversation.objects.get(pk=pk)
    return live.status_pushes(conversation) if conversation.is_live else []


@database_sync_to_async
def _presence(pk: int, participant_id: str, present: bool, name: str, via: str, only_via=None):
    """Someone joined or left, as a page in the room saw it: the pages learn the new count."""
    conversation = Conversation.objects.get(pk=pk)
    changed = conversation.note_presence(
        participant_id, present=present, name=name, via=via, only_via=only_via
    )
    if not changed:
        return []
    # On the conversation's record as Tavus's own presence events read (history's timeline).
    kind = "conversation.joined" if present else "conversation.left"
    conversation.record_event(
        source=Event.ROOM,
        event_type=kind,
        dedupe_key=f"presence:{participant_id}:{kind}:{timezone.now().isoformat()}",
        payload={
            "event_type": kind,
            "properties": {"role": "user", "participant_id": participant_id, "name": name},
            "reported_by": via,
        },
    )
    return live.status_pushes(conversation)


@database_sync_to_async
def _confirm_command(pk: int, event_id) -> Pushes:
    """The host page sent a steering command, a tool's answer or an objective's yes into the
    room: say so on the timeline (a command) or the behaviour card (the others)."""
    commands = ("studio.steer", *behaviour.COMMANDS)
    event = Event.objects.filter(pk=event_id, conversation_id=pk, event_type__in=commands).first()
    if event is None or event.payload.get("delivered"):
        return []
    event.payload = {
        **event.payload,
        "delivered": True,
        "label": event.payload["label"] + " — sent into the room",
    }
    event.save(update_fields=["payload"])
    if event.event_type in behaviour.COMMANDS:
        return behaviour.card_pushes(event.conversation)
    return [(push.conversation_group(pk), live.status_html(event.conversation))]


@database_sync_to_async
def _recording_started(pk: int) -> Pushes:
    return live.note_recording_started(Conversation.objects.get(pk=pk))


class ConversationOver(EventError):
    """A relayed event for a conversation that has ended (refused by the join page's socket)."""


@database_sync_to_async
def _ingest(pk: int, envelope: dict, *, require_live: bool = False) -> Pushes:
    """Store and apply a relayed event in a worker thread; the pushes go out from the loop.
    A caption needs little of its conversation, the rarer events load the whole of it."""
    if envelope.get("event_type") in live.LIGHT_EVENTS:
        conversation = Conversation.light("id", pk)
        if conversation is None:
            raise Conversation.DoesNotExist(pk)
    else:
        conversation = Conversation.objects.get(pk=pk)
    if require_live and not conversation.is_live:
        raise ConversationOver("the conversation has ended")
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

    It relays in-room events (checked, size- and rate-limited, stored and fanned out to
    group `conversation-<pk>`), reports who is in the room, registers as a host with its
    heartbeat (group `conversation-<pk>-hosts`, so it gets steering commands to carry into the
    room) and confirms each command. Subclasses decide who may connect, call `start_relay`,
    and say what their page may report (the table at the top of this module).
    """

    can_relay = True
    # Refuse relayed events once the conversation is over (the join page's socket does).
    require_live = False
    # A staff page in the room reports everyone it sees and the recording; the join page only
    # itself (studio.join.consumers).
    reports_others = True
    reports_recording = True
    via = "staff"
    who = "live page"

    def start_relay(self, pk: int) -> None:
        self.pk = pk
        self.group = push.conversation_group(pk)
        self.refused = 0
        self.is_host = False
        self.own_participant = ""
        self.sent_commands: set = set()
        self.window_start, self.window_count = _now(), 0
        self.last_refusal, self.burst = float("-inf"), Counter()

    async def disconnect(self, code):
        if hasattr(self, "pk"):
            await self.leave_room()
            self._log_burst()

    async def leave_room(self) -> None:
        """This page has left the room (it said so, or its socket closed): it is no longer a
        host, and the person it was is no longer in the room."""
        if self.is_host:
            self.is_host = False
            await self.channel_layer.group_discard(push.hosts_group(self.pk), self.channel_name)
            await push.send_async(await _host_left(self.pk, join_page=self.via == "join"))
        if self.own_participant:
            own, self.own_participant = self.own_participant, ""
            await push.send_async(await _presence(self.pk, own, False, "", self.via, self.via))

    def _refuse(self, why: str) -> None:
        """Refused: logged once per burst (the first with its reason, the rest counted)."""
        self.refused += 1
        now = _now()
        if now - self.last_refusal > BURST_GAP_SECONDS:
            self._log_burst()
            log.info(
                "conversation %s: refused a message from the %s's relay (%s)",
                self.pk,
                self.who,
                why,
            )
        else:
            self.burst[why.partition(":")[0]] += 1
        self.last_refusal = now

    def _log_burst(self) -> None:
        if self.burst:
            reasons = ", ".join(f"{why} ×{n}" for why, n in self.burst.most_common())
            log.info(
                "conversation %s: refused %d more messages from the %s's relay (%s)",
                self.pk,
                sum(self.burst.values()),
                self.who,
                reasons,
            )
            self.burst.clear()

    def _over_rate(self) -> str:
        now = _now()
        if now - self.window_start >= 1:
            self.window_start, self.window_count = now, 0
        self.window_count += 1
        if self.window_count > settings.RELAY_MAX_PER_SECOND:
            return "too frequent for one socket"
        if not Budget.spend(self.pk, settings.RELAY_CONVERSATION_MAX_PER_SECOND):
            return "too frequent for this conversation"
        return ""

    async def receive(self, text_data=None, bytes_data=None):
        if not self.can_relay:
            return self._refuse("observer socket")
        if text_data is None:
            return self._refuse("not text")
        if len(text_data) > settings.RELAY_MAX_CHARS * JSON_CHARS_PER_CHAR + WRAPPER_CHARS:
            return self._refuse(f"too large: {len(text_data)} characters")
        if too_often := self._over_rate():
            return self._refuse(too_often)
        try:
            message = json.loads(text_data)
        except ValueError:
            return self._refuse("not JSON")
        kind = message.get("type") if isinstance(message, dict) else None
        handler = {
            "room_event": self.on_room_event,
            "presence": self.on_presence,
            "heartbeat": self.on_heartbeat,
            "leaving": self.on_leaving,
            "recording": self.on_recording,
            "command_ack": self.on_command_ack,
        }.get(kind)
        if handler is None:
            return self._refuse("unknown message")
        if why := await handler(message):
            self._refuse(why)

    # Each handler returns why it refused the message, or nothing.

    async def on_room_event(self, message: dict) -> str | None:
        envelope = message.get("event")
        if not isinstance(envelope, dict):
            return "event must be an object"
        size = app_message_length(envelope)
        if size > settings.RELAY_MAX_CHARS:
            return f"too large: {size} characters, over Daily's {settings.RELAY_MAX_CHARS}"
        if envelope.get("event_type") in PRESENCE_EVENTS and not self.reports_others:
            return "presence from this page comes as its own presence message"
        try:
            pushes = await self.ingest(envelope)
        except EventError as exc:
            return str(exc)
        await push.send_async(pushes)
        return None

    async def on_presence(self, message: dict) -> str | None:
        participant = message.get("participant_id")
        state, name = message.get("state"), message.get("name") or ""
        if not isinstance(participant, str) or not 0 < len(participant) <= 100:
            return "presence needs a participant_id"
        if state not in ("joined", "left") or not isinstance(name, str):
            return "presence state must be joined or left"
        own = message.get("self") is True
        if not own and not self.reports_others:
            return "this page may report only its own presence"
        if own:
            if self.own_participant and participant != self.own_participant:
                return "a page is one participant"
            self.own_participant = participant if state == "joined" else ""
        present = state == "joined"
        only_via = None if self.reports_others else self.via
        await push.send_async(
            await _presence(self.pk, participant, present, name, self.via, only_via)
        )
        return None

    async def on_heartbeat(self, message: dict) -> None:
        # A page inside the room: it keeps the conversation alive for the reconciler and
        # carries steering commands into the room.
        first = not self.is_host
        if first:
            self.is_host = True
            await self.channel_layer.group_add(push.hosts_group(self.pk), self.channel_name)
        await self.heartbeat(first)

    async def on_leaving(self, message: dict) -> None:
        await self.leave_room()

    async def on_recording(self, message: dict) -> str | None:
        if not self.reports_recording:
            return "recording state comes from Tavus or the launcher's page"
        if message.get("state") != "started":
            return "recording state must be started"
        await push.send_async(await _recording_started(self.pk))
        return None

    async def on_command_ack(self, message: dict) -> str | None:
        command = message.get("id")
        if command not in self.sent_commands:
            return "no such command was sent to this page"
        self.sent_commands.discard(command)
        await push.send_async(await _confirm_command(self.pk, command))
        return None

    async def heartbeat(self, first: bool) -> None:
        await _page_seen(self.pk, joined=first)

    # The conversation as this socket loaded it when it connected (the staff live page's), or
    # None. Its id, Tavus id and launcher never change once it has a Tavus id, so the in-room
    # events that are only shown (live.SHOWN_ONLY: who is speaking) are checked and rendered
    # with it on the event loop, with no trip to a worker thread.
    conversation: Conversation | None = None

    async def ingest(self, envelope: dict) -> Pushes:
        c = self.conversation
        if c is not None and c.tavus_id and envelope.get("event_type") in live.SHOWN_ONLY:
            event = parse_room_event(envelope, conversation_id=c.tavus_id)
            if event.event_type in live.SHOWN_ONLY:
                return live.ingest_room_event(c, event)
        return await _ingest(self.pk, envelope, require_live=self.require_live)

    async def command(self, event):
        """A `command` message: a supervisor's steering command for the room (host pages only
        get these). Only a command this socket got may be acknowledged by it."""
        self.sent_commands.add(event["id"])
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
        self.conversation = conversation
        # Relayed events are taken only from the launcher's or a supervisor's page.
        self.can_relay = conversation.launched_by_id == user.pk or is_supervisor(user)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send(text_data=snapshot)

    async def disconnect(self, code):
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)
        await super().disconnect(code)
