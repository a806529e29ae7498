import json
import random

import pytest
from django.utils import timezone

from studio.conversations.models import Conversation, Event
from tests.conversations.factories import make_conversation, webhook


def post(client, secret, body, content_type="application/json"):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post(f"/hooks/tavus/{secret}/", data, content_type=content_type)


@pytest.fixture
def convo(operator):
    return make_conversation(operator, status=Conversation.ACTIVE)


def test_replica_joined_then_shutdown_moves_the_conversation_on(client, convo):
    conversation, secret = convo
    assert post(client, secret, webhook(conversation, "system.replica_joined")).status_code == 200
    conversation.refresh_from_db()
    assert conversation.replica_joined_at is not None
    response = post(
        client,
        secret,
        webhook(conversation, "system.shutdown", shutdown_reason="participant_left_timeout"),
    )
    assert response.status_code == 200
    conversation.refresh_from_db()
    assert conversation.status == "ended"
    assert conversation.end_reason == "participant_left_timeout"
    assert conversation.end_reason_text == "Everyone left"


def test_a_duplicate_is_stored_once(client, convo):
    conversation, secret = convo
    body = webhook(conversation, "system.replica_joined")
    assert json.loads(post(client, secret, body).content)["status"] == "ok"
    assert json.loads(post(client, secret, body).content)["status"] == "duplicate"
    assert conversation.events.count() == 1


def test_era_b_twin_is_the_same_event(client, convo):
    conversation, secret = convo
    post(client, secret, webhook(conversation, "system.replica_joined"))
    twin = webhook(conversation, "system.pal_joined")
    twin["properties"] = {"face_id": "r79e1c033f"}
    response = post(client, secret, twin)
    assert response.status_code == 200
    assert conversation.events.count() == 1


def test_a_late_replica_joined_never_reopens_an_ended_conversation(client, convo):
    conversation, secret = convo
    post(
        client,
        secret,
        webhook(conversation, "system.shutdown", shutdown_reason="end_conversation_endpoint_hit"),
    )
    post(client, secret, webhook(conversation, "system.replica_joined"))
    conversation.refresh_from_db()
    assert conversation.status == "ended"
    assert conversation.replica_joined_at is None


def test_transcript_before_shutdown_is_kept(client, convo):
    conversation, secret = convo
    transcript = [{"role": "system", "content": "You are..."}, {"role": "user", "content": "Hello"}]
    post(
        client,
        secret,
        webhook(conversation, "application.transcription_ready", transcript=transcript),
    )
    post(
        client,
        secret,
        webhook(conversation, "system.shutdown", shutdown_reason="max_call_duration reached"),
    )
    conversation.refresh_from_db()
    assert conversation.transcript == transcript
    assert conversation.status == "ended" and conversation.end_reason == "max_call_duration"


def test_recording_and_perception_are_stored(client, convo):
    conversation, secret = convo
    post(
        client,
        secret,
        webhook(
            conversation,
            "application.recording_ready",
            bucket_name="b",
            s3_key="k.mp4",
            duration=61,
        ),
    )
    post(
        client,
        secret,
        webhook(conversation, "application.perception_analysis", analysis="Calm and engaged."),
    )
    conversation.refresh_from_db()
    assert conversation.recording["s3_key"] == "k.mp4"
    assert conversation.perception_analysis == "Calm and engaged."


def test_wrong_secret_is_404_and_changes_nothing(client, convo):
    conversation, _ = convo
    response = post(client, "not-the-secret", webhook(conversation, "system.shutdown"))
    assert response.status_code == 404
    conversation.refresh_from_db()
    assert conversation.status == "active" and not Event.objects.exists()


def test_wrong_conversation_id_is_refused(client, convo):
    conversation, secret = convo
    body = webhook(conversation, "system.shutdown", shutdown_reason="max_call_duration")
    body["conversation_id"] = "c000000000"
    assert post(client, secret, body).status_code == 400
    conversation.refresh_from_db()
    assert conversation.status == "active"


@pytest.mark.parametrize("body", ["{not json", "[]", json.dumps({"event_type": "x"})])
def test_bad_json_is_400_with_a_reason(client, convo, body):
    _, secret = convo
    response = post(client, secret, body)
    assert response.status_code == 400
    assert "bad webhook" in json.loads(response.content)["error"]
    assert not Event.objects.exists()


def test_only_json_is_accepted(client, convo):
    conversation, secret = convo
    response = post(client, secret, "a=b", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415


def test_oversized_body_is_413(client, convo, settings):
    conversation, secret = convo
    settings.WEBHOOK_MAX_BYTES = 200
    body = webhook(conversation, "application.perception_analysis", analysis="x" * 500)
    assert post(client, secret, body).status_code == 413


def test_get_is_not_allowed(client, convo):
    _, secret = convo
    assert client.get(f"/hooks/tavus/{secret}/").status_code == 405


def test_secret_stops_working_after_the_grace_period(client, convo, settings):
    conversation, secret = convo
    settings.WEBHOOK_GRACE_SECONDS = 60
    conversation._set(status="ended", ended_at=timezone.now() - timezone.timedelta(seconds=120))
    body = webhook(conversation, "application.perception_analysis", analysis="late")
    assert post(client, secret, body).status_code == 404


def test_shuffled_storm_with_duplicates_ends_in_the_right_state(client, operator):
    rng = random.Random(7)
    conversations = [make_conversation(operator) for _ in range(5)]
    bodies = []
    for conversation, secret in conversations:
        for body in (
            webhook(conversation, "system.replica_joined"),
            webhook(conversation, "system.shutdown", shutdown_reason="max_call_duration"),
            webhook(
                conversation,
                "application.transcription_ready",
                transcript=[{"role": "user", "content": conversation.tavus_id}],
            ),
        ):
            bodies.append((secret, body))
    bodies += rng.sample(bodies, 6)  # duplicates
    rng.shuffle(bodies)
    for secret, body in bodies:
        assert post(client, secret, body).status_code == 200
    for conversation, _ in conversations:
        conversation.refresh_from_db()
        assert conversation.status == "ended"
        assert conversation.transcript == [{"role": "user", "content": conversation.tavus_id}]
        assert conversation.events.count() == 3
