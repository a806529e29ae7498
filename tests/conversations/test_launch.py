import json

import httpx
import pytest

from studio.accounts.models import AuditEntry
from studio.conversations.models import Conversation
from studio.tavus import client as tavus
from tests.conversations.factories import make_conversation


def launch(client, preset, key="launch-key-0123456789", **overrides):
    return client.post(f"/launch/{preset.pk}/", {"launch_key": key, **overrides})


@pytest.fixture
def sent(monkeypatch):
    """Record every create_conversation body the studio sends (still calling Tavus)."""
    bodies = []
    original = tavus.create_conversation

    def spy(body):
        bodies.append(body)
        return original(body)

    monkeypatch.setattr(tavus, "create_conversation", spy)
    return bodies


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


def test_dry_runs_do_not_hold_slots(client, operator, make_preset, settings, studio_server):
    settings.TAVUS_CONCURRENCY_LIMIT = 1
    make_conversation(operator, test_mode=True)
    client.force_login(operator)
    assert launch(client, make_preset()).status_code == 302


def test_tavus_concurrency_error_gets_the_same_treatment(
    client, operator, make_preset, settings, studio_server
):
    settings.SANDBOX_CONCURRENCY_LIMIT = 0
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
