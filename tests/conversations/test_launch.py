import json
import re
from datetime import timedelta
from types import SimpleNamespace

import httpx
import pytest

from studio.accounts.models import AuditEntry
from studio.conversations import wall
from studio.conversations.models import Conversation
from studio.tavus import client as tavus
from studio.tavus.events import parse_webhook
from tests.conversations.factories import launch, make_conversation, webhook


def test_launch_page_lists_pinned_presets_first(client, operator, make_preset):
    make_preset(name="Alpha")
    make_preset(name="Zulu", pinned=True)
    client.force_login(operator)
    html = client.get("/launch/").content.decode()
    assert html.index("Zulu") < html.index("Alpha")


def test_a_launch_reaches_the_sandbox_and_opens_the_live_page(
    client, operator, make_preset, studio_server, sent
):
    preset = make_preset()
    client.force_login(operator)
    response = launch(client, preset, custom_greeting="Hi Priya!")
    conversation = Conversation.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/conversations/{conversation.pk}/"
    assert conversation.status == "active" and conversation.tavus_id.startswith("c")
    assert conversation.conversation_url.startswith(studio_server.url + "/sandbox/rooms/")
    assert conversation.launched_by == operator
    (body,) = sent
    assert body["custom_greeting"] == "Hi Priya!"
    assert body["conversation_name"] == f"Interview practice [studio:{conversation.pk}]"
    assert body["callback_url"].startswith(studio_server.url + "/hooks/tavus/")
    secret = body["callback_url"].rstrip("/").rsplit("/", 1)[1]
    assert Conversation.for_webhook_secret(secret) == conversation
    assert conversation.settings_snapshot["custom_greeting"] == "Hi Priya!"
    page = client.get(response["Location"]).content.decode()
    assert 'id="room-frame"' in page and "Copy participant link" in page
    assert AuditEntry.objects.filter(action="launch", actor=operator).count() == 1


def test_a_double_submit_launches_once(client, operator, make_preset, studio_server, sent):
    preset = make_preset()
    client.force_login(operator)
    first = launch(client, preset, key="same-key-abcdefghijkl")
    second = launch(client, preset, key="same-key-abcdefghijkl")
    assert first["Location"] == second["Location"]
    assert Conversation.objects.count() == 1 and len(sent) == 1


def test_full_slots_are_explained_and_tavus_is_not_called(
    client, operator, make_preset, settings, sent
):
    settings.TAVUS_CONCURRENCY_LIMIT = 1
    holder, _ = make_conversation(operator, title="Morning session")
    client.force_login(operator)
    response = launch(client, make_preset())
    assert response.status_code == 409
    html = response.content.decode()
    assert "Every conversation slot is in use" in html and "Morning session" in html
    assert f"/conversations/{holder.pk}/end/" in html
    assert sent == [] and Conversation.objects.count() == 1


def slots_sentence(html: str) -> str:
    start = html.index("<h1>Every conversation slot is in use</h1>")
    return " ".join(html[html.index("<p>", start) + 3 : html.index("</p>", start)].split())


def test_full_slots_on_the_sandbox_name_the_sandbox_not_a_plan(
    client, operator, make_preset, settings, sent
):
    settings.TAVUS_API_KEY = ""
    settings.TAVUS_CONCURRENCY_LIMIT = None
    settings.SANDBOX_CONCURRENCY_LIMIT = 1
    make_conversation(operator)
    client.force_login(operator)
    said = slots_sentence(launch(client, make_preset()).content.decode())
    assert said == (
        "The sandbox runs 1 conversation at a time, and it is busy, so "
        "“Interview practice” was not started."
    )
    assert sent == []


def test_full_slots_on_tavus_give_the_plans_limit(client, operator, make_preset, settings, sent):
    settings.TAVUS_API_KEY = "tvs-test-key"
    settings.TAVUS_CONCURRENCY_LIMIT = 3
    for _ in range(3):
        make_conversation(operator)
    client.force_login(operator)
    said = slots_sentence(launch(client, make_preset()).content.decode())
    assert said == (
        "Your Tavus plan runs 3 conversations at a time, and they're all busy, so "
        "“Interview practice” was not started. Nothing was billed."
    )


