"""Full-text search over what was said: SQLite FTS5 by default, PostgreSQL full-text search on
PostgreSQL, behind one function, `search(queryset, phrase)`.

The index holds one document per conversation: the final transcript when Tavus sent one (the
system prompt left out: it is the same for every conversation of a persona), else the live
caption lines. Migration 0002 creates the index table; the signals below keep it in step (the
models know nothing of the index), `catch_up` is a background job (studio.conversations.jobs),
and `index_many` fills it in bulk for seeded data (bulk_create sends no signals).

The SQL is written out in full below, every value a parameter; the RawSQL noqa's say so.
"""

import html
import re
import time
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.db import NotSupportedError, connection
from django.db.models import BooleanField, Q, TextField, Value
from django.db.models.expressions import RawSQL
from django.db.models.signals import post_delete, post_save
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from studio.conversations.models import Conversation, Event, Lease, Utterance, conversation_ended

# Whether a conversation's search entry holds its captions (no transcript yet), its status,
# and then those captions in order (one row with no text when there are none, or when the
# transcript is in).
CAPTIONS_STATE = (
    "SELECT c.transcript IS NOT NULL, c.status, u.text FROM conversations_conversation c "
    "LEFT JOIN conversations_utterance u ON u.conversation_id = c.id AND c.transcript IS NULL "
    "WHERE c.id = %s ORDER BY u.spoken_at, u.id"
)
CAPTION_LINES = (
    "SELECT text FROM conversations_utterance WHERE conversation_id = %s ORDER BY spoken_at, id"
)
# SQLite: the FTS5 virtual table conversations_search, rowid = conversation id.
SQLITE_DELETE = "DELETE FROM conversations_search WHERE rowid = %s"
# One statement, so two writers racing on one conversation cannot both insert.
SQLITE_UPSERT = "INSERT OR REPLACE INTO conversations_search (rowid, body) VALUES (%s, %s)"
# A condition, not `pk IN (...)`: the unary + keeps SQLite from looking every match up by
# primary key (slow: conversation rows are wide). It walks a narrow index instead, probing the
# match list — and for "newest first" it stops after one page.
SQLITE_MATCHES = (
    "+conversations_conversation.id IN "
    "(SELECT rowid FROM conversations_search WHERE conversations_search MATCH %s)"
)
SQLITE_SNIPPET = (
    "SELECT snippet(conversations_search, 0, char(2), char(3), '…', 14) "
    "FROM conversations_search "
    "WHERE conversations_search MATCH %s AND rowid = conversations_conversation.id"
)
# PostgreSQL: the table conversations_searchdoc, body + tsvector with a GIN index. The 'simple'
# configuration (no stemming, no stop words) behaves like the FTS5 side; its parser reads
# <tag>-like text as markup and leaves it out of headlines.
PG_DELETE = "DELETE FROM conversations_searchdoc WHERE conversation_id = %s"
PG_UPSERT = (
    "INSERT INTO conversations_searchdoc (conversation_id, body, document) "
    "VALUES (%s, %s, to_tsvector('simple', %s)) "
    "ON CONFLICT (conversation_id) DO UPDATE "
    "SET body = EXCLUDED.body, document = EXCLUDED.document"
)
PG_MATCHES = (
    "conversations_conversation.id IN (SELECT conversation_id FROM conversations_searchdoc "
    "WHERE document @@ websearch_to_tsquery('simple', %s))"
)
PG_SNIPPET = (
    "SELECT ts_headline('simple', d.body, websearch_to_tsquery('simple', %s), %s) "
    "FROM conversations_searchdoc d WHERE d.conversation_id = conversations_conversation.id"
)
# Start/stop markers for matches: control characters never stored in the index (document()
# strips them), so after html-escaping the snippet they can only be ours.
START, STOP = "\x02", "\x03"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
# Words as FTS5's unicode61 tokenizer sees them: letters and digits; `_` and `'` separate.
_WORD = re.compile(r"[^\W_]+")
_TERM = re.compile(r'"([^"]*)"?|(\S+)')
PG_HEADLINE = f"StartSel={START}, StopSel={STOP}, MaxWords=22, MinWords=8, MaxFragments=2"


def _vendor() -> str:
    return connection.vendor


# --- Documents and the index ---------------------------------------------------------------


def document(conversation: Conversation) -> str:
    """The searchable text of one conversation."""
    transcript = conversation.transcript
    if isinstance(transcript, list):
        lines = [
            item["content"]
            for item in transcript
            if isinstance(item, dict)
            and item.get("role") != "system"
            and isinstance(item.get("content"), str)
        ]
    else:
        lines = _caption_lines(conversation.pk)
    return _text(lines)


