"""The live page's updates: the status timeline and the captions, as the room reports them."""

from datetime import timedelta

import pytest
from django.utils import timezone

from studio.conversations import live
from studio.conversations.models import Conversation
from tests.conversations.factories import end_requested, make_conversation, room_event, say

pytestmark = pytest.mark.django_db


def streaming(conversation, inference_id, text, final=False):
    event = room_event(
        conversation,
        "conversation.utterance.streaming",
        inference_id,
        role="replica",
        speech=text,
        final=final,
    )
    return live.ingest_room_event(conversation, event)


def test_a_streamed_line_whose_caption_is_up_is_not_shown_twice(operator):
    conversation, _ = make_conversation(operator)
    # Tavus sends the whole line as the replica starts to speak, then streams the same words.
    say(conversation, "replica", "Hello there, how can I help?", "i1")
    assert streaming(conversation, "i1", "Hello there,") == []
    assert streaming(conversation, "i1", "Hello there, how can I help?", final=True) == []


def test_a_line_streams_while_its_caption_has_not_come(operator):
    conversation, _ = make_conversation(operator)
    (pushed,) = streaming(conversation, "i2", "Let me think")
    assert 'id="streaming-replica"' in pushed[1] and "Let me think" in pushed[1]
    # The caption arrives: it replaces the streamed line (hidden in the same push).
    html = "".join(part for _, part in say(conversation, "replica", "Let me think.", "i2"))
    assert 'id="streaming-replica"' in html and "hidden" in html


def test_the_timeline_ends_with_the_end_after_the_request(operator, supervisor):
    start = timezone.now() - timedelta(minutes=2)
    conversation, _ = make_conversation(
        operator,
        created_at=start,
        replica_joined_at=start + timedelta(seconds=2),
        person_joined_at=start + timedelta(seconds=5),
    )
    asked = start + timedelta(seconds=30, milliseconds=700)
    end_requested(conversation, supervisor, asked)
    # Tavus's shutdown, stamped to the second: before the request, by the clocks.
    conversation.mark_ended("end_conversation_endpoint_hit", start + timedelta(seconds=30))
    conversation = Conversation.objects.get(pk=conversation.pk)
    labels = [step["label"] for step in live.timeline(conversation)]
    assert labels[-2:] == ["End requested by sam", "Ended: Ended from the studio"]


def test_the_end_is_asked_for_before_tavus_is_called(client, operator, monkeypatch):
    from studio.conversations import views

    conversation, _ = make_conversation(operator)
    called = []
    monkeypatch.setattr(views.client, "end_conversation", lambda _id: called.append(timezone.now()))
    client.force_login(operator)
    client.post(f"/conversations/{conversation.pk}/end/")
    conversation = Conversation.objects.get(pk=conversation.pk)
    request = conversation.events.get(event_type="studio.end_requested")
    # Noted as of the moment it was asked: Tavus's shutdown webhook may come in before the
    # call returns.
    assert conversation.end_requested_at == request.occurred_at <= called[0]
