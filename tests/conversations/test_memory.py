"""Memories at launch: a preset that remembers people sends Tavus one memory store per person and
persona (tavus-api-2.md §4), says in words whose memories the replica uses, and never lets two
people share one."""

import pytest
from django.contrib.messages import get_messages

from studio.conversations.models import Conversation
from studio.presets.models import memory_store_key
from tests.conftest import make_user
from tests.conversations.factories import launch


@pytest.fixture
def remembering(make_preset):
    return make_preset(remember_people=True, talker="link")


def test_the_launch_form_asks_who_it_is_with_only_when_the_preset_remembers(
    client, operator, make_preset, remembering
):
    client.force_login(operator)
    asks = client.get(f"/launch/{remembering.pk}/").content.decode()
    assert "Who is it with?" in asks and "theirs alone" in asks
    plain = client.get(f"/launch/{make_preset(name='Plain').pk}/").content.decode()
    assert "Who is it with?" not in plain


def test_someone_else_with_the_link_gets_their_own_memory_store(
    client, operator, remembering, studio_server, sent
):
    client.force_login(operator)
    response = launch(client, remembering, talker="link", person="  Anna.Smith@example.com ")
    (body,) = sent
    key = memory_store_key("p9a95912", "person:Anna.Smith@example.com")
    assert body["memory_stores"] == [key]
    assert key.startswith("p9a95912-") and "anna" not in key.lower()  # says nothing of who
    conversation = Conversation.objects.get()
    assert conversation.settings_snapshot["memory_stores"] == [key]
    said = [str(m) for m in get_messages(response.wsgi_request)]
    assert (
        "Anna will remember earlier conversations with Anna.Smith@example.com (and only "
        "theirs) as the “Demo Persona” persona." in said
    )
    # The history's launch settings keep the same words.
    assert any("with Anna.Smith@example.com" in line for line in conversation.summary_snapshot)


def test_two_people_never_share_a_memory_store(
    client, operator, remembering, studio_server, sent
):
    client.force_login(operator)
    launch(client, remembering, key="k" * 20, talker="link", person="anna@example.com")
    launch(client, remembering, key="l" * 20, talker="link", person="bob@example.com")
    launch(client, remembering, key="m" * 20, talker="link", person="ANNA@example.com")
    anna, bob, anna_again = (body["memory_stores"] for body in sent)
    assert anna != bob
    assert anna == anna_again  # the same person meets the same memories next time


def test_the_launcher_who_talks_is_their_own_account_never_a_typed_name(
    client, operator, remembering, studio_server, sent
):
    colleague = make_user("priya", "Operator")
    client.force_login(operator)
    response = launch(client, remembering, key="k" * 20, talker="me")
    client.force_login(colleague)
    launch(client, remembering, key="l" * 20, talker="me")
    # Someone typing the first launcher's account id with a link gets their own store.
    launch(client, remembering, key="m" * 20, talker="link", person=f"studio-user:{operator.pk}")
    mine, priyas, typed = (body["memory_stores"] for body in sent)
    assert mine == [memory_store_key("p9a95912", f"studio-user:{operator.pk}")]
    assert len({mine[0], priyas[0], typed[0]}) == 3
    said = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("remember earlier conversations with you (and only yours)" in m for m in said)


def test_a_link_launch_without_the_person_is_refused_and_nothing_starts(
    client, operator, remembering, sent
):
    client.force_login(operator)
    response = launch(client, remembering, talker="link", person="   ")
    assert response.status_code == 200
    assert "This preset remembers people: say who the conversation is with" in (
        response.content.decode()
    )
    assert not Conversation.objects.exists() and not sent


def test_a_preset_that_remembers_nobody_sends_no_memory_store(
    client, operator, make_preset, studio_server, sent
):
    client.force_login(operator)
    launch(client, make_preset(), talker="link", person="anna@example.com")
    assert "memory_stores" not in sent[0]


def test_the_preview_names_whose_memories_as_it_is_typed(client, operator, remembering):
    client.force_login(operator)

    def preview(**fields):
        url = f"/launch/{remembering.pk}/preview/"
        data = {"launch_key": "k" * 20, **fields}
        return client.post(url, data, HTTP_HX_REQUEST="true").content.decode()

    typed = preview(talker="link", person="anna@example.com")
    assert "remember earlier conversations with anna@example.com (and only theirs)" in typed
    nobody_yet = preview(talker="link")
    assert "with this person (and only this person&#x27;s)" in nobody_yet
    assert "with you (and only yours)" in preview(talker="me")
