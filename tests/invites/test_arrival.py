"""The person arrives on their link: nothing starts before Join, exactly one conversation after."""

import html
import threading
from datetime import timedelta

import httpx
import pytest
from django.test import Client
from django.utils import timezone

from studio.accounts.models import AuditEntry
from studio.conversations.models import Conversation
from studio.conversations.reconcile import reconcile
from studio.invites.models import Invitation
from studio.tavus import client as tavus
from tests.conversations.factories import make_conversation
from tests.invites.conftest import make_link, start

# early_in_the_month is a fixture: imported so pytest finds it here.
from tests.usage.conftest import early_in_the_month, used_this_month  # noqa: F401

pytestmark = pytest.mark.time_window


def test_opening_the_link_starts_nothing(client, operator, interview, studio_server, sent):
    invitation = make_link(interview, operator)
    response = client.get(f"/invite/{invitation.token}/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Screening interview with Anna Berg" in page and 'id="join-button"' in page
    assert sent == [] and Conversation.objects.count() == 0
    invitation.refresh_from_db()
    assert invitation.opened_at is not None and invitation.uses == 0
    assert invitation.state() == ("opened", "Opened")


def test_join_starts_one_conversation_with_the_frozen_settings(
    client, operator, interview, studio_server, sent
):
    invitation = make_link(interview, operator)
    # Editing the preset afterwards changes no link.
    interview.custom_greeting = "Something else entirely"
    interview.save()
    client.get(f"/invite/{invitation.token}/")
    response = start(client, invitation)
    assert response.status_code == 200
    config = response.json()["config"]
    conversation = Conversation.objects.get()
    assert config["roomUrl"] == conversation.conversation_url != ""
    assert config["socketPath"] == f"/ws/join/{conversation.join_token}/"
    assert config["conversationId"] == conversation.tavus_id
    (body,) = sent
    assert body["custom_greeting"] == "Hello Anna Berg! Ready to talk about the Sales lead job?"
    assert "applies as Sales lead at Acme" in body["conversational_context"]
    assert body["callback_url"].startswith(studio_server.url + "/hooks/tavus/")
    assert conversation.title == "Screening interview with Anna Berg"
    assert conversation.launched_by == operator and conversation.talker == "link"
    assert conversation.status == "active"
    invitation.refresh_from_db()
    assert invitation.uses == 1 and invitation.state() == ("joined", "Joined")
    assert AuditEntry.objects.filter(action="link used").count() == 1


def test_join_again_joins_the_same_conversation(client, operator, interview, studio_server, sent):
    invitation = make_link(interview, operator, max_uses=3)
    first = start(client, invitation).json()["config"]
    second = start(Client(), invitation).json()["config"]
    assert first["roomUrl"] == second["roomUrl"]
    assert len(sent) == 1 and Conversation.objects.count() == 1


def test_two_tabs_pressing_join_at_once_make_one_conversation(
    operator, interview, studio_server, sent, monkeypatch
):
    invitation = make_link(interview, operator)
    # Both presses get past "is one running already?" before either claims the use: the
    # database's conditional update alone decides who starts the conversation.
    arrived = threading.Barrier(2, timeout=10)
    claim = Invitation.claim
    claims = []

    def claim_together(self, seen_uses, now=None):
        arrived.wait()
        claims.append(claim(self, seen_uses, now))
        return claims[-1]

    monkeypatch.setattr(Invitation, "claim", claim_together)
    answers = []

    def press():
        answers.append(start(Client(), invitation))

    tabs = [threading.Thread(target=press) for _ in range(2)]
    for tab in tabs:
        tab.start()
    for tab in tabs:
        tab.join(timeout=30)
    assert len(answers) == 2
    # Both tried to claim the use; exactly one got it.
    assert len(claims) == 2 and sum(c is not None for c in claims) == 1
    assert sorted(a.status_code for a in answers) in ([200, 200], [200, 202])
    assert len(sent) == 1 and Conversation.objects.count() == 1
    invitation.refresh_from_db()
    assert invitation.uses == 1
    # The tab that lost the race joins the winner's conversation (at once, or on asking again).
    again = start(Client(), invitation)
    assert again.json()["config"]["roomUrl"] == Conversation.objects.get().conversation_url
    assert len(sent) == 1


@pytest.mark.parametrize(
    ("window", "status", "words"),
    [
        ({"valid_from_hours": 2, "valid_until_hours": 5}, 403, "This link isn't open yet"),
        ({"valid_from_hours": -5, "valid_until_hours": -1}, 410, "This link has expired"),
    ],
)
def test_outside_its_window_the_link_says_so_and_starts_nothing(
    client, operator, interview, studio_server, sent, window, status, words
):
    now = timezone.now()
    invitation = make_link(
        interview,
        operator,
        valid_from=now + timedelta(hours=window["valid_from_hours"]),
        valid_until=now + timedelta(hours=window["valid_until_hours"]),
    )
    page = client.get(f"/invite/{invitation.token}/")
    assert page.status_code == status and words in html.unescape(page.content.decode())
    assert 'id="join-button"' not in page.content.decode()
    answer = start(client, invitation)
    assert answer.status_code == 410 and answer.json()["title"] == words
    assert sent == [] and Conversation.objects.count() == 0
    invitation.refresh_from_db()
    assert invitation.uses == 0


def test_a_revoked_link_starts_nothing(client, operator, interview, studio_server, sent):
    invitation = make_link(interview, operator)
    invitation.revoke(operator)
    page = client.get(f"/invite/{invitation.token}/")
    assert page.status_code == 410 and "This link no longer works" in page.content.decode()
    assert start(client, invitation).status_code == 410
    assert sent == [] and Conversation.objects.count() == 0


def test_a_used_link_starts_nothing_more(client, operator, interview, studio_server, sent):
    invitation = make_link(interview, operator)
    assert start(client, invitation).status_code == 200
    Conversation.objects.get().mark_ended("participant_left_timeout")
    invitation.refresh_from_db()
    assert invitation.state() == ("completed", "Completed")
    page = client.get(f"/invite/{invitation.token}/")
    assert page.status_code == 410 and "This link has been used" in page.content.decode()
    assert start(client, invitation).status_code == 410
    assert len(sent) == 1 and Conversation.objects.count() == 1


def test_a_link_for_two_conversations_starts_a_second_after_the_first(
    client, operator, interview, studio_server, sent
):
    invitation = make_link(interview, operator, max_uses=2)
    start(client, invitation)
    Conversation.objects.get().mark_ended("participant_left_timeout")
    assert start(client, invitation).status_code == 200
    assert len(sent) == 2 and Conversation.objects.count() == 2
    Conversation.objects.order_by("-pk").first().mark_ended("participant_left_timeout")
    assert start(client, invitation).status_code == 410
    assert len(sent) == 2


def test_every_slot_busy_at_arrival_is_a_miss_and_calls_nobody(
    client, operator, interview, settings, sent
):
    settings.TAVUS_CONCURRENCY_LIMIT = 1
    make_conversation(operator, title="Someone else's call")
    invitation = make_link(interview, operator)
    answer = start(client, invitation)
    assert answer.status_code == 503 and answer["Retry-After"] == "60"
    busy = "All our hosts are busy, try again in a minute."
    assert answer.json() == {"retry": True, "busy": True, "message": busy}
    assert sent == [] and Conversation.objects.count() == 1
    invitation.refresh_from_db()
    assert invitation.misses == 1 and invitation.uses == 0
    assert invitation.closed_reason() == ""  # still theirs to try again


def test_tavus_saying_every_slot_is_busy_gives_the_use_back(
    client, operator, interview, settings, studio_server
):
    settings.SANDBOX_CONCURRENCY_LIMIT = 0
    settings.TAVUS_CONCURRENCY_LIMIT = 5  # the studio's own check lets it through to Tavus
    invitation = make_link(interview, operator)
    answer = start(client, invitation)
    assert answer.status_code == 503 and answer.json()["retry"] is True
    invitation.refresh_from_db()
    assert invitation.uses == 0 and invitation.misses == 1
    conversation = Conversation.objects.get()
    assert conversation.status == "failed"
    # The failed attempt stays on the link's record, without using it up.
    assert list(invitation.conversations()) == [conversation]
    settings.SANDBOX_CONCURRENCY_LIMIT = 3
    assert start(client, invitation).status_code == 200
    invitation.refresh_from_db()
    assert invitation.uses == 1


def test_a_start_tavus_never_confirmed_gives_the_use_back_when_the_reconciler_gives_up(
    client, operator, interview, studio_server, settings
):
    invitation = make_link(interview, operator)
    calls = []

    def timed_out(request):
        calls.append((request.method, request.url.path.rsplit("/v2/", 1)[1]))
        raise httpx.ReadTimeout("Tavus is slow")

    with tavus.use_transport(httpx.MockTransport(timed_out)):
        answer = start(client, invitation)
    assert answer.status_code == 202 and answer.json() == {"starting": True}
    assert calls == [("POST", "conversations")]  # asked once, never retried
    lost = Conversation.objects.get()
    assert lost.status == "unknown"
    invitation.refresh_from_db()
    assert invitation.uses == 1  # held while nobody knows whether it started
    # The page asks again while it waits: the same conversation, still being started.
    waiting = client.post(f"/invite/{invitation.token}/start", {"waiting": "1"})
    assert waiting.status_code == 202 and Conversation.objects.count() == 1

    # The reconciler, past its patience, finds nothing at Tavus (the sandbox never saw it).
    later = timezone.now() + timedelta(seconds=settings.RECONCILE_UNKNOWN_GIVE_UP_SECONDS + 1)
    reconcile(now=later)
    lost.refresh_from_db()
    assert lost.status == "failed" and "never started" in lost.failure_reason
    invitation.refresh_from_db()
    assert invitation.uses == 0 and invitation.closed_reason() == ""
    # Staff see the use back on the Links page, the attempt beside it, the link still to copy.
    client.force_login(operator)
    page = client.get("/links/").content.decode()
    row = page[page.index(f'id="link-{invitation.pk}"') :]
    row = row[: row.index("</tr>")]
    assert "0 of 1" in row and "1 didn't start" in row and "given back" in row
    assert "Failed to start: Tavus never started this conversation." in row
    assert "Copy link" in row
    client.logout()
    # The waiting page is told it didn't start (it offers "Try again"), and starts nothing.
    waiting = client.post(f"/invite/{invitation.token}/start", {"waiting": "1"})
    assert waiting.status_code == 502 and waiting.json()["retry"] is True
    assert Conversation.objects.count() == 1
    # Pressed again, the link starts its conversation, on the sandbox this time.
    assert start(client, invitation).status_code == 200
    invitation.refresh_from_db()
    assert invitation.uses == 1 and Conversation.objects.count() == 2
    assert [use.number for use in invitation.uses_made.order_by("pk")] == [None, 1]


def test_a_failed_start_gives_its_use_back_once(client, operator, interview, studio_server):
    invitation = make_link(interview, operator, max_uses=2)
    refused = httpx.Response(400, json={"error": "Invalid replica_id"})
    with tavus.use_transport(httpx.MockTransport(lambda request: refused)):
        assert start(client, invitation).status_code == 502  # the launch's own failure
    assert start(client, invitation).status_code == 200  # the second start works
    failed, started = Conversation.objects.order_by("pk")
    invitation.refresh_from_db()
    assert failed.status == "failed" and invitation.uses == 1
    # Whoever comes later (the reconciler, a second give-back) returns nothing more: the other
    # conversation keeps its use.
    assert not failed.mark_failed("Tavus never started this conversation.")
    invitation.give_back(failed)
    invitation.refresh_from_db()
    assert invitation.uses == 1
    assert invitation.uses_made.get(conversation=started).number == 1


# Early in the month, so a used-up minute fits in it whatever day it is.
@pytest.mark.usefixtures("early_in_the_month")
def test_a_budget_used_up_at_arrival_starts_nothing(
    client, operator, interview, studio_server, sent
):
    from studio.conversations.models import MinuteBudget

    invitation = make_link(interview, operator)  # made while there was budget left
    MinuteBudget.objects.create(person=operator, monthly_minutes=1)
    used_this_month(operator, 1)
    answer = start(client, invitation)
    assert answer.status_code == 409
    assert answer.json()["title"] == "This conversation can't start right now"
    assert "budget" not in answer.json()["message"]  # the person is told nothing internal
    assert sent == [] and Conversation.objects.count() == 1  # only the one that used it up
    invitation.refresh_from_db()
    assert invitation.uses == 0
    refusal = AuditEntry.objects.get(action="link refused")
    assert "minute budget is used up" in refusal.detail
    # Budget raised: the same link starts.
    MinuteBudget.objects.filter(person=operator).update(monthly_minutes=100)
    assert start(client, invitation).status_code == 200 and len(sent) == 1


def test_join_needs_the_pages_csrf_token(operator, interview, studio_server, sent):
    invitation = make_link(interview, operator)
    browser = Client(enforce_csrf_checks=True)
    assert start(browser, invitation).status_code == 403
    page = browser.get(f"/invite/{invitation.token}/")
    token = page.context["config"]["csrfToken"]
    answer = browser.post(
        f"/invite/{invitation.token}/start", HTTP_X_CSRFTOKEN=token, HTTP_ACCEPT="application/json"
    )
    assert answer.status_code == 200 and len(sent) == 1


def test_an_unknown_link_is_not_found(client, db, sent):
    page = client.get("/invite/not-a-real-token/")
    assert page.status_code == 404 and "We don't recognise this link" in page.content.decode()
    assert client.post("/invite/not-a-real-token/start").status_code == 404
    assert sent == []


def test_the_page_asks_no_sign_in_and_shows_no_staff_things(client, operator, interview):
    invitation = make_link(interview, operator)
    page = client.get(f"/invite/{invitation.token}/").content.decode()
    assert "Sign out" not in page and "Launch" not in page
    assert 'name="robots" content="noindex' in page
