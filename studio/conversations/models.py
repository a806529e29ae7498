import functools
import hashlib
import hmac
import logging
import os
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connection, models, transaction
from django.db.models.functions import Coalesce
from django.db.models.signals import post_save
from django.dispatch import Signal
from django.urls import reverse
from django.utils import timezone

from studio.accounts.roles import is_supervisor
from studio.connection import current
from studio.lib.logs import redact
from studio.presets.models import Talker

# Tavus's shutdown reasons in the staff's words. Keys are the bare names; Tavus sometimes
# appends " reached", which studio.tavus.parse.clean_shutdown_reason strips.
END_REASONS = {
    "max_call_duration": "Reached its maximum length",
    "participant_left_timeout": "Everyone left",
    "participant_absent_timeout": "Nobody joined in time",
    "end_conversation_endpoint_hit": "Ended from the studio",
    "bot_could_not_join_meeting_it_was_probably_ended": "The replica could not join the room",
    "daily_room_has_been_deleted": "The video room was deleted",
    "exception_encountered_during_conversation_startup": "Tavus failed while starting it",
    "test_mode": "Dry run: nothing was started",
}


# Tavus's word that it could not copy the recording to the customer's storage (era B,
# tavus-api.md §5.3); the recording then never arrives.
RECORDING_FAILED = frozenset({"application.recording_copy_failed"})

log = logging.getLogger(__name__)

# What a supervisor's "Answer as if the person said…" is sent as (SteerForm): the replica hears
# the words as the person's, and the room reports them as the person's line.
RESPOND = "conversation.respond"
STEERED = (
    "SELECT 1 FROM conversations_event WHERE conversation_id = %s AND source = %s "
    "AND event_type = %s LIMIT 1"
)


def outcome_text(status: str, end_reason: str, failure_reason: str) -> str:
    """How a conversation ended, in the staff's words (Tavus's code when it is a new one)."""
    if status == Conversation.FAILED:
        return failure_reason
    return end_reason_words(end_reason)


def clock_text(seconds: int) -> str:
    """12:05 for minutes and seconds, 1:02:05 past an hour (the timers' and history's form)."""
    hours, rest = divmod(max(int(seconds), 0), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


# Sent by Conversation.mark_ended(conversation=...), whoever ended it (a webhook, the reconciler).
conversation_ended = Signal()
# Sent by Conversation.mark_failed(conversation=...) once, whoever found it never started (the
# launch's own error, the reconciler giving up on an unanswered launch): invitation links give
# the person's use back on it, and conversations cannot import them.
conversation_failed = Signal()
# This process, as the holder of a Lease.
HOLDER = f"{socket.gethostname()}:{os.getpid()}"


@functools.cache
def _light_select(column: str, with_event: bool = False):
    """A conversation by one of its columns, with what receiving a webhook or a relayed caption
    needs (the other columns load if asked for): the SQL, its fields, and each column's
    conversions from the database (as the ORM applies them). Every webhook and every relayed
    caption starts here, and the ORM's building of the full query (forty columns, the date
    ordering) was a quarter of a webhook's time (bench/RESULTS.md); the pages' updates read
    the conversation afresh (live.py)."""
    wanted = {"id", "webhook_secret_hash", "end_received_at", "tavus_id", "status"}
    wanted |= {"created_at", "launched_by_id", "review_plan"}  # the end's review asks for it
    meta = Conversation._meta
    fields = [f.attname for f in meta.concrete_fields if f.attname in wanted]  # from_db's order
    columns = ", ".join(fields)
    if with_event:  # and whether one of its events (by dedupe key) is stored
        events = Event._meta.db_table
        columns += (
            f", EXISTS (SELECT 1 FROM {events} WHERE {events}.conversation_id = "  # noqa: S608
            f"{meta.db_table}.id AND {events}.dedupe_key = %s)"
        )
    sql = f"SELECT {columns} FROM {meta.db_table} WHERE {column} = %s"  # noqa: S608
    converters = []
    for i, name in enumerate(fields):
        col = meta.get_field(name).get_col(meta.db_table)
        found = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
        converters += [(i, converter, col) for converter in found]
    return sql, fields, converters


@functools.cache
def _update_sql(names: tuple[str, ...], statuses: int, unless_set: str) -> str:
    """Conversation._write()'s UPDATE for one shape of write."""
    meta = Conversation._meta
    column = {name: meta.get_field(name).column for name in (*names, unless_set) if name}
    sql = f"UPDATE {meta.db_table} SET {', '.join(f'{column[n]} = %s' for n in names)}"  # noqa: S608
    sql += " WHERE id = %s"
    if statuses:
        sql += f" AND status IN ({', '.join(['%s'] * statuses)})"
    if unless_set:
        sql += f" AND {column[unless_set]} IS NULL"
    return sql


@functools.cache
def _insert(model) -> tuple[str, list]:
    """QuickInsert.add()'s INSERT for `model`: every column but the id, which it returns."""
    columns = [f for f in model._meta.concrete_fields if not f.primary_key]
    names, values = ", ".join(f.column for f in columns), ", ".join(["%s"] * len(columns))
    sql = f"INSERT INTO {model._meta.db_table} ({names}) VALUES ({values}) RETURNING id"  # noqa: S608
    return sql, columns


class QuickInsert:
    """For the rows written and looked for many times a second (webhooks' events, relayed
    captions), each unique by (conversation, dedupe_key)."""

    @classmethod
    def stored(cls, conversation_id: int, dedupe_key: str) -> bool:
        """Whether the conversation's row with this dedupe key is stored already: a plain
        statement; the ORM's exists() took ten times as long to build as to run."""
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT 1 FROM {cls._meta.db_table} "  # noqa: S608 (names, not input)
                "WHERE conversation_id = %s AND dedupe_key = %s LIMIT 1",
                [conversation_id, dedupe_key],
            )
            return cursor.fetchone() is not None

    @classmethod
    def add(cls, **fields):
        """Insert a row as create() does (defaults, conversions, post_save), with the INSERT
        built once rather than for every row (see Conversation._write). Raises IntegrityError
        when a unique constraint refuses it."""
        row = cls(**fields)
        sql, columns = _insert(cls)
        values = [f.get_db_prep_save(f.pre_save(row, True), connection) for f in columns]
        with connection.cursor() as cursor:
            cursor.execute(sql, values)
            row.pk = cursor.fetchone()[0]
        row._state.adding, row._state.db = False, connection.alias
        post_save.send(
            cls, instance=row, created=True, update_fields=None, raw=False, using=connection.alias
        )
        return row


