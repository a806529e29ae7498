"""The room page and its endpoints: access rules, CSP, and the in-room event protocol."""

import re

import pytest

from studio.sandbox.lifecycle import tick
from studio.sandbox.models import Conversation
from tests.sandbox.helpers import (
    SALES_COACH,
    Person,
    api_client,
    at,
    conversation,
    create,
    events_until,
    room_path,
)

pytestmark = pytest.mark.django_db
ENVELOPE_KEYS = {
    "message_type",
    "event_type",
    "conversation_id",
    "inference_id",
    "seq",
    "turn_idx",
    "timestamp",
    "properties",
}


@pytest.fixture
def api(fast_sandbox):
    return api_client()


def _live(api, **body):
    """A conversation whose replica has joined, with one person in the room."""
    body.setdefault("persona_id", SALES_COACH)
    created = create(api, **body)
    cid = created["conversation_id"]
    person = Person(cid, token=created.get("meeting_token", ""))
    person.join()
    tick(at(cid, 0.2))
    return cid, person


def _command(cid, event_type, **properties):
    return {
        "message_type": "conversation",
        "event_type": event_type,
        "conversation_id": cid,
        "properties": properties,
    }


# --- Access ---------------------------------------------------------------------------------


def test_the_room_opens_without_signing_in(api, client):
    cid = create(api)["conversation_id"]
    response = client.get(room_path(cid))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Waiting for the replica to join…" in html
    assert "Nathan" in html
    assert 'aria-label="Nathan, the replica"' in html
    assert re.search(r'<label[^>]*for="room-say"[^>]*>Say something…</label>', html)


def test_a_private_room_needs_its_meeting_token(api, client):
    created = create(api, require_auth=True)
    cid, token = created["conversation_id"], created["meeting_token"]
    refused = client.get(room_path(cid))
    assert refused.status_code == 403
    assert "You are not allowed to join this call" in refused.content.decode()
    assert client.get(room_path(cid, token="wrong")).status_code == 403
    assert client.get(room_path(cid, token=token)).status_code == 200
    # The page's own endpoints follow the same rule.
    assert client.get(room_path(cid, "events")).status_code == 403
    assert client.post(room_path(cid, "presence"), {}, "application/json").status_code == 403


def test_an_ended_or_unknown_room_says_so(api, client):
    cid = create(api)["conversation_id"]
    api.post(f"/sandbox/v2/conversations/{cid}/end")
    ended = client.get(room_path(cid))
    assert ended.status_code == 410
    assert "This conversation has ended" in ended.content.decode()
    assert client.get(room_path("c0000000dead")).status_code == 404


def test_a_full_room_refuses_one_more_person(api):
    cid = create(api, max_participants=2)["conversation_id"]  # one person plus the replica
    first, second = Person(cid, name="A"), Person(cid, name="B")
    first.join()
    refused = second.open()
    assert refused.status_code == 403
    assert "This call is full" in refused.content.decode()
    # The person already in may reload: the seat is theirs (cookie).
    assert first.open().status_code == 200
    # Once they leave, the seat is free.
    first.presence("leave", seq=0)
    assert second.open().status_code == 200


def test_a_full_room_refuses_the_join_too(api):
    cid = create(api, max_participants=2)["conversation_id"]
    first, second = Person(cid, name="A"), Person(cid, name="B")
    assert second.open().status_code == 200  # both open the page at once...
    first.join()
    response = second.presence("join")  # ...the second to join is refused
    assert response.status_code == 403
    assert response.json()["status"] == "full"


def test_the_page_fits_the_studio_csp_and_can_be_framed_by_the_studio(api, client):
    cid = create(api)["conversation_id"]
    response = client.get(room_path(cid))
    csp = response["Content-Security-Policy"]
    assert "script-src 'self' 'nonce-" in csp
    assert "frame-ancestors 'self'" in csp
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    html = response.content.decode()
    nonce = re.search(r"'nonce-([^']+)'", csp).group(1)
    scripts = re.findall(r"<script\b[^>]*>", html)
    executable = [s for s in scripts if 'type="application/json"' not in s]
    assert executable and all(f'nonce="{nonce}"' in s and "src=" in s for s in executable)
    assert not re.search(r"\son[a-z]+=", html)  # no inline event handlers


def test_the_page_shows_greenscreen_audio_only_and_captions_when_asked(api, client):
    plain = client.get(room_path(create(api)["conversation_id"])).content.decode()
    assert "is-greenscreen" not in plain and "room-captions" not in plain
    green = create(api, properties={"apply_greenscreen": True, "enable_closed_captions": True})[
        "conversation_id"
    ]
    html = client.get(room_path(green)).content.decode()
    assert "is-greenscreen" in html and 'id="room-captions"' in html
    audio = client.get(room_path(create(api, audio_only=True)["conversation_id"])).content
    assert b"is-audio" in audio and b'class="orb"' in audio and b'class="face' not in audio


