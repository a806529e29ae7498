"""Presets: named, saved sets of launch settings, so a conversation starts in two clicks."""

import hashlib
import hmac
import uuid
from pathlib import PurePath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import IntegrityError, models, transaction
from django.db.models.functions import Lower

from studio.library.models import Persona, Replica
from studio.presets.validators import (
    AWS_REGION_CHOICES,
    validate_language,
    validate_role_arn,
    validate_s3_bucket_name,
)

# Tavus caps max_call_duration at 3600 s (tavus-api.md §2.2); we enter it in minutes.
MAX_CALL_MINUTES = 60
MAX_TIMEOUT_SECONDS = 3600


def background_upload_to(instance, filename: str) -> str:
    # A fresh random name: never the uploader's, never guessable, never overwriting another.
    return f"backgrounds/{uuid.uuid4().hex}{PurePath(filename).suffix.lower()}"


def memory_store_key(persona_id: str, person: str) -> str:
    """A stable memory-store key per person and persona, as Tavus advises: built on the
    persona's id (never its name, which people rename), so the same person meets the same
    memories with that persona and with no other, and two people never share one.

    `person` is whatever identifies them to the studio (an email, a customer number); it is
    normalised, then keyed with a secret, so the key Tavus stores says nothing about who it is.
    """
    who = " ".join(person.split()).casefold()
    if not who:
        raise ValueError("memories need to know who the person is")
    secret = (settings.MEMORY_STORE_SECRET or settings.SECRET_KEY).encode()
    digest = hmac.new(secret, f"{persona_id}\n{who}".encode(), hashlib.sha256).hexdigest()
    return f"{persona_id}-{digest[:24]}"


class Talker(models.TextChoices):
    """Who talks to the replica. The launcher's live page joins the video room only for ME:
    a page in the room takes one of max_participants and counts as someone who joined (for
    Tavus's absent and left timeouts and the studio's own rules), so a launcher who only
    watches must stay out of it."""

    ME = "me", "Me, on this page"
    LINK = "link", "Someone else, with a link"


class PresetQuerySet(models.QuerySet):
    def active(self):
        return self.filter(archived=False)

    def pinned_first(self):
        return self.order_by("-pinned", Lower("name"))

    def name_taken(self, name: str, exclude_pk: int | None = None) -> bool:
        """Another non-archived preset already has this name (case does not matter)."""
        return self.active().filter(name__iexact=name.strip()).exclude(pk=exclude_pk).exists()


