import json
import random
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from studio.conversations.models import Conversation, Event
from tests.conversations.factories import make_conversation, tavus_timestamp, webhook

# The webhook grace counts from the end: every test here runs on three clocks.
pytestmark = pytest.mark.time_window


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


@pytest.mark.parametrize(
    "body, content_type",
    [("{not json", "application/json"), ("a=b", "application/x-www-form-urlencoded")],
)
def test_wrong_secret_is_404_whatever_the_body(client, convo, body, content_type):
    # The body is read before the secret is looked up (one query for both the conversation and
    # the duplicate check), but a caller without the secret learns nothing about the body.
    response = post(client, "not-the-secret", body, content_type=content_type)
    assert response.status_code == 404
    assert json.loads(response.content) == {"error": "unknown callback"}


def test_a_redelivery_is_known_and_changes_nothing(client, convo):
    conversation, secret = convo
    body = webhook(conversation, "application.perception_analysis", analysis="First words.")
    assert json.loads(post(client, secret, body).content) == {"status": "ok"}
    Conversation.objects.filter(pk=conversation.pk).update(perception_analysis="Edited since.")
    assert json.loads(post(client, secret, body).content) == {"status": "duplicate"}
    conversation.refresh_from_db()
    assert conversation.perception_analysis == "Edited since."
    assert Event.objects.filter(conversation=conversation).count() == 1


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
    shutdown = webhook(conversation, "system.shutdown", shutdown_reason="max_call_duration")
    post(client, secret, shutdown)
    body = webhook(conversation, "application.perception_analysis", analysis="late")
    with time_machine.travel(timezone.now() + timedelta(seconds=59)):
        assert post(client, secret, body).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(seconds=61)):
        late = webhook(conversation, "application.perception_analysis", analysis="later")
        assert post(client, secret, late).status_code == 404


def test_a_late_retried_shutdown_does_not_lock_out_the_transcript_after_it(client, convo):
    # Tavus retried the shutdown for a day: its timestamp is old, but the studio only just
    # heard of the end, so the grace starts now and the transcript that follows gets in.
    conversation, secret = convo
    conversation._set(created_at=timezone.now() - timedelta(days=2))
    day_old = tavus_timestamp(timezone.now() - timedelta(days=1))
    shutdown = webhook(
        conversation, "system.shutdown", timestamp=day_old, shutdown_reason="max_call_duration"
    )
    assert post(client, secret, shutdown).status_code == 200
    transcript = [{"role": "user", "content": "Still here"}]
    body = webhook(conversation, "application.transcription_ready", transcript=transcript)
    assert post(client, secret, body).status_code == 200
    conversation.refresh_from_db()
    assert conversation.transcript == transcript
    # The end itself is Tavus's: that is what it bills to.
    assert conversation.ended_at.isoformat().startswith(day_old[:19])
    assert timezone.now() - conversation.end_received_at < timedelta(minutes=1)


@pytest.mark.parametrize("skew", [timedelta(hours=3), -timedelta(days=400)])
def test_an_end_stamped_outside_the_call_falls_back_to_the_studios_clock(client, convo, skew):
    # A clock ahead of ours, or a date before the conversation began, cannot be the end.
    conversation, secret = convo
    stamp = tavus_timestamp(timezone.now() + skew)
    body = webhook(conversation, "system.shutdown", timestamp=stamp, shutdown_reason="x")
    assert post(client, secret, body).status_code == 200
    conversation.refresh_from_db()
    assert abs(conversation.ended_at - timezone.now()) < timedelta(minutes=1)
    assert conversation.ended_at >= conversation.created_at


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


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ('{"a":' * 100_000 + "1" + "}" * 100_000, "nested more than"),
        (None, "nested more than"),  # 40 levels: parses, but deeper than any Tavus event
        ('{"conversation_id": "c1", "event_type": "system.shutdown", "x": NaN}', "NaN"),
        ('{"conversation_id": "c1", "event_type": "system.shutdown", "x": -Infinity}', "Infinity"),
    ],
)
def test_bodies_no_database_can_store_are_refused_in_plain_words(client, convo, raw, reason):
    conversation, secret = convo
    if raw is None:
        nested: dict = {"leaf": 1}
        for _ in range(40):
            nested = {"inner": nested}
        raw = json.dumps(webhook(conversation, "application.perception_analysis", deep=nested))
    response = post(client, secret, raw)
    assert response.status_code == 400
    assert reason in json.loads(response.content)["error"]
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    "event_type", ["application." + "x" * 80, "system.shut\x00down", "system.shut down"]
)
def test_an_event_type_that_is_not_a_short_name_is_refused(client, convo, event_type):
    conversation, secret = convo
    response = post(client, secret, webhook(conversation, event_type))
    assert response.status_code == 400
    assert "event_type must be a short name" in json.loads(response.content)["error"]
    assert not Event.objects.exists()


def test_nul_characters_inside_a_payload_are_dropped_and_the_rest_stored(client, convo):
    conversation, secret = convo
    transcript = [{"role": "user", "content": "Hel\x00lo"}]
    body = webhook(conversation, "application.transcription_ready", transcript=transcript)
    assert post(client, secret, body).status_code == 200
    conversation.refresh_from_db()
    assert conversation.transcript == [{"role": "user", "content": "Hello"}]


def test_the_size_limit_counts_the_bytes_of_a_chunked_body(studio_server, operator, settings):
    import httpx

    conversation, secret = make_conversation(operator)
    settings.WEBHOOK_MAX_BYTES = 10_000
    body = json.dumps(
        webhook(conversation, "application.perception_analysis", analysis="x" * 50_000)
    ).encode()

    def chunks():  # no Content-Length: the body arrives in pieces
        for start in range(0, len(body), 4096):
            yield body[start : start + 4096]

    response = httpx.post(
        f"{studio_server.url}/hooks/tavus/{secret}/",
        content=chunks(),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413
    assert not Event.objects.filter(conversation=conversation).exists()