def end_reason_words(reason: str) -> str:
    """An ended conversation's reason, in the staff's words."""
    return END_REASONS.get(reason, reason.replace("_", " ").capitalize())


def without_secrets(payload: dict) -> dict:
    """A webhook body as it is kept: Tavus echoes the callback URL, whose path is the secret."""
    if not isinstance(payload.get("webhook_url"), str):
        return payload
    return {**payload, "webhook_url": redact(payload["webhook_url"])}


def whole_seconds(delta: timedelta) -> int:
    return max(int(delta.total_seconds()), 0)


def _username(user) -> str:
    return user.get_username() if user else "A supervisor"


def hash_secret(secret: str) -> str:
    # Only the hash is stored and looked up: a timing difference in the index lookup says
    # nothing about the secret itself.
    return hashlib.sha256(secret.encode()).hexdigest()


def review_plan_of(persona) -> dict:
    """What a conversation of this persona can be scored on: the questions its perception
    layer asks at the end, and its objectives (with where each leads)."""
    from studio.knowledge.models import ObjectiveSet

    queries = persona.layer("perception").get("perception_analysis_queries")
    questions = [q for q in queries if isinstance(q, str) and q.strip()] if queries else []
    objectives_id = (persona.raw or {}).get("objectives_id") or ""
    found = ObjectiveSet.objects.filter(objectives_id=objectives_id).first()
    objectives = [
        {
            "name": item.get("objective_name", ""),
            "outputs": [v for v in item.get("output_variables") or [] if isinstance(v, str)],
            "next_required": list(item.get("next_required_objectives") or []),
            "next_conditional": list(item.get("next_conditional_objectives") or {}),
        }
        for item in (found.items if found else [])
        if isinstance(item, dict) and item.get("objective_name")
    ]
    plan = {}
    if questions:
        plan["questions"] = questions
    if objectives:
        plan["objectives"] = objectives
    return plan


class ConversationQuerySet(models.QuerySet):
    def live(self):
        return self.filter(status__in=Conversation.LIVE_STATUSES)

    def holding_slots(self):
        """Conversations that occupy one of the plan's concurrent slots at Tavus. One that
        Tavus was told to end has freed its slot (tavus-api.md §2.7) while its shutdown
        webhook is on the way."""
        ended_at_tavus = models.Q(end_requested_at__isnull=False, tavus_id__isnull=False)
        return self.live().filter(test_mode=False).exclude(ended_at_tavus)

    def visible_to(self, user):
        return self if is_supervisor(user) else self.filter(launched_by=user)

    def with_artifact_flags(self):
        """Whether each artifact is there (has_transcript, …), without loading it."""
        return self.annotate(
            has_transcript=models.ExpressionWrapper(
                models.Q(transcript__isnull=False), output_field=models.BooleanField()
            ),
            has_recording=models.ExpressionWrapper(
                models.Q(recording__isnull=False), output_field=models.BooleanField()
            ),
            has_perception=models.ExpressionWrapper(
                ~models.Q(perception_analysis=""), output_field=models.BooleanField()
            ),
        )


