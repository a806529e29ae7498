"""Webhook bodies and in-room events: typed, normalised across eras, and refused when wrong."""

import json
from datetime import UTC, datetime

import pytest

from studio.tavus.events import (
    KNOWN_ROOM_EVENTS,
    EventError,
    build_interaction,
    parse_document_callback,
    parse_room_event,
    parse_webhook,
)

JOINED = {
    "conversation_id": "c123456",
    "event_type": "system.replica_joined",
    "message_type": "system",
    "timestamp": "2025-07-11T06:45:47.472000Z",  # fixed-date-ok: only the parser reads it
    "webhook_url": "https://studio.test/hooks/tavus",
    "properties": {"replica_id": "r79e1c033f"},
}
PAL_JOINED = {
    **JOINED,
    "event_type": "system.pal_joined",
    "timestamp": "2025-07-11T06:45:47.481000Z",  # fixed-date-ok: only the parser reads it
    "properties": {"face_id": "r79e1c033f"},
}
SHUTDOWN = {
    **JOINED,
    "event_type": "system.shutdown",
    "properties": {"replica_id": "r79e1c033f", "shutdown_reason": "max_call_duration reached"},
}
RECORDING = {
    **JOINED,
    "event_type": "application.recording_ready",
    "message_type": "application",
    "properties": {"bucket_name": "b", "s3_key": "one.mp4", "duration": 60},
}


# --- Webhooks ------------------------------------------------------------------------------


def test_it_reads_a_webhook():
    event = parse_webhook(JOINED)
    assert event.conversation_id == "c123456"
    assert event.event_type == "system.replica_joined"
    assert event.message_type == "system"
    assert event.timestamp == datetime(2025, 7, 11, 6, 45, 47, 472000, tzinfo=UTC)
    assert event.properties == {"replica_id": "r79e1c033f"}
    assert event.raw == JOINED


def test_it_reads_a_webhook_from_raw_json_bytes():
    assert parse_webhook(json.dumps(JOINED).encode()) == parse_webhook(JOINED)


def test_it_names_the_era_b_join_like_the_legacy_one():
    event = parse_webhook(PAL_JOINED)
    assert event.event_type == "system.replica_joined"
    assert event.original_event_type == "system.pal_joined"
    assert event.properties == {"replica_id": "r79e1c033f"}


def test_the_era_b_twin_shares_the_legacy_dedupe_key():
    assert parse_webhook(PAL_JOINED).dedupe_key == parse_webhook(JOINED).dedupe_key


def test_exact_duplicates_share_a_dedupe_key():
    assert parse_webhook(dict(RECORDING)).dedupe_key == parse_webhook(RECORDING).dedupe_key


ANOTHER_RECORDING = {
    **RECORDING,
    "properties": {"bucket_name": "b", "s3_key": "two.mp4", "duration": 60},
}


@pytest.mark.parametrize(
    ("one", "other"),
    [
        (JOINED, SHUTDOWN),
        (JOINED, {**JOINED, "conversation_id": "c999999"}),
        (RECORDING, ANOTHER_RECORDING),
    ],
    ids=["another type", "another conversation", "another recording"],
)
def test_different_events_get_different_dedupe_keys(one, other):
    assert parse_webhook(one).dedupe_key != parse_webhook(other).dedupe_key


def test_it_reads_the_shutdown_reason_without_the_reached_suffix():
    assert parse_webhook(SHUTDOWN).shutdown_reason == "max_call_duration"
    bare = {**SHUTDOWN, "properties": {"shutdown_reason": "end_conversation_endpoint_hit"}}
    assert parse_webhook(bare).shutdown_reason == "end_conversation_endpoint_hit"
    assert parse_webhook(JOINED).shutdown_reason is None


def test_it_infers_the_message_type_when_missing():
    body = {key: value for key, value in RECORDING.items() if key != "message_type"}
    assert parse_webhook(body).message_type == "application"


