"""Invitation links: a conversation that starts when its person arrives, not when staff launch.

A link holds the settings a launch would send (the preset's, with the person's details filled
in, frozen when the link is made), when it may be used, how often, and for whom. Nothing is
created at Tavus until the person presses Join on the link's page: then one conversation starts
through the launch's own path (studio.conversations.launching), and everything after is the
usual flow (live page, monitor, history).
"""

import copy
import hmac
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models, transaction
from django.urls import reverse
from django.utils import timezone

from studio.accounts.roles import is_supervisor
from studio.connection import current
from studio.conversations.models import Conversation, conversation_failed
from studio.library.models import Persona, Replica
from studio.presets.effective import EffectiveSettings
from studio.presets.models import Talker

DEFAULT_DAYS = 7
# A link's window may span this much at most: an old link is a credential lying around.
MAX_DAYS = 90
MAX_USES = 20


class InvitationQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Supervisors see every link; an operator the links they made."""
        return self if is_supervisor(user) else self.filter(created_by=user)


class Invitation(models.Model):
    # The page's address (/invite/<token>/): the whole credential, 192 random bits.
    token = models.CharField(max_length=64, unique=True)
    preset = models.ForeignKey(
        "presets.Preset", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    preset_name = models.CharField(max_length=200)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # The links made from one list share it, so the list's page can show them together.
    batch = models.CharField(max_length=32, blank=True, db_index=True)

    person_name = models.CharField(max_length=100, blank=True)
    email = models.EmailField(blank=True)
    # The values of the preset's placeholders for this person ({"role": "Sales lead", …}).
    details = models.JSONField(default=dict, blank=True)

    # What a launch would send, frozen now: editing the preset later changes no link.
    title = models.CharField(max_length=200)
    settings_snapshot = models.JSONField(default=dict)
    summary_snapshot = models.JSONField(default=list)
    persona_id = models.CharField(max_length=64, blank=True)
    replica_id = models.CharField(max_length=64, blank=True)

    valid_from = models.DateTimeField()
    valid_until = models.DateTimeField()
    max_uses = models.PositiveSmallIntegerField(default=1)
    # Conversations started from it (one that failed to start gives its use back).
    uses = models.PositiveSmallIntegerField(default=0)

    opened_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    send_error = models.TextField(blank=True)
    # The person arrived while every slot was in use ("all our hosts are busy").
    misses = models.PositiveIntegerField(default=0)
    last_missed_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "id"]  # newest lists first, each in its own order
        constraints = [
            models.CheckConstraint(
                condition=models.Q(uses__lte=models.F("max_uses")), name="invitation_uses_limit"
            ),
            models.CheckConstraint(
                condition=models.Q(valid_until__gt=models.F("valid_from")),
                name="invitation_window_forward",
            ),
        ]

    def __str__(self) -> str:
        return self.person_name or self.email or f"Link {self.pk}"

    # --- making one -------------------------------------------------------------------------

    @classmethod
    def build(cls, *, preset, user, effective, person_name="", email="", details=None, **fields):
        """An unsaved link holding `effective` (the preset's settings for this person)."""
        face = effective.face
        persona = effective.persona or preset.persona
        return cls(
            token=secrets.token_urlsafe(24),
            preset=preset,
            preset_name=preset.name,
            created_by=user,
            person_name=person_name,
            email=email,
            details=details or {},
            title=effective.body.get("conversation_name") or preset.name,
            settings_snapshot=effective.body,
            summary_snapshot=list(effective.summary),
            persona_id=persona.persona_id,
            replica_id=face.replica_id if face else "",
            **fields,
        )

    @classmethod
    def for_token(cls, token: str):
        """The link this address names, or None."""
        if not token:
            return None
        invitation = cls.objects.select_related("preset", "created_by").filter(token=token).first()
        if invitation is None or not hmac.compare_digest(invitation.token, token):
            return None
        return invitation

    def link(self) -> str:
        return current.public_url() + reverse("invites:page", args=[self.token])

    def can_manage(self, user) -> bool:
        return is_supervisor(user) or self.created_by_id == user.pk

    # --- what the person may do now ---------------------------------------------------------

    def closed_reason(self, now=None) -> str:
        """Why the link cannot start a conversation now, in the person's words ("" = it can)."""
        now = now or timezone.now()
        if self.revoked_at:
            return "revoked"
        if self.uses >= self.max_uses:
            return "used"
        if now < self.valid_from:
            return "early"
        if now >= self.valid_until:
            return "expired"
        if self.preset_id is None:
            return "revoked"  # its preset is gone: nothing left to start
        return ""

    def conversations(self):
        return Conversation.objects.filter(invitation_use__invitation=self).order_by("-created_at")

    def live_conversation(self) -> Conversation | None:
        """The conversation this link started that is still on (a second tab joins it)."""
        return self.conversations().filter(status__in=Conversation.LIVE_STATUSES).first()

    def note_opened(self) -> None:
        if self.opened_at is None:
            now = timezone.now()
            type(self).objects.filter(pk=self.pk, opened_at=None).update(opened_at=now)
            self.opened_at = now

    def note_miss(self) -> None:
        """The person arrived while every slot was in use."""
        now = timezone.now()
        type(self).objects.filter(pk=self.pk).update(
            misses=models.F("misses") + 1, last_missed_at=now
        )
        self.refresh_from_db(fields=["misses", "last_missed_at"])

    def effective(self) -> EffectiveSettings:
        """The frozen settings, in the shape a launch takes them."""
        persona = Persona.objects.filter(persona_id=self.persona_id).first()
        face = self._face()
        body = copy.deepcopy(self.settings_snapshot)
        seconds = int((body.get("properties") or {}).get("max_call_duration") or 3600)
        return EffectiveSettings(
            body=body,
            redacted_body=body,
            summary=list(self.summary_snapshot),
            warnings=[],
            face=face,
            billable_seconds=0 if body.get("test_mode") else seconds,
            persona=persona,
        )

    def _face(self) -> Replica | None:
        if not self.replica_id:
            return None
        return Replica.objects.filter(replica_id=self.replica_id).first()

    def conversation_to_be(self) -> Conversation:
        """The conversation Join will start, unsaved: what the link's page shows before it."""
        face = self._face()
        return Conversation(
            title=self.title,
            settings_snapshot=self.settings_snapshot,
            preset=self.preset,
            replica_name=face.name if face else "",
        )

    def claim(self, seen_uses: int, now=None) -> tuple[Conversation, str] | None:
        """Take one use and write the conversation's row, if the link still has a use left,
        is open now, and nobody took a use since this request looked (`seen_uses`). One
        conditional UPDATE decides: of two Joins at the same moment (two tabs), exactly one
        gets the row; the other finds the winner's conversation. Returns the conversation and
        its webhook secret (Conversation.start), or None."""
        now = now or timezone.now()
        open_now = models.Q(
            revoked_at=None,
            valid_from__lte=now,
            valid_until__gt=now,
            uses=seen_uses,
            uses__lt=models.F("max_uses"),
        )
        with transaction.atomic():
            if not type(self).objects.filter(open_now, pk=self.pk).update(
                uses=models.F("uses") + 1
            ):
                return None
            conversation, secret = Conversation.start(
                preset=self.preset,
                user=self.created_by,
                effective=self.effective(),
                talker=Talker.LINK,
            )
            InvitationUse.objects.create(
                invitation=self, conversation=conversation, number=seen_uses + 1
            )
        self.uses = seen_uses + 1
        return conversation, secret

    def give_back(self, conversation: Conversation) -> None:
        """`conversation` did not start (Tavus refused, was unreachable, or never confirmed it
        and the reconciler gave up): the person keeps their use. The attempt stays on the
        link's record, without a use number; a second call for it gives nothing more."""
        with transaction.atomic():
            given = InvitationUse.objects.filter(
                invitation=self, conversation=conversation, number__isnull=False
            ).update(number=None)
            if given:
                type(self).objects.filter(pk=self.pk, uses__gt=0).update(
                    uses=models.F("uses") - 1
                )
        self.refresh_from_db(fields=["uses"])

    # --- for staff --------------------------------------------------------------------------

    def state(self, now=None) -> tuple[str, str]:
        """(key, words) of where the link stands: revoked, completed, joined, expired, opened,
        sent, or ready (made, not sent)."""
        now = now or timezone.now()
        latest = self.latest_conversation
        if self.revoked_at:
            return "revoked", "Revoked"
        if latest is not None and latest.is_live:
            return "joined", "Joined"
        if latest is not None and latest.status == Conversation.ENDED:
            return "completed", "Completed"
        if now >= self.valid_until:
            return "expired", "Expired"
        if self.opened_at:
            return "opened", "Opened"
        if self.sent_at:
            return "sent", "Sent"
        return "ready", "Not sent yet"

    @property
    def returned_uses(self) -> int:
        """Conversations it started that never did, their uses given back (prefetched by the
        Links page)."""
        return sum(1 for use in self.uses_made.all() if use.number is None)

    @property
    def latest_conversation(self) -> Conversation | None:
        """The newest conversation it started (prefetched by the Links page)."""
        cached = getattr(self, "_latest", False)
        if cached is False:
            cached = self.conversations().first()
            self._latest = cached
        return cached

    def revoke(self, user) -> bool:
        now = timezone.now()
        done = type(self).objects.filter(pk=self.pk, revoked_at=None).update(
            revoked_at=now, revoked_by=user
        )
        self.refresh_from_db(fields=["revoked_at", "revoked_by"])
        return bool(done)

    @staticmethod
    def default_window(now=None) -> tuple:
        now = (now or timezone.now()).replace(second=0, microsecond=0)
        return now, now + timedelta(days=DEFAULT_DAYS)


class InvitationUse(models.Model):
    """One conversation a link started (its `number`-th use; none when the conversation did
    not start and the use was given back). The unique pair is the backstop under
    Invitation.claim: one use number, one conversation."""

    invitation = models.ForeignKey(Invitation, on_delete=models.CASCADE, related_name="uses_made")
    conversation = models.OneToOneField(
        Conversation, on_delete=models.CASCADE, related_name="invitation_use"
    )
    number = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["invitation", "number"], name="one_conversation_per_use"
            )
        ]

    def __str__(self) -> str:
        return f"{self.invitation} use {self.number}"


def _give_back_use(sender, conversation: Conversation, **kwargs) -> None:
    """A link's conversation failed to start, whoever found out: the person's use comes back."""
    use = InvitationUse.objects.select_related("invitation").filter(conversation=conversation)
    use = use.first()
    if use is not None:
        use.invitation.give_back(conversation)


conversation_failed.connect(_give_back_use, dispatch_uid="invites-give-back")
