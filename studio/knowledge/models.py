"""The knowledge base: documents mirrored from Tavus, and files staff upload for it.

Tavus takes a document only by URL (`document_url`). A file uploaded here is kept in private
storage (never under MEDIA_URL) and handed to Tavus as a short-lived link with an unguessable
token on the studio's public address; the file is deleted as soon as Tavus reports the document
ready or failed, or when the document is deleted.
"""

import hashlib
import hmac
import secrets
import uuid
from datetime import timedelta
from pathlib import PurePath

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.db import models, transaction
from django.urls import reverse
from django.utils import timezone

from studio.connection import current
from studio.knowledge.endpoints import host_of
from studio.tavus import knowledge as tavus_kb

# Tavus's formats for document_url, and what each is served as (the reader goes by the type).
CONTENT_TYPES = {
    ".pdf": "application/pdf",
    ".txt": "text/plain; charset=utf-8",
    ".csv": "text/csv; charset=utf-8",
    ".doc": "application/msword",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".png": "image/png",
    ".jpg": "image/jpeg",
}


class PrivateFiles(FileSystemStorage):
    """Uploads waiting for Tavus: never served by MEDIA_URL, only through the short-lived link.
    The folder is read from settings each time, so tests can point it elsewhere."""

    @property
    def base_location(self):
        return settings.KNOWLEDGE_FILES_ROOT

    @property
    def location(self):
        return str(PurePath(settings.KNOWLEDGE_FILES_ROOT))


private_files = PrivateFiles()


def _upload_to(instance, filename: str) -> str:
    return f"documents/{uuid.uuid4().hex}{PurePath(filename).suffix.lower()}"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def public_url(path: str) -> str:
    """An address Tavus can reach: the studio's public URL, not whatever host the request used."""
    return current.public_url() + path


class DocumentQuerySet(models.QuerySet):
    def present(self):
        return self.filter(vanished=False)

    def pending(self):
        """Still on their way to ready or error."""
        return self.present().filter(status__in=Document.PENDING)


