"""Conversation lifecycle: timers, shutdown reasons and webhooks, driven by tick(now)."""

import re
import time
from datetime import timedelta

import pytest

from studio.sandbox import webhooks
from studio.sandbox.lifecycle import tick
from studio.sandbox.models import WebhookDelivery
from tests.sandbox.helpers import (
    HISTORY_TEACHER,
    NATHAN,
    SALES_COACH,
    Person,
    api_client,
    at,
    conversation,
    create,
)

pytestmark = pytest.mark.django_db
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


@pytest.fixture
def api(fast_sandbox):
    return api_client()


def _verbose(api, conversation_id):
    response = api.get(f"/sandbox/v2/conversations/{conversation_id}?verbose=true")
    assert response.status_code == 200
    return response.json()


def test_the_replica_joins_after_the_delay_and_both_joined_webhooks_follow(api, hooks):
    cid = create(api, callback_url=hooks.url)["conversation_id"]
    tick(at(cid, 0.05))
    assert hooks.bodies == []
    tick(at(cid, 0.1))
    joined, pal = hooks.wait_for(2)
    assert joined == {
        "conversation_id": cid,
        "event_type": "system.replica_joined",
        "message_type": "system",
        "timestamp": joined["timestamp"],
        "webhook_url": hooks.url,
        "properties": {"replica_id": NATHAN},
    }
    assert ISO.match(joined["timestamp"])
    assert pal["event_type"] == "system.pal_joined"
    assert pal["message_type"] == "system"
    assert pal["properties"] == {"face_id": NATHAN}
    # Joining happens once, however often the clock ticks.
    tick(at(cid, 5))
    assert hooks.types() == ["system.replica_joined", "system.pal_joined"]


def test_it_ends_at_max_call_duration(api, hooks):
    cid = create(api, callback_url=hooks.url, properties={"max_call_duration": 60})[
        "conversation_id"
    ]
    tick(at(cid, 59))
    assert conversation(cid).status == "active"
    tick(at(cid, 60))
    bodies = hooks.wait_for(4)
    assert [b["event_type"] for b in bodies] == [
        "system.replica_joined",
        "system.pal_joined",
        "system.shutdown",
        "application.transcription_ready",
    ]
    assert bodies[2]["properties"] == {
        "replica_id": NATHAN,
        "shutdown_reason": "max_call_duration",
    }
    assert conversation(cid).status == "ended"


def test_it_ends_when_nobody_opens_the_room_within_the_absent_timeout(api, hooks):
    cid = create(api, callback_url=hooks.url)["conversation_id"]  # default 300 s
    tick(at(cid, 299))
    assert conversation(cid).status == "active"
    tick(at(cid, 300))
    shutdown = hooks.wait_for(3)[2]
    assert shutdown["properties"]["shutdown_reason"] == "participant_absent_timeout"


def test_opening_the_room_stops_the_absent_timer(api):
    cid = create(api, properties={"participant_absent_timeout": 10})["conversation_id"]
    person = Person(cid)
    person.join()
    tick(at(cid, 11))
    assert conversation(cid).status == "active"
    person.presence("heartbeat")
    assert conversation(cid).status == "active"


def test_it_ends_after_the_last_person_leaves(api, hooks):
    cid = create(api, callback_url=hooks.url, properties={"participant_left_timeout": 30})[
        "conversation_id"
    ]
    person = Person(cid)
    person.join()
    person.presence("leave", seq=0)
    left = conversation(cid).left_deadline
    tick(left - timedelta(seconds=1))
    assert conversation(cid).status == "active"
    tick(left)
    assert conversation(cid).shutdown_reason == "participant_left_timeout"
    assert hooks.wait_for(3)[2]["properties"]["shutdown_reason"] == "participant_left_timeout"


def test_a_left_timeout_of_zero_still_survives_a_page_reload(api):
    cid = create(api)["conversation_id"]  # participant_left_timeout defaults to 0
    person = Person(cid)
    person.join()
    person.presence("leave", seq=0)
    person.session = "s-reloaded"
    person.join()  # the reloaded page, within the grace period
    tick(at(cid, 5))
    assert conversation(cid).status == "active"


def test_a_page_that_stops_sending_heartbeats_counts_as_gone(api):
    cid = create(api, properties={"participant_left_timeout": 5})["conversation_id"]
    Person(cid).join()
    tick(at(cid, 14))
    assert conversation(cid).left_deadline is None
    tick(at(cid, 16))  # no heartbeat for 15 s: gone; the left timer starts now
    assert conversation(cid).status == "active"
    tick(at(cid, 22))
    assert conversation(cid).shutdown_reason == "participant_left_timeout"


def test_a_late_leave_from_a_replaced_page_is_ignored(api):
    cid = create(api)["conversation_id"]
    person = Person(cid)
    person.join()
    old_session = person.session
    person.session = "s-new"
    person.join()
    person.session = old_session
    person.presence("leave", seq=0)  # the old page's beacon arrives after the new page joined
    tick(at(cid, 5))
    assert conversation(cid).status == "active"


