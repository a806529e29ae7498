"""Local mirrors of Tavus replicas and personas, and how they are kept in step with Tavus.

Tavus is the source of truth. A sync fetches everything first and only then writes, inside one
transaction, so an outage half-way through leaves the local copy exactly as it was. Objects that
disappear at Tavus are marked `vanished`, never deleted: presets may still point at them, and
the preset editor and the launch preview say so instead of failing later.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import models, transaction
from django.utils import timezone
from django.utils.functional import cached_property

from studio.tavus import client as tavus


@dataclass(frozen=True)
class SyncResult:
    kind: str  # "replica" or "persona"
    count: int  # how many Tavus has now
    added: int
    vanished: int  # newly marked as gone from Tavus in this sync

    def __str__(self) -> str:
        noun = self.kind if self.count == 1 else f"{self.kind}s"
        text = f"Synced {self.count} {noun}"
        if self.vanished:
            text += f" ({self.vanished} no longer at Tavus)"
        return text


class MirrorQuerySet(models.QuerySet):
    def present(self):
        """Still at Tavus (as of the last sync)."""
        return self.filter(vanished=False)


def _mirror(model, items: list, kind: str, key: str, fields_of) -> SyncResult:
    """Upsert `items` (client dataclasses) into `model`; mark the ones Tavus no longer has."""
    now = timezone.now()
    seen: dict[str, dict] = {}
    for item in items:
        # A replica listed under both types (or on two pages) counts once; last one wins.
        seen[getattr(item, key)] = fields_of(item)
    with transaction.atomic():
        existing = {getattr(obj, key): obj for obj in model.objects.all()}
        added = 0
        for ident, values in seen.items():
            obj = existing.get(ident)
            if obj is None:
                model.objects.create(**{key: ident}, **values, vanished=False, synced_at=now)
                added += 1
                continue
            for name, value in values.items():
                setattr(obj, name, value)
            obj.vanished = False
            obj.synced_at = now
            obj.save()
        gone = model.objects.filter(vanished=False).exclude(**{f"{key}__in": list(seen)})
        vanished = gone.update(vanished=True)
    return SyncResult(kind=kind, count=len(seen), added=added, vanished=vanished)


# --- Replicas ------------------------------------------------------------------------------


class Replica(models.Model):
    """A Tavus replica (era B: "face"): the video person who appears in a conversation."""

    class Status(models.TextChoices):
        READY = "ready", "Ready"
        TRAINING = "training", "Training"
        ERROR = "error", "Error"

    class Type(models.TextChoices):
        USER = "user", "Yours"
        SYSTEM = "system", "Stock"

    # Tavus says `completed`/`started`/`error`; its training callback says `ready`.
    STATUS_FROM_TAVUS = {
        "completed": Status.READY,
        "ready": Status.READY,
        "started": Status.TRAINING,
        "training": Status.TRAINING,
        "error": Status.ERROR,
        "failed": Status.ERROR,
    }

    replica_id = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200, blank=True)
    # Text, not a URLField: signed video URLs can be very long, and a sync must not fail on one.
    thumbnail_video_url = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status, default=Status.TRAINING)
    training_progress = models.CharField(max_length=20, blank=True)
    replica_type = models.CharField(max_length=10, choices=Type, default=Type.USER)
    vanished = models.BooleanField(
        default=False, help_text="Gone at Tavus. Kept because presets may point at it."
    )
    tavus_created_at = models.DateTimeField(null=True, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    raw = models.JSONField(default=dict, blank=True)

    objects = MirrorQuerySet.as_manager()

    class Meta:
        ordering = ["vanished", "-replica_type", "name", "replica_id"]

    def __str__(self) -> str:
        return self.name or self.replica_id

    @property
    def is_ready(self) -> bool:
        return self.status == self.Status.READY and not self.vanished

    @property
    def is_stock(self) -> bool:
        return self.replica_type == self.Type.SYSTEM

    @classmethod
    def status_from_tavus(cls, value: str) -> str:
        # An unknown status is not "ready": better to warn than to launch into a failure.
        return cls.STATUS_FROM_TAVUS.get((value or "").lower(), cls.Status.TRAINING)

    @classmethod
    def fields_from_tavus(cls, item: tavus.Replica, replica_type: str = "") -> dict:
        kind = item.replica_type or replica_type
        return {
            "name": item.replica_name[:200],
            "thumbnail_video_url": item.thumbnail_video_url,
            "status": cls.status_from_tavus(item.status),
            "training_progress": item.training_progress[:20],
            "replica_type": kind if kind in cls.Type.values else cls.Type.USER,
            "tavus_created_at": item.created_at,
            "raw": item.raw,
        }


def sync_replicas() -> SyncResult:
    """Pull every replica of both types from Tavus; raises TavusError with nothing changed."""
    pairs = [(kind, item) for kind in Replica.Type.values for item in tavus.iter_replicas(kind)]
    by_id = {item.replica_id: (kind, item) for kind, item in pairs}
    return _mirror(
        Replica,
        [item for _, item in by_id.values()],
        "replica",
        "replica_id",
        lambda item: Replica.fields_from_tavus(item, by_id[item.replica_id][0]),
    )


# --- Personas ------------------------------------------------------------------------------


class Persona(models.Model):
    """A Tavus persona (era B: "PAL"): how the replica thinks, speaks, listens and sees."""

    class Type(models.TextChoices):
        USER = "user", "Yours"
        SYSTEM = "system", "Stock"

    class PipelineMode(models.TextChoices):
        FULL = "full", "Full conversation"
        ECHO = "echo", "Echo (speaks only what you send)"

    persona_id = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200, blank=True)
    persona_type = models.CharField(max_length=10, choices=Type, default=Type.USER)
    system_prompt = models.TextField(blank=True)
    context = models.TextField(blank=True)
    pipeline_mode = models.CharField(max_length=10, blank=True, default=PipelineMode.FULL)
    # An id rather than a foreign key: Tavus may name a replica we have not synced (yet).
    default_replica_id = models.CharField(max_length=64, blank=True)
    layers = models.JSONField(default=dict, blank=True)
    vanished = models.BooleanField(
        default=False, help_text="Gone at Tavus. Kept because presets may point at it."
    )
    tavus_created_at = models.DateTimeField(null=True, blank=True)
    tavus_updated_at = models.DateTimeField(null=True, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    raw = models.JSONField(default=dict, blank=True)

    objects = MirrorQuerySet.as_manager()

    class Meta:
        ordering = ["vanished", "-persona_type", "name", "persona_id"]

    def __str__(self) -> str:
        return self.name or self.persona_id

    @property
    def is_stock(self) -> bool:
        return self.persona_type == self.Type.SYSTEM

    @cached_property
    def default_replica(self) -> Replica | None:
        if not self.default_replica_id:
            return None
        return Replica.objects.filter(replica_id=self.default_replica_id).first()

    def layer(self, name: str) -> dict:
        value = (self.layers or {}).get(name)
        return value if isinstance(value, dict) else {}

    @property
    def perception_model(self) -> str:
        return self.layer("perception").get("perception_model") or ""

    @property
    def llm_model(self) -> str:
        return self.layer("llm").get("model") or ""

    def _raw_strings(self, key: str) -> list[str]:
        value = (self.raw or {}).get(key)
        return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []

    @property
    def document_ids(self) -> list[str]:
        return self._raw_strings("document_ids")

    @property
    def document_tags(self) -> list[str]:
        return self._raw_strings("document_tags")

    @property
    def outdated_settings(self) -> list:
        """Layer values Tavus has deprecated or dropped (tavus/layers.py), shown, never changed."""
        from studio.tavus.layers import outdated_in

        return outdated_in(self.layers or {})

    @classmethod
    def fields_from_tavus(cls, item: tavus.Persona, persona_type: str = "") -> dict:
        kind = item.persona_type or persona_type
        return {
            "name": item.persona_name[:200],
            "persona_type": kind if kind in cls.Type.values else cls.Type.USER,
            "system_prompt": item.system_prompt,
            "context": item.context,
            "pipeline_mode": (item.pipeline_mode or cls.PipelineMode.FULL)[:10],
            "default_replica_id": item.default_replica_id or "",
            "layers": item.layers,
            "tavus_created_at": item.created_at,
            "tavus_updated_at": item.updated_at,
            "raw": item.raw,
        }

    @classmethod
    def store(cls, item: tavus.Persona, persona_type: str = "", sent: dict | None = None):
        """Create or update the local copy of one persona Tavus just gave us.

        `sent` is the create body: Tavus answers a create with only id, name and time, so the
        stored document is what we sent plus what it said.
        """
        values = cls.fields_from_tavus(item, persona_type)
        if sent:
            values["raw"] = {**sent, **item.raw}
        persona, _ = cls.objects.update_or_create(
            persona_id=item.persona_id,
            defaults={**values, "vanished": False, "synced_at": timezone.now()},
        )
        return persona

    def apply_tavus_changes(self, fields: dict) -> None:
        """Save changes Tavus accepted (fields as in `fields_from_tavus`)."""
        for name, value in fields.items():
            setattr(self, name, value)
        self.__dict__.pop("default_replica", None)
        self.tavus_updated_at = timezone.now()
        self.save()


def sync_personas() -> SyncResult:
    """Pull every persona of both types from Tavus; raises TavusError with nothing changed."""
    pairs = [(kind, item) for kind in Persona.Type.values for item in tavus.iter_personas(kind)]
    by_id = {item.persona_id: (kind, item) for kind, item in pairs}
    return _mirror(
        Persona,
        [item for _, item in by_id.values()],
        "persona",
        "persona_id",
        lambda item: Persona.fields_from_tavus(item, by_id[item.persona_id][0]),
    )


def sync_library() -> tuple[SyncResult, SyncResult]:
    """Replicas first, so personas' default faces resolve."""
    return sync_replicas(), sync_personas()


def last_synced(model) -> datetime | None:
    return model.objects.aggregate(latest=models.Max("synced_at"))["latest"]
