"""The sandbox room in Chromium, framed by a stand-in parent page that collects postMessages."""

import re
import time

import httpx
import pytest
from django.conf import settings
from playwright.sync_api import expect

from studio.sandbox.models import Participant

KEY = {"x-api-key": settings.SANDBOX_API_KEY}
ENVELOPE_KEYS = [
    "conversation_id",
    "event_type",
    "inference_id",
    "message_type",
    "properties",
    "seq",
    "timestamp",
    "turn_idx",
]
PARENT = """<!doctype html>
<html><head><title>Parent</title>
<style>html,body{margin:0;height:100%;background:#000}iframe{border:0;width:100%;height:100%}</style>
</head><body>
<iframe id="room" src="ROOM_URL" allow="camera; microphone; autoplay"></iframe>
<script>
  window.__events = [];
  // Check the origin, not event.source: a message posted while the room unloads (its
  // conversation.left) arrives with event.source === null.
  window.addEventListener("message", function (event) {
    if (event.origin === window.location.origin) window.__events.push(event.data);
  });
  window.sendToRoom = function (message) {
    document.getElementById("room").contentWindow.postMessage(message, "*");
  };
</script>
</body></html>"""


@pytest.fixture(autouse=True)
def _patient_expect():
    # Two shared cores and other engineers' test runs: give assertions room before failing.
    expect.set_options(timeout=15_000)
    yield
    expect.set_options(timeout=15_000)


@pytest.fixture
def sandbox(studio_server, fast_sandbox):
    def create(**body):
        body.setdefault("persona_id", "pdced222244b")  # Sales Coach, replica Nathan
        response = httpx.post(
            studio_server.url + "/sandbox/v2/conversations", headers=KEY, json=body
        )
        assert response.status_code == 200, response.text
        return response.json()

    return create


@pytest.fixture
def open_in_parent(studio_server, page):
    """Load a same-origin parent page that frames the room (like the studio's live page)."""
    page.set_default_timeout(10_000)
    page.set_viewport_size({"width": 1100, "height": 700})

    def _open(room_url):
        parent_url = studio_server.url + "/test/parent/"
        html = PARENT.replace("ROOM_URL", room_url)
        page.route(parent_url, lambda route: route.fulfill(content_type="text/html", body=html))
        page.goto(parent_url)
        return page.frame_locator("#room")

    return _open


def _events(page):
    return page.evaluate("window.__events")


def _wait_for_event(page, predicate_js):
    page.wait_for_function(f"window.__events.some(e => {predicate_js})")


def test_greeting_then_a_typed_line_gets_an_answer_and_every_event_reaches_the_parent(
    sandbox, open_in_parent, page
):
    created = sandbox(
        custom_greeting="Hi! I'm your sales coach. Ready to practise?",
        properties={"enable_closed_captions": True},
    )
    problems = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    room = open_in_parent(created["conversation_url"])
    captions = room.locator("#room-captions")
    expect(captions).to_contain_text("Ready to practise?")
    expect(room.get_by_role("status")).to_have_text("Live")
    _wait_for_event(page, "e.event_type === 'conversation.stopped_speaking'")

    room.get_by_label("Say something…").fill("How do I handle a price objection?")
    room.get_by_role("button", name="Send").click()
    expect(captions).to_contain_text("You said: “How do I handle a price objection?”")
    expect(captions).to_contain_text("Sales Coach here.")
    _wait_for_event(
        page,
        "e.event_type === 'conversation.utterance.streaming' && e.properties.final "
        "&& e.properties.speech.includes('price objection') && e.properties.role === 'replica'",
    )
    page.screenshot(path="test-artifacts/sandbox-room.png")
    assert problems == []  # no CSP violations, no script errors

    posted = _events(page)
    # The room's own word on who it is in the call, as a call frame's joined-meeting gives its
    # parent participants.local; everything else is a Tavus envelope.
    (joined,) = [e for e in posted if e["message_type"] == "sandbox"]
    assert joined["event_type"] == "joined-meeting" and joined["participant_id"].startswith("u")
    events = [e for e in posted if e["message_type"] != "sandbox"]
    assert all(sorted(e) == ENVELOPE_KEYS for e in events)
    assert all(e["message_type"] == "conversation" for e in events)
    assert all(e["conversation_id"] == created["conversation_id"] for e in events)
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(set(seqs))
    types = {e["event_type"] for e in events}
    assert {
        "conversation.joined",
        "conversation.started_speaking",
        "conversation.stopped_speaking",
        "conversation.utterance",
        "conversation.utterance.streaming",
    } <= types
    user = [e for e in events if e["event_type"] == "conversation.utterance"]
    assert {"role": "user", "speech": "How do I handle a price objection?"} in [
        e["properties"] for e in user
    ]

    # Reloading the room continues the numbering.
    last = seqs[-1]
    page.evaluate("document.getElementById('room').src = document.getElementById('room').src")
    _wait_for_event(page, f"e.event_type === 'conversation.joined' && e.seq > {last}")


