import pytest
from django.db import connection

from studio.conversations import search
from studio.conversations.models import Conversation, Event, Utterance
from tests.conversations.factories import make_conversation, webhook
from tests.history.conftest import ended, indexed, sqlite_only


def found(user, phrase) -> list[int]:
    qs = search.search(Conversation.objects.visible_to(user), phrase).order_by("pk")
    return [c.pk for c in qs]


@pytest.mark.parametrize(
    ("phrase", "query"),
    [
        ("refund policy", '"refund" "policy"'),
        ('"refund policy" now', '"refund policy" "now"'),
        ('say "refund policy"', '"say" "refund policy"'),
        ("refu*", '"refu"*'),
        ("don't", '"don t"'),
        ("NEAR(a b) OR c*", '"NEAR a" "b" "OR" "c"*'),
        ("snake_case", '"snake case"'),
        ("Zoë", '"Zoë"'),
        ("  ", ""),
        ("*** ()", ""),
        ('"unclosed phrase', '"unclosed phrase"'),
    ],
)
def test_user_text_becomes_a_safe_fts5_query(phrase, query):
    assert search.fts5_query(phrase) == query


def test_it_finds_words_in_captions(operator):
    hit = ended(
        operator,
        said=[("user", "What about the refund policy?"), ("replica", "Refunds take five days.")],
    )
    ended(operator, said=[("user", "Let's talk pricing.")])
    assert found(operator, "refund policy") == [hit.pk]
    assert found(operator, "REFUND") == [hit.pk]  # case does not matter


@sqlite_only
def test_a_trailing_star_matches_a_prefix(operator):
    hit = ended(operator, said=[("user", "What about the refund policy?")])
    assert found(operator, "refu") == []
    assert found(operator, "refu*") == [hit.pk]


def test_a_phrase_in_quotes_must_appear_as_written(operator):
    hit = ended(operator, said=[("user", "the refund policy is clear")])
    ended(operator, said=[("user", "a policy about the refund")])
    assert found(operator, '"refund policy"') == [hit.pk]


@sqlite_only
def test_accents_do_not_matter(operator):
    hit = ended(operator, said=[("user", "Crème brûlée for Zoë")])
    assert found(operator, "creme brulee zoe") == [hit.pk]


def test_the_final_transcript_replaces_the_captions(operator):
    conversation = ended(operator, said=[("user", "caption words only")])
    assert found(operator, "caption") == [conversation.pk]
    conversation.transcript = [
        {"role": "system", "content": "You are a secret prompt about pelicans."},
        {"role": "user", "content": "final transcript words"},
    ]
    conversation.save()
    assert found(operator, "final transcript") == [conversation.pk]
    assert found(operator, "caption") == []
    assert found(operator, "pelicans") == []  # the system prompt is not what was said


def test_a_transcript_webhook_is_indexed(client, operator):
    conversation, secret = make_conversation(operator)
    body = webhook(
        conversation,
        "application.transcription_ready",
        transcript=[{"role": "user", "content": "Tell me about the lighthouse."}],
    )
    assert (
        client.post(f"/hooks/tavus/{secret}/", body, content_type="application/json").status_code
        == 200
    )
    assert found(operator, "lighthouse") == [conversation.pk]


def test_a_caption_written_live_is_indexed_at_once(operator):
    from studio.conversations.live import ingest_room_event
    from studio.tavus.events import parse_room_event

    conversation, _ = make_conversation(operator)
    event = parse_room_event(
        {
            "message_type": "conversation",
            "event_type": "conversation.utterance",
            "conversation_id": conversation.tavus_id,
            "seq": 1,
            "properties": {"role": "user", "speech": "I saw a heron today"},
        }
    )
    ingest_room_event(conversation, event)
    assert Utterance.objects.count() == 1
    assert found(operator, "heron") == [conversation.pk]


def _caption(conversation, seq, speech):
    from studio.conversations.live import ingest_room_event
    from studio.tavus.events import parse_room_event

    event = parse_room_event(
        {
            "message_type": "conversation",
            "event_type": "conversation.utterance",
            "conversation_id": conversation.tavus_id,
            "seq": seq,
            "properties": {"role": "user", "speech": speech},
        }
    )
    ingest_room_event(conversation, event)


