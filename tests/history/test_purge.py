import logging
from datetime import timedelta

import httpx
import pytest
from django.core.management import call_command
from django.utils import timezone

from studio.conversations import search
from studio.conversations.models import Conversation, Event
from studio.conversations.retention import PURGED_EVENT, purge
from studio.tavus import client as tavus
from tests.history.conftest import ended

# Alerts, rules and windows that count from now: every test here runs on three clocks.
pytestmark = pytest.mark.time_window

DAY = 24 * 60


def old_conversation(user, preset, days, **fields):
    conversation = ended(
        user,
        preset=preset,
        minutes_ago=days * DAY,
        said=[("user", "private words")],
        transcript=[{"role": "user", "content": "private words"}],
        perception_analysis="They looked tired.",
        recording={"bucket_name": "b", "s3_key": "k"},
        **fields,
    )
    Event.objects.create(
        conversation=conversation,
        source=Event.WEBHOOK,
        event_type="system.shutdown",
        dedupe_key="x",
        payload={},
    )
    return conversation


def test_it_removes_what_is_older_than_the_presets_retention(operator, make_preset, caplog):
    short = make_preset(name="Short", retention_days=30)
    forever = make_preset(name="Forever")
    expired = old_conversation(operator, short, days=31)
    fresh = old_conversation(operator, short, days=29)
    kept = old_conversation(operator, forever, days=400)
    orphan = old_conversation(operator, None, days=400)
    caplog.set_level(logging.INFO, logger="studio.conversations.retention")

    summary = purge()

    assert (
        summary.conversations,
        summary.transcripts,
        summary.utterances,
        summary.events,
        summary.perception_analyses,
    ) == (1, 1, 1, 1, 1)
    expired.refresh_from_db()
    assert expired.transcript is None and expired.perception_analysis == ""
    assert not expired.utterances.exists()
    assert list(expired.events.values_list("event_type", flat=True)) == [PURGED_EVENT]
    assert expired.recording == {"bucket_name": "b", "s3_key": "k"}  # a pointer to their bucket
    for conversation in (fresh, kept, orphan):
        conversation.refresh_from_db()
        assert conversation.transcript and conversation.utterances.exists()
        assert conversation.events.filter(event_type="system.shutdown").exists()
    assert not search.search(Conversation.objects.filter(pk=expired.pk), "private").exists()
    assert search.search(Conversation.objects.filter(pk=fresh.pk), "private").exists()
    assert f"conversation {expired.pk} (preset 'Short', keep 30 days)" in caplog.text


def test_a_second_run_finds_nothing_more(operator, make_preset):
    preset = make_preset(retention_days=7)
    old_conversation(operator, preset, days=8)
    assert purge().conversations == 1
    assert purge().conversations == 0


def test_live_conversations_are_never_purged(operator, make_preset):
    preset = make_preset(retention_days=1)
    old_conversation(operator, preset, days=3, status=Conversation.ACTIVE)
    assert purge().conversations == 0


def test_the_page_says_it_was_removed(client, operator, make_preset):
    preset = make_preset(name="Short", retention_days=7)
    conversation = old_conversation(operator, preset, days=8)
    purge()
    client.force_login(operator)
    html = client.get(f"/history/{conversation.pk}/").content.decode()
    assert "Transcript, captions and events removed after 7 days" in html
    assert "private words" not in html and "They looked tired" not in html


def test_dry_run_changes_nothing(operator, make_preset):
    preset = make_preset(retention_days=7)
    conversation = old_conversation(operator, preset, days=8)
    summary = purge(dry_run=True)
    assert summary.conversations == 1 and summary.dry_run
    conversation.refresh_from_db()
    assert conversation.transcript and conversation.utterances.count() == 1


def test_now_can_be_given(operator, make_preset):
    preset = make_preset(retention_days=7)
    old_conversation(operator, preset, days=2)
    assert purge(now=timezone.now() + timedelta(days=6)).conversations == 1


def test_batches_cover_every_preset(operator, make_preset, monkeypatch):
    from studio.conversations import retention

    monkeypatch.setattr(retention, "PURGE_BATCH", 2)
    a, b = make_preset(name="A", retention_days=1), make_preset(name="B", retention_days=1)
    for preset in (b, a, b, a, b):  # interleaved ids across the two presets
        old_conversation(operator, preset, days=3)
    assert purge().conversations == 5


def test_hard_delete_at_tavus(operator, make_preset):
    preset = make_preset(retention_days=7)
    first = old_conversation(operator, preset, days=8)
    second = old_conversation(operator, preset, days=9)
    sent = []

    def handler(request):
        path = request.url.path.split("/v2/", 1)[1]
        sent.append((request.method, path, dict(request.url.params)))
        if second.tavus_id in request.url.path:
            return httpx.Response(400, json={"error": "Invalid conversation_id"})
        return httpx.Response(204)

    with tavus.use_transport(httpx.MockTransport(handler)):
        summary = purge(hard=True)
    assert ("DELETE", f"conversations/{first.tavus_id}", {"hard": "true"}) in sent
    assert (summary.tavus_deleted, summary.tavus_failed) == (1, 1)


def test_the_command(operator, make_preset, capsys):
    preset = make_preset(retention_days=7)
    conversation = old_conversation(operator, preset, days=8)
    call_command("purge", "--dry-run")
    assert "Would remove the data of 1 conversation(s)" in capsys.readouterr().out
    call_command("purge")
    assert "Removed the data of 1 conversation(s): 1 transcript(s)" in capsys.readouterr().out
    conversation.refresh_from_db()
    assert conversation.transcript is None