class Conversation(models.Model):
    LAUNCHING, ACTIVE, ENDED, FAILED, UNKNOWN = "launching", "active", "ended", "failed", "unknown"
    STATUS_CHOICES = [
        (LAUNCHING, "Launching"),
        (ACTIVE, "Live"),
        (ENDED, "Ended"),
        (FAILED, "Failed to start"),
        (UNKNOWN, "Checking with Tavus"),
    ]
    LIVE_STATUSES = (LAUNCHING, ACTIVE, UNKNOWN)

    # No index of their own: the history's (launcher or preset, created_at) indexes lead
    # with them (migration 0003), and every index here is written by a webhook's UPDATE.
    preset = models.ForeignKey(
        "presets.Preset",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    launched_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    title = models.CharField(max_length=200)
    # What was sent to Tavus, frozen at launch: editing or archiving the preset never
    # changes history.
    settings_snapshot = models.JSONField(default=dict)
    summary_snapshot = models.JSONField(default=list)
    preset_name = models.CharField(max_length=200, blank=True)
    persona_id = models.CharField(max_length=64, blank=True)
    persona_name = models.CharField(max_length=200, blank=True)
    replica_id = models.CharField(max_length=64, blank=True)
    replica_name = models.CharField(max_length=200, blank=True)
    thumbnail_video_url = models.URLField(max_length=500, blank=True)
    # The persona's perception model at launch: it decides whether a perception analysis
    # is expected after the end.
    perception_model = models.CharField(max_length=40, blank=True)
    test_mode = models.BooleanField(default=False)

    # Unique through Meta.constraints, not unique=True: on PostgreSQL that also builds a
    # LIKE-pattern twin of each index, which nothing here queries and every write maintains.
    launch_key = models.CharField(max_length=64, null=True, blank=True)
    # The participant's link: /join/<join_token>/ (no sign-in; valid until the end).
    join_token = models.CharField(max_length=64, null=True, blank=True)
    webhook_secret_hash = models.CharField(max_length=64)
    tavus_id = models.CharField(max_length=64, null=True, blank=True)
    conversation_url = models.URLField(max_length=500, blank=True)
    meeting_token = models.TextField(blank=True)

    status = models.CharField(max_length=16, choices=STATUS_CHOICES, default=LAUNCHING)
    failure_reason = models.TextField(blank=True)
    end_reason = models.CharField(max_length=120, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    replica_joined_at = models.DateTimeField(null=True, blank=True)
    person_joined_at = models.DateTimeField(null=True, blank=True)
    # Who talks to the replica (asked at launch): the launcher's live page joins the video room
    # only when it is the launcher; otherwise it watches from outside and takes no seat.
    talker = models.CharField(max_length=4, choices=Talker.choices, default=Talker.ME)
    # The people in the room as the studio's pages saw them: {Daily session id: {"name", "via"}}
    # ("via": "join" for the join page's own person, "staff" for what a staff page in the room
    # saw). One entry per participant, so a repeated report never counts anyone twice;
    # people_in_room is its size, kept for the pages and the reconciler.
    room_people = models.JSONField(default=dict, blank=True)
    people_in_room = models.PositiveSmallIntegerField(default=0)
    # When a staff page last showed it was open (relay socket): the reconciler ends
    # conversations whose page is gone and whose room is empty.
    page_seen_at = models.DateTimeField(null=True, blank=True)
    # Sockets of pages inside the room (the launcher's, a joined supervisor's, the join page):
    # steering commands need one of them to carry the command into the room.
    host_pages = models.PositiveSmallIntegerField(default=0)
    # When the participant's join page last said it was in the room (its relay socket's
    # heartbeat); None once it left. The live page shows who relays from this.
    join_page_seen_at = models.DateTimeField(null=True, blank=True)
    alert_codes = models.JSONField(default=list, blank=True)
    recording_started_at = models.DateTimeField(null=True, blank=True)
    end_requested_at = models.DateTimeField(null=True, blank=True)
    end_requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ended_at = models.DateTimeField(null=True, blank=True)
    # When the studio itself learned of the end, by its own clock. Time windows that follow
    # the end (the webhook grace, the artifact watchdog) count from here, never from Tavus's
    # timestamp: a delayed retry or a skewed clock at Tavus must not close them early.
    end_received_at = models.DateTimeField(null=True, blank=True)
    transcript = models.JSONField(null=True, blank=True)
    recording = models.JSONField(null=True, blank=True)
    # Tavus could not copy the recording to the bucket (application.recording_copy_failed).
    recording_error = models.TextField(blank=True)
    perception_analysis = models.TextField(blank=True)
    # What the review's scorecard is checked against, frozen at launch as the persona was:
    # {"questions": [its perception_analysis_queries], "objectives": [its objective items]}.
    review_plan = models.JSONField(default=dict, blank=True)
    # Of those objectives, how many it should have met and did not (studio.conversations.review
    # keeps it in step with the objective events); None when it had none to meet.
    objectives_missed = models.PositiveSmallIntegerField(null=True, blank=True)

    objects = ConversationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=[name], name=f"conversation_{name}_unique")
            for name in ("launch_key", "join_token", "webhook_secret_hash", "tavus_id")
        ]
        indexes = [
            # The usage page reads billed spans by time from this index alone (no table
            # lookups): 100,000 conversations in well under 200 ms (bench/usage.py). Its
            # leading columns also serve status filters in created_at order.
            models.Index(
                fields=[
                    "status",
                    "created_at",
                    "ended_at",
                    "test_mode",
                    "launched_by",
                    "preset_name",
                    "persona_name",
                ],
                name="conversation_usage_spans",
            ),
            # The wall's "recently ended" and its board count the last hour's endings.
            models.Index(fields=["ended_at"], name="conversation_ended_at"),
        ]

    def __str__(self):
        return self.title

    def save(self, *args, **kwargs):
        # Rows written with an end but no receipt (imports, fixtures): received when it ended.
        if self.ended_at and not self.end_received_at:
            self.end_received_at = self.ended_at
        super().save(*args, **kwargs)

    # --- creation ---------------------------------------------------------------------

    @classmethod
    def start(
        cls, *, preset, user, effective, launch_key=None, talker=Talker.ME
    ) -> tuple["Conversation", str]:
        """Write the row before Tavus is called. Returns it with its webhook secret.
        The persona is the settings' own (an invitation link's, frozen when it was made),
        else the preset's."""
        secret = secrets.token_urlsafe(32)
        face = effective.face
        persona = effective.persona or preset.persona
        conversation = cls.objects.create(
            preset=preset,
            launched_by=user,
            title=effective.body.get("conversation_name") or preset.name,
            settings_snapshot=effective.body,
            summary_snapshot=list(effective.summary),
            preset_name=preset.name,
            persona_id=persona.persona_id,
            persona_name=persona.name,
            replica_id=face.replica_id if face else "",
            replica_name=face.name if face else "",
            thumbnail_video_url=(face.thumbnail_video_url or "") if face else "",
            perception_model=persona.perception_model or "",
            review_plan=review_plan_of(persona),
            test_mode=bool(effective.body.get("test_mode")),
            launch_key=launch_key,
            talker=talker,
            join_token=secrets.token_urlsafe(24),
            webhook_secret_hash=hash_secret(secret),
        )
        return conversation, secret

    @classmethod
    def for_webhook_secret(cls, secret: str, event=None):
        """The conversation a callback URL belongs to, or None (also once the grace is over).
        Given the webhook, the same query says whether it is stored already (`.event_stored`):
        every webhook asks both, and Tavus redelivers often."""
        digest = hash_secret(secret)
        conversation = cls.light(
            "webhook_secret_hash", digest, event_key=event and event.dedupe_key[:200]
        )
        if conversation is None or not hmac.compare_digest(
            conversation.webhook_secret_hash, digest
        ):
            return None
        # The grace runs on the studio's clock from when it received the end (end_received_at),
        # not from the shutdown's own timestamp: Tavus retries late deliveries for hours and its
        # clock may differ from ours, and the transcript that follows a shutdown must still get
        # in. A conversation that never ended has no grace limit at all.
        received = conversation.end_received_at
        grace = timedelta(seconds=settings.WEBHOOK_GRACE_SECONDS)
        if received and timezone.now() > received + grace:
            return None
        return conversation

    @classmethod
    def light(cls, column: str, value, event_key: str | None = None):
        """The conversation whose `column` (unique) is `value`, with only the few fields a
        webhook or a relayed caption needs loaded (the others load when asked for), or None.
        With `event_key`, `.event_stored` says whether its event with that dedupe key is."""
        sql, fields, converters = _light_select(column, event_key is not None)
        with connection.cursor() as cursor:
            cursor.execute(sql, [value] if event_key is None else [event_key, value])
            row = cursor.fetchone()
        if row is None:
            return None
        row = list(row)
        for i, converter, col in converters:
            row[i] = converter(row[i], col, connection)
        conversation = cls.from_db(connection.alias, fields, row[: len(fields)])
        if event_key is not None:
            conversation.event_stored = bool(row[-1])
        return conversation

    @classmethod
    def for_join_token(cls, token: str):
        """The conversation a participant's join link belongs to, or None (ended ones too)."""
        if not token:
            return None
        conversation = cls.objects.select_related("preset").filter(join_token=token).first()
        if conversation is None or not hmac.compare_digest(conversation.join_token, token):
            return None
        return conversation

    def tavus_name(self) -> str:
        """conversation_name as sent to Tavus: carries our id so the reconciler can find it."""
        return f"{self.title} [studio:{self.pk}]"

    # --- facts the pages show ---------------------------------------------------------

    @property
    def properties(self) -> dict:
        return self.settings_snapshot.get("properties", {})

    @property
    def is_live(self) -> bool:
        return self.status in self.LIVE_STATUSES

    @property
    def max_call_seconds(self) -> int:
        return int(self.properties.get("max_call_duration") or 3600)

    @property
    def absent_timeout_seconds(self) -> int:
        value = self.properties.get("participant_absent_timeout")
        return 300 if value is None else int(value)

    @property
    def audio_only(self) -> bool:
        return bool(self.settings_snapshot.get("audio_only"))

    @property
    def wants_recording(self) -> bool:
        return bool(self.properties.get("enable_recording"))

    @property
    def private_room(self) -> bool:
        return bool(self.settings_snapshot.get("require_auth"))

    @property
    def ends_by(self):
        return self.created_at + timedelta(seconds=self.max_call_seconds)

    @property
    def absent_deadline(self):
        return self.created_at + timedelta(seconds=self.absent_timeout_seconds)

    @property
    def end_reason_text(self) -> str:
        return outcome_text(self.status, self.end_reason, self.failure_reason)

    @property
    def duration(self) -> timedelta | None:
        if self.ended_at:
            return self.ended_at - self.created_at
        return None

    @property
    def duration_seconds(self) -> int | None:
        """Whole seconds, counted as a clock counts them (17.9 s is 0:17): the page, the
        history and the CSV all say the same number."""
        return whole_seconds(self.duration) if self.duration is not None else None

    def participant_link(self) -> str:
        """The room link to give the person, with the token for private rooms."""
        if not self.conversation_url:
            return ""
        if self.private_room and self.meeting_token:
            sep = "&" if "?" in self.conversation_url else "?"
            return f"{self.conversation_url}{sep}t={self.meeting_token}"
        return self.conversation_url

    def join_link(self) -> str:
        """The studio's participant page (/join/<token>/): no sign-in, valid until the end."""
        if not self.join_token:
            return ""
        return current.public_url() + reverse("join:page", args=[self.join_token])

    def can_view(self, user) -> bool:
        return is_supervisor(user) or self.launched_by_id == user.pk

    can_end = can_view
    can_see_link = can_view

    @property
    def host_connected(self) -> bool:
        fresh = self.page_seen_at and timezone.now() - self.page_seen_at < timedelta(seconds=60)
        return bool(self.host_pages and fresh)

    @property
    def join_page_connected(self) -> bool:
        seen = self.join_page_seen_at
        return bool(seen and timezone.now() - seen < timedelta(seconds=60))

    @property
    def nobody_in_room(self) -> bool:
        """No person and no studio page in the room, as far as the studio knows: a slot
        holder worth ending (a closed tab leaves exactly this)."""
        return not (self.people_in_room or self.host_connected or self.join_page_connected)

    def expected_artifacts(self) -> list[str]:
        """What Tavus should still send after the end, by the launch settings."""
        if self.test_mode:
            return []
        missing = []
        if self.transcript is None:
            missing.append("transcript")
        if (
            self.wants_recording
            and self.recording_started_at
            and self.recording is None
            and not self.recording_error
        ):
            missing.append("recording")
        return missing

    # --- state changes ----------------------------------------------------------------

    def _set(self, **fields):
        """Write only these fields: webhooks, relays and the launch view race each other."""
        self._write(fields)

    def _set_if(self, statuses: tuple[str, ...], **fields) -> bool:
        """Write these fields only while the row's status is one of `statuses` (one UPDATE, so
        two processes racing cannot both do it); True when it did."""
        return self._write(fields, statuses)

    def _write(self, fields: dict, statuses: tuple[str, ...] = (), unless_set: str = "") -> bool:
        """UPDATE this row's `fields` (plain values, or a user for a user field), if given only
        while its status is one of `statuses` and its field `unless_set` is still empty; True
        when the row was written, and then this object holds the values too. The SQL is built
        once per shape: the ORM built it again for every write, and on a webhook's path that
        took three to ten times as long as running it (bench/RESULTS.md, "Webhook ingest,
        third pass"). Each value goes through its field's own conversion, as update() does."""
        meta = type(self)._meta
        values = []
        for name, value in fields.items():
            if isinstance(value, models.Model):
                value = value.pk
            values.append(meta.get_field(name).get_db_prep_save(value, connection))
        sql = _update_sql(tuple(fields), len(statuses), unless_set)
        with connection.cursor() as cursor:
            cursor.execute(sql, [*values, self.pk, *statuses])
            if cursor.rowcount != 1:
                return False
        for name, value in fields.items():
            setattr(self, name, value)
        return True

    def mark_launched(self, tavus):
        status = self.ENDED if tavus.status == "ended" else self.ACTIVE
        fields = {
            "tavus_id": tavus.conversation_id,
            "conversation_url": tavus.conversation_url,
            "meeting_token": tavus.meeting_token or "",
        }
        # A fast webhook may already have moved the conversation on; never step back.
        self.refresh_from_db(fields=["status", "ended_at"])
        if self.status in (self.LAUNCHING, self.UNKNOWN):
            fields["status"] = status
            if status == self.ENDED:
                now = timezone.now()
                fields.update(ended_at=now, end_received_at=now, end_reason="test_mode")
        self._set(**fields)

    def _advance(self, before: tuple[str, ...], **fields) -> bool:
        """Write `fields` only while the status is one of `before`, in one conditional UPDATE:
        the launch view, the reconciler and webhooks race, and whoever gets there first wins
        (the state only moves forward). Returns whether this call moved it."""
        moved = self._set_if(before, **fields)
        self.refresh_from_db()
        return moved

    def mark_failed(self, reason: str) -> bool:
        now = timezone.now()
        moved = self._advance(
            (self.LAUNCHING, self.UNKNOWN),
            status=self.FAILED,
            failure_reason=reason,
            ended_at=now,
            end_received_at=now,
        )
        if moved:  # only the call that moved it: the signal goes once per conversation
            conversation_failed.send(sender=type(self), conversation=self)
        return moved

    def mark_unknown(self, reason: str) -> bool:
        """The launch call timed out. Only from "launching": a reconciler that already found
        the conversation at Tavus (or a webhook that moved it on) is not stepped back."""
        return self._advance((self.LAUNCHING,), status=self.UNKNOWN, failure_reason=reason)

    def mark_end_requested(self, user, when=None):
        """`when`: the moment the studio asked Tavus (before the call, which may take a while
        and let the shutdown webhook in first); now by default."""
        self._set(end_requested_at=when or timezone.now(), end_requested_by=user)

    def respond_commands(self) -> list[tuple[str, str]]:
        """(words, supervisor's username) of every "Answer as if the person said…", oldest
        first: the room reports those words as the person's line, but the person never said
        them."""
        # Asked for every line the person says, and most conversations were never steered:
        # one plain statement says so, before the ORM builds the query that reads them.
        with connection.cursor() as cursor:
            cursor.execute(STEERED, [self.pk, Event.STUDIO, "studio.steer"])
            if cursor.fetchone() is None:
                return []
        steered = self.events.filter(
            source=Event.STUDIO, event_type="studio.steer", payload__command=RESPOND
        ).select_related("actor")
        return [
            (str(event.payload.get("text") or "").strip(), _username(event.actor))
            for event in steered
        ]

    def mark_ended(self, reason: str, when=None):
        """End it once, whoever says so first (a webhook, the reconciler, another process)."""
        if self.status in (self.ENDED, self.FAILED):
            return False
        now = timezone.now()
        # Tavus's timestamp is when it ended (what it bills to), but a clock ahead of ours or
        # behind our own start cannot be: those fall back to the studio's clock.
        if when is None or when > now or when < self.created_at:
            when = now
        fields = {"ended_at": when, "end_received_at": now, "end_reason": reason}
        if not self._set_if(self.LIVE_STATUSES, status=self.ENDED, **fields):
            return False
        # _set_if() writes with an UPDATE, which sends no post_save: say it here (search listens).
        conversation_ended.send(sender=type(self), conversation=self)
        return True

    def record_event(
        self, *, source, event_type, dedupe_key, payload, occurred_at=None, actor=None
    ):
        """Store an event once. Returns the Event, or None when it was a duplicate."""
        try:
            with transaction.atomic():
                return Event.objects.create(
                    conversation=self,
                    source=source,
                    event_type=event_type,
                    dedupe_key=dedupe_key[:200],
                    payload=payload,
                    occurred_at=occurred_at or timezone.now(),
                    actor=actor,
                )
        except IntegrityError:
            return None

    def receive_webhook(self, event, stored: bool | None = None) -> set[str] | None:
        """Store a parsed webhook once and advance the state; None when it was a duplicate.
        The receiver, the reconciler and the artifact watchdog all come through here. `stored`:
        whether it is stored already, when the caller has asked (for_webhook_secret)."""
        dedupe_key = event.dedupe_key[:200]
        # Tavus redelivers often (bench/webhooks.py sends 30 % twice): a redelivery is known
        # by one read, without waiting for SQLite's write lock.
        if Event.stored(self.pk, dedupe_key) if stored is None else stored:
            return None
        try:
            # One transaction: the event and the state it brings land together, and SQLite's
            # write lock is taken once per webhook rather than once per statement. The state
            # first: on PostgreSQL its row lock queues this webhook behind its conversation's
            # others, so the events are numbered in the order they were applied (a sequence
            # numbers rows as they are inserted, not as they commit).
            with transaction.atomic():
                changed = self.apply_webhook(event)
                Event.add(
                    conversation=self,
                    source=Event.WEBHOOK,
                    event_type=event.event_type,
                    dedupe_key=dedupe_key,
                    payload=without_secrets(event.raw),
                    occurred_at=event.timestamp or timezone.now(),
                )
                return changed
        except IntegrityError:
            # Its twin, delivered at the same moment, got in first; what this one wrote here
            # was rolled back.
            self.refresh_from_db()
            return None

    def apply_webhook(self, event) -> set[str]:
        """Advance the state from a parsed webhook. Returns the names of what changed.
        Transitions are conditional updates, so the row need not be read again first."""
        changed = set()
        props = event.properties
        when = event.timestamp or timezone.now()
        if event.event_type == "system.replica_joined":
            # A late join never reopens an ended conversation; it moves a launch on (a live
            # conversation is active once its replica is in).
            fields = {"replica_joined_at": when, "status": self.ACTIVE}
            if self._write(fields, self.LIVE_STATUSES, unless_set="replica_joined_at"):
                changed.add("status")
        elif event.event_type == "system.shutdown":
            if self.mark_ended(event.shutdown_reason or "ended", when):
                changed.add("status")
        elif event.event_type == "application.transcription_ready":
            transcript = props.get("transcript")
            if isinstance(transcript, list):
                self._set(transcript=transcript)
                changed.add("artifacts")
        elif event.event_type == "application.recording_ready":
            self._set(recording=props, recording_error="")
            changed.add("artifacts")
        elif event.event_type in RECORDING_FAILED and self.recording is None:
            detail = props.get("error_message")
            text = detail if isinstance(detail, str) and detail.strip() else "no details given"
            self._set(recording_error=text[:2000])
            changed.add("artifacts")
            # An alert: the wall shows it for a day, the history page for good.
            log.warning("recording of conversation %s could not be copied: %s", self.pk, text)
        elif event.event_type == "application.perception_analysis":
            analysis = props.get("analysis")
            if isinstance(analysis, str):
                self._set(perception_analysis=analysis)
                changed.add("artifacts")
        return changed

    def note_presence(
        self, participant_id: str, *, present: bool, name="", via="staff", only_via=None
    ) -> bool:
        """Someone joined or left the room, as a studio page in it saw it (`via`: "staff" for a
        staff page, "join" for the join page's own person). Counted once per participant, so a
        repeated report changes nothing; a departure with `only_via` removes only an entry that
        source made. Returns whether anything changed."""
        if not participant_id:
            return False
        with transaction.atomic():
            # Locked (PostgreSQL) or under SQLite's single writer (BEGIN IMMEDIATE): two pages
            # reporting at once never lose each other's entries.
            row = type(self).objects.select_for_update().get(pk=self.pk)
            people = dict(row.room_people or {})
            entry = people.get(participant_id)
            if present:
                if not row.is_live or (entry and entry.get("via") == via):
                    return False
                people[participant_id] = {"name": str(name)[:60], "via": via}
            elif entry is None or (only_via and entry.get("via") != only_via):
                return False
            else:
                del people[participant_id]
            self._save_people(row, people)
        return True

    def _save_people(self, row, people: dict) -> None:
        fields = {"room_people": people, "people_in_room": len(people)}
        if people and not row.person_joined_at:
            fields["person_joined_at"] = timezone.now()
        type(self).objects.filter(pk=self.pk).update(**fields)
        for name, value in fields.items():
            setattr(self, name, value)