# --- In-room events ---------------------------------------------------------------------------


def test_joining_emits_conversation_joined_with_the_tavus_envelope(api):
    cid = create(api)["conversation_id"]
    person = Person(cid, name="Robin")
    joined = person.join()["joined"]
    assert set(joined) == ENVELOPE_KEYS
    assert joined["message_type"] == "conversation"
    assert joined["event_type"] == "conversation.joined"
    assert joined["conversation_id"] == cid
    assert joined["seq"] == 1
    assert isinstance(joined["timestamp"], float)
    assert joined["properties"]["role"] == "user"
    assert joined["properties"]["name"] == "Robin"
    assert joined["properties"]["participant_id"].startswith("u")


def test_the_replica_greets_once_it_has_joined_and_someone_is_there(api):
    cid = create(api, custom_greeting="Hello, I'm your coach!")["conversation_id"]
    person = Person(cid)
    person.join()
    assert [e["event_type"] for e in events_until(cid)] == ["conversation.joined"]
    tick(at(cid, 0.2))
    events = events_until(cid)
    types = [e["event_type"] for e in events]
    assert types[:4] == [
        "conversation.joined",
        "conversation.started_speaking",
        "conversation.utterance",
        "conversation.utterance.streaming",
    ]
    assert types[-1] == "conversation.stopped_speaking"
    utterance = events[2]["properties"]
    assert utterance == {"role": "replica", "speech": "Hello, I'm your coach!"}
    final = [e for e in events if e["event_type"] == "conversation.utterance.streaming"][-1]
    assert final["properties"]["final"] is True
    assert final["properties"]["speech"] == "Hello, I'm your coach!"
    tick(at(cid, 5))
    assert len(events_until(cid)) == len(events)  # greeted once


def test_a_typed_line_is_answered_naming_the_persona(api):
    cid, person = _live(api)
    start = events_until(cid)[-1]["seq"]
    response = person.say("How should I open a sales call?")
    assert response.status_code == 200
    events = events_until(cid, after=start)
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(seqs) and seqs[0] == start + 1
    assert {e["turn_idx"] for e in events} == {1}
    assert len({e["inference_id"] for e in events}) == 1
    by_type = [(e["event_type"], e["properties"].get("role")) for e in events]
    assert by_type[:5] == [
        ("conversation.started_speaking", "user"),
        ("conversation.stopped_speaking", "user"),
        ("conversation.utterance", "user"),
        ("conversation.started_speaking", "replica"),
        ("conversation.utterance", "replica"),
    ]
    reply = events[4]["properties"]["speech"]
    assert "Sales Coach" in reply and "How should I open a sales call?" in reply
    streaming = [e["properties"] for e in events if e["event_type"].endswith(".streaming")]
    assert all(a["speech"] in b["speech"] for a, b in zip(streaming, streaming[1:], strict=False))
    assert [s["final"] for s in streaming] == [False] * (len(streaming) - 1) + [True]
    # The answer starts within a second of the line.
    assert events[3]["timestamp"] - events[0]["timestamp"] < 1.0


def test_the_events_endpoint_hands_out_due_events_in_seq_order(api):
    cid, person = _live(api)
    polled = person.events()
    assert [e["seq"] for e in polled] == list(range(1, len(polled) + 1))
    assert person.events(after=polled[-1]["seq"]) == []


def test_echo_says_exactly_the_text(api):
    cid, person = _live(api)
    start = events_until(cid)[-1]["seq"]
    person.command(_command(cid, "conversation.echo", text="Exactly this, word for word."))
    events = events_until(cid, after=start)
    utterances = [e["properties"] for e in events if e["event_type"] == "conversation.utterance"]
    assert utterances == [{"role": "replica", "speech": "Exactly this, word for word."}]


def test_respond_is_answered_as_if_the_person_said_it(api):
    cid, person = _live(api)
    start = events_until(cid)[-1]["seq"]
    person.command(_command(cid, "conversation.respond", text="Tell me about pricing"))
    events = events_until(cid, after=start)
    said = [
        (e["properties"]["role"], e["properties"]["speech"])
        for e in events
        if e["event_type"] == "conversation.utterance"
    ]
    assert said[0] == ("user", "Tell me about pricing")
    assert said[1][0] == "replica" and "Sales Coach" in said[1][1]


