import secrets

from django.utils import timezone

from studio.conversations.models import Conversation, Event, hash_secret


def make_conversation(user, *, status=Conversation.ACTIVE, secret=None, **fields):
    """A conversation as launch leaves it; returns (conversation, webhook secret)."""
    secret = secret or secrets.token_urlsafe(32)
    defaults = {
        "title": "Interview practice",
        "persona_name": "AI Interviewer",
        "tavus_id": "c" + secrets.token_hex(6),
        "conversation_url": "http://127.0.0.1/sandbox/rooms/x/",
        "settings_snapshot": {
            "properties": {"max_call_duration": 600, "participant_absent_timeout": 120}
        },
    }
    defaults.update(fields)
    conversation = Conversation.objects.create(
        launched_by=user, status=status, webhook_secret_hash=hash_secret(secret), **defaults
    )
    return conversation, secret


def launch(client, preset, key="launch-key-0123456789", **overrides):
    """Submit a preset's launch form."""
    return client.post(f"/launch/{preset.pk}/", {"launch_key": key, **overrides})


def tavus_timestamp(moment=None) -> str:
    """A time as Tavus writes it in webhooks (UTC, microseconds, Z); now by default."""
    return (moment or timezone.now()).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def webhook(conversation, event_type, timestamp=None, **properties):
    """A Tavus webhook body, stamped now unless the test sets a time on purpose."""
    timestamp = timestamp or tavus_timestamp()
    message_type = "system" if event_type.startswith("system.") else "application"
    return {
        "conversation_id": conversation.tavus_id,
        "event_type": event_type,
        "message_type": message_type,
        "timestamp": timestamp,
        "webhook_url": "http://studio/hooks/tavus/x/",
        "properties": {"replica_id": "r79e1c033f", **properties},
    }


def steer_event(conversation, label="Echo: hello"):
    """A supervisor's steering command on the timeline, not yet delivered into the room."""
    return Event.objects.create(
        conversation=conversation,
        source=Event.STUDIO,
        event_type="studio.steer",
        dedupe_key="steer:1",
        payload={"label": label, "delivered": False},
    )


def room_event(conversation, event_type, inference_id, **properties):
    """An in-room event as a page relays it (Tavus's envelope), parsed as the consumer does."""
    from studio.tavus.events import parse_room_event

    return parse_room_event(
        {
            "message_type": "conversation",
            "event_type": event_type,
            "conversation_id": conversation.tavus_id,
            "inference_id": inference_id,
            "properties": properties,
        },
        conversation.tavus_id,
    )


def say(conversation, role, text, inference_id):
    """A whole line said in the room, stored as the consumer stores it (spoken now); returns
    what would be pushed."""
    from studio.conversations import live

    event = room_event(conversation, "conversation.utterance", inference_id, role=role, speech=text)
    return live.ingest_room_event(conversation, event)


def respond_command(conversation, user, text):
    """A supervisor's "Answer as if the person said…", recorded as the Step-in form does."""
    from studio.conversations.forms import SteerForm

    form = SteerForm({"action": "respond", "text": text})
    assert form.is_valid(), form.errors
    return form.record(conversation, user)[0]


def end_requested(conversation, user, at):
    """The studio's note that `user` asked to end it at `at`, as the End button leaves it."""
    conversation.mark_end_requested(user, when=at)
    return Event.objects.create(
        conversation=conversation,
        source=Event.STUDIO,
        event_type="studio.end_requested",
        dedupe_key="end",
        payload={"label": f"End requested by {user.get_username()}"},
        actor=user,
        occurred_at=at,
    )