def test_the_end_endpoint_sends_shutdown_then_the_transcript(api, hooks):
    cid = create(api, callback_url=hooks.url, persona_id=HISTORY_TEACHER)["conversation_id"]
    assert api.post(f"/sandbox/v2/conversations/{cid}/end").status_code == 200
    tick()
    shutdown, transcript = hooks.wait_for(2)
    assert shutdown["event_type"] == "system.shutdown"
    assert shutdown["properties"]["shutdown_reason"] == "end_conversation_endpoint_hit"
    assert transcript["event_type"] == "application.transcription_ready"
    assert transcript["message_type"] == "application"
    assert set(transcript) == {
        "conversation_id",
        "event_type",
        "message_type",
        "timestamp",
        "webhook_url",
        "properties",
    }
    assert transcript["properties"]["replica_id"] == "r6ae5b6efc9d"
    # Ending twice sends nothing more.
    assert api.post(f"/sandbox/v2/conversations/{cid}/end").status_code == 200
    tick()
    assert WebhookDelivery.objects.filter(conversation_id=cid).count() == 2


def test_the_transcript_is_the_system_prompt_then_what_was_said(api):
    cid = create(
        api,
        persona_id=HISTORY_TEACHER,
        custom_greeting="Welcome to history class!",
        conversational_context="The student is twelve.",
    )["conversation_id"]
    person = Person(cid)
    person.join()
    tick(at(cid, 1))  # replica joins and greets the person who is there
    person.say("Who built the pyramids?")
    echo = {
        "message_type": "conversation",
        "event_type": "conversation.echo",
        "conversation_id": cid,
        "properties": {"text": "Exactly these words."},
    }
    person.command(echo)
    api.post(f"/sandbox/v2/conversations/{cid}/end")
    transcript = _verbose(api, cid)["transcript"]
    assert transcript[0]["role"] == "system"
    assert transcript[0]["content"].startswith("You are a history teacher.")
    assert transcript[0]["content"].endswith("The student is twelve.")
    assert transcript[1:] == [
        {"role": "assistant", "content": "Welcome to history class!"},
        {"role": "user", "content": "Who built the pyramids?"},
        {
            "role": "assistant",
            "content": "History Teacher here. You said: “Who built the pyramids?” Tell me more.",
        },
        {"role": "assistant", "content": "Exactly these words."},
    ]


def test_recording_ready_is_sent_when_a_recording_was_started(api, hooks):
    cid = create(
        api,
        callback_url=hooks.url,
        properties={"enable_recording": True, "recording_s3_bucket_name": "studio-recordings"},
    )["conversation_id"]
    person = Person(cid)
    person.join()
    start = person.command({"message_type": "sandbox", "event_type": "start_recording"})
    assert start.json()["reply"] == {"message_type": "sandbox", "event_type": "recording-started"}
    with_recording = conversation(cid)
    with_recording.recording_started_at = at(cid, 2)  # as if it started 2 s in
    with_recording.save()
    tick(at(cid, 10))
    api.post(f"/sandbox/v2/conversations/{cid}/end")
    tick()
    bodies = hooks.wait_for(5)
    recording = next(b for b in bodies if b["event_type"] == "application.recording_ready")
    assert recording["message_type"] == "application"
    properties = recording["properties"]
    assert properties["bucket_name"] == "studio-recordings"
    assert properties["s3_key"].startswith(f"{cid}/") and properties["s3_key"].endswith(".mp4")
    assert isinstance(properties["duration"], int) and properties["duration"] >= 1


@pytest.mark.parametrize(
    "properties",
    [
        {"enable_recording": True},  # no bucket
        {"enable_recording": True, "recording_s3_bucket_name": "b", "_never_started": True},
    ],
    ids=["no-bucket", "never-started"],
)
def test_no_recording_ready_without_a_bucket_or_a_started_recording(api, properties):
    never_started = properties.pop("_never_started", False)
    cid = create(api, properties=properties)["conversation_id"]
    person = Person(cid)
    person.join()
    if not never_started:
        person.command({"message_type": "sandbox", "event_type": "start_recording"})
    api.post(f"/sandbox/v2/conversations/{cid}/end")
    types = [e["event_type"] for e in _verbose(api, cid)["events"]]
    assert "application.recording_ready" not in types


def test_perception_analysis_comes_only_with_a_raven_persona(api):
    raven = create(api, persona_id=SALES_COACH)["conversation_id"]
    basic = create(api, persona_id=HISTORY_TEACHER)["conversation_id"]
    for cid in (raven, basic):
        api.post(f"/sandbox/v2/conversations/{cid}/end")
    events = {cid: _verbose(api, cid)["events"] for cid in (raven, basic)}
    analysis = [e for e in events[raven] if e["event_type"] == "application.perception_analysis"]
    assert len(analysis) == 1
    assert isinstance(analysis[0]["properties"]["analysis"], str)
    assert analysis[0]["properties"]["analysis"]
    assert "application.perception_analysis" not in [e["event_type"] for e in events[basic]]


