"""5,000 webhooks, 30 % duplicates, shuffled, across 50 conversations: exactly the right state."""

import json
import random

import pytest
from django.test import Client

from studio.conversations.models import Event
from tests.conversations.factories import make_conversation, webhook

CONVERSATIONS, ACTIONS_EACH, TOTAL = 50, 64, 5000


@pytest.mark.time_window
def test_a_storm_of_webhooks_ends_in_exactly_the_right_state(operator):
    rng = random.Random(2026)
    client = Client()
    unique, expected = [], {}
    for n in range(CONVERSATIONS):
        conversation, secret = make_conversation(operator, title=f"Storm {n}")
        reason = rng.choice(["max_call_duration", "participant_left_timeout",
                             "end_conversation_endpoint_hit"])
        transcript = [{"role": "user", "content": f"line from {n}"}]
        twin = webhook(conversation, "system.pal_joined")
        twin["properties"] = {"face_id": "r79e1c033f"}
        bodies = [
            webhook(conversation, "system.replica_joined"),
            twin,
            webhook(conversation, "system.shutdown", shutdown_reason=f"{reason} reached"),
            webhook(conversation, "application.transcription_ready", transcript=transcript),
            webhook(conversation, "application.recording_ready", bucket_name="b",
                    s3_key=f"{n}.mp4", duration=60),
            webhook(conversation, "application.perception_analysis", analysis=f"calm {n}"),
        ]
        bodies += [
            webhook(conversation, "application.post_call_action_executed",
                    tool_id=f"tool-{i}", status="success")
            for i in range(ACTIONS_EACH)
        ]
        unique += [(secret, body) for body in bodies]
        # The era-B twin is the same event as replica_joined: one row, not two.
        expected[conversation.pk] = (reason, transcript, len(bodies) - 1, n)
    storm = unique + [rng.choice(unique) for _ in range(TOTAL - len(unique))]
    assert len(storm) == TOTAL and (TOTAL - len(unique)) / TOTAL >= 0.29
    rng.shuffle(storm)

    statuses = set()
    for secret, body in storm:
        response = client.post(f"/hooks/tavus/{secret}/", json.dumps(body),
                               content_type="application/json")
        statuses.add(response.status_code)
    assert statuses == {200}

    from studio.conversations.models import Conversation

    for conversation in Conversation.objects.all():
        reason, transcript, events, n = expected[conversation.pk]
        assert conversation.status == "ended"
        assert conversation.end_reason == reason
        assert conversation.transcript == transcript
        assert conversation.recording["s3_key"] == f"{n}.mp4"
        assert conversation.perception_analysis == f"calm {n}"
        assert conversation.events.filter(source=Event.WEBHOOK).count() == events