class Event(QuickInsert, models.Model):
    WEBHOOK, ROOM, STUDIO = "webhook", "room", "studio"
    SOURCES = [(WEBHOOK, "Tavus webhook"), (ROOM, "In-room event"), (STUDIO, "Studio action")]

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="events")
    source = models.CharField(max_length=10, choices=SOURCES)
    event_type = models.CharField(max_length=80)
    dedupe_key = models.CharField(max_length=200)
    payload = models.JSONField(default=dict)
    occurred_at = models.DateTimeField(default=timezone.now)
    received_at = models.DateTimeField(auto_now_add=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["occurred_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "dedupe_key"], name="event_once_per_conversation"
            )
        ]

    def __str__(self):
        return f"{self.event_type} ({self.source})"


class Utterance(QuickInsert, models.Model):
    """A final caption line, stored once (dedupe by seq or inference id)."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="utterances"
    )
    role = models.CharField(max_length=16)
    text = models.TextField()
    seq = models.BigIntegerField(null=True, blank=True)
    inference_id = models.CharField(max_length=100, blank=True)
    dedupe_key = models.CharField(max_length=200)
    spoken_at = models.DateTimeField(default=timezone.now)
    # The supervisor whose "Answer as if the person said…" this line is: the room reports it
    # as the person's (role "user"), but the person never said it.
    said_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["spoken_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "dedupe_key"], name="utterance_once_per_conversation"
            )
        ]
        # A conversation's latest lines (the wall's tile, after every caption) read from the
        # end of this index instead of sorting every line the conversation has had.
        indexes = [
            models.Index(fields=["conversation", "spoken_at", "id"], name="utterance_in_order")
        ]

    def __str__(self):
        return f"{self.speaker}: {self.text[:60]}"

    @property
    def speaker(self) -> str:
        if self.said_by:
            return as_the_person(self.said_by)
        return {"user": "Person", "replica": "Replica"}.get(self.role, self.role.capitalize())


def as_the_person(username: str) -> str:
    """Who a supervisor's "Answer as if the person said…" line is from, in captions and exports."""
    return f"{username} (as the person)"