def _text(lines: Iterable[str]) -> str:
    return _CONTROL.sub(" ", "\n".join(line for line in lines if line))


def _caption_lines(pk: int) -> list[str]:
    # Plain SQL: every ending and every indexed caption asks, and the ORM took longer to build
    # the two statements here than to run them (bench/RESULTS.md, "Webhook ingest, third pass").
    with connection.cursor() as cursor:
        cursor.execute(CAPTION_LINES, [pk])
        return [text for (text,) in cursor.fetchall()]


def index_conversation(conversation: Conversation) -> None:
    """Write (or drop) this conversation's entry in the search index."""
    index_many([(conversation.pk, document(conversation))])


def index_many(rows: Iterable[tuple[int, str]]) -> None:
    """Write many (conversation id, document) pairs at once; an empty document drops the row."""
    rows = list(rows)
    keep = [(pk, body) for pk, body in rows if body]
    drop = [(pk,) for pk, body in rows if not body]
    vendor = _vendor()
    if vendor == "postgresql":
        keep = [(pk, body, body) for pk, body in keep]
    delete, upsert = {
        "sqlite": (SQLITE_DELETE, SQLITE_UPSERT),
        "postgresql": (PG_DELETE, PG_UPSERT),
    }.get(vendor, (None, None))
    if delete is None:
        return
    with connection.cursor() as cursor:
        for sql, params in ((delete, drop), (upsert, keep)):
            # One row (a webhook's transcript, an ending) is a plain execute: psycopg's
            # executemany sets up a pipeline, three times the cost for a single statement.
            if len(params) == 1:
                cursor.execute(sql, params[0])
            elif params:
                cursor.executemany(sql, params)


def unindex(pks: Iterable[int]) -> None:
    index_many([(pk, "") for pk in pks])


# --- Keeping the index in step ---------------------------------------------------------------
# Conversation._set() writes with QuerySet.update(), which sends no signal, so a webhook's
# transcript is caught through the Event row the receiver (and the artifact watchdog) stores
# just before applying it: the document is built from that payload.


# A live conversation's document is rebuilt from all its captions, so indexing on every caption
# cost O(n) each, O(n²) a conversation: at 1,000 captions a caption's ingest took 3× as long
# on SQLite, 2× on PostgreSQL (bench/RESULTS.md). A live conversation's caption is indexed at
# once unless this process indexed it in the last LIVE_INDEX_EVERY seconds; those skipped are
# caught by the next caption, the `catch_up()` job every few seconds, and the end.
LIVE_INDEX_EVERY = 2.0
CATCH_UP_LEASE = "search-catch-up"
_last_indexed: dict[int, float] = {}  # conversation pk -> time.monotonic(); a throttle only


def _utterance_saved(sender, instance, created, raw=False, **kwargs):
    if not raw:
        index_captions(instance.conversation_id, throttled=True)


def index_captions(pk: int, *, throttled: bool = False) -> None:
    """Index a conversation's captions, unless its final transcript is in (that counts).
    throttled: skip a live conversation this process indexed in the last LIVE_INDEX_EVERY s."""
    now = time.monotonic()
    # Indexed here a moment ago, so live then: skipped without a query (what it skips is
    # caught by the next caption, the catch-up job and the end).
    if throttled and now - _last_indexed.get(pk, -LIVE_INDEX_EVERY) < LIVE_INDEX_EVERY:
        return
    with connection.cursor() as cursor:
        cursor.execute(CAPTIONS_STATE, [pk])
        rows = cursor.fetchall()
    if not rows or rows[0][0]:  # gone, or its transcript is in
        return
    if throttled and rows[0][1] in Conversation.LIVE_STATUSES:
        if len(_last_indexed) > 10_000:
            _last_indexed.clear()
        _last_indexed[pk] = now
    index_many([(pk, _text(text for _, _, text in rows if text is not None))])


def catch_up(now=None) -> int:
    """Index the captions of live conversations (and of ones that just ended), so what the
    per-caption throttle skipped is searchable within one pass (every ALERT_INTERVAL s)."""
    now = now or timezone.now()
    with Lease.turn(CATCH_UP_LEASE, settings.ALERT_INTERVAL, now) as mine:
        if not mine:
            return 0
        since = now - timedelta(seconds=max(60, 4 * settings.ALERT_INTERVAL))
        pks = list(
            Conversation.objects.filter(transcript__isnull=True)
            .filter(Q(status__in=Conversation.LIVE_STATUSES) | Q(ended_at__gte=since))
            .filter(utterances__isnull=False)
            .values_list("pk", flat=True)
            .distinct()
        )
        for pk in pks:
            index_captions(pk)
        return len(pks)


