"""When Tavus cannot copy a recording to the customer's bucket (application.recording_copy_failed):
kept on the conversation, shown on its history page, alerted on the monitoring wall for a day,
logged, filterable and exported."""

import json
import logging
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from studio.conversations.models import Conversation
from tests.conversations.factories import make_conversation, webhook
from tests.history.test_export import read_csv

# The wall shows a failure for a day after the end: every test here runs on three clocks.
pytestmark = pytest.mark.time_window

FAILURE = "AccessDenied: the role may not s3:PutObject on studio-recordings"


@pytest.fixture
def convo(operator):
    """An ended conversation that recorded and is waiting for its recording."""
    now = timezone.now()
    conversation, secret = make_conversation(
        operator,
        title="Recorded call",
        status=Conversation.ENDED,
        created_at=now - timedelta(minutes=10),
        ended_at=now - timedelta(minutes=1),
        end_received_at=now - timedelta(minutes=1),
        transcript=[],
        recording_started_at=now - timedelta(minutes=9),
        settings_snapshot={
            "properties": {
                "max_call_duration": 600,
                "enable_recording": True,
                "recording_s3_bucket_name": "studio-recordings",
            }
        },
    )
    return conversation, secret


def deliver(client, conversation, secret, event_type, **properties):
    body = webhook(conversation, event_type, **properties)
    response = client.post(
        f"/hooks/tavus/{secret}/", json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 200
    conversation.refresh_from_db()


def test_a_failed_copy_is_kept_shown_on_the_conversation_and_logged(
    client, convo, operator, caplog
):
    conversation, secret = convo
    client.force_login(operator)
    assert (
        "Waiting for the recording" in client.get(f"/history/{conversation.pk}/").content.decode()
    )
    with caplog.at_level(logging.WARNING, logger="studio.conversations.models"):
        deliver(
            client, conversation, secret, "application.recording_copy_failed", error_message=FAILURE
        )
    assert conversation.recording_error == FAILURE and conversation.recording is None
    assert f"could not be copied: {FAILURE}" in caplog.text
    html = client.get(f"/history/{conversation.pk}/").content.decode()
    alert = html.split('data-alert="recording-copy-failed"')[1].split("</div>")[0]
    assert "Tavus could not copy the recording to your storage." in alert
    assert FAILURE in alert and "s3:PutObject" in alert
    # It will not arrive now: the page stops waiting for it.
    assert "Waiting for the recording" not in html
    assert f"Recording could not be copied: {FAILURE}" in html  # the timeline


def test_the_monitoring_wall_alerts_for_a_day_naming_nobody(client, convo, supervisor, operator2):
    conversation, secret = convo
    deliver(client, conversation, secret, "application.recording_copy_failed", error_message="x")
    # Every wall gets the same board, an operator's too: it counts and links, names nothing.
    for viewer in (supervisor, operator2):
        client.force_login(viewer)
        html = client.get("/monitor/").content.decode()
        alert = html.split('data-alert="recording-copy-failed"')[1].split("</li>")[0]
        assert "1 recording was not copied to your storage in the last day" in alert
        assert 'href="/history/?recording=failed">See which</a>' in alert
        assert "Recorded call" not in alert
    # History then names it, to those who may see it.
    client.force_login(supervisor)
    assert "Recorded call" in client.get("/history/?recording=failed").content.decode()
    with time_machine.travel(timezone.now() + timedelta(hours=25)):
        assert 'data-alert="recording-copy-failed"' not in client.get("/monitor/").content.decode()


def test_a_failure_without_a_message_still_says_something(client, convo):
    conversation, secret = convo
    deliver(client, conversation, secret, "application.recording_copy_failed")
    assert conversation.recording_error == "no details given"


def test_a_later_recording_clears_it_and_a_late_failure_never_hides_a_recording(client, convo):
    conversation, secret = convo
    deliver(client, conversation, secret, "application.recording_copy_failed", error_message="x")
    ready = {"bucket_name": "studio-recordings", "s3_key": "c1/a.mp4", "duration": 60}
    deliver(client, conversation, secret, "application.recording_ready", **ready)
    assert conversation.recording_error == "" and conversation.recording["s3_key"] == "c1/a.mp4"
    body = webhook(conversation, "application.recording_copy_failed", error_message="again")
    body["timestamp"] = body["timestamp"].replace("Z", "1Z")  # another delivery, not a duplicate
    client.post(f"/hooks/tavus/{secret}/", json.dumps(body), content_type="application/json")
    assert conversation.events.filter(event_type="application.recording_copy_failed").count() == 2
    conversation.refresh_from_db()
    assert conversation.recording_error == "" and conversation.recording is not None


def test_history_filters_on_failed_copies_and_the_csv_says_why(client, convo, supervisor):
    conversation, secret = convo
    deliver(client, conversation, secret, "application.recording_copy_failed", error_message="x")
    make_conversation(supervisor, title="Fine call", status=Conversation.ENDED)
    client.force_login(supervisor)
    html = client.get("/history/", {"recording": "failed"}).content.decode()
    assert "Recorded call" in html and "Fine call" not in html
    rows = read_csv(client.get("/history/export.csv", {"recording": "failed"}))
    assert [(r["title"], r["recording_error"]) for r in rows] == [("Recorded call", "x")]