def test_test_mode_never_joins_and_sends_nothing(api, hooks):
    cid = create(api, callback_url=hooks.url, test_mode=True)["conversation_id"]
    tick(at(cid, 4000))
    assert _verbose(api, cid)["events"] == []
    assert not WebhookDelivery.objects.exists()
    assert Person(cid).open().status_code == 410


def test_verbose_get_serves_every_event_with_the_reason_and_transcript(api, hooks):
    cid = create(api, callback_url=hooks.url, persona_id=SALES_COACH)["conversation_id"]
    tick(at(cid, 2))
    api.post(f"/sandbox/v2/conversations/{cid}/end")
    tick()
    sent = hooks.wait_for(5)
    body = _verbose(api, cid)
    assert body["status"] == "ended"
    assert body["shutdown_reason"] == "end_conversation_endpoint_hit"
    assert body["transcript"][0]["role"] == "system"
    assert body["events"] == sent  # the same envelopes the webhooks carried, in order
    assert [e["event_type"] for e in body["events"]] == [
        "system.replica_joined",
        "system.pal_joined",
        "system.shutdown",
        "application.transcription_ready",
        "application.perception_analysis",
    ]


def test_deleting_an_active_conversation_shuts_it_down_and_still_sends(api, hooks):
    cid = create(api, callback_url=hooks.url)["conversation_id"]
    response = api.delete(f"/sandbox/v2/conversations/{cid}?hard=true")
    assert response.status_code == 204
    tick()
    shutdown = hooks.wait_for(2)[0]
    assert shutdown["properties"]["shutdown_reason"] == "daily_room_has_been_deleted"


# --- Delivery ---------------------------------------------------------------------------------


def test_a_failing_receiver_gets_retries_with_backoff_in_order(api, hooks, fast_backoff):
    hooks.fail_first = 2
    cid = create(api, callback_url=hooks.url)["conversation_id"]
    api.post(f"/sandbox/v2/conversations/{cid}/end")
    tick()  # attempt 1 fails; the transcript waits behind the shutdown
    assert [status for _, _, status in hooks.attempts] == [500]
    for _ in range(40):
        tick()
        if len(hooks.bodies) == 2:
            break
        time.sleep(0.05)
    assert hooks.types() == ["system.shutdown", "application.transcription_ready"]
    statuses = [(b["event_type"], status) for _, b, status in hooks.attempts]
    assert statuses == [
        ("system.shutdown", 500),
        ("system.shutdown", 500),
        ("system.shutdown", 200),
        ("application.transcription_ready", 200),
    ]
    times = [t for t, _, _ in hooks.attempts]
    assert times[2] - times[1] >= times[1] - times[0] >= 0.04  # backoff grows


def test_delivery_gives_up_after_the_configured_retries(api, hooks, fast_backoff, settings):
    settings.SANDBOX_WEBHOOK_RETRIES = 2
    hooks.always_fail = True
    cid = create(api, callback_url=hooks.url)["conversation_id"]
    api.post(f"/sandbox/v2/conversations/{cid}/end")
    for _ in range(60):
        tick()
        if not WebhookDelivery.objects.filter(delivered_at=None, gave_up_at=None).exists():
            break
        time.sleep(0.05)
    per_event = {}
    for _, body, _ in hooks.attempts:
        per_event[body["event_type"]] = per_event.get(body["event_type"], 0) + 1
    # One try plus two retries each; giving up on one event doesn't block the next.
    assert per_event == {"system.shutdown": 3, "application.transcription_ready": 3}
    assert WebhookDelivery.objects.filter(gave_up_at__isnull=False).count() == 2


def test_an_unreachable_receiver_never_breaks_the_clock(api, fast_backoff, caplog):
    cid = create(api, callback_url="http://127.0.0.1:9/nothing-listens-here")["conversation_id"]
    api.post(f"/sandbox/v2/conversations/{cid}/end")
    tick()
    tick()
    delivery = WebhookDelivery.objects.filter(conversation_id=cid).first()
    assert delivery.attempts == 1
    assert "ConnectError" in delivery.last_error
    assert "retry in" in caplog.text


def test_webhooks_are_delivered_outside_the_request(api, hooks, monkeypatch):
    sent = []
    monkeypatch.setattr(webhooks, "_send", lambda d: sent.append(d) or "")
    cid = create(api, callback_url=hooks.url)["conversation_id"]
    api.post(f"/sandbox/v2/conversations/{cid}/end")
    assert sent == []  # the /end request only queued them
    tick()
    assert [d.body["event_type"] for d in sent] == [
        "system.shutdown",
        "application.transcription_ready",
    ]