def test_a_tavus_refusal_without_a_known_limit_reads_right(client, operator, make_preset, settings):
    settings.TAVUS_API_KEY = "tvs-test-key"
    settings.TAVUS_CONCURRENCY_LIMIT = None
    client.force_login(operator)
    refusal = {"message": "User has reached maximum concurrent conversations"}
    with tavus.use_transport(_answer(400, refusal)):
        response = launch(client, make_preset())
    assert response.status_code == 409
    said = slots_sentence(response.content.decode())
    assert said.startswith(
        "Your Tavus plan runs a limited number of conversations at a time, and they're all busy"
    )


def test_dry_runs_do_not_hold_slots(client, operator, make_preset, settings, studio_server):
    settings.TAVUS_CONCURRENCY_LIMIT = 1
    make_conversation(operator, test_mode=True)
    client.force_login(operator)
    assert launch(client, make_preset()).status_code == 302


def test_tavus_concurrency_error_gets_the_same_treatment(
    client, operator, make_preset, settings, studio_server
):
    settings.SANDBOX_CONCURRENCY_LIMIT = 0
    settings.TAVUS_CONCURRENCY_LIMIT = 5  # the studio's own check lets it through to Tavus
    client.force_login(operator)
    response = launch(client, make_preset())
    assert response.status_code == 409
    assert "maximum concurrent conversations" in response.content.decode()
    conversation = Conversation.objects.get()
    assert conversation.status == "failed"
    assert "slot" in conversation.failure_reason


def test_test_mode_is_a_dry_run(client, operator, make_preset, studio_server):
    client.force_login(operator)
    response = launch(client, make_preset(test_mode=True))
    conversation = Conversation.objects.get()
    assert conversation.status == "ended" and conversation.test_mode
    assert "Dry run" in client.get(response["Location"]).content.decode()


def _answer(status, body=None, text=None, exc=None):
    def handler(request):
        if exc:
            raise exc
        if text is not None:
            return httpx.Response(status, text=text)
        return httpx.Response(status, json=body)

    return httpx.MockTransport(handler)


@pytest.mark.parametrize(
    ("transport", "expected"),
    [
        (_answer(401, {"message": "Invalid access token"}), "API key"),
        (_answer(402, {"message": "The user is out of conversational credits"}), "credit"),
        (_answer(400, {"error": "Invalid replica_id"}), "replica"),
    ],
)
def test_tavus_refusals_leave_a_failed_row_with_the_reason(
    client, operator, make_preset, transport, expected
):
    client.force_login(operator)
    with tavus.use_transport(transport):
        response = launch(client, make_preset())
    assert response.status_code == 400
    assert "Tavus refused to start the conversation" in response.content.decode()
    conversation = Conversation.objects.get()
    assert conversation.status == "failed"
    assert expected.lower() in conversation.failure_reason.lower()


def test_unreachable_tavus_fails_cleanly(client, operator, make_preset):
    client.force_login(operator)
    transport = _answer(0, exc=httpx.ConnectError("refused"))
    with tavus.use_transport(transport):
        response = launch(client, make_preset())
    conversation = Conversation.objects.get()
    assert conversation.status == "failed"
    assert "did not start" in client.get(response["Location"]).content.decode()


def test_a_timeout_leaves_the_launch_unknown_for_the_reconciler(client, operator, make_preset):
    client.force_login(operator)
    calls = []

    def slow(request):
        calls.append(json.loads(request.content))
        raise httpx.ReadTimeout("slow")

    with tavus.use_transport(httpx.MockTransport(slow)):
        response = launch(client, make_preset())
    conversation = Conversation.objects.get()
    assert conversation.status == "unknown"
    assert len(calls) == 1  # never retried: a retry could bill a second conversation
    assert "checking" in client.get(response["Location"]).content.decode().lower()


def test_invalid_overrides_are_refused_in_place(client, operator, make_preset):
    client.force_login(operator)
    response = launch(client, make_preset(), language="klingon")
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Conversation.objects.exists()