def test_it_accepts_a_webhook_without_properties_or_timestamp():
    event = parse_webhook({"conversation_id": "c1", "event_type": "application.something_new"})
    assert event.properties == {}
    assert event.timestamp is None


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "body is not valid JSON"),
        ([JOINED], "event must be a JSON object"),
        ({**JOINED, "conversation_id": None}, "missing conversation_id"),
        ({k: v for k, v in JOINED.items() if k != "conversation_id"}, "missing conversation_id"),
        ({**JOINED, "conversation_id": 42}, "conversation_id must be a string"),
        ({**JOINED, "conversation_id": " "}, "conversation_id is empty"),
        ({k: v for k, v in JOINED.items() if k != "event_type"}, "missing event_type"),
        ({**JOINED, "event_type": ["system.shutdown"]}, "event_type must be a string"),
        ({**JOINED, "message_type": 1}, "message_type must be a string"),
        ({**JOINED, "properties": "replica_id=r1"}, "properties must be an object"),
        ({**JOINED, "timestamp": "yesterday"}, "timestamp is not a date"),
    ],
)
def test_it_refuses_a_malformed_webhook_with_the_reason(body, reason):
    with pytest.raises(EventError) as caught:
        parse_webhook(body)
    assert str(caught.value) == reason


# --- Room events ---------------------------------------------------------------------------

UTTERANCE = {
    "message_type": "conversation",
    "event_type": "conversation.utterance",
    "conversation_id": "c123456",
    "inference_id": "inf-1",
    "seq": 10,
    "turn_idx": 2,
    "timestamp": 1746000000.5,
    "properties": {"role": "replica", "speech": "Hello there."},
}
STREAMING = {
    **UTTERANCE,
    "event_type": "conversation.utterance.streaming",
    "seq": 11,
    "properties": {"role": "replica", "speech": "Hello", "content_index": 0, "final": False},
}


def test_it_reads_a_room_utterance():
    event = parse_room_event(UTTERANCE, conversation_id="c123456")
    assert (event.event_type, event.role, event.speech) == (
        "conversation.utterance",
        "replica",
        "Hello there.",
    )
    assert event.final is True
    assert (event.inference_id, event.seq, event.turn_idx) == ("inf-1", 10, 2)
    assert event.timestamp == datetime(2025, 4, 30, 8, 0, 0, 500000, tzinfo=UTC)


def test_it_reads_a_streaming_chunk():
    event = parse_room_event(STREAMING)
    assert event.final is False
    assert parse_room_event({**STREAMING, "properties": {"speech": "Hi", "final": True}}).final


def test_it_reads_daily_s_whole_app_message_event():
    wrapped = {"action": "app-message", "data": UTTERANCE, "fromId": "abc"}
    assert parse_room_event(wrapped) == parse_room_event(UTTERANCE)


def test_it_calls_the_era_b_pal_a_replica():
    pal = {**UTTERANCE, "seq": 12, "properties": {"role": "pal", "speech": "Hello there."}}
    event = parse_room_event(pal)
    assert event.role == "replica"
    assert event.properties["role"] == "replica"


def test_the_pal_twin_of_an_utterance_shares_its_dedupe_key():
    pal = {**UTTERANCE, "seq": 12, "properties": {"role": "pal", "speech": "Hello there."}}
    assert parse_room_event(pal).dedupe_key == parse_room_event(UTTERANCE).dedupe_key


def test_streaming_chunks_are_told_apart_by_seq():
    later = {**STREAMING, "seq": 12, "properties": {**STREAMING["properties"], "speech": "Hello t"}}
    assert parse_room_event(later).dedupe_key != parse_room_event(STREAMING).dedupe_key
    assert parse_room_event(dict(STREAMING)).dedupe_key == parse_room_event(STREAMING).dedupe_key


def test_without_seq_the_key_is_inference_role_and_type():
    legacy = {
        "message_type": "conversation",
        "event_type": "conversation.replica.started_speaking",
        "conversation_id": "c123456",
        "inference_id": "inf-1",
    }
    event = parse_room_event(legacy)
    assert event.role == "replica"
    assert event.dedupe_key == "c123456:inf-1:replica:conversation.replica.started_speaking"
    user = {**legacy, "event_type": "conversation.user.started_speaking"}
    assert parse_room_event(user).dedupe_key != event.dedupe_key