def test_a_burst_of_captions_is_indexed_by_the_catch_up_job(operator):
    # Rebuilding the document on every caption was O(n²) a conversation: a burst is indexed
    # once at its start and again by the `search` job's pass a few seconds later.
    conversation, _ = make_conversation(operator)
    _caption(conversation, 1, "I saw a heron today")
    _caption(conversation, 2, "and then a kingfisher")
    assert found(operator, "heron") == [conversation.pk]
    assert found(operator, "kingfisher") == []  # within the throttle window
    search.catch_up()
    assert found(operator, "kingfisher") == [conversation.pk]


def test_the_end_indexes_captions_the_throttle_skipped(operator):
    conversation, _ = make_conversation(operator)
    _caption(conversation, 1, "I saw a heron today")
    _caption(conversation, 2, "and then a kingfisher")
    assert conversation.mark_ended("participant_left_timeout")
    assert found(operator, "kingfisher") == [conversation.pk]


def test_catch_up_leaves_alone_what_has_a_final_transcript(operator):
    conversation = ended(operator, transcript=[{"role": "user", "content": "final words"}])
    Utterance.objects.create(
        conversation=conversation, role="user", text="late caption", dedupe_key="late"
    )
    search._last_indexed.clear()
    search.catch_up()
    assert found(operator, "final") == [conversation.pk]
    assert found(operator, "late") == []


def test_captions_after_the_final_transcript_do_not_replace_it(operator):
    conversation = ended(operator, transcript=[{"role": "user", "content": "final words"}])
    Utterance.objects.create(
        conversation=conversation, role="user", text="late caption", dedupe_key="late"
    )
    assert found(operator, "final") == [conversation.pk]
    assert found(operator, "late") == []


def test_a_deleted_conversation_leaves_the_index(operator):
    conversation = ended(operator, said=[("user", "ephemeral words")])
    pk = conversation.pk
    assert indexed(pk) == 1
    conversation.delete()
    assert indexed(pk) == 0


def test_search_respects_who_may_see_what(operator, operator2, supervisor):
    mine = ended(operator, said=[("user", "the blue whale")])
    theirs = ended(operator2, said=[("user", "the blue whale")])
    assert found(operator, "whale") == [mine.pk]
    assert found(supervisor, "whale") == [mine.pk, theirs.pk]


def test_snippets_escape_user_text_and_mark_matches(operator):
    ended(operator, said=[("user", 'I typed <script>alert("x")</script> & the word harbour')])
    conversation = search.search(Conversation.objects.all(), "harbour").get()
    snippet = str(conversation.snippet)
    assert "<mark>harbour</mark>" in snippet
    assert "<script>" not in snippet and "&amp;" in snippet
    if connection.vendor == "sqlite":  # PostgreSQL's parser drops <tags> from headlines
        assert "&lt;script&gt;" in snippet


def test_markers_stored_in_text_cannot_inject_marks(operator):
    ended(operator, said=[("user", "sneaky \x02bold\x03 text about otters")])
    conversation = search.search(Conversation.objects.all(), "otters").get()
    assert str(conversation.snippet).count("<mark>") == 1


def test_highlight_closes_a_cut_match():
    assert search.highlight("…a \x02long") == "…a <mark>long</mark>"
    assert search.highlight(None) == ""


def test_punctuation_only_finds_nothing(operator):
    ended(operator, said=[("user", "anything")])
    assert found(operator, "!!!") == []


def test_the_list_shows_highlighted_snippets(client, operator):
    ended(operator, said=[("user", "We need <b>bold</b> ideas about kites")])
    client.force_login(operator)
    html = client.get("/history/?q=kites").content.decode()
    assert "<mark>kites</mark>" in html and "<b>" not in html
    if connection.vendor == "sqlite":  # PostgreSQL's parser drops <tags> from headlines
        assert "&lt;b&gt;bold&lt;/b&gt;" in html
    assert "1 conversation mentions “kites”" in html


def test_the_transcription_event_alone_does_not_break_other_events(operator):
    conversation, _ = make_conversation(operator)
    Event.objects.create(
        conversation=conversation,
        source=Event.WEBHOOK,
        event_type="application.transcription_ready",
        dedupe_key="t",
        payload={"properties": {"transcript": "not a list"}},
    )
    assert found(operator, "list") == []
