"""The transcript search index (see studio/conversations/search.py).

SQLite: an FTS5 virtual table whose rowid is the conversation id. PostgreSQL: a plain table with
a tsvector and a GIN index. Neither is a Django model: they are written and read only by
search.py, so they live here as SQL and leave the migration state untouched.
"""

from django.db import migrations

SQLITE_CREATE = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS conversations_search USING fts5("
    "body, tokenize = 'unicode61 remove_diacritics 2')"
)
SQLITE_DROP = "DROP TABLE IF EXISTS conversations_search"

# No foreign key to conversations_conversation: Django's flush (every transactional test)
# TRUNCATEs the model tables only, and PostgreSQL refuses to truncate a referenced table. The
# post_delete signal in search.py removes a deleted conversation's row instead.
PG_CREATE = [
    "CREATE TABLE IF NOT EXISTS conversations_searchdoc ("
    " conversation_id bigint PRIMARY KEY,"
    " body text NOT NULL,"
    " document tsvector NOT NULL)",
    "CREATE INDEX IF NOT EXISTS conversations_searchdoc_document"
    " ON conversations_searchdoc USING gin (document)",
]
PG_DROP = ["DROP TABLE IF EXISTS conversations_searchdoc"]


def _statements(schema_editor, sqlite, postgresql):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        return [sqlite]
    if vendor == "postgresql":
        return postgresql
    return []  # other databases: search.search() says it is not supported


def create_index(apps, schema_editor):
    for sql in _statements(schema_editor, SQLITE_CREATE, PG_CREATE):
        schema_editor.execute(sql)
    _fill(apps, schema_editor)


def drop_index(apps, schema_editor):
    for sql in _statements(schema_editor, SQLITE_DROP, PG_DROP):
        schema_editor.execute(sql)


def _fill(apps, schema_editor):
    """Index the conversations that already exist (historical models: no signals, no methods)."""
    vendor = schema_editor.connection.vendor
    if vendor not in ("sqlite", "postgresql"):
        return
    Conversation = apps.get_model("conversations", "Conversation")
    Utterance = apps.get_model("conversations", "Utterance")
    rows = []
    for pk, transcript in Conversation.objects.values_list("pk", "transcript").iterator():
        if isinstance(transcript, list):
            lines = [
                item["content"]
                for item in transcript
                if isinstance(item, dict)
                and item.get("role") != "system"
                and isinstance(item.get("content"), str)
            ]
        else:
            lines = Utterance.objects.filter(conversation_id=pk).values_list("text", flat=True)
        body = "\n".join(line for line in lines if line)
        if body:
            rows.append((pk, body))
    if not rows:
        return
    with schema_editor.connection.cursor() as cursor:
        if vendor == "sqlite":
            cursor.executemany(
                "INSERT OR REPLACE INTO conversations_search (rowid, body) VALUES (%s, %s)", rows
            )
        else:
            cursor.executemany(
                "INSERT INTO conversations_searchdoc (conversation_id, body, document) "
                "VALUES (%s, %s, to_tsvector('simple', %s)) ON CONFLICT DO NOTHING",
                [(pk, body, body) for pk, body in rows],
            )


class Migration(migrations.Migration):
    dependencies = [("conversations", "0001_initial")]

    operations = [migrations.RunPython(create_index, drop_index, elidable=False)]
