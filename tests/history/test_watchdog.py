"""The artifact watchdog against the sandbox over real HTTP: a conversation whose webhooks never
reached us (no callback_url) is ended at the sandbox, then back-filled from its verbose GET."""

from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from studio.conversations import artifacts, search
from studio.conversations.models import Conversation, Event
from studio.tavus import client as tavus
from tests.conversations.factories import make_conversation

# Alerts, rules and windows that count from now: every test here runs on three clocks.
pytestmark = pytest.mark.time_window

SALES_COACH = "pdced222244b"  # a stock sandbox persona with raven perception
RAVEN = {"layers": {"perception": {"perception_model": "raven-0"}}}


@pytest.fixture
def ended_at_tavus(studio_server, operator):
    """A studio row for a sandbox conversation that ended 5 minutes ago, artifacts missing."""

    def _make(**fields):
        body = {
            "persona_id": SALES_COACH,
            "conversational_context": "The learner sells pelican-shaped kites.",
        }
        remote = tavus.create_conversation(body)
        tavus.end_conversation(remote.conversation_id)
        conversation, _ = make_conversation(
            operator,
            tavus_id=remote.conversation_id,
            status=Conversation.ENDED,
            ended_at=timezone.now() - timedelta(minutes=5),
            end_reason="",
            created_at=timezone.now() - timedelta(minutes=9),
            **fields,
        )
        return conversation

    return _make


def test_it_backfills_the_transcript_and_perception_from_tavus(ended_at_tavus):
    conversation = ended_at_tavus(settings_snapshot=RAVEN)
    assert artifacts.missing_artifacts(conversation) == ["transcript", "perception analysis"]

    summary = artifacts.watch_artifacts()

    assert summary == {"checked": 1, "backfilled": 1, "errors": 0}
    conversation.refresh_from_db()
    assert conversation.transcript[0]["role"] == "system"
    assert "pelican-shaped kites" in conversation.transcript[0]["content"]
    assert conversation.perception_analysis
    stored = set(conversation.events.values_list("event_type", flat=True))
    assert {
        "system.shutdown",
        "application.transcription_ready",
        "application.perception_analysis",
    } <= stored
    assert conversation.events.filter(source=Event.WEBHOOK).count() == len(stored)
    assert artifacts.missing_artifacts(conversation) == []
    # Nothing left to ask for: the next pass leaves Tavus alone.
    assert artifacts.watch_artifacts() == {"checked": 0, "backfilled": 0, "errors": 0}


def test_a_backfilled_transcript_is_searchable_and_the_page_stops_waiting(
    ended_at_tavus, operator, client
):
    conversation = ended_at_tavus()
    client.force_login(operator)
    assert (
        "Waiting for the transcript" in client.get(f"/history/{conversation.pk}/").content.decode()
    )
    artifacts.watch_artifacts()
    html = client.get(f"/history/{conversation.pk}/").content.decode()
    assert "Waiting for" not in html and "Final transcript from Tavus" in html
    assert "pelican-shaped kites" in html  # in the system prompt toggle
    # Seeing the same events again (a late webhook, another pass) stores nothing twice.
    count = conversation.events.count()
    remote = tavus.get_conversation(conversation.tavus_id, verbose=True)
    assert artifacts.apply_tavus_events(conversation, remote.events) == set()
    assert conversation.events.count() == count
    # The sandbox transcript is only its system prompt, which search leaves out.
    assert search.document(Conversation.objects.get(pk=conversation.pk)) == ""


def test_it_waits_out_the_grace_and_gives_up_after_the_limit(ended_at_tavus):
    conversation = ended_at_tavus()
    ended = conversation.ended_at
    early = artifacts.watch_artifacts(now=ended + timedelta(minutes=1))
    late = artifacts.watch_artifacts(now=ended + timedelta(minutes=31))
    assert early["checked"] == late["checked"] == 0
    conversation.refresh_from_db()
    assert conversation.transcript is None
    assert artifacts.artifact_states(conversation, now=ended + timedelta(minutes=31)) == [
        {"name": "transcript", "waiting": False}
    ]


def test_tavus_trouble_is_logged_and_survived(ended_at_tavus, caplog):
    conversation = ended_at_tavus()

    def broken(request):
        return httpx.Response(500, text="upstream exploded")

    with tavus.use_transport(httpx.MockTransport(broken)):
        summary = artifacts.watch_artifacts()
    assert summary["errors"] == 1
    assert f"could not fetch {conversation.tavus_id}" in caplog.text


def test_unreadable_events_are_skipped(operator, db):
    conversation, _ = make_conversation(operator, status=Conversation.ENDED)
    changed = artifacts.apply_tavus_events(
        conversation,
        [
            "not an object",
            {"event_type": 42},
            {
                "event_type": "system.shutdown",
                "conversation_id": "c-someone-else",
                "properties": {"shutdown_reason": "x"},
            },
            {
                "event_type": "application.transcription_ready",
                "properties": {"transcript": [{"role": "user", "content": "hi"}]},
            },
        ],
    )
    assert changed == {"artifacts"}
    conversation.refresh_from_db()
    assert conversation.transcript == [{"role": "user", "content": "hi"}]
