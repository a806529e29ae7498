from datetime import timedelta

import pytest
from django.utils import timezone

from studio.conversations import artifacts
from studio.conversations.models import Conversation, Event
from studio.history import timeline
from tests.conversations.factories import end_requested, make_conversation
from tests.history.conftest import ended

# Alerts, rules and windows that count from now: every test here runs on three clocks.
pytestmark = pytest.mark.time_window

TRANSCRIPT = [
    {"role": "system", "content": "You are Coach. Secret house rules."},
    {"role": "assistant", "content": "Hello! What shall we practise?"},
    {"role": "user", "content": "Pricing <objections>, please."},
    {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {
                "id": "t1",
                "type": "function",
                "function": {
                    "name": "lookup_price",
                    "arguments": '{"product": "Zephyr", "seats": 12}',
                },
            }
        ],
    },
    {"role": "tool", "tool_call_id": "t1", "content": "Zephyr costs 40 per seat."},
]


def test_it_needs_a_role_and_hides_others_conversations(client, operator, operator2):
    theirs = ended(operator2)
    client.force_login(operator)
    assert client.get(f"/history/{theirs.pk}/").status_code == 404
    assert client.get("/history/999999/").status_code == 404


def test_launcher_and_supervisor_can_open_it(client, operator, supervisor):
    mine = ended(operator)
    for user in (operator, supervisor):
        client.force_login(user)
        assert client.get(f"/history/{mine.pk}/").status_code == 200


def test_facts_and_settings_snapshot(client, operator):
    conversation = ended(
        operator,
        preset_name="Tricky call",
        persona_name="Coach",
        persona_id="p1",
        replica_name="Anna",
        replica_id="r1",
        settings_snapshot={
            "persona_id": "p1",
            "callback_url": "https://x/hooks/secret/",
            "properties": {
                "max_call_duration": 600,
                "aws_assume_role_arn": "arn:aws:iam::123456789012:role/Rec",
            },
        },
        summary_snapshot=["Ends after 10 minutes", "Speaks English"],
    )
    client.force_login(operator)
    html = client.get(f"/history/{conversation.pk}/").content.decode()
    for text in (
        "Tricky call",
        "Coach",
        "p1",
        "Anna",
        "olivia",
        "Everyone left",
        "Ends after 10 minutes",
        "Speaks English",
        "&quot;max_call_duration&quot;: 600",
        conversation.tavus_id,
    ):
        assert text in html, text
    assert "hooks/secret" not in html  # the webhook secret never shows
    assert "123456789012" not in html and "********9012" in html


def test_participant_link_with_token_for_the_private_room(client, operator, supervisor):
    conversation = ended(
        operator,
        conversation_url="https://tavus.daily.co/room1",
        meeting_token="tok-123",
        settings_snapshot={"require_auth": True},
    )
    for user in (operator, supervisor):
        client.force_login(user)
        html = client.get(f"/history/{conversation.pk}/").content.decode()
        assert "https://tavus.daily.co/room1?t=tok-123" in html
        assert "It stopped working when the conversation ended" in html


def test_the_participant_link_is_the_join_link_that_was_shared(client, operator, settings):
    settings.STUDIO_PUBLIC_URL = "https://studio.example.org"
    conversation = ended(
        operator, conversation_url="https://tavus.daily.co/room1", join_token="shared-token-1234"
    )
    client.force_login(operator)
    html = client.get(f"/history/{conversation.pk}/").content.decode()
    shown = 'data-link="participant">https://studio.example.org/join/shared-token-1234/</code>'
    assert shown in html
    # The raw Tavus room is second, behind a disclosure that says what it lacks.
    room = html.index('data-link="room">https://tavus.daily.co/room1</code>')
    assert html.rindex("<details>", 0, room) > html.index(shown)
    assert "the studio gets no captions or status from it" in html


def test_the_end_comes_after_the_request_to_end_whatever_tavus_stamped(operator, supervisor):
    # Tavus stamps the shutdown by its own clock, to the second: here a moment before the
    # studio noted the request to end.
    start = timezone.now().replace(microsecond=0) - timedelta(minutes=5)
    asked = start + timedelta(seconds=60, milliseconds=400)
    conversation = ended(operator, created_at=start, ended_at=start + timedelta(seconds=60))
    end_requested(conversation, supervisor, asked)
    Event.objects.create(
        conversation=conversation,
        source=Event.WEBHOOK,
        event_type="system.shutdown",
        dedupe_key="shutdown",
        payload={"properties": {"shutdown_reason": "end_conversation_endpoint_hit"}},
        occurred_at=start + timedelta(seconds=60),
    )
    steps = timeline.history_timeline(conversation, list(conversation.events.all()))
    assert [s["label"] for s in steps][-2:] == [
        "End requested by sam",
        "Tavus closed the room: Ended from the studio",
    ]
    # Its own time still shows as Tavus gave it.
    assert steps[-1]["offset"] == "+1:00"