def test_appended_and_overwritten_context_shows_in_the_next_answer(api):
    cid, person = _live(api, conversational_context="Base context.")
    person.command(_command(cid, "conversation.append_llm_context", context="The user is Kim."))
    person.say("Hi")
    assert "The user is Kim." in events_until(cid)[-3]["properties"]["speech"]
    assert conversation(cid).conversational_context == "Base context.\nThe user is Kim."
    person.command(_command(cid, "conversation.overwrite_llm_context", context="Budget is 5k."))
    assert conversation(cid).conversational_context == "Budget is 5k."
    start = events_until(cid)[-1]["seq"]
    person.say("And now?")
    replica = [
        e["properties"]["speech"]
        for e in events_until(cid, after=start)
        if e["event_type"] == "conversation.utterance" and e["properties"]["role"] == "replica"
    ]
    assert "Budget is 5k." in replica[0] and "Kim" not in replica[0]


def test_interrupt_stops_the_replica_mid_sentence(api):
    cid, person = _live(api)
    events_until(cid)  # the greeting is over
    with Conversation.objects.locked(cid) as locked:
        locked.busy_until = None
        locked.save()
    person.command(_command(cid, "conversation.echo", text=" ".join(["word"] * 40)))
    first = person.events()  # only what is due now: the replica has just started
    started = [e for e in first if e["event_type"] == "conversation.started_speaking"]
    assert started and started[-1]["properties"]["role"] == "replica"
    person.command(_command(cid, "conversation.interrupt"))
    rest = events_until(cid, after=first[-1]["seq"])
    types = [e["event_type"] for e in rest]
    assert "conversation.replica_interrupted" in types
    final = [e for e in rest if e["event_type"].endswith(".streaming")][-1]["properties"]
    assert final["final"] is True and final["is_interrupted"] is True
    stopped = [e for e in rest if e["event_type"] == "conversation.stopped_speaking"][-1]
    assert stopped["properties"]["interrupted"] is True
    # Nothing the replica would have said after the interruption comes out.
    assert types.index("conversation.stopped_speaking") == len(types) - 1


def test_the_greeting_cannot_be_interrupted(api):
    cid, person = _live(api)
    person.command(_command(cid, "conversation.interrupt"))
    types = [e["event_type"] for e in events_until(cid)]
    assert "conversation.replica_interrupted" not in types


def test_a_reloaded_page_never_reuses_a_seq(api):
    cid, person = _live(api)
    before = events_until(cid)[-1]["seq"]
    # The page unloads: it posts conversation.left with seq before+1 to its parent and beacons.
    person.presence("leave", seq=before + 1, inference_id="abc123")
    person.session = "s-reloaded"
    rejoined = person.join()["joined"]
    assert rejoined["seq"] == before + 2
    left = [e for e in events_until(cid) if e["event_type"] == "conversation.left"]
    assert left[0]["seq"] == before + 1 and left[0]["inference_id"] == "abc123"


def test_commands_for_another_conversation_or_of_unknown_kind_are_refused(api):
    cid, person = _live(api)
    wrong = _command("c0000000other", "conversation.echo", text="x")
    assert person.command(wrong).status_code == 400
    assert person.command({"message_type": "nonsense"}).status_code == 400
    ignored = person.command(_command(cid, "conversation.sensitivity"))
    assert ignored.status_code == 200 and ignored.json()["ignored"] is True


def test_recording_controls_answer_the_parent(api):
    cid, person = _live(api, properties={"enable_recording": True})
    start = person.command({"message_type": "sandbox", "event_type": "start_recording"}).json()
    assert start["reply"] == {"message_type": "sandbox", "event_type": "recording-started"}
    assert start["recording"] is True
    stop = person.command({"message_type": "sandbox", "event_type": "stop_recording"}).json()
    assert stop["reply"] == {"message_type": "sandbox", "event_type": "recording-stopped"}
    assert stop["recording"] is False


def test_recording_controls_need_enable_recording(api):
    cid, person = _live(api)
    reply = person.command({"message_type": "sandbox", "event_type": "start_recording"}).json()
    assert reply["reply"]["event_type"] == "recording-error"
    assert "enable_recording" in reply["reply"]["properties"]["message"]


def test_typing_before_the_replica_joined_is_refused(api):
    cid = create(api)["conversation_id"]
    person = Person(cid)
    person.join()
    assert person.say("Anyone there?").status_code == 409
    assert person.say("   ").status_code == 400


def test_the_room_endpoints_need_the_page_cookie(api, client):
    cid = create(api)["conversation_id"]
    response = client.post(room_path(cid, "presence"), {"action": "join"}, "application/json")
    assert response.status_code == 400