def test_it_fills_in_the_conversation_id_it_was_given():
    body = {k: v for k, v in UTTERANCE.items() if k != "conversation_id"}
    assert parse_room_event(body, conversation_id="c123456").conversation_id == "c123456"


def test_it_knows_every_observable_event_type():
    for event_type in KNOWN_ROOM_EVENTS:
        message_type = "system" if event_type.startswith("system.") else "conversation"
        # What the objective, guardrail and tool-call events cannot do without.
        needed = {"objective_name": "o", "guardrail_name": "g", "name": "f"}
        properties = {**UTTERANCE["properties"], **needed}
        body = {**UTTERANCE, "event_type": event_type, "message_type": message_type}
        body["properties"] = properties
        assert parse_room_event(body).conversation_id == "c123456"
    assert {
        "conversation.replica.started_speaking",
        "conversation.user.stopped_speaking",
        "conversation.joined",
        "conversation.left",
        "conversation.tool_call",
        "conversation.perception_tool_call",
    } <= KNOWN_ROOM_EVENTS


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("not json", "body is not valid JSON"),
        (None, "event must be a JSON object"),
        (
            {**UTTERANCE, "event_type": "conversation.dance"},
            "unknown event_type 'conversation.dance'",
        ),
        ({**UTTERANCE, "event_type": 7}, "event_type must be a string"),
        ({k: v for k, v in UTTERANCE.items() if k != "message_type"}, "missing message_type"),
        ({**UTTERANCE, "message_type": "system"}, 'message_type must be "conversation"'),
        ({**UTTERANCE, "properties": ["replica"]}, "properties must be an object"),
        ({**UTTERANCE, "properties": {"speech": 42}}, "speech must be a string"),
        ({**UTTERANCE, "properties": {"role": 1}}, "role must be a string"),
        ({**STREAMING, "properties": {"final": "yes"}}, "final must be true or false"),
        ({**UTTERANCE, "seq": "10"}, "seq must be a whole number"),
        ({**UTTERANCE, "turn_idx": True}, "turn_idx must be a whole number"),
        ({**UTTERANCE, "inference_id": 5}, "inference_id must be a string"),
        ({**UTTERANCE, "timestamp": "soon"}, "timestamp is not a date"),
        ({**UTTERANCE, "conversation_id": "c999999"}, "conversation_id does not match"),
    ],
)
def test_it_refuses_a_malformed_room_event_with_the_reason(body, reason):
    with pytest.raises(EventError) as caught:
        parse_room_event(body, conversation_id="c123456")
    assert str(caught.value).startswith(reason)


def test_it_needs_a_conversation_id_from_somewhere():
    body = {k: v for k, v in UTTERANCE.items() if k != "conversation_id"}
    with pytest.raises(EventError, match="missing conversation_id"):
        parse_room_event(body)


# --- Interactions we send ------------------------------------------------------------------


def test_it_builds_a_respond_interaction():
    assert build_interaction("conversation.respond", "c123456", text="Tell me more") == {
        "message_type": "conversation",
        "event_type": "conversation.respond",
        "conversation_id": "c123456",
        "properties": {"text": "Tell me more"},
    }


def test_it_builds_an_interrupt_without_properties():
    assert build_interaction("conversation.interrupt", "c123456")["properties"] == {}


def test_it_builds_context_and_echo_interactions():
    for event_type in ("conversation.overwrite_llm_context", "conversation.append_llm_context"):
        assert build_interaction(event_type, "c1", context="VIP")["properties"] == {
            "context": "VIP"
        }
    echo = build_interaction("conversation.echo", "c1", modality="text", text="Hi")
    assert echo["properties"] == {"modality": "text", "text": "Hi"}


@pytest.mark.parametrize(
    ("args", "properties", "reason"),
    [
        (("conversation.dance", "c1"), {}, "unknown interaction 'conversation.dance'"),
        (("conversation.utterance", "c1"), {}, "unknown interaction 'conversation.utterance'"),
        (("conversation.respond", ""), {"text": "Hi"}, "missing conversation_id"),
        (("conversation.respond", "c1"), {}, "conversation.respond needs text"),
        (("conversation.append_llm_context", "c1"), {"context": ""}, "needs context"),
        (
            ("conversation.echo", "c1"),
            {"modality": "text"},
            "conversation.echo needs text or audio",
        ),
    ],
)
def test_it_refuses_an_interaction_it_cannot_build(args, properties, reason):
    with pytest.raises(EventError) as caught:
        build_interaction(*args, **properties)
    assert reason in str(caught.value)