def test_final_transcript_hides_the_system_prompt_and_shows_tool_calls(client, operator):
    conversation = ended(operator, transcript=TRANSCRIPT, said=[("user", "caption line")])
    client.force_login(operator)
    html = client.get(f"/history/{conversation.pk}/").content.decode()
    assert "Final transcript from Tavus" in html
    assert '<details class="system-prompt">' in html
    assert html.index('<details class="system-prompt">') < html.index("Secret house rules")
    assert "Pricing &lt;objections&gt;, please." in html
    assert "Called <code>lookup_price</code>" in html
    assert "<dt>product</dt><dd>Zephyr</dd>" in html and "<dt>seats</dt><dd>12</dd>" in html
    assert "Zephyr costs 40 per seat." in html
    assert "caption line" not in html


def test_without_the_final_transcript_it_shows_the_captions_labelled(client, operator):
    conversation = ended(operator, said=[("user", "Hi there"), ("replica", "Hello!")])
    client.force_login(operator)
    html = client.get(f"/history/{conversation.pk}/").content.decode()
    assert "Live captions (Tavus has not sent the final transcript)" in html
    assert "Hi there" in html and "Hello!" in html


def test_recording_and_perception(client, operator):
    conversation = ended(
        operator,
        recording={"bucket_name": "studio-recs", "s3_key": "c1/rec.mp4", "duration": 125},
        perception_analysis="Line one <b>calm</b>\nLine two",
    )
    client.force_login(operator)
    html = client.get(f"/history/{conversation.pk}/").content.decode()
    assert "studio-recs" in html and "c1/rec.mp4" in html and "2:05" in html
    assert "s3://studio-recs/c1/rec.mp4" in html
    assert (
        '<div class="analysis perception"><p>Line one &lt;b&gt;calm&lt;/b&gt;<br>Line two</p></div>'
        in html
    )


def test_the_perception_analysis_reads_as_formatted_text_and_stays_escaped(client, operator):
    # Tavus writes markdown-ish text: bold questions, bullet lines, blank lines between parts.
    # It comes from outside, so markup in it must show as text, never run.
    conversation = ended(
        operator,
        perception_analysis=(
            "Summary of the call <script>alert('x')</script>\n"
            "- Engagement: **high**\n"
            "* Lighting: even & warm\n\n"
            "**Was anyone else <i>there</i>?**\n"
            "No.\nNobody else."
        ),
    )
    client.force_login(operator)
    html = client.get(f"/history/{conversation.pk}/").content.decode()
    section = html.split('<div class="analysis perception">')[1].split("</div>")[0]
    assert section == (
        "<p>Summary of the call &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;</p>"
        "<ul><li>Engagement: <strong>high</strong></li><li>Lighting: even &amp; warm</li></ul>"
        "<p><strong>Was anyone else &lt;i&gt;there&lt;/i&gt;?</strong><br>No.<br>Nobody else.</p>"
    )
    assert "<script>alert" not in html and "**" not in html