class Preset(models.Model):
    name = models.CharField(max_length=120)
    persona = models.ForeignKey(Persona, on_delete=models.PROTECT, related_name="presets")
    # Blank: the persona's default face is used.
    replica = models.ForeignKey(
        Replica, on_delete=models.PROTECT, null=True, blank=True, related_name="presets"
    )
    conversation_name = models.CharField(max_length=200, blank=True)
    conversational_context = models.TextField(blank=True)
    custom_greeting = models.TextField(blank=True)
    dynamic_greeting = models.BooleanField(default=False)
    language = models.CharField(max_length=40, default="english", validators=[validate_language])
    audio_only = models.BooleanField(default=False)
    max_call_minutes = models.PositiveSmallIntegerField(
        default=10, validators=[MinValueValidator(1), MaxValueValidator(MAX_CALL_MINUTES)]
    )
    participant_left_timeout = models.PositiveIntegerField(
        default=30, validators=[MaxValueValidator(MAX_TIMEOUT_SECONDS)]
    )
    participant_absent_timeout = models.PositiveIntegerField(
        default=300, validators=[MaxValueValidator(MAX_TIMEOUT_SECONDS)]
    )
    apply_greenscreen = models.BooleanField(default=False)

    class Background(models.TextChoices):
        NONE = "none", "The replica's own background"
        GREEN = "green", "A green screen, for keying out in video tools"
        IMAGE = "image", "Your picture, on the participant's page"

    # What appears behind the replica: one choice. Green and a picture both ask Tavus for its
    # green (apply_greenscreen, set from this by the editor); for a picture the participant's
    # join page (/join/<token>/) keys that green out and shows the picture instead.
    background = models.CharField(max_length=10, choices=Background.choices, default="none")
    background_image = models.ImageField(upload_to=background_upload_to, blank=True)
    enable_closed_captions = models.BooleanField(default=False)
    enable_recording = models.BooleanField(default=False)
    recording_s3_bucket_name = models.CharField(
        max_length=63, blank=True, validators=[validate_s3_bucket_name]
    )
    recording_s3_bucket_region = models.CharField(
        max_length=20, blank=True, choices=AWS_REGION_CHOICES
    )
    aws_assume_role_arn = models.CharField(
        max_length=200, blank=True, validators=[validate_role_arn]
    )
    require_auth = models.BooleanField(default=False)
    # The launch page's default answer to "who will talk to the replica?" (not sent to Tavus).
    talker = models.CharField(max_length=4, choices=Talker.choices, default=Talker.ME)
    # The replica counts as one participant; blank means no limit.
    max_participants = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(2)]
    )
    test_mode = models.BooleanField(default=False)

    class Retrieval(models.TextChoices):
        SPEED = "speed", "Fastest"
        BALANCED = "balanced", "Balanced"
        QUALITY = "quality", "Most thorough"

    # The knowledge base: documents chosen one by one and/or by tag (Tavus matches tags itself,
    # so a document tagged later is included too), and how hard the replica looks.
    documents = models.ManyToManyField("knowledge.Document", blank=True, related_name="presets")
    document_tags = models.JSONField(default=list, blank=True)
    document_retrieval_strategy = models.CharField(
        max_length=10, choices=Retrieval.choices, default=Retrieval.BALANCED
    )
    # Details each person brings, beyond {name} and {role}: field names the greeting and context
    # may use as {placeholders} (studio/presets/placeholders.py), filled per invitation link.
    person_fields = models.JSONField(default=list, blank=True)
    # Memories: the replica remembers earlier conversations with the same person (and persona).
    remember_people = models.BooleanField(default=False)
    pinned = models.BooleanField(default=False)
    archived = models.BooleanField(default=False)
    retention_days = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)]
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PresetQuerySet.as_manager()

    class Meta:
        ordering = ["-pinned", "name"]
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                condition=models.Q(archived=False),
                name="preset_name_unique_when_active",
                violation_error_message="Another preset already has this name.",
            ),
            models.CheckConstraint(
                condition=~models.Q(dynamic_greeting=True, custom_greeting__gt=""),
                name="preset_one_kind_of_greeting",
                violation_error_message="Choose a written greeting or a dynamic one, not both.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def face(self) -> Replica | None:
        """The replica that will appear: the preset's own, else the persona's default."""
        return self.replica or self.persona.default_replica

    @property
    def max_call_seconds(self) -> int:
        """The time limit Tavus is sent (max_call_duration), which caps it at an hour."""
        return min(self.max_call_minutes, MAX_CALL_MINUTES) * 60

    def effective_settings(
        self,
        overrides: dict | None = None,
        person: str = "",
        person_label: str = "",
        details: dict | None = None,
    ):
        """What launching this preset sends to Tavus, and what it means (see effective.py).
        `details` fills its placeholders ({name}, …); None shows examples (a preview)."""
        from studio.presets.effective import build_effective

        return build_effective(self, overrides, person, person_label, details)

    def detail_fields(self, overrides: dict | None = None) -> list[str]:
        """The details ({name}, {role}, its own fields) the greeting and context use."""
        from studio.presets import placeholders

        overrides = overrides or {}
        greeting = overrides.get("custom_greeting") or self.custom_greeting
        context = overrides.get("conversational_context") or self.conversational_context
        return placeholders.used_in([greeting, context], self.person_fields)

    def memory_store_for(self, person: str) -> str:
        """The memory store for `person` talking to this preset's persona (see memory_store_key)."""
        return memory_store_key(self.persona.persona_id, person)

    # --- Actions from the list page ---------------------------------------------------------

    def touch(self, user, **fields) -> None:
        for name, value in fields.items():
            setattr(self, name, value)
        self.updated_by = user
        self.save(update_fields=[*fields, "updated_by", "updated_at"])

    def duplicate(self, user) -> "Preset":
        copy = Preset.objects.get(pk=self.pk)
        copy.pk = None
        copy.name = self.free_copy_name()
        copy.pinned = copy.archived = False
        copy.created_by = copy.updated_by = user
        copy.save()
        copy.documents.set(self.documents.all())
        return copy

    def forget_background(self, name: str) -> None:
        """Delete a replaced background picture from storage, unless a copy of this preset
        (duplicate() shares the file) still shows it."""
        if not name or name == self.background_image.name:
            return
        if not Preset.objects.filter(background_image=name).exists():
            self.background_image.storage.delete(name)

    def free_copy_name(self) -> str:
        base = f"Copy of {self.name}"[:110]
        name, n = base, 2
        while Preset.objects.name_taken(name):
            name, n = f"{base} ({n})", n + 1
        return name

    def unarchive(self, user) -> None:
        if Preset.objects.name_taken(self.name, exclude_pk=self.pk):
            raise ValidationError(
                f"Another preset is already called “{self.name}”. Rename one of them first."
            )
        try:
            with transaction.atomic():
                self.touch(user, archived=False)
        except IntegrityError:
            self.archived = True
            raise ValidationError(f"Another preset is already called “{self.name}”.") from None


class Milestone(models.Model):
    """One-off things that happened once (e.g. the demo presets were made) and must not again."""

    DEMO_PRESETS = "demo-presets"

    name = models.CharField(max_length=50, unique=True)
    reached_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name
