"""Making links for one person, the Links page, revoking: staff's side, with its access rules."""

import html
from datetime import timedelta

import pytest
from django.utils import timezone

from studio.accounts.models import AuditEntry
from studio.conversations.models import Conversation
from studio.invites.models import Invitation
from tests.conversations.factories import make_conversation
from tests.invites.conftest import make_link, window

pytestmark = pytest.mark.time_window



def _make(client, preset, **fields):
    data = {"max_uses": 1, **window(), **fields}
    return client.post(f"/links/new/{preset.pk}/", data)


def test_every_staff_page_asks_to_sign_in(client, operator, interview):
    invitation = make_link(interview, operator)
    for url in ("/links/", "/links/new/", f"/links/new/{interview.pk}/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login")
    for url in (f"/links/{invitation.pk}/revoke/", f"/links/{invitation.pk}/send/"):
        assert client.post(url).status_code == 302
    invitation.refresh_from_db()
    assert invitation.revoked_at is None


def test_someone_without_a_role_is_turned_away(client, outsider, interview):
    client.force_login(outsider)
    assert client.get("/links/").status_code == 403
    assert _make(client, interview, person_name="Anna").status_code == 403
    assert Invitation.objects.count() == 0


def test_a_link_for_one_person_fills_in_their_details(client, operator, interview):
    client.force_login(operator)
    page = client.get(f"/links/new/{interview.pk}/").content.decode()
    # The preview shows the placeholders filled in with examples.
    assert "Hello Sam Taylor! Ready to talk about the Sales lead job?" in html.unescape(page)
    assert "Their role" in page and "Their company" in page
    response = _make(
        client,
        interview,
        person_name="Anna Berg",
        email="anna@example.com",
        detail_role="Account manager",
        detail_company="Acme",
    )
    invitation = Invitation.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/links/?list={invitation.batch}"
    body = invitation.settings_snapshot
    greeting = "Hello Anna Berg! Ready to talk about the Account manager job?"
    assert body["custom_greeting"] == greeting
    assert body["conversational_context"].endswith("applies as Account manager at Acme.")
    assert body["conversation_name"] == "Screening interview with Anna Berg"
    assert invitation.details == {"role": "Account manager", "company": "Acme"}
    assert invitation.created_by == operator and invitation.max_uses == 1
    assert AuditEntry.objects.filter(action="links made", actor=operator).count() == 1


def test_a_missing_detail_is_refused_when_the_link_is_made(client, operator, interview):
    client.force_login(operator)
    response = _make(client, interview, person_name="Anna Berg", detail_company="Acme")
    assert response.status_code == 400
    page = html.unescape(response.content.decode())
    assert "Give their role: the greeting or context says {role}." in page
    assert Invitation.objects.count() == 0


def test_a_preset_that_remembers_people_needs_their_email(client, operator, make_preset):
    preset = make_preset(remember_people=True, custom_greeting="Welcome back!")
    client.force_login(operator)
    response = _make(client, preset, person_name="Anna Berg")
    assert response.status_code == 400 and Invitation.objects.count() == 0
    _make(client, preset, person_name="Anna Berg", email="Anna@Example.com")
    (store,) = Invitation.objects.get().settings_snapshot["memory_stores"]
    assert store == preset.memory_store_for("person:anna@example.com")


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"valid_until": "2000-01-01T10:00"}, "Make it end after it starts."),
        ({"max_uses": 0}, "At least 1."),
        ({"max_uses": 21}, "At most 20."),
    ],
)
def test_bad_settings_are_refused_in_words(client, operator, interview, fields, error):
    client.force_login(operator)
    response = _make(
        client, interview, person_name="A", detail_role="R", detail_company="C", **fields
    )
    assert response.status_code == 400 and error in response.content.decode()
    assert Invitation.objects.count() == 0