class Lease(models.Model):
    """A named lock with an expiry, so one process of many runs a periodic job."""

    name = models.CharField(max_length=50, primary_key=True)
    holder = models.CharField(max_length=100)
    expires_at = models.DateTimeField()

    def __str__(self):
        return f"{self.name} held by {self.holder}"

    @classmethod
    def acquire(cls, name: str, holder: str, seconds: int, now=None, *, renew=True) -> bool:
        """Take the lease, or extend it when `holder` has it already (unless renew=False: then
        only an expired lease is taken, by anyone)."""
        now = now or timezone.now()
        until = now + timedelta(seconds=seconds)
        free = models.Q(expires_at__lt=now)
        # One conditional UPDATE is atomic on SQLite and PostgreSQL alike: of several
        # processes racing for an expired lease, exactly one sees a row change.
        taken = (
            cls.objects.filter(name=name)
            .filter(free | models.Q(holder=holder) if renew else free)
            .update(holder=holder, expires_at=until)
        )
        if taken:
            return True
        try:
            with transaction.atomic():
                cls.objects.create(name=name, holder=holder, expires_at=until)
            return True
        except IntegrityError:
            return False

    @classmethod
    def release(cls, name: str, holder: str) -> None:
        cls.objects.filter(name=name, holder=holder).delete()

    @classmethod
    @contextmanager
    def turn(cls, name: str, seconds: int, now=None, *, keep=False) -> Iterator[bool]:
        """This process's turn at the job `name`: True inside the block when it holds the
        lease, False when another process does. Released after the block, unless `keep`: then
        it stays until it expires, and nobody takes a turn before (a "once a day" job)."""
        mine = cls.acquire(name, HOLDER, seconds, now=now, renew=not keep)
        try:
            yield mine
        finally:
            if mine and not keep:
                cls.release(name, HOLDER)


