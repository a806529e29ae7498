"""Indexes for the history list at scale (bench/history.py: 100,000 conversations).

Conversation rows are wide (transcript JSON inline), so any filter or sort that is not answered
by an index reads the whole table: ~100-150 ms on SQLite at 100k rows. Each index here pairs a
filter column with created_at, so the page walks the index newest-first, stops after 50 rows,
and counts without touching the table. "Longest first" gets an index on its own expression
(history._Seconds), and "has a recording" partial ones.

Raw SQL on purpose: they serve only the history queries, the expression index can't be declared
in Meta for both databases, and leaving the migration state alone keeps makemigrations quiet.
"""

from django.db import migrations

TABLE = "conversations_conversation"
PLAIN = [
    ("conversations_history_launcher", '"launched_by_id", "created_at"'),
    ("conversations_history_preset", '"preset_id", "created_at"'),
    ("conversations_history_persona", '"persona_id", "created_at"'),
    ("conversations_history_replica", '"replica_id", "created_at"'),
    ("conversations_history_end_reason", '"end_reason", "created_at"'),
]
PARTIAL = [
    ("conversations_history_recorded", '"recording" IS NOT NULL'),
    ("conversations_history_unrecorded", '"recording" IS NULL'),
]
# Must match the ORDER BY that history._Seconds writes, expression for expression.
LENGTH = {
    "sqlite": '((julianday("ended_at") - julianday("created_at")) * 86400.0), "created_at"',
    "postgresql": '(EXTRACT(EPOCH FROM ("ended_at" - "created_at"))) DESC NULLS LAST, '
    '"created_at" DESC',
}
NAMES = [name for name, _ in PLAIN + PARTIAL] + ["conversations_history_length"]


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor not in LENGTH:
        return
    for name, columns in PLAIN:
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {TABLE} ({columns})")
    for name, condition in PARTIAL:
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS {name} ON {TABLE} ("created_at") WHERE {condition}'
        )
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS conversations_history_length ON {TABLE} ({LENGTH[vendor]})"
    )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor in LENGTH:
        for name in NAMES:
            schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("conversations", "0002_history_search")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