def test_the_parent_drives_the_room_with_tavus_interactions(sandbox, open_in_parent, page):
    created = sandbox(
        properties={
            "enable_closed_captions": True,
            "enable_recording": True,
            "recording_s3_bucket_name": "studio-recordings",
        }
    )
    cid = created["conversation_id"]
    room = open_in_parent(created["conversation_url"])
    _wait_for_event(page, "e.event_type === 'conversation.stopped_speaking'")  # greeting done

    def send(event_type, **properties):
        message = {
            "message_type": "conversation",
            "event_type": event_type,
            "conversation_id": cid,
            "properties": properties,
        }
        page.evaluate("m => window.sendToRoom(m)", message)

    captions = room.locator("#room-captions")
    send("conversation.echo", text="Exactly what I was told to say.")
    expect(captions).to_contain_text("Exactly what I was told to say.")

    send("conversation.append_llm_context", context="The caller is called Kim.")
    time.sleep(0.3)
    send("conversation.respond", text="Who am I?")
    expect(captions).to_contain_text("I'm keeping in mind: The caller is called Kim.")

    send("conversation.echo", text=" ".join(["Listen"] * 60))
    long_speech = "e.properties.speech && e.properties.speech.startsWith('Listen Listen')"
    _wait_for_event(page, f"e.event_type === 'conversation.utterance' && {long_speech}")
    send("conversation.interrupt")
    _wait_for_event(page, "e.event_type === 'conversation.replica_interrupted'")

    page.evaluate("window.sendToRoom({message_type: 'sandbox', event_type: 'start_recording'})")
    _wait_for_event(page, "e.message_type === 'sandbox' && e.event_type === 'recording-started'")
    expect(room.locator("#room-rec")).to_be_visible()
    page.evaluate("window.sendToRoom({message_type: 'sandbox', event_type: 'stop_recording'})")
    _wait_for_event(page, "e.message_type === 'sandbox' && e.event_type === 'recording-stopped'")
    expect(room.locator("#room-rec")).to_be_hidden()

    # Navigating the frame away is leaving: conversation.left reaches the parent and the server
    # learns it from the beacon.
    page.evaluate("document.getElementById('room').src = 'about:blank'")
    _wait_for_event(page, "e.event_type === 'conversation.left' && e.properties.role === 'user'")
    deadline = time.monotonic() + 15
    while Participant.objects.filter(conversation_id=cid, left_at=None).exists():
        assert time.monotonic() < deadline, "the leave beacon never arrived"
        time.sleep(0.1)


def test_a_private_room_refuses_without_its_token(sandbox, page):
    created = sandbox(require_auth=True)
    page.goto(created["conversation_url"])
    expect(page.get_by_role("heading")).to_have_text("You are not allowed to join this call")
    page.goto(created["conversation_url"] + "?t=" + created["meeting_token"])
    expect(page.get_by_role("heading", level=1)).to_have_text("Nathan")
    expect(page.get_by_role("status")).to_have_text("Live")


def test_a_full_room_refuses_the_next_person(sandbox, page, browser):
    created = sandbox(max_participants=2)
    page.goto(created["conversation_url"])
    expect(page.get_by_role("status")).to_have_text(re.compile("Live|Waiting"))
    other = browser.new_context()
    try:
        second = other.new_page()
        second.goto(created["conversation_url"])
        expect(second.get_by_role("heading")).to_have_text("This call is full")
        second.screenshot(path="test-artifacts/sandbox-room-full.png")
    finally:
        other.close()


def test_greenscreen_and_audio_only_rooms(sandbox, page):
    page.set_viewport_size({"width": 900, "height": 600})
    green = sandbox(properties={"apply_greenscreen": True})
    page.goto(green["conversation_url"])
    expect(page.get_by_role("status")).to_have_text("Live")
    colour = page.eval_on_selector(".stage", "el => getComputedStyle(el).backgroundColor")
    assert colour == "rgb(0, 255, 155)"
    page.wait_for_timeout(800)  # let the replica fade in fully
    page.screenshot(path="test-artifacts/sandbox-room-greenscreen.png")

    audio = sandbox(audio_only=True, properties={"enable_closed_captions": True})
    page.goto(audio["conversation_url"])
    expect(page.get_by_role("img", name="Nathan (audio only)")).to_be_visible()
    expect(page.locator(".face")).to_have_count(0)
    expect(page.locator("#room-captions")).to_contain_text("Sales Coach")
    page.screenshot(path="test-artifacts/sandbox-room-audio.png")


def test_the_room_says_so_when_the_conversation_ends(sandbox, studio_server, page):
    created = sandbox()
    page.goto(created["conversation_url"])
    expect(page.get_by_role("status")).to_have_text("Live")
    cid = created["conversation_id"]
    httpx.post(f"{studio_server.url}/sandbox/v2/conversations/{cid}/end", headers=KEY)
    expect(page.get_by_role("heading", name="This conversation has ended")).to_be_visible()
    expect(page.get_by_label("Say something…")).to_be_disabled()
    page.reload()
    expect(page.get_by_role("heading")).to_have_text("This conversation has ended")
