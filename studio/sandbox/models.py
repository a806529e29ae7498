"""The sandbox's own tables: Tavus objects, room presence, in-room events and the webhook outbox.

Every timer is a deadline column, so a reload, a restart or a second server process changes
nothing: whoever ticks next acts on it. State changes that more than one thread may race on (the
ticker, room requests, API calls) happen inside `Conversation.objects.locked(id)`.
"""

import json
import secrets
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import models, transaction

from studio.sandbox import speech

# A participant whose page sent no heartbeat for this long has gone (tab killed, laptop shut).
STALE_SECONDS = 15.0
# A page reload sends "leave" then "join" a moment later; don't end the call in between.
RELOAD_GRACE_SECONDS = 2.0
DEFAULT_MAX_CALL_DURATION = 3600
DEFAULT_LEFT_TIMEOUT = 0
DEFAULT_ABSENT_TIMEOUT = 300


def iso(dt: datetime | None) -> str | None:
    """Tavus's timestamp format: ISO-8601 UTC with microseconds and a Z."""
    if dt is None:
        return None
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_id(prefix: str) -> str:
    return prefix + secrets.token_hex(6)


class Replica(models.Model):
    replica_id = models.CharField(primary_key=True, max_length=40)
    replica_name = models.CharField(max_length=200)
    replica_type = models.CharField(max_length=10, default="user")  # "user" | "system"
    status = models.CharField(max_length=20, default="completed")
    training_progress = models.CharField(max_length=20, default="100/100")
    thumbnail_video_url = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "replica_id"]

    def __str__(self) -> str:
        return f"{self.replica_name} ({self.replica_id})"

    def as_api(self, *, verbose: bool = False, detail: bool = False) -> dict:
        data = {
            "replica_id": self.replica_id,
            "replica_name": self.replica_name,
            "thumbnail_video_url": self.thumbnail_video_url,
            "training_progress": self.training_progress,
            "status": self.status,
            "created_at": iso(self.created_at),
        }
        if detail:
            data["updated_at"] = iso(self.updated_at)
            data["error_message"] = None
        if verbose:
            data["replica_type"] = self.replica_type
        return data


class Persona(models.Model):
    persona_id = models.CharField(primary_key=True, max_length=40)
    persona_name = models.CharField(max_length=200, blank=True)
    persona_type = models.CharField(max_length=10, default="user")  # "user" | "system"
    # Everything else exactly as the API shows it (system_prompt, layers, default_replica_id...):
    # JSON Patch works on this document, so it must stay a plain JSON object.
    document = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "persona_id"]

    def __str__(self) -> str:
        return f"{self.persona_name} ({self.persona_id})"

    def as_api(self) -> dict:
        return {
            "persona_id": self.persona_id,
            "persona_name": self.persona_name,
            **self.document,
            "persona_type": self.persona_type,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }

    @property
    def default_replica_id(self) -> str:
        return self.document.get("default_replica_id") or ""

    @property
    def perception_model(self) -> str:
        layers = self.document.get("layers")
        perception = layers.get("perception") if isinstance(layers, dict) else None
        model = perception.get("perception_model") if isinstance(perception, dict) else None
        return model if isinstance(model, str) else ""


class ConversationQuerySet(models.QuerySet):
    def visible(self):
        return self.filter(deleted_at__isnull=True)

    def holding_slots(self):
        """Conversations that use one of the plan's concurrent slots."""
        return self.visible().filter(status=Conversation.ACTIVE, test_mode=False)

    @contextmanager
    def locked(self, conversation_id: str):
        """The row, locked for the rest of the block (raises DoesNotExist)."""
        with transaction.atomic():
            yield self.select_for_update().get(pk=conversation_id)