def test_the_timeline_merges_every_source_with_relative_times(client, operator, supervisor):
    start = timezone.now() - timedelta(hours=2)
    conversation = ended(
        operator,
        created_at=start,
        ended_at=start + timedelta(seconds=200),
        replica_joined_at=start + timedelta(seconds=3),
    )
    for source, kind, seconds, payload, actor in [
        (Event.WEBHOOK, "system.replica_joined", 3, {}, None),
        (Event.ROOM, "conversation.joined", 42, {"properties": {"role": "user"}}, None),
        (
            Event.ROOM,
            "conversation.tool_call",
            65,
            {"properties": {"name": "lookup", "arguments": {"q": "x"}}},
            None,
        ),
        (Event.STUDIO, "studio.end_requested", 190, {"label": "End requested"}, supervisor),
        (
            Event.WEBHOOK,
            "system.shutdown",
            200,
            {"properties": {"shutdown_reason": "end_conversation_endpoint_hit"}},
            None,
        ),
        (
            Event.WEBHOOK,
            "application.recording_ready",
            3725,
            {"properties": {"duration": 190}},
            None,
        ),
    ]:
        Event.objects.create(
            conversation=conversation,
            source=source,
            event_type=kind,
            dedupe_key=kind,
            payload=payload,
            actor=actor,
            occurred_at=start + timedelta(seconds=seconds),
        )
    steps = timeline.history_timeline(conversation, list(conversation.events.all()))
    assert [(s["offset"], s["label"]) for s in steps] == [
        ("+0:00", "Launched by olivia"),
        ("+0:03", "Replica joined the room"),
        ("+0:42", "A person joined"),
        ("+1:05", 'Tool call: lookup {"q": "x"}'),
        ("+3:10", "End requested (sam)"),
        ("+3:20", "Tavus closed the room: Ended from the studio"),
        ("+1:02:05", "Recording ready (3:10)"),
    ]
    client.force_login(operator)
    html = client.get(f"/history/{conversation.pk}/").content.decode()
    assert "+0:42" in html and "In-room event" in html and "Tavus webhook" in html


def test_the_timeline_falls_back_to_the_row_when_no_event_was_stored(operator):
    conversation = ended(operator, length=61)
    steps = timeline.history_timeline(conversation, [])
    assert [s["label"] for s in steps] == ["Launched by olivia", "Ended: Everyone left"]
    assert steps[-1]["offset"] == "+1:01"


def test_a_failed_launch_says_why(client, operator):
    conversation = ended(
        operator, status=Conversation.FAILED, failure_reason="Tavus does not know that persona."
    )
    client.force_login(operator)
    html = client.get(f"/history/{conversation.pk}/").content.decode()
    assert "Failed to start: Tavus does not know that persona." in html


def test_waiting_for_then_never_arrived(client, operator):
    recent = ended(operator, minutes_ago=2, length=60)
    old = ended(operator, minutes_ago=120, length=60)
    client.force_login(operator)
    assert (
        "Waiting for the transcript from Tavus"
        in client.get(f"/history/{recent.pk}/").content.decode()
    )
    assert (
        "The transcript never arrived from Tavus."
        in client.get(f"/history/{old.pk}/").content.decode()
    )


def test_nothing_is_awaited_from_a_dry_run_or_a_failed_launch(operator):
    dry = ended(operator, test_mode=True, end_reason="test_mode")
    failed = ended(operator, status=Conversation.FAILED)
    assert artifacts.artifact_states(dry) == []
    assert artifacts.artifact_states(failed) == []


def test_recording_is_awaited_only_when_it_started(operator):
    snapshot = {"properties": {"enable_recording": True}}
    transcript = [{"role": "user", "content": "x"}]
    never = ended(operator, settings_snapshot=snapshot, transcript=transcript)
    started = ended(
        operator,
        settings_snapshot=snapshot,
        transcript=transcript,
        recording_started_at=timezone.now() - timedelta(minutes=59),
    )
    assert artifacts.missing_artifacts(never) == []
    assert artifacts.missing_artifacts(started) == ["recording"]


def test_perception_is_awaited_only_when_the_snapshot_says_so(operator):
    transcript = [{"role": "user", "content": "x"}]
    unknown = ended(operator, transcript=transcript)
    raven = ended(
        operator,
        transcript=transcript,
        settings_snapshot={"layers": {"perception": {"perception_model": "raven-0"}}},
    )
    off = ended(operator, transcript=transcript, settings_snapshot={"perception_model": "off"})
    assert artifacts.missing_artifacts(unknown) == []
    assert artifacts.missing_artifacts(raven) == ["perception analysis"]
    assert artifacts.missing_artifacts(off) == []


def test_a_live_conversation_links_to_its_live_page(client, operator):
    conversation, _ = make_conversation(operator)
    client.force_login(operator)
    html = client.get(f"/history/{conversation.pk}/").content.decode()
    assert f'href="/conversations/{conversation.pk}/"' in html


def test_offset_format():
    start = timezone.now()
    assert timeline.offset(start + timedelta(seconds=42), start) == "+0:42"
    assert timeline.offset(start + timedelta(seconds=3725), start) == "+1:02:05"
    assert timeline.offset(start - timedelta(seconds=3), start) == "−0:03"
