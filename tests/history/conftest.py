from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

# Importing search connects the signals that keep the transcript index in step (the app's
# ready() should import it too).
import studio.conversations.search  # noqa: F401
from studio.conversations.models import Conversation, Utterance
from tests.conversations.factories import make_conversation

# The SQLite FTS5 path is the default; run tests/history with DATABASE_URL=postgres://... to
# exercise the PostgreSQL one (tests of FTS5-only behaviour skip there).
sqlite_only = pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite FTS5 behaviour")


def indexed(pk=None) -> int:
    """Rows in the search index (for one conversation, or all)."""
    table, key = (
        ("conversations_search", "rowid")
        if connection.vendor == "sqlite"
        else ("conversations_searchdoc", "conversation_id")
    )
    with connection.cursor() as cursor:
        if pk is None:
            cursor.execute(f"SELECT count(*) FROM {table}")
        else:
            cursor.execute(f"SELECT count(*) FROM {table} WHERE {key} = %s", [pk])
        return cursor.fetchone()[0]


def ended(user, *, minutes_ago=60, length=300, said=(), transcript=None, **fields):
    """An ended conversation, optionally with caption lines (`said`: (role, text) pairs)."""
    start = timezone.now() - timedelta(minutes=minutes_ago)
    defaults = {
        "status": Conversation.ENDED,
        "created_at": start,
        "ended_at": start + timedelta(seconds=length),
        "end_reason": "participant_left_timeout",
        "transcript": transcript,
    }
    defaults.update(fields)
    conversation, _ = make_conversation(user, **defaults)
    for seq, (role, text) in enumerate(said):
        Utterance.objects.create(
            conversation=conversation,
            role=role,
            text=text,
            seq=seq,
            dedupe_key=f"s{seq}",
            spoken_at=start + timedelta(seconds=10 * (seq + 1)),
        )
    return conversation


@pytest.fixture
def preset(make_preset):
    return make_preset()


@pytest.fixture
def persona(db):
    from studio.library.models import Persona, Replica

    Replica.objects.create(
        replica_id="r79e1c033f", name="Anna", status="ready", replica_type="system"
    )
    return Persona.objects.create(
        persona_id="p9a95912",
        name="Demo Persona",
        persona_type="system",
        default_replica_id="r79e1c033f",
        system_prompt="You are a friendly demo.",
    )


@pytest.fixture
def make_preset(persona, operator):
    from studio.presets.models import Preset

    def _make(**fields):
        defaults = {
            "name": "Interview practice",
            "persona": persona,
            "conversation_name": "Interview practice",
            "custom_greeting": "Hello! Ready when you are.",
            "language": "english",
            "max_call_minutes": 10,
            "participant_left_timeout": 5,
            "participant_absent_timeout": 60,
            "created_by": operator,
            "updated_by": operator,
        }
        defaults.update(fields)
        return Preset.objects.create(**defaults)

    return _make