def _event_saved(sender, instance, created, raw=False, **kwargs):
    if raw or not created or instance.event_type != "application.transcription_ready":
        return
    transcript = (instance.payload.get("properties") or {}).get("transcript")
    if isinstance(transcript, list):
        index_conversation(Conversation(pk=instance.conversation_id, transcript=transcript))


def _conversation_saved(sender, instance, created, raw=False, update_fields=None, **kwargs):
    if raw:
        return
    if update_fields is None or "transcript" in update_fields:
        if created and instance.transcript is None:
            return  # a new conversation has nothing to say yet
        index_conversation(instance)


def _conversation_deleted(sender, instance, **kwargs):
    unindex([instance.pk])


def _conversation_ended(sender, conversation, **kwargs):
    index_captions(conversation.pk)  # the last captions may have been skipped by the throttle


post_save.connect(_utterance_saved, sender=Utterance, dispatch_uid="search-utterance")
post_save.connect(_event_saved, sender=Event, dispatch_uid="search-event")
post_save.connect(_conversation_saved, sender=Conversation, dispatch_uid="search-conversation")
post_delete.connect(_conversation_deleted, sender=Conversation, dispatch_uid="search-delete")
conversation_ended.connect(_conversation_ended, dispatch_uid="search-ended")


# --- Searching -----------------------------------------------------------------------------


def highlight(snippet: str | None) -> SafeString:
    """A raw snippet with START/STOP markers as safe HTML: text escaped, matches in <mark>."""
    if not snippet:
        return mark_safe("")  # noqa: S308 - empty
    escaped = html.escape(snippet, quote=False)
    # Unbalanced markers (a match cut by the fragment edge) still close properly.
    marked = re.sub(f"{START}([^{STOP}]*){STOP}?", r"<mark>\1</mark>", escaped)
    return mark_safe(marked.replace(STOP, ""))  # noqa: S308 - every user character is escaped


class SnippetField(TextField):
    """Read-only annotation type: the database's snippet turned into safe, highlighted HTML."""

    def from_db_value(self, value, expression, connection):
        return highlight(value)


def fts5_query(phrase: str) -> str:
    """The user's words as a safe FTS5 query: every word must occur; "quoted text" as a phrase;
    a word typed with a trailing * (refun*) also matches as a prefix.

    Prefixes are opt-in, not automatic on the last word: FTS5 answers a prefix term by merging
    the doclists of every matching token, once per snippet, which made each page of results
    ~100 ms slower at 100,000 conversations (bench/history.py)."""
    terms = []
    for quoted, bare in _TERM.findall(phrase):
        words = _WORD.findall(quoted or bare)
        if words:
            # Each word is an FTS5 string, so operators (AND, NEAR, ^, :) are just text.
            term = '"' + " ".join(words) + '"'
            terms.append(term + "*" if bare.endswith("*") else term)
    return " ".join(terms)


def _statements(queryset, phrase: str):
    """(match SQL, its params, snippet SQL, its params) for this database, or None when the
    phrase has nothing to search for."""
    if queryset.model is not Conversation:
        raise TypeError("search() works on Conversation querysets")
    phrase = (phrase or "").strip()
    vendor = _vendor()
    if vendor == "sqlite":
        query = fts5_query(phrase)
        return (SQLITE_MATCHES, [query], SQLITE_SNIPPET, [query]) if query else None
    if vendor == "postgresql":
        if not _WORD.search(phrase):
            return None
        return PG_MATCHES, [phrase], PG_SNIPPET, [phrase, PG_HEADLINE]
    raise NotSupportedError(f"Transcript search needs SQLite or PostgreSQL, not {vendor}.")


def search(queryset, phrase: str, *, snippets: bool = True):
    """Conversations of `queryset` whose transcript matches `phrase`, annotated with `snippet`
    (safe HTML, matches in <mark>) unless snippets=False.

    A snippet is a correlated subquery, and SQLite computes the select list for every row it
    sorts, not just the ones LIMIT keeps: to page through many matches, filter with
    snippets=False and call with_snippets() on the page's rows (as the history list does)."""
    statements = _statements(queryset, phrase)
    if statements is None:
        return queryset.none()
    matches, match_params, _, _ = statements
    condition = RawSQL(matches, match_params, output_field=BooleanField())  # noqa: S611
    queryset = queryset.filter(condition)
    return with_snippets(queryset, phrase) if snippets else queryset


def with_snippets(queryset, phrase: str):
    """Annotate `snippet` (None where the transcript doesn't match) without filtering."""
    statements = _statements(queryset, phrase)
    if statements is None:
        return queryset.annotate(snippet=Value("", output_field=SnippetField()))
    _, _, snippet_sql, snippet_params = statements
    snippet = RawSQL(snippet_sql, snippet_params, output_field=SnippetField())  # noqa: S611
    return queryset.annotate(snippet=snippet)
