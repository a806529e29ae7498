"""A supervisor's "Answer as if the person said…": the room reports the words as the person's,
but they are the supervisor's, and every page and export says so."""

import pytest

from studio.conversations import export, wall
from studio.conversations.live import timeline
from studio.conversations.models import Utterance
from tests.conversations.factories import make_conversation, respond_command, say

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation(operator):
    return make_conversation(operator)[0]


def html_of(pushes) -> str:
    return "".join(html for _, html in pushes)


def test_the_line_a_supervisor_sent_is_theirs_in_the_captions(conversation, supervisor):
    respond_command(conversation, supervisor, "What is your refund policy?")
    pushed = html_of(say(conversation, "user", "What is your refund policy?", "i1"))
    line = Utterance.objects.get()
    assert line.role == "user" and line.said_by == "sam"
    assert line.speaker == "sam (as the person)"
    assert '<span class="who">sam (as the person)</span>What is your refund policy?' in pushed
    assert "as-person" in pushed
    # The monitoring wall's tile says so too.
    tile = wall.render("tile-captions", conversation=conversation, captions=[line])
    assert "<b>sam (as the person):</b> What is your refund policy?" in tile


def test_what_the_person_says_stays_theirs(conversation, supervisor):
    respond_command(conversation, supervisor, "What is your refund policy?")
    say(conversation, "user", "Hello, I have a question", "i1")
    say(conversation, "replica", "What is your refund policy?", "i1")  # the replica's own words
    assert [u.speaker for u in Utterance.objects.all()] == ["Person", "Replica"]


def test_each_command_claims_one_line(conversation, supervisor, operator):
    respond_command(conversation, supervisor, "Can I pay later?")
    say(conversation, "user", "Can I pay later?", "i1")
    say(conversation, "user", "Can I pay later?", "i2")  # the person, in the same words
    assert [u.speaker for u in Utterance.objects.all()] == ["sam (as the person)", "Person"]


def test_the_timeline_says_whose_words_the_replica_answered(conversation, supervisor):
    respond_command(conversation, supervisor, "What is your refund policy?")
    labels = [step["label"] for step in timeline(conversation)]
    assert "sam spoke as the person: “What is your refund policy?”" in labels


def test_the_final_transcript_and_its_exports_name_the_supervisor(conversation, supervisor):
    respond_command(conversation, supervisor, "What is your refund policy?")
    conversation.transcript = [
        {"role": "system", "content": "You are a shop assistant."},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Hi, my kettle broke."},
        {"role": "user", "content": "What is your refund policy?"},
        {"role": "assistant", "content": "Thirty days, no questions asked."},
    ]
    conversation.save()
    transcript = export.transcript_of(conversation)
    assert [line.speaker for line in transcript.lines] == [
        "Replica",
        "Person",
        "sam (as the person)",
        "Replica",
    ]
    text = export.as_txt(conversation, transcript)
    assert "sam (as the person): What is your refund policy?\n" in text
    assert "Person: Hi, my kettle broke.\n" in text
    assert "<v sam (as the person)>What is your refund policy?" in export.as_vtt(
        conversation, transcript
    )


def test_the_history_page_shows_it(client, conversation, supervisor):
    respond_command(conversation, supervisor, "What is your refund policy?")
    say(conversation, "user", "What is your refund policy?", "i1")
    client.force_login(supervisor)
    html = client.get(f"/history/{conversation.pk}/").content.decode()
    assert "sam (as the person)" in html
