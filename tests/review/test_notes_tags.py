"""Supervisors' notes and tags on a conversation: added and removed on its history page (with
and without htmx), audited, searchable in the history list, and in the CSV export."""

import pytest
from django.test import Client

from studio.accounts.models import AuditEntry
from studio.conversations.models import Note, Tag
from tests.history.conftest import ended
from tests.history.test_export import read_csv


@pytest.fixture
def convo(operator):
    return ended(operator, title="Pricing drill")


def add_note(client, conversation, text, **headers):
    return client.post(f"/history/{conversation.pk}/notes/", {"text": text}, **headers)


def add_tag(client, conversation, name, **headers):
    return client.post(f"/history/{conversation.pk}/tags/", {"name": name}, **headers)


HTMX = {"HTTP_HX_REQUEST": "true"}


def test_it_requires_login(client, convo):
    response = add_note(client, convo, "hello")
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert not Note.objects.exists()


def test_operators_neither_see_nor_write_them(client, operator, convo, supervisor):
    Note.objects.create(conversation=convo, author=supervisor, text="Coach them on pricing.")
    Tag.objects.create(conversation=convo, name="follow up", added_by=supervisor)
    client.force_login(operator)  # the launcher themself
    html = client.get(f"/history/{convo.pk}/").content.decode()
    assert 'id="review"' not in html
    assert "Coach them on pricing" not in html and "follow up" not in html
    assert add_note(client, convo, "mine").status_code == 403
    assert add_tag(client, convo, "mine").status_code == 403
    assert Note.objects.count() == 1 and Tag.objects.count() == 1