class Conversation(models.Model):
    ACTIVE, ENDED = "active", "ended"

    conversation_id = models.CharField(primary_key=True, max_length=40)
    conversation_name = models.CharField(max_length=300)
    status = models.CharField(max_length=10, default=ACTIVE)
    callback_url = models.CharField(max_length=1000, blank=True)
    replica_id = models.CharField(max_length=40)
    persona_id = models.CharField(max_length=40, null=True)
    test_mode = models.BooleanField(default=False)
    require_auth = models.BooleanField(default=False)
    meeting_token = models.CharField(max_length=500, blank=True)
    max_participants = models.PositiveIntegerField(null=True)
    audio_only = models.BooleanField(default=False)
    custom_greeting = models.TextField(blank=True)
    conversational_context = models.TextField(blank=True)
    latest_context = models.TextField(blank=True)  # the last appended or overwritten context
    properties = models.JSONField(default=dict)  # as given, e.g. enable_recording, language
    request = models.JSONField(default=dict)  # the whole create body, for reference
    # Snapshot of the persona at creation: Tavus runs the call with the persona as it was.
    persona_name = models.CharField(max_length=200, blank=True)
    replica_name = models.CharField(max_length=200, blank=True)
    system_prompt = models.TextField(blank=True)
    perception_model = models.CharField(max_length=40, blank=True)
    # Which documents the replica may look things up in: the persona's and the conversation's
    # ids and tags (combined; how Tavus combines them is UNCONFIRMED), and the strategy.
    knowledge = models.JSONField(default=dict)
    # The persona's objectives, guardrails and tools as they were at creation.
    behaviour = models.JSONField(default=dict)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    # Timers and lifecycle marks.
    joins_at = models.DateTimeField(null=True)
    replica_joined_at = models.DateTimeField(null=True)
    first_joined_at = models.DateTimeField(null=True)  # first person opened the room
    greeted_at = models.DateTimeField(null=True)
    max_deadline = models.DateTimeField(null=True)
    absent_deadline = models.DateTimeField(null=True)
    left_deadline = models.DateTimeField(null=True)
    ended_at = models.DateTimeField(null=True)
    shutdown_reason = models.CharField(max_length=100, blank=True)
    deleted_at = models.DateTimeField(null=True)

    # In-room state.
    seq = models.PositiveIntegerField(default=0)  # last seq handed out
    turn_idx = models.PositiveIntegerField(default=0)
    busy_until = models.DateTimeField(null=True)  # replica speaking until
    speaking_inference_id = models.CharField(max_length=64, blank=True)
    speaking_interruptible = models.BooleanField(default=False)
    transcript = models.JSONField(default=list)  # user/assistant items; system item added at end
    recording_started_at = models.DateTimeField(null=True)
    recorded_seconds = models.FloatField(default=0)
    recording_key = models.CharField(max_length=300, blank=True)

    objects = ConversationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "conversation_id"]

    def __str__(self) -> str:
        return f"{self.conversation_name} ({self.conversation_id})"

    # --- API shape ------------------------------------------------------------------------

    def as_api(self, conversation_url: str, *, verbose: bool = False) -> dict:
        data = {
            "conversation_id": self.conversation_id,
            "conversation_name": self.conversation_name,
            "conversation_url": conversation_url,
            "callback_url": self.callback_url,
            "status": self.status,
            "replica_id": self.replica_id,
            "persona_id": self.persona_id,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }
        if verbose:
            data["shutdown_reason"] = self.shutdown_reason or None
            data["transcript"] = self.full_transcript() if self.status == self.ENDED else None
            data["events"] = [e.envelope for e in self.stored_events.order_by("id")]
        return data

    @property
    def left_timeout(self) -> int:
        return self.properties.get("participant_left_timeout", DEFAULT_LEFT_TIMEOUT)

    @property
    def enable_recording(self) -> bool:
        return bool(self.properties.get("enable_recording"))

    @property
    def speaker_name(self) -> str:
        """Who the replica says it is: the persona's name, or the replica's without one."""
        return self.persona_name or self.replica_name

    def full_transcript(self) -> list[dict]:
        parts = [self.system_prompt, self.conversational_context]
        system = "\n\n".join(p for p in parts if p)
        return [{"role": "system", "content": system}, *self.transcript]

    # --- Webhook events (stored for ?verbose=true and queued for callback_url) -------------

    def record_event(self, event_type: str, properties: dict, now: datetime) -> dict:
        envelope = {
            "conversation_id": self.conversation_id,
            "event_type": event_type,
            "message_type": event_type.split(".", 1)[0],
            "timestamp": iso(now),
            "webhook_url": self.callback_url,
            "properties": properties,
        }
        self.stored_events.create(envelope=envelope)
        if self.callback_url:
            WebhookDelivery.objects.create(
                conversation_id=self.conversation_id, url=self.callback_url, body=envelope
            )
        return envelope

    # --- Lifecycle --------------------------------------------------------------------------

    def join_replica(self, now: datetime) -> None:
        self.replica_joined_at = now
        self.save(update_fields=["replica_joined_at", "updated_at"])
        self.record_event("system.replica_joined", {"replica_id": self.replica_id}, now)
        # Era B twin, sent right after the legacy one with the same data.
        self.record_event("system.pal_joined", {"face_id": self.replica_id}, now)

    def end(self, reason: str, now: datetime) -> bool:
        """Shut the room down and queue the post-call webhooks. False if already ended."""
        if self.status != self.ACTIVE:
            return False
        if self.recording_started_at:
            self.stop_recording(now)
        self.status = self.ENDED
        self.ended_at = now
        self.shutdown_reason = reason
        self.left_deadline = None
        self.busy_until = None
        self.save()
        # What was due has been said; whatever the replica had not said yet never will be.
        self.assign_due(now)
        self.room_events.filter(seq__isnull=True).update(cancelled=True)
        self.participants.filter(left_at__isnull=True).update(left_at=now)
        self.record_event(
            "system.shutdown", {"replica_id": self.replica_id, "shutdown_reason": reason}, now
        )
        self.record_event(
            "application.transcription_ready",
            {"replica_id": self.replica_id, "transcript": self.full_transcript()},
            now,
        )
        bucket = self.properties.get("recording_s3_bucket_name")
        if self.enable_recording and bucket and self.recording_key:
            failed = ""
            if settings.SANDBOX_RECORDING_COPY:
                from studio.sandbox.recordings import copy_to_bucket

                region = self.properties.get("recording_s3_bucket_region") or ""
                failed = copy_to_bucket(bucket, self.recording_key, region)
            if failed:
                self.record_event(
                    "application.recording_copy_failed", {"error_message": failed}, now
                )
            else:
                self.record_event(
                    "application.recording_ready",
                    {
                        "bucket_name": bucket,
                        "s3_key": self.recording_key,
                        "duration": max(1, round(self.recorded_seconds)),
                    },
                    now,
                )
        if self.perception_model.startswith("raven"):
            self.record_event(
                "application.perception_analysis",
                {"analysis": speech.perception_analysis(self)},
                now,
            )
        return True

    def present(self, now: datetime):
        """Participants in the room now (not left, heartbeat fresh)."""
        return self.participants.filter(
            left_at__isnull=True, last_seen__gte=now - timedelta(seconds=STALE_SECONDS)
        )

    def sweep_presence(self, now: datetime) -> None:
        """Count silent pages as gone; start the left timer when the room empties."""
        cutoff = now - timedelta(seconds=STALE_SECONDS)
        stale = list(self.participants.filter(left_at__isnull=True, last_seen__lt=cutoff))
        for participant in stale:
            participant.left_at = now
            participant.save(update_fields=["left_at"])
            self.schedule_presence("conversation.left", participant, now)
        if stale and not self.present(now).exists() and self.left_deadline is None:
            self.left_deadline = now + timedelta(seconds=self.left_timeout)
            self.save(update_fields=["left_deadline", "updated_at"])

    def due_shutdown(self, now: datetime) -> str | None:
        """The reason this conversation must end at `now`, or None."""
        candidates = [(self.max_deadline, "max_call_duration")]
        if self.first_joined_at is None:
            candidates.append((self.absent_deadline, "participant_absent_timeout"))
        elif self.left_deadline is not None:
            candidates.append((self.left_deadline, "participant_left_timeout"))
        due = [(at, reason) for at, reason in candidates if at is not None and at <= now]
        return min(due)[1] if due else None

    def participant_join(self, participant_id: str, name: str, session: str, now: datetime):
        participant, _ = self.participants.update_or_create(
            participant_id=participant_id,
            defaults={"name": name, "session": session, "last_seen": now, "left_at": None},
        )
        if self.first_joined_at is None:
            self.first_joined_at = now
            self.absent_deadline = None
        self.left_deadline = None
        self.save(update_fields=["first_joined_at", "absent_deadline", "left_deadline"])
        event = self.schedule_presence("conversation.joined", participant, now)
        self.assign_due(now)
        event.refresh_from_db()
        self.maybe_greet(now)
        return participant, event

    def participant_leave(self, participant, session, claimed_seq, inference_id, now):
        """A page said goodbye. Ignored when a newer page (a reload) took over the seat."""
        if participant.session != session or participant.left_at is not None:
            return None
        participant.left_at = now
        participant.save(update_fields=["left_at"])
        self.assign_due(now)
        event = self.schedule_presence("conversation.left", participant, now, inference_id)
        # The leaving page already posted this event to its parent with seq = its last + 1 (it
        # could not wait for us while unloading); honour that number when it is still free.
        if claimed_seq > self.seq:
            self.seq = claimed_seq
            event.seq = claimed_seq
            event.save(update_fields=["seq"])
            self.save(update_fields=["seq"])
        if not self.present(now).exists():
            grace = max(self.left_timeout, RELOAD_GRACE_SECONDS)
            self.left_deadline = now + timedelta(seconds=grace)
            self.save(update_fields=["left_deadline", "updated_at"])
        return event

    # --- In-room events (seq assigned when an event falls due, so a reload never repeats) ----

    def schedule(self, event_type, properties, at, inference_id, turn_idx=None) -> "RoomEvent":
        return self.room_events.create(
            event_type=event_type,
            properties=properties,
            due_at=at,
            inference_id=inference_id,
            turn_idx=self.turn_idx if turn_idx is None else turn_idx,
        )

    def schedule_presence(self, event_type, participant, now, inference_id="") -> "RoomEvent":
        properties = {
            "role": "user",
            "participant_id": participant.participant_id,
            "name": participant.name,
        }
        return self.schedule(event_type, properties, now, inference_id or uuid.uuid4().hex)

    def assign_due(self, now: datetime) -> None:
        due = self.room_events.filter(seq__isnull=True, cancelled=False, due_at__lte=now)
        events = list(due.order_by("due_at", "id"))
        for event in events:
            self.seq += 1
            event.seq = self.seq
            event.save(update_fields=["seq"])
        if events:
            self.save(update_fields=["seq"])

    def events_after(self, seq: int) -> list[dict]:
        events = self.room_events.filter(seq__gt=seq).order_by("seq")
        return [e.envelope() for e in events]

    def _say_as_replica(self, text: str, start: datetime, inference_id: str, interruptible: bool):
        end = start
        for event_type, properties, offset in speech.replica_speech(text):
            end = start + timedelta(seconds=offset)
            self.schedule(event_type, properties, end, inference_id)
        self.busy_until = end
        self.speaking_inference_id = inference_id
        self.speaking_interruptible = interruptible
        self.transcript = [*self.transcript, {"role": "assistant", "content": text}]

    def _next_start(self, now: datetime) -> datetime:
        return max(now, self.busy_until) if self.busy_until else now

    def maybe_greet(self, now: datetime) -> bool:
        """The replica's first line, once it is in the room and a person is too."""
        if self.greeted_at or not self.replica_joined_at or self.status != self.ACTIVE:
            return False
        if not self.present(now).exists():
            return False
        self.greeted_at = now
        greeting = self.custom_greeting or speech.default_greeting(self)
        start = now + timedelta(seconds=speech.GREETING_DELAY)
        # The greeting is never interruptible (Tavus docs, conversational flow).
        inference_id = uuid.uuid4().hex
        self._say_as_replica(greeting, start, inference_id, interruptible=False)
        self._activate_first_objectives(start, inference_id)
        self.save()
        return True

    # --- Objectives, guardrails and tool calls (tavus-api-2.md §2.3, §3.3, §6.1) --------------

    def _notify(self, url: str, event_type: str, properties: dict, at: datetime) -> None:
        """A behaviour callback (objective completed, guardrail triggered): the shape seen in
        third-party code, as Tavus's is UNCONFIRMED."""
        body = {
            "conversation_id": self.conversation_id,
            "event_type": event_type,
            "message_type": "conversation",
            "timestamp": iso(at),
            "properties": properties,
        }
        WebhookDelivery.objects.create(conversation_id=self.conversation_id, url=url, body=body)

    def _objective(self, name: str) -> dict | None:
        items = self.behaviour.get("objectives") or []
        return next((o for o in items if o["objective_name"] == name), None)

    def _activate(self, names: list[str], at: datetime, inference_id: str) -> None:
        behaviour = dict(self.behaviour)
        done = set(behaviour.get("done") or [])
        fresh = [n for n in dict.fromkeys(names) if n not in done and self._objective(n)]
        for name in fresh:
            self.schedule(
                "conversation.objective.activated", {"objective_name": name}, at, inference_id
            )
        behaviour["active"] = [*(behaviour.get("active") or []), *fresh]
        self.behaviour = behaviour

    def _activate_first_objectives(self, at: datetime, inference_id: str) -> None:
        items = self.behaviour.get("objectives") or []
        if not items:
            return
        led_to = {n for o in items for n in o.get("next_required_objectives") or []}
        led_to |= {n for o in items for n in o.get("next_conditional_objectives") or {}}
        roots = [o["objective_name"] for o in items if o["objective_name"] not in led_to]
        self._activate(roots or [items[0]["objective_name"]], at, inference_id)

    def complete_objective(self, name: str, text: str, at: datetime, inference_id: str) -> bool:
        objective = self._objective(name)
        behaviour = dict(self.behaviour)
        if objective is None or name not in (behaviour.get("active") or []):
            return False
        outputs = behaviour.pop("pending_outputs", None) or {
            var: text for var in objective.get("output_variables") or []
        }
        properties = {"objective_name": name, "output_variables": outputs}
        self.schedule("conversation.objective.completed", properties, at, inference_id)
        if objective.get("callback_url"):
            self._notify(
                objective["callback_url"], "conversation.objective.completed", properties, at
            )
        behaviour["active"] = [n for n in behaviour["active"] if n != name]
        behaviour["done"] = [*(behaviour.get("done") or []), name]
        behaviour.pop("awaiting", None)
        self.behaviour = behaviour
        self._activate(speech.next_objectives(objective, text), at, inference_id)
        return True

    def _behave(self, text: str, at: datetime, inference_id: str) -> str | None:
        """Guardrails, then tools, then objectives; returns a reply that replaces the usual one."""
        behaviour = self.behaviour or {}
        for rule in behaviour.get("guardrails") or []:
            if speech.guardrail_hit(rule["guardrail_prompt"], text):
                properties = {
                    "guardrail_name": rule["guardrail_name"],
                    "modality": rule["modality"],
                }
                if rule.get("app_message", True):
                    self.schedule("conversation.guardrail.triggered", properties, at, inference_id)
                if rule.get("callback_url"):
                    self._notify(
                        rule["callback_url"], "conversation.guardrail.triggered", properties, at
                    )
                return speech.GUARDRAIL_REPLY
        for tool in behaviour.get("tools") or []:
            if speech.tool_wanted(tool, text):
                call_id = "call_" + uuid.uuid4().hex[:16]
                arguments = json.dumps(speech.tool_arguments(tool, text))
                properties = {"name": tool["name"], "arguments": arguments, "tool_call_id": call_id}
                self.schedule("conversation.tool_call", properties, at, inference_id)
                calls = {**(behaviour.get("tool_calls") or {}), call_id: tool["name"]}
                self.behaviour = {**behaviour, "tool_calls": calls}
                return speech.TOOL_FILLER
        active = behaviour.get("active") or []
        if active and behaviour.get("awaiting") is None:
            objective = self._objective(active[0])
            if objective and objective.get("confirmation_mode") == "manual":
                outputs = {var: text for var in objective.get("output_variables") or []}
                properties = {"objective_name": active[0], "output_variables": outputs}
                self.schedule("conversation.objective.pending", properties, at, inference_id)
                self.behaviour = {**behaviour, "awaiting": active[0], "pending_outputs": outputs}
            else:
                self.complete_objective(active[0], text, at, inference_id)
        return None

    def confirm_objective(self, name: str, now: datetime) -> bool:
        """conversation.objective.confirm for an objective in manual confirmation mode."""
        if (self.behaviour or {}).get("awaiting") != name:
            return False
        done = self.complete_objective(name, "", now, uuid.uuid4().hex)
        self.save()
        return done

    def tool_result(self, call_id: str, output, status: str, now: datetime) -> bool:
        """conversation.tool_result: the replica says the answer (a result nobody asked for,
        or one already given, is ignored, as Tavus drops it)."""
        calls = dict((self.behaviour or {}).get("tool_calls") or {})
        if call_id not in calls:
            return False
        calls.pop(call_id)
        self.behaviour = {**self.behaviour, "tool_calls": calls}
        if status == "error":
            text = speech.TOOL_FAILED
        else:
            text = output if isinstance(output, str) else json.dumps(output)
        self.echo(text[:2000] or speech.TOOL_FAILED, now)
        return True

    def user_says(self, text: str, now: datetime) -> str:
        """The person said `text` (typed in the room, or conversation.respond)."""
        if self.is_speaking(now) and self.speaking_interruptible:
            self.interrupt(now)
        self.turn_idx += 1
        inference_id = uuid.uuid4().hex
        start = self._next_start(now)
        for event_type, properties, offset in speech.user_speech(text):
            self.schedule(event_type, properties, start + timedelta(seconds=offset), inference_id)
        self.transcript = [*self.transcript, {"role": "user", "content": text}]
        reply_start = start + timedelta(seconds=speech.REPLY_DELAY)
        reply = self._behave(text, reply_start, inference_id)
        reply = reply or speech.reply(self, text, self.knowledge_documents())
        self._say_as_replica(reply, reply_start, inference_id, interruptible=True)
        self.save()
        return inference_id

    def echo(self, text: str, now: datetime) -> str:
        """conversation.echo: the replica says exactly `text`, no LLM."""
        self.turn_idx += 1
        inference_id = uuid.uuid4().hex
        self._say_as_replica(text, self._next_start(now), inference_id, interruptible=True)
        self.save()
        return inference_id

    def knowledge_documents(self) -> list[tuple[str, str]]:
        """(name, text) of every ready document this conversation may use, oldest first."""
        ids = set(self.knowledge.get("document_ids") or [])
        tags = set(self.knowledge.get("document_tags") or [])
        if not ids and not tags:
            return []
        ready = Document.objects.filter(status=Document.READY).order_by("created_at")
        return [
            (doc.document_name, doc.text)
            for doc in ready
            if doc.document_id in ids or tags & set(doc.tags or [])
        ]

    def is_speaking(self, now: datetime) -> bool:
        return bool(self.busy_until and self.busy_until > now)

    def interrupt(self, now: datetime) -> bool:
        """conversation.interrupt: stop the replica mid-sentence (not during the greeting)."""
        if not self.is_speaking(now) or not self.speaking_interruptible:
            return False
        self.assign_due(now)
        inference_id = self.speaking_inference_id
        mine = self.room_events.filter(inference_id=inference_id)
        mine.filter(seq__isnull=True).update(cancelled=True)
        self.schedule("conversation.replica_interrupted", {}, now, inference_id)
        started = mine.filter(event_type="conversation.started_speaking", seq__isnull=False)
        said = mine.filter(event_type="conversation.utterance.streaming", seq__isnull=False)
        if started.exists():
            last = said.order_by("-seq").first()
            self.schedule(
                "conversation.utterance.streaming",
                {
                    "role": "replica",
                    "speech": last.properties["speech"] if last else "",
                    "content_index": (last.properties["content_index"] + 1) if last else 0,
                    "final": True,
                    "is_interrupted": True,
                },
                now,
                inference_id,
            )
            began = started.first().due_at
            self.schedule(
                "conversation.stopped_speaking",
                {
                    "role": "replica",
                    "interrupted": True,
                    "duration": round((now - began).total_seconds(), 2),
                },
                now,
                inference_id,
            )
        self.busy_until = now
        self.save(update_fields=["busy_until", "updated_at"])
        return True

    def set_context(self, context: str, *, append: bool) -> None:
        if append and self.conversational_context:
            self.conversational_context = f"{self.conversational_context}\n{context}"
        else:
            self.conversational_context = context
        self.latest_context = context
        self.save(update_fields=["conversational_context", "latest_context", "updated_at"])

    def start_recording(self, now: datetime) -> bool:
        if not self.enable_recording or self.status != self.ACTIVE:
            return False
        if self.recording_started_at is None:
            self.recording_started_at = now
            if not self.recording_key:
                # Tavus's recordings are MP4s; the copy the sandbox makes
                # (SANDBOX_RECORDING_COPY) is its own short WebM.
                kind = "webm" if settings.SANDBOX_RECORDING_COPY else "mp4"
                self.recording_key = f"{self.conversation_id}/{int(now.timestamp())}.{kind}"
            self.save(update_fields=["recording_started_at", "recording_key", "updated_at"])
        return True

    def stop_recording(self, now: datetime) -> bool:
        if not self.enable_recording or self.recording_started_at is None:
            return False
        self.recorded_seconds += (now - self.recording_started_at).total_seconds()
        self.recording_started_at = None
        self.save(update_fields=["recorded_seconds", "recording_started_at", "updated_at"])
        return True