class MinuteBudget(models.Model):
    """A monthly allowance of billed minutes: the organisation's (person None) or one person's.

    The month is the calendar month in the studio's time zone (settings.TIME_ZONE). Launches
    stop at 100 % unless an admin overrides; a running conversation is never cut off.
    """

    person = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="minute_budget",
    )
    monthly_minutes = models.PositiveIntegerField()
    # The last warning sent, as "YYYY-MM:80" or "YYYY-MM:100", so each is sent once a month.
    warned = models.CharField(max_length=20, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            # One row per person, and one for the organisation (person None → 0).
            models.UniqueConstraint(
                Coalesce("person", models.Value(0)), name="one_budget_per_person"
            )
        ]

    def __str__(self):
        who = self.person.get_username() if self.person_id else "organisation"
        return f"{self.monthly_minutes} minutes a month ({who})"


class Note(models.Model):
    """A supervisor's note on a conversation under review."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    text = models.TextField(max_length=5000)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return self.text[:60]


class Tag(models.Model):
    """A label on a conversation ("good example", "follow up"), for finding it again."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(max_length=40)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "name"], name="tag_once_per_conversation"
            )
        ]
        indexes = [models.Index(fields=["name"])]

    def __str__(self):
        return self.name


class UsagePeriod(models.Model):
    """Everyone's usage figures for one closed period, kept once worked out
    (studio.conversations.usage): billed seconds and conversations per split key, dry runs, the
    peak. Dropped whenever a conversation that overlaps the period is added, changed or ends."""

    split = models.CharField(max_length=10)
    start = models.DateTimeField()
    end = models.DateTimeField(db_index=True)
    figures = models.JSONField(default=dict)
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["split", "start", "end"], name="usage_period_once")
        ]

    def __str__(self):
        return f"{self.split} {self.start:%Y-%m-%d}–{self.end:%Y-%m-%d}"