def test_preview_follows_the_overrides(client, operator, make_preset):
    preset = make_preset()
    client.force_login(operator)
    response = client.post(
        f"/launch/{preset.pk}/preview/",
        {"launch_key": "k" * 20, "custom_greeting": "Bonjour!", "language": "french"},
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert "Bonjour!" in html and "french" in html
    assert "<html" not in html


def test_another_operator_cannot_open_or_end_a_conversation(client, operator, operator2):
    conversation, _ = make_conversation(operator)
    client.force_login(operator2)
    assert client.get(f"/conversations/{conversation.pk}/").status_code == 404
    assert client.post(f"/conversations/{conversation.pk}/end/").status_code == 404


def test_end_asks_tavus_and_waits_for_the_shutdown(client, operator, make_preset, studio_server):
    client.force_login(operator)
    launch(client, make_preset())
    conversation = Conversation.objects.get()
    response = client.post(f"/conversations/{conversation.pk}/end/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "Ending…" in response.content.decode()
    conversation.refresh_from_db()
    assert conversation.end_requested_at and conversation.end_requested_by == operator
    assert conversation.events.filter(event_type="studio.end_requested").exists()
    assert AuditEntry.objects.filter(action="end", actor=operator).exists()


def test_end_with_tavus_down_says_so_and_keeps_the_conversation(client, operator):
    conversation, _ = make_conversation(operator)
    client.force_login(operator)
    with tavus.use_transport(_answer(502, text="<html>Bad gateway</html>")):
        response = client.post(f"/conversations/{conversation.pk}/end/", follow=True)
    assert "Could not end the conversation" in response.content.decode()
    conversation.refresh_from_db()
    assert conversation.is_live and conversation.end_requested_at is None


def test_a_slow_launch_the_reconciler_already_found_does_not_step_back(
    client, operator, make_preset
):
    """Tavus answers after the studio's timeout; meanwhile the reconciler found the
    conversation at Tavus. The timed-out launch must not move it back to "checking"."""
    client.force_login(operator)

    def slow(request):
        # While the launch waits, the reconciler adopts it (reconcile._check: mark_launched).
        found = SimpleNamespace(
            conversation_id="c5105105105",
            conversation_url="https://tavus.daily.co/c5105105105",
            meeting_token="",
            status="active",
        )
        Conversation.objects.get().mark_launched(found)
        raise httpx.ReadTimeout("slow")

    with tavus.use_transport(httpx.MockTransport(slow)):
        response = launch(client, make_preset())
    conversation = Conversation.objects.get()
    assert conversation.status == "active" and conversation.tavus_id == "c5105105105"
    assert conversation.failure_reason == ""
    page = client.get(response["Location"]).content.decode()
    assert "did not answer in time" not in page
    later = conversation.created_at + timedelta(minutes=5)
    assert "stuck" not in [alert.code for alert in wall.alerts(conversation, now=later)]


def test_a_late_replica_joined_moves_a_checking_launch_on(operator):
    conversation, _ = make_conversation(operator, status=Conversation.UNKNOWN)
    conversation.receive_webhook(parse_webhook(webhook(conversation, "system.replica_joined")))
    conversation.refresh_from_db()
    assert conversation.status == Conversation.ACTIVE


@pytest.mark.parametrize("status", [Conversation.ACTIVE, Conversation.ENDED])
def test_a_failure_never_overwrites_a_conversation_that_got_further(operator, status):
    conversation, _ = make_conversation(operator, status=status)
    assert not conversation.mark_failed("Tavus timed out")
    assert not conversation.mark_unknown("Tavus timed out")
    conversation.refresh_from_db()
    assert conversation.status == status and conversation.failure_reason == ""


# --- Talk or watch ---------------------------------------------------------------------------


def test_launch_asks_who_talks_and_starts_from_the_presets_answer(client, operator, make_preset):
    client.force_login(operator)
    html = client.get(f"/launch/{make_preset(talker='link').pk}/").content.decode()
    assert "Who will talk to the replica?" in html
    assert re.search(r'<input[^>]*value="link"[^>]*checked', html)
    assert not re.search(r'<input[^>]*value="me"[^>]*checked', html)


def test_someone_else_talks_so_the_launchers_page_watches_from_outside_the_room(
    client, operator, make_preset, studio_server
):
    client.force_login(operator)
    response = launch(client, make_preset(), talker="link")
    conversation = Conversation.objects.get()
    assert conversation.talker == "link"
    page = client.get(response["Location"]).content.decode()
    # No room on the page at all: no seat taken, nobody counted as joined.
    assert 'id="room-frame"' not in page and 'data-room-mode="observer"' in page
    assert "you're watching" in page.lower() and "Join the video" in page
    assert "Copy participant link" in page
    # The launcher may still choose to join.
    joined = client.get(response["Location"] + "?join=1").content.decode()
    assert 'id="room-frame"' in joined and 'data-room-mode="sandbox"' in joined


def test_a_launcher_who_talks_joins_the_room_from_the_live_page(
    client, operator, make_preset, studio_server
):
    client.force_login(operator)
    response = launch(client, make_preset(talker="link"), talker="me")
    assert Conversation.objects.get().talker == "me"
    assert 'id="room-frame"' in client.get(response["Location"]).content.decode()


def test_a_launch_without_the_question_keeps_the_presets_answer(
    client, operator, make_preset, studio_server
):
    client.force_login(operator)
    launch(client, make_preset(talker="link"))
    assert Conversation.objects.get().talker == "link"


def test_a_made_up_answer_is_refused_and_nothing_starts(client, operator, make_preset, sent):
    client.force_login(operator)
    response = launch(client, make_preset(), talker="nobody")
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Conversation.objects.exists() and not sent


# --- Slots full: a conversation nobody is in -------------------------------------------------


def test_the_slots_page_offers_to_end_a_conversation_nobody_is_in(
    client, operator, make_preset, settings, sent
):
    settings.TAVUS_CONCURRENCY_LIMIT = 2
    ghost, _ = make_conversation(operator, title="Closed tab")
    busy, _ = make_conversation(operator, title="Someone talking")
    busy.note_presence("robin-1", present=True, name="Robin")
    client.force_login(operator)
    preset = make_preset()
    html = launch(client, preset).content.decode()

    def row(title):
        start = html.index(title)
        return html[start : html.index("</tr>", start)]

    ghost_row, busy_row = row("Closed tab"), row("Someone talking")
    assert "Nobody" in ghost_row and "End it: nobody is in it" in ghost_row
    assert "1 person" in busy_row and "End it: nobody" not in busy_row
    assert f'name="next" value="/launch/{preset.pk}/"' in ghost_row


def test_ending_from_the_slots_page_frees_the_slot_and_goes_back_to_the_launch(
    client, operator, make_preset, settings, studio_server
):
    settings.TAVUS_CONCURRENCY_LIMIT = 1
    client.force_login(operator)
    preset = make_preset()
    launch(client, preset, key="first-launch-key-0001")
    ghost = Conversation.objects.get()
    assert launch(client, preset, key="second-launch-key-002").status_code == 409
    response = client.post(f"/conversations/{ghost.pk}/end/", {"next": f"/launch/{preset.pk}/"})
    assert response["Location"] == f"/launch/{preset.pk}/"
    # Tavus was told to end it, so its slot is free even before the shutdown arrives.
    assert launch(client, preset, key="third-launch-key-0003").status_code == 302


def test_ending_never_sends_anyone_off_the_studio(client, operator, studio_server, make_preset):
    client.force_login(operator)
    launch(client, make_preset())
    conversation = Conversation.objects.get()
    response = client.post(
        f"/conversations/{conversation.pk}/end/", {"next": "https://evil.example/phish"}
    )
    assert response["Location"] == f"/conversations/{conversation.pk}/"


# --- The live page's beacon -------------------------------------------------------------------


def test_the_live_pages_beacon_takes_its_person_out_of_the_room(client, operator, operator2):
    conversation, _ = make_conversation(operator)
    conversation.note_presence("host-1", present=True, name="olivia")
    url = f"/conversations/{conversation.pk}/left/"
    client.force_login(operator2)
    assert client.post(url, {"participant_id": "host-1"}).status_code == 404  # not theirs
    client.force_login(operator)
    assert client.get(url).status_code == 405
    assert client.post(url, {"participant_id": "host-1"}).status_code == 204
    conversation.refresh_from_db()
    assert conversation.people_in_room == 0 and conversation.room_people == {}


def test_the_live_pages_beacon_needs_the_csrf_token(operator):
    from django.test import Client

    conversation, _ = make_conversation(operator)
    conversation.note_presence("host-1", present=True)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(operator)
    url = f"/conversations/{conversation.pk}/left/"
    assert strict.post(url, {"participant_id": "host-1"}).status_code == 403
    conversation.refresh_from_db()
    assert conversation.people_in_room == 1