def test_a_supervisor_adds_a_note_and_the_htmx_answer_is_the_card_alone(client, supervisor, convo):
    client.force_login(supervisor)
    response = add_note(client, convo, "  Good <b>handling</b> of the price question.  ", **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<section class="card review" id="review"')
    assert "<html" not in html
    assert "Good &lt;b&gt;handling&lt;/b&gt; of the price question." in html
    note = Note.objects.get()
    assert note.text == "Good <b>handling</b> of the price question." and note.author == supervisor
    entry = AuditEntry.objects.get(action="note added")
    assert entry.actor == supervisor and entry.target == str(convo)


def test_without_htmx_it_redirects_back_to_the_page(client, supervisor, convo):
    client.force_login(supervisor)
    response = add_note(client, convo, "Fine.")
    assert response.status_code == 302 and response["Location"] == f"/history/{convo.pk}/"
    page = client.get(response["Location"]).content.decode()
    assert "Fine." in page and "sam" in page


def test_an_empty_note_is_refused_and_changes_nothing(client, supervisor, convo):
    client.force_login(supervisor)
    html = add_note(client, convo, "   \n ", **HTMX).content.decode()
    assert "Write something first." in html
    response = add_note(client, convo, "")
    assert response.status_code == 302
    assert "Write something first." in client.get(response["Location"]).content.decode()
    assert not Note.objects.exists() and not AuditEntry.objects.filter(action="note added")


def test_a_note_over_5000_characters_is_refused(client, supervisor, convo):
    client.force_login(supervisor)
    html = add_note(client, convo, "x" * 5001, **HTMX).content.decode()
    assert "at most 5000 characters" in html and not Note.objects.exists()


def test_only_its_author_or_an_admin_removes_a_note(client, supervisor, admin_user, convo):
    from tests.conftest import make_user

    other = make_user("sasha", "Supervisor")
    note = Note.objects.create(conversation=convo, author=supervisor, text="Mine.")
    url = f"/history/{convo.pk}/notes/{note.pk}/delete/"
    client.force_login(other)
    assert client.post(url).status_code == 403
    assert "Remove</button>" not in client.get(f"/history/{convo.pk}/").content.decode()
    client.force_login(supervisor)
    assert client.get(url).status_code == 405  # a POST only
    assert client.post(url, **HTMX).status_code == 200
    assert not Note.objects.exists()
    again = Note.objects.create(conversation=convo, author=supervisor, text="Again.")
    client.force_login(admin_user)
    assert client.post(f"/history/{convo.pk}/notes/{again.pk}/delete/").status_code == 302
    assert not Note.objects.exists()
    assert AuditEntry.objects.filter(action="note removed").count() == 2


def test_a_note_of_another_conversation_is_not_found(client, supervisor, convo, operator):
    elsewhere = ended(operator)
    note = Note.objects.create(conversation=elsewhere, author=supervisor, text="There.")
    client.force_login(supervisor)
    assert client.post(f"/history/{convo.pk}/notes/{note.pk}/delete/").status_code == 404
    assert Note.objects.filter(pk=note.pk).exists()


def test_tags_have_one_spelling_and_are_added_once(client, supervisor, convo):
    client.force_login(supervisor)
    add_tag(client, convo, "Follow   Up", **HTMX)
    html = add_tag(client, convo, "follow up", **HTMX).content.decode()
    assert list(Tag.objects.values_list("name", flat=True)) == ["follow up"]
    assert html.count('<li class="tag">follow up') == 1
    assert AuditEntry.objects.filter(action="tag added").count() == 1
    assert "A tag needs a word or two." in add_tag(client, convo, "   ", **HTMX).content.decode()
    assert "at most 40 characters" in add_tag(client, convo, "x" * 41, **HTMX).content.decode()
    assert Tag.objects.count() == 1


def test_a_tag_is_removed_and_audited(client, supervisor, convo):
    tag = Tag.objects.create(conversation=convo, name="good example", added_by=supervisor)
    client.force_login(supervisor)
    html = client.post(f"/history/{convo.pk}/tags/{tag.pk}/remove/", **HTMX).content.decode()
    assert "No tags yet." in html and not Tag.objects.exists()
    entry = AuditEntry.objects.get(action="tag removed")
    assert entry.detail == "good example"


def test_the_csrf_token_is_required(supervisor, convo):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(supervisor)
    assert add_note(strict, convo, "Sneaky").status_code == 403
    assert not Note.objects.exists()


def test_someone_who_may_not_see_the_conversation_gets_not_found(client, operator2, convo):
    client.force_login(operator2)
    assert add_note(client, convo, "x").status_code in (403, 404)
    assert not Note.objects.exists()


# --- Searchable and exported -----------------------------------------------------------------


def test_history_filters_on_a_tag_and_on_words_in_notes(client, supervisor, operator):
    tagged = ended(operator, title="Tagged call")
    noted = ended(operator, title="Noted call")
    ended(operator, title="Plain call")
    Tag.objects.create(conversation=tagged, name="good example")
    Note.objects.create(conversation=noted, author=supervisor, text="Ask about the Zephyr order")
    client.force_login(supervisor)

    def titles(**params):
        html = client.get("/history/", params).content.decode()
        return {t for t in ("Tagged call", "Noted call", "Plain call") if t in html}

    page = client.get("/history/").content.decode()
    assert '<option value="good example">good example</option>' in page
    assert titles(tag="good example") == {"Tagged call"}
    assert titles(notes="zephyr") == {"Noted call"}
    assert titles(notes="nothing like it") == set()


def test_operators_get_no_note_or_tag_filters(client, operator, supervisor):
    mine = ended(operator, title="My call")
    Tag.objects.create(conversation=mine, name="follow up")
    client.force_login(operator)
    html = client.get("/history/", {"tag": "nope", "notes": "nope"}).content.decode()
    assert 'name="tag"' not in html and 'name="notes"' not in html
    assert "My call" in html  # the parameters are ignored, not used to probe


def test_the_csv_carries_tags_and_notes_for_supervisors_only(client, supervisor, operator):
    convo = ended(operator, title="Exported")
    Tag.objects.create(conversation=convo, name="follow up")
    Tag.objects.create(conversation=convo, name="good example")
    Note.objects.create(conversation=convo, author=supervisor, text="First.")
    Note.objects.create(conversation=convo, author=None, text='=HYPERLINK("x")')
    client.force_login(supervisor)
    (row,) = read_csv(client.get("/history/export.csv"))
    assert row["tags"] == "follow up, good example"
    assert row["notes"] == 'sam: First. | someone: =HYPERLINK("x")'
    (filtered,) = read_csv(client.get("/history/export.csv", {"tag": "follow up"}))
    assert filtered["title"] == "Exported"
    client.force_login(operator)
    (theirs,) = read_csv(client.get("/history/export.csv"))
    assert theirs["tags"] == "" and theirs["notes"] == ""


def test_a_cell_starting_with_a_formula_is_defused(client, supervisor, operator):
    convo = ended(operator)
    Tag.objects.create(conversation=convo, name="=cmd")
    client.force_login(supervisor)
    (row,) = read_csv(client.get("/history/export.csv"))
    assert row["tags"] == "'=cmd"