# --- Document callbacks --------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"document_id": "d1", "status": "ready", "document_name": "Handbook"},
        {"uuid": "d1", "status": "READY"},
        {"data": {"document_id": "d1", "status": "ready"}},
        {"event_type": "document.status", "properties": {"uuid": "d1", "status": "ready"}},
        '{"id": "d1", "status": "ready"}',
    ],
)
def test_a_document_callback_is_read_in_every_plausible_shape(body):
    update = parse_document_callback(body)
    assert (update.document_id, update.status, update.finished) == ("d1", "ready", True)


def test_a_failed_document_callback_carries_its_message():
    update = parse_document_callback(
        {"document_id": "d1", "status": "error", "error_message": "HTTP 404"}
    )
    assert update.finished and update.error_message == "HTTP 404"
    assert not parse_document_callback({"document_id": "d1", "status": "processing"}).finished


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"status": "ready"}, "missing document_id"),
        ({"document_id": "d1"}, "missing status"),
        ({"document_id": "d1", "status": "done"}, "unknown document status"),
        ("not json", "not valid JSON"),
    ],
)
def test_a_document_callback_that_makes_no_sense_is_refused(body, error):
    with pytest.raises(EventError, match=error):
        parse_document_callback(body)


# --- Objective, guardrail and tool-call events -----------------------------------------------


def _room(event_type, **properties):
    return {
        "message_type": "conversation",
        "event_type": event_type,
        "conversation_id": "c1",
        "seq": 7,
        "properties": properties,
    }


def test_objective_events_name_the_objective_and_its_outputs():
    event = parse_room_event(
        _room(
            "conversation.objective.completed",
            objective_name="get_name",
            output_variables={"first_name": "Ann"},
        )
    )
    assert event.objective_name == "get_name"
    assert event.output_variables == {"first_name": "Ann"}
    pending = parse_room_event(_room("conversation.objective.pending", objective_name="x"))
    assert pending.objective_name == "x" and pending.guardrail_name is None


def test_a_triggered_guardrail_names_the_rule():
    event = parse_room_event(
        _room("conversation.guardrail.triggered", guardrail_name="no_competitors")
    )
    assert event.guardrail_name == "no_competitors" and event.tool_call is None


def test_a_tool_call_reads_its_json_string_arguments():
    event = parse_room_event(
        _room(
            "conversation.tool_call",
            name="get_weather",
            arguments='{"city": "San Francisco"}',
            tool_call_id="call_1",
        )
    )
    assert event.tool_call.name == "get_weather"
    assert event.tool_call.arguments == {"city": "San Francisco"}
    assert event.tool_call.tool_call_id == "call_1"


@pytest.mark.parametrize(
    ("event", "error"),
    [
        (_room("conversation.objective.completed"), "missing objective_name"),
        (
            _room("conversation.objective.completed", objective_name="a", output_variables=[1]),
            "output_variables must be an object",
        ),
        (_room("conversation.guardrail.triggered"), "missing guardrail_name"),
        (_room("conversation.tool_call", arguments="{}"), "missing name"),
        (_room("conversation.tool_call", name="f", arguments="{oops"), "not valid JSON"),
        (_room("conversation.tool_call", name="f", arguments="[1]"), "must be a JSON object"),
    ],
)
def test_behaviour_events_without_what_they_need_are_refused(event, error):
    with pytest.raises(EventError, match=error):
        parse_room_event(event)


def test_an_objective_can_be_confirmed_by_name():
    payload = build_interaction("conversation.objective.confirm", "c1", objective_name="x")
    assert payload["properties"] == {"objective_name": "x"}
    with pytest.raises(EventError):
        build_interaction("conversation.objective.confirm", "c1")