def default_deadlines(conversation: Conversation, properties: dict) -> None:
    """Start the join, absent and duration timers from the creation time."""
    created = conversation.created_at
    max_call = properties.get("max_call_duration", DEFAULT_MAX_CALL_DURATION)
    absent = properties.get("participant_absent_timeout", DEFAULT_ABSENT_TIMEOUT)
    conversation.joins_at = created + timedelta(seconds=settings.SANDBOX_JOIN_DELAY)
    conversation.max_deadline = created + timedelta(seconds=max_call)
    conversation.absent_deadline = created + timedelta(seconds=absent)


class Participant(models.Model):
    """A person's seat in a room. The id lives in a cookie so a reload keeps the same seat."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="participants"
    )
    participant_id = models.CharField(max_length=40)
    name = models.CharField(max_length=100, default="Guest")
    session = models.CharField(max_length=40, blank=True)  # which page load holds the seat
    joined_at = models.DateTimeField(auto_now_add=True)
    last_seen = models.DateTimeField()
    left_at = models.DateTimeField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "participant_id"], name="sandbox_one_seat_per_participant"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} in {self.conversation_id}"


class RoomEvent(models.Model):
    """One in-room app-message. `seq` stays empty until the event is due."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="room_events"
    )
    event_type = models.CharField(max_length=100)
    properties = models.JSONField(default=dict)
    inference_id = models.CharField(max_length=64)
    turn_idx = models.PositiveIntegerField(default=0)
    due_at = models.DateTimeField()
    seq = models.PositiveIntegerField(null=True)
    cancelled = models.BooleanField(default=False)

    class Meta:
        indexes = [
            models.Index(fields=["conversation", "seq"]),
            models.Index(fields=["conversation", "due_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} #{self.seq}"

    def envelope(self) -> dict:
        """Exactly Tavus's app-message payload (shared/tavus-api.md §6.2)."""
        return {
            "message_type": "conversation",
            "event_type": self.event_type,
            "conversation_id": self.conversation_id,
            "inference_id": self.inference_id,
            "seq": self.seq,
            "turn_idx": self.turn_idx,
            "timestamp": round(self.due_at.timestamp(), 3),
            "properties": self.properties,
        }


class StoredEvent(models.Model):
    """A webhook envelope as sent, served again by GET ...?verbose=true."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="stored_events"
    )
    envelope = models.JSONField()

    def __str__(self) -> str:
        return self.envelope.get("event_type", "?")


class WebhookDelivery(models.Model):
    """Outbox row: one POST to a callback_url. No foreign key: a hard delete must not lose it."""

    conversation_id = models.CharField(max_length=40, db_index=True)
    url = models.CharField(max_length=1000)
    body = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True)  # None: as soon as possible
    claimed_until = models.DateTimeField(null=True)  # a sender is working on it
    delivered_at = models.DateTimeField(null=True)
    gave_up_at = models.DateTimeField(null=True)
    last_error = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["delivered_at", "gave_up_at"])]

    def __str__(self) -> str:
        return f"{self.body.get('event_type')} → {self.url}"


class DocumentQuerySet(models.QuerySet):
    def due(self, now: datetime):
        return self.filter(next_step_at__lte=now)


class Document(models.Model):
    """A knowledge-base document (shared/tavus-api-2.md §1): read for real, a step at a time.

    started (or recrawling) → processing: the sandbox downloads and reads `document_url`;
    processing → ready, or error with `error_message`. Each step waits
    SANDBOX_DOCUMENT_STEP_SECONDS and sends the document, as GET shows it, to `callback_url`
    (the callback's shape is UNCONFIRMED; the full object is the sandbox's choice).
    """

    STARTED, PROCESSING, READY, ERROR, RECRAWLING = (
        "started",
        "processing",
        "ready",
        "error",
        "recrawling",
    )

    document_id = models.CharField(primary_key=True, max_length=40)
    document_name = models.CharField(max_length=300)
    document_url = models.TextField()
    status = models.CharField(max_length=20, default=STARTED)
    error_message = models.TextField(blank=True)
    callback_url = models.CharField(max_length=2048, blank=True)
    tags = models.JSONField(default=list)
    crawl = models.JSONField(null=True)  # {"depth", "max_pages"} for websites
    crawled_urls = models.JSONField(default=list)
    last_crawled_at = models.DateTimeField(null=True)
    crawl_count = models.PositiveIntegerField(default=0)
    recrawl_requested_at = models.DateTimeField(null=True)  # the hour's cooldown counts from it
    properties = models.JSONField(default=dict)
    text = models.TextField(blank=True)  # what was read, for the replica's lookups
    read_error = models.TextField(blank=True)  # reported when processing ends
    next_step_at = models.DateTimeField(null=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    objects = DocumentQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "document_id"]

    def __str__(self) -> str:
        return f"{self.document_name} ({self.document_id})"

    def as_api(self) -> dict:
        data = {
            "document_id": self.document_id,
            "document_name": self.document_name,
            "document_url": self.document_url,
            "status": self.status,
            "progress": None,
            "error_message": self.error_message or None,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "callback_url": self.callback_url,
            "tags": self.tags,
            "properties": self.properties,
        }
        if self.crawl:
            data.update(
                crawl_config=self.crawl,
                crawled_urls=self.crawled_urls,
                last_crawled_at=iso(self.last_crawled_at),
                crawl_count=self.crawl_count,
            )
        return data

    def _step_delay(self) -> timedelta:
        return timedelta(seconds=settings.SANDBOX_DOCUMENT_STEP_SECONDS)

    def _notify(self) -> None:
        if self.callback_url:
            # The outbox orders deliveries per key: the document id keeps its statuses in order.
            WebhookDelivery.objects.create(
                conversation_id=self.document_id, url=self.callback_url, body=self.as_api()
            )

    def start(self, now: datetime, status: str) -> None:
        """Begin (or, with RECRAWLING, begin again) reading the document."""
        self.status = status
        self.error_message = ""
        self.next_step_at = now + self._step_delay()
        self.save()
        self._notify()

    def advance(self, now: datetime) -> None:
        """Take the step that is due. Called by the ticker, never inside a request."""
        if self.status in (self.STARTED, self.RECRAWLING):
            # Claim the step first, so a second process never reads the same document twice.
            claimed = Document.objects.filter(
                pk=self.pk, status=self.status, next_step_at=self.next_step_at
            ).update(status=self.PROCESSING, next_step_at=None)
            if not claimed:
                return
            self.status = self.PROCESSING
            self._notify()
            from studio.sandbox import reading

            try:
                result = reading.read(self.document_url, self.crawl)
                self.read_error = ""
                self.text, urls = result.text, result.urls
            except reading.ReadError as error:
                self.read_error, urls = str(error), []
            if self.crawl and not self.read_error:
                self.crawled_urls = urls
            self.next_step_at = now + self._step_delay()
            self.save()
        elif self.status == self.PROCESSING:
            if self.read_error:
                self.status, self.error_message = self.ERROR, self.read_error
            else:
                self.status = self.READY
                if self.crawl:
                    self.last_crawled_at = now
                    self.crawl_count += 1
            self.next_step_at = None
            self.save()
            self._notify()
        else:
            self.next_step_at = None
            self.save(update_fields=["next_step_at"])


class Objectives(models.Model):
    """One objectives set (shared/tavus-api-2.md §2): items forming a workflow graph."""

    objectives_id = models.CharField(primary_key=True, max_length=40)
    objective_name = models.CharField(max_length=300, default="New Objectives")
    items = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "objectives_id"]

    def __str__(self) -> str:
        return self.objectives_id

    def document(self) -> dict:
        """What GET shows inside "data" (and what a JSON Patch works on)."""
        return {
            "objective_name": self.objective_name,
            "status": "active",
            "data": self.items,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }


class GuardrailSet(models.Model):
    """A legacy guardrails set (§3.2); its items are individual Guardrails too."""

    guardrails_id = models.CharField(primary_key=True, max_length=40)
    guardrails_name = models.CharField(max_length=300)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "guardrails_id"]

    def __str__(self) -> str:
        return self.guardrails_id

    def document(self) -> dict:
        items = [g.item() for g in self.guardrails.order_by("position", "created_at")]
        return {
            "guardrails_name": self.guardrails_name,
            "status": "active",
            "data": items,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }


class Guardrail(models.Model):
    """An individual guardrail (§3.1). Its id is served as `uuid`, as Tavus's example shows."""

    guardrail_id = models.CharField(primary_key=True, max_length=40)
    guardrail_name = models.CharField(max_length=100)
    guardrail_prompt = models.TextField()
    modality = models.CharField(max_length=10, default="verbal")
    callback_url = models.CharField(max_length=2048, blank=True)
    tags = models.JSONField(default=list)
    app_message = models.BooleanField(default=True)
    guardrail_set = models.ForeignKey(
        GuardrailSet, on_delete=models.CASCADE, null=True, related_name="guardrails"
    )
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "guardrail_id"]

    def __str__(self) -> str:
        return self.guardrail_name

    def item(self) -> dict:
        return {
            "guardrail_name": self.guardrail_name,
            "guardrail_prompt": self.guardrail_prompt,
            "modality": self.modality,
            "callback_url": self.callback_url,
        }

    def as_api(self) -> dict:
        return {
            "uuid": self.guardrail_id,
            **self.item(),
            "tags": self.tags,
            "app_message": self.app_message,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }


class Tool(models.Model):
    """A registry tool (tavus-api-2.md §6.2): what a persona may call, or a post-call action."""

    tool_id = models.CharField(primary_key=True, max_length=40)
    name = models.CharField(max_length=64, unique=True)
    definition = models.JSONField(default=dict)  # every field as the API shows it, but the id
    persona_ids = models.JSONField(default=list)  # personas (PALs) it is attached to
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "tool_id"]

    def __str__(self) -> str:
        return self.name

    def as_api(self) -> dict:
        # The docs' example shows these timestamps without a zone marker.
        stamp = "%Y-%m-%dT%H:%M:%S"
        return {
            "tool_id": self.tool_id,
            **self.definition,
            "owner_id": 1,
            "is_system_tool": False,
            "created_at": self.created_at.astimezone(UTC).strftime(stamp),
            "updated_at": self.updated_at.astimezone(UTC).strftime(stamp),
        }