def test_a_window_past_its_end_or_too_long_is_refused(client, operator, interview):
    client.force_login(operator)
    person = {"person_name": "A", "detail_role": "R", "detail_company": "C"}
    past = timezone.localtime() - timedelta(days=2)
    fields = {
        "valid_from": (past - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
        "valid_until": past.strftime("%Y-%m-%dT%H:%M"),
    }
    assert "This time has passed" in _make(client, interview, **person, **fields).content.decode()
    long = _make(client, interview, **person, **window(days=120)).content.decode()
    assert "at most 90 days" in long
    assert Invitation.objects.count() == 0


def test_the_links_page_shows_each_state_and_its_conversation(client, operator, interview):
    now = timezone.now()
    ready = make_link(interview, operator, name="Ready Rita")
    sent = make_link(interview, operator, name="Sent Sam")
    Invitation.objects.filter(pk=sent.pk).update(sent_at=now)
    opened = make_link(interview, operator, name="Opened Olga")
    opened.note_opened()
    expired = make_link(
        interview,
        operator,
        name="Late Lars",
        valid_from=now - timedelta(days=2),
        valid_until=now - timedelta(hours=1),
    )
    joined = make_link(interview, operator, name="Joined Jo")
    completed = make_link(interview, operator, name="Done Dana")
    for link, status in ((joined, Conversation.ACTIVE), (completed, Conversation.ENDED)):
        conversation, _ = make_conversation(
            operator, status=status, title=f"Screening interview with {link.person_name}"
        )
        link.uses_made.create(conversation=conversation, number=1)
    client.force_login(operator)
    page = client.get("/links/").content.decode()
    states = {
        ready: "Not sent yet",
        sent: "Sent",
        opened: "Opened",
        expired: "Expired",
        joined: "Joined",
        completed: "Completed",
    }
    for link, words in states.items():
        row = page[page.index(f'id="link-{link.pk}"') :]
        row = row[: row.index("</tr>")]
        assert f">{words}</span>" in row, (link, row)
    assert "Screening interview with Done Dana" in page
    live = Conversation.objects.get(title__endswith="Joined Jo")
    assert f'href="/conversations/{live.pk}/"' in page
    done = Conversation.objects.get(title__endswith="Done Dana")
    assert f'href="/history/{done.pk}/"' in page
    # The htmx refresh answers with the table alone.
    part = client.get("/links/", headers={"HX-Request": "true"}).content.decode()
    assert part.lstrip().startswith('<section id="links-table"') and "<html" not in part


def test_operators_see_their_own_links_and_supervisors_everyone(
    client, operator, operator2, supervisor, interview
):
    mine = make_link(interview, operator, name="Mine Mia")
    theirs = make_link(interview, operator2, name="Theirs Tom")
    client.force_login(operator)
    page = client.get("/links/").content.decode()
    assert "Mine Mia" in page and "Theirs Tom" not in page
    assert client.post(f"/links/{theirs.pk}/revoke/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None
    client.force_login(supervisor)
    page = client.get("/links/").content.decode()
    assert "Mine Mia" in page and "Theirs Tom" in page
    assert client.post(f"/links/{mine.pk}/revoke/").status_code == 302
    mine.refresh_from_db()
    assert mine.revoked_at and mine.revoked_by == supervisor


def test_revoking_needs_post_and_is_audited(client, operator, interview):
    invitation = make_link(interview, operator)
    client.force_login(operator)
    assert client.get(f"/links/{invitation.pk}/revoke/").status_code == 405
    response = client.post(f"/links/{invitation.pk}/revoke/", {"list": invitation.batch})
    assert response.status_code == 302
    invitation.refresh_from_db()
    assert invitation.revoked_at is not None and invitation.state()[0] == "revoked"
    assert AuditEntry.objects.filter(action="link revoked").count() == 1
    page = client.get("/links/").content.decode()
    assert "Copy link" not in page


def test_staff_forms_need_the_csrf_token(operator, interview):
    from django.test import Client

    invitation = make_link(interview, operator)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(operator)
    assert browser.post(f"/links/{invitation.pk}/revoke/").status_code == 403
    assert _make(browser, interview, person_name="A").status_code == 403


def test_what_people_type_is_escaped(client, operator, interview):
    make_link(interview, operator, name="<script>alert(1)</script>")
    client.force_login(operator)
    page = client.get("/links/").content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_launching_offers_a_link_instead(client, operator, interview):
    client.force_login(operator)
    page = client.get(f"/launch/{interview.pk}/").content.decode()
    assert f'href="/links/new/{interview.pk}/"' in page and "Send a link instead" in page