class Document(models.Model):
    class Status(models.TextChoices):
        SENDING = "sending", "Sending to Tavus"
        STARTED = "started", "Started"
        PROCESSING = "processing", "Reading"
        RECRAWLING = "recrawling", "Reading again"
        READY = "ready", "Ready"
        ERROR = "error", "Failed"

    class Source(models.TextChoices):
        FILE = "file", "A file from your computer"
        LINK = "link", "A link to one file or page"
        WEBSITE = "website", "A whole website (crawl)"

    PENDING = (Status.SENDING, Status.STARTED, Status.PROCESSING, Status.RECRAWLING)

    # Null until Tavus answers the create: the row exists first so the upload has a home.
    document_id = models.CharField(max_length=100, unique=True, null=True, blank=True)
    name = models.CharField(max_length=200)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.LINK)
    url = models.TextField(blank=True)  # the link staff gave (links and websites)
    filename = models.CharField(max_length=255, blank=True)  # the uploaded file's own name
    upload = models.FileField(upload_to=_upload_to, storage=private_files, blank=True)
    upload_token_hash = models.CharField(max_length=64, blank=True, db_index=True)
    upload_expires_at = models.DateTimeField(null=True, blank=True)
    callback_secret = models.CharField(max_length=64, default="", editable=False)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.SENDING)
    error_message = models.TextField(blank=True)
    tags = models.JSONField(default=list, blank=True)
    crawl_depth = models.PositiveSmallIntegerField(null=True, blank=True)
    crawl_max_pages = models.PositiveSmallIntegerField(null=True, blank=True)
    crawled_urls = models.JSONField(default=list, blank=True)
    crawl_count = models.PositiveIntegerField(null=True, blank=True)
    last_crawled_at = models.DateTimeField(null=True, blank=True)
    vanished = models.BooleanField(default=False, help_text="Gone at Tavus.")
    checked_at = models.DateTimeField(null=True, blank=True)  # last status read from Tavus
    tavus_created_at = models.DateTimeField(null=True, blank=True)
    raw = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = DocumentQuerySet.as_manager()

    class Meta:
        ordering = ["vanished", "name", "pk"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        if not self.callback_secret:
            self.callback_secret = secrets.token_urlsafe(32)
        super().save(*args, **kwargs)

    # --- What people see ----------------------------------------------------------------------

    @property
    def is_ready(self) -> bool:
        return self.status == self.Status.READY and not self.vanished

    @property
    def is_pending(self) -> bool:
        return self.status in self.PENDING and not self.vanished

    @property
    def can_recrawl(self) -> bool:
        return bool(self.document_id) and self.status in (self.Status.READY, self.Status.ERROR)

    @property
    def where_from(self) -> str:
        if self.source == self.Source.FILE:
            return f"Uploaded file “{self.filename}”"
        if self.source == self.Source.WEBSITE:
            return (
                f"Website {self.url}, following links {self.crawl_depth} deep, "
                f"up to {self.crawl_max_pages} pages"
            )
        return self.url

    # --- Links Tavus calls ---------------------------------------------------------------------

    @property
    def callback_url(self) -> str:
        return public_url(reverse("knowledge_hooks:callback", args=[self.pk, self.callback_secret]))

    def mint_upload_link(self) -> str:
        """A fresh link to the uploaded file (the old one stops working). Only its hash is kept."""
        token = secrets.token_urlsafe(32)
        self.upload_token_hash = _digest(token)
        self.upload_expires_at = timezone.now() + timedelta(seconds=settings.KNOWLEDGE_LINK_SECONDS)
        self.save(update_fields=["upload_token_hash", "upload_expires_at", "updated_at"])
        return public_url(reverse("knowledge:file", args=[token]))

    @classmethod
    def by_upload_token(cls, token: str) -> "Document | None":
        found = cls.objects.filter(
            upload_token_hash=_digest(token), upload_expires_at__gt=timezone.now()
        ).exclude(upload="")
        return found.first()

    def check_callback_secret(self, secret: str) -> bool:
        return hmac.compare_digest(secret.encode(), self.callback_secret.encode())

    def discard_upload(self) -> None:
        """Delete the uploaded file: Tavus has read it (or given up), so nobody needs it."""
        if self.upload:
            self.upload.delete(save=False)
        self.upload_token_hash = ""
        self.upload_expires_at = None

    # --- Following Tavus ---------------------------------------------------------------------

    def take_status(self, status: str, error_message: str = "") -> None:
        if status in self.Status.values:
            self.status = status
        self.error_message = error_message if status == self.Status.ERROR else ""
        self.checked_at = timezone.now()
        if status in (self.Status.READY, self.Status.ERROR):
            self.discard_upload()
        self.save()

    def apply_tavus(self, item: tavus_kb.Document) -> None:
        """Copy what Tavus says about this document (after create, a GET, a sync or a PATCH)."""
        self.document_id = item.document_id
        self.name = (item.document_name or self.name)[:200]
        self.tags = item.tags
        if item.crawl_config:
            self.crawl_depth = item.crawl_config.get("depth") or self.crawl_depth
            self.crawl_max_pages = item.crawl_config.get("max_pages") or self.crawl_max_pages
        self.crawled_urls = item.crawled_urls
        self.crawl_count = item.crawl_count
        self.last_crawled_at = item.last_crawled_at
        self.tavus_created_at = item.created_at
        self.raw = item.raw
        self.vanished = False
        self.take_status(item.status, item.error_message)

    def refresh_from_tavus(self) -> None:
        """Ask Tavus how the document is doing; a document Tavus no longer has is marked."""
        try:
            self.apply_tavus(tavus_kb.get_document(self.document_id))
        except tavus_kb.DocumentNotFound:
            self.vanished = True
            self.discard_upload()
            self.save()

    # --- Who uses it ---------------------------------------------------------------------------

    def personas_using(self) -> list:
        """Personas (mirrors) that name this document, or one of its tags."""
        from studio.library.models import Persona

        tags = set(self.tags or [])
        return [
            persona
            for persona in Persona.objects.present().order_by("name")
            if self.document_id in persona.document_ids or tags & set(persona.document_tags)
        ]

    def presets_using(self) -> list:
        from studio.presets.models import Preset

        tags = set(self.tags or [])
        return [
            preset
            for preset in Preset.objects.active().order_by("name")
            if preset.documents.filter(pk=self.pk).exists()
            or tags & set(preset.document_tags or [])
        ]


def sync_documents() -> tuple[int, int]:
    """Mirror every document Tavus has; (count, newly vanished). Nothing changes on failure."""
    items = list(tavus_kb.iter_documents())
    seen = {item.document_id for item in items}
    with transaction.atomic():
        known = {d.document_id: d for d in Document.objects.exclude(document_id=None)}
        for item in items:
            document = known.get(item.document_id) or Document(
                name=item.document_name or item.document_id,
                source=Document.Source.WEBSITE if item.crawl_config else Document.Source.LINK,
                url=item.document_url,
            )
            document.apply_tavus(item)
        gone = Document.objects.present().exclude(document_id=None).exclude(document_id__in=seen)
        vanished = 0
        for document in gone:
            document.vanished = True
            document.discard_upload()
            document.save()
            vanished += 1
    return len(seen), vanished


# --- Objectives, guardrails and tools (mirrors of Tavus objects, edited here) --------------------


class Mirror(models.Model):
    """What every mirror of a Tavus object here keeps besides its own fields."""

    vanished = models.BooleanField(default=False)  # gone at Tavus
    synced_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
        ordering = ["vanished", "name", "pk"]


class ObjectiveSet(Mirror):
    """A Tavus objectives set: steps the replica works through, attached to a persona."""

    objectives_id = models.CharField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    items = models.JSONField(default=list, blank=True)  # Tavus's objective items, as sent

    def __str__(self) -> str:
        return self.name or self.objectives_id

    def flow(self) -> list[dict]:
        """The steps in order, each with where it leads, for drawing the flow."""
        steps = []
        for item in self.items:
            conditional = item.get("next_conditional_objectives") or {}
            steps.append(
                {
                    "name": item.get("objective_name", ""),
                    "prompt": item.get("objective_prompt", ""),
                    "outputs": item.get("output_variables") or [],
                    "manual": item.get("confirmation_mode") == "manual",
                    "visual": item.get("modality") == "visual",
                    "always": item.get("next_required_objectives") or [],
                    "when": sorted(conditional.items()),
                }
            )
        return steps

    def personas_using(self) -> list:
        from studio.library.models import Persona

        return [
            p
            for p in Persona.objects.present()
            if (p.raw or {}).get("objectives_id") == self.objectives_id
        ]


class Guardrail(Mirror):
    """A Tavus guardrail: a rule the replica must keep, checked throughout a conversation."""

    class Modality(models.TextChoices):
        VERBAL = "verbal", "What is said"
        VISUAL = "visual", "What the camera sees"

    guardrail_id = models.CharField(max_length=100, unique=True)
    name = models.CharField(max_length=100)
    prompt = models.TextField()
    modality = models.CharField(max_length=10, choices=Modality.choices, default=Modality.VERBAL)
    tags = models.JSONField(default=list, blank=True)
    app_message = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.name

    @classmethod
    def store(cls, item) -> "Guardrail":
        guardrail, _ = cls.objects.update_or_create(
            guardrail_id=item.guardrail_id,
            defaults={
                "name": item.guardrail_name[:100],
                "prompt": item.guardrail_prompt,
                "modality": item.modality if item.modality in cls.Modality.values else "verbal",
                "tags": item.tags,
                "app_message": item.app_message,
                "vanished": False,
                "synced_at": timezone.now(),
            },
        )
        return guardrail

    def personas_using(self) -> list:
        from studio.library.models import Persona

        tags = set(self.tags or [])
        return [
            p
            for p in Persona.objects.present()
            if self.guardrail_id in p._raw_strings("guardrail_ids")
            or tags & set(p._raw_strings("guardrail_tags"))
        ]


def sync_behaviour() -> tuple[int, int]:
    """Mirror every objectives set and individual guardrail; nothing changes on failure."""
    from studio.tavus import behaviour as tavus_behaviour

    sets = list(tavus_behaviour.iter_objectives())
    rules = list(tavus_behaviour.iter_guardrails())
    now = timezone.now()
    with transaction.atomic():
        for found in sets:
            ObjectiveSet.objects.update_or_create(
                objectives_id=found.objectives_id,
                defaults={
                    "name": found.name or found.objectives_id,
                    "items": found.items,
                    "vanished": False,
                    "synced_at": now,
                },
            )
        ObjectiveSet.objects.exclude(objectives_id__in=[s.objectives_id for s in sets]).update(
            vanished=True
        )
        for rule in rules:
            Guardrail.store(rule)
        Guardrail.objects.exclude(guardrail_id__in=[r.guardrail_id for r in rules]).update(
            vanished=True
        )
    return len(sets), len(rules)


def behaviour_of(persona) -> dict:
    """What a persona knows and follows, for its page: documents, objectives, guardrails."""
    raw = persona.raw or {}
    ids, tags = persona.document_ids, set(persona.document_tags)
    documents = [
        d
        for d in Document.objects.exclude(document_id=None)
        if d.document_id in ids or tags & set(d.tags)
    ]
    guardrail_tags = set(persona._raw_strings("guardrail_tags"))
    guardrails = [
        g
        for g in Guardrail.objects.all()
        if g.guardrail_id in persona._raw_strings("guardrail_ids") or guardrail_tags & set(g.tags)
    ]
    objectives = ObjectiveSet.objects.filter(objectives_id=raw.get("objectives_id") or "").first()
    return {"documents": documents, "objectives": objectives, "guardrails": guardrails}


class Tool(Mirror):
    """A tool in Tavus's registry: something a persona may ask the studio (or an HTTPS
    endpoint) to do during a call, or a post-call action run once the call has ended."""

    class When(models.TextChoices):
        IN_CALL = "in_call", "During the call, when the replica needs it"
        POST_CALL = "post_call", "After the call (a post-call action)"

    tool_id = models.CharField(max_length=100, unique=True)
    name = models.CharField(max_length=64)
    description = models.TextField()
    parameters = models.JSONField(default=dict, blank=True)
    trigger_type = models.CharField(max_length=10, choices=When.choices, default=When.IN_CALL)
    api_url = models.URLField(max_length=2000, blank=True)  # post-call actions' endpoint
    api_method = models.CharField(max_length=10, blank=True)
    persona_ids = models.JSONField(default=list, blank=True)  # personas it is attached to
    # The studio's own setting, never sent to Tavus: an HTTPS endpoint of yours that answers
    # this tool's calls in the room (studio.knowledge.endpoints); blank = a supervisor answers.
    answer_url = models.URLField(max_length=2000, blank=True)

    class Meta(Mirror.Meta):
        ordering = ["vanished", "trigger_type", "name", "pk"]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def store(cls, item) -> "Tool":
        api = item.delivery.get("api") if isinstance(item.delivery.get("api"), dict) else {}
        tool, _ = cls.objects.update_or_create(
            tool_id=item.tool_id,
            defaults={
                "name": item.name[:64],
                "description": item.description,
                "parameters": item.parameters,
                "trigger_type": "post_call" if item.is_post_call else "in_call",
                "api_url": str(api.get("url") or "")[:2000],
                "api_method": str(api.get("method") or "")[:10],
                "vanished": False,
                "synced_at": timezone.now(),
            },
        )
        return tool

    @property
    def answer_host(self) -> str:
        return host_of(self.answer_url) if self.answer_url else ""

    @property
    def parameter_names(self) -> list[str]:
        properties = (
            self.parameters.get("properties") if isinstance(self.parameters, dict) else None
        )
        return list(properties) if isinstance(properties, dict) else []

    def personas_using(self) -> list:
        from studio.library.models import Persona

        return list(Persona.objects.filter(persona_id__in=self.persona_ids).order_by("name"))


def tools_of(persona) -> dict:
    """A persona's tools, as far as the studio knows: those it calls and its post-call actions."""
    mine = [t for t in Tool.objects.filter(vanished=False) if persona.persona_id in t.persona_ids]
    return {
        "tools": [t for t in mine if t.trigger_type == Tool.When.IN_CALL],
        "post_call_actions": [t for t in mine if t.trigger_type == Tool.When.POST_CALL],
        "all_tools": Tool.objects.filter(vanished=False),
    }
