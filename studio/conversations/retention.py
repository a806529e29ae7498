"""Retention: the data of conversations older than their preset's `retention_days` is deleted
(`manage.py purge` by hand; the `retention` job once a day, studio.conversations.jobs)."""

import logging
from dataclasses import asdict, dataclass, field
from datetime import timedelta

from django.db import transaction
from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q
from django.utils import timezone

from studio.conversations import search
from studio.conversations.models import Conversation, Event, Lease, Utterance
from studio.presets.models import Preset
from studio.tavus import client

log = logging.getLogger(__name__)

PURGED_EVENT = "studio.purged"
PURGE_BATCH = 500
DAILY_LEASE = "purge-day"


@dataclass
class PurgeSummary:
    dry_run: bool = False
    conversations: int = 0
    transcripts: int = 0
    perception_analyses: int = 0
    utterances: int = 0
    events: int = 0
    tavus_deleted: int = 0
    tavus_failed: int = 0
    purged_ids: list[int] = field(default_factory=list)

    def as_dict(self) -> dict:
        data = asdict(self)
        data.pop("purged_ids")
        return data

    def __str__(self) -> str:
        verb = "Would remove" if self.dry_run else "Removed"
        text = (
            f"{verb} the data of {self.conversations} conversation(s): "
            f"{self.transcripts} transcript(s), {self.perception_analyses} perception "
            f"analysis(es), {self.utterances} caption line(s), {self.events} event(s)."
        )
        if self.tavus_deleted or self.tavus_failed:
            text += f" Deleted at Tavus: {self.tavus_deleted}, failed: {self.tavus_failed}."
        return text


def _purgeable(preset, now):
    cutoff = now - timedelta(days=preset.retention_days)
    real_events = Event.objects.filter(conversation=OuterRef("pk")).exclude(event_type=PURGED_EVENT)
    return (
        Conversation.objects.filter(preset=preset, created_at__lt=cutoff)
        .exclude(status__in=Conversation.LIVE_STATUSES)
        .filter(
            Q(transcript__isnull=False)
            | ~Q(perception_analysis="")
            | Exists(Utterance.objects.filter(conversation=OuterRef("pk")))
            | Exists(real_events)
        )
        .order_by("pk")
    )


def purge(now=None, hard: bool = False, dry_run: bool = False) -> PurgeSummary:
    """Delete transcripts, captions, events (and the perception analysis, which describes the
    person) of conversations older than their preset's `retention_days`. Conversations whose
    preset has no retention (or no preset any more) are kept. `hard` also hard-deletes them at
    Tavus. The row itself stays, with a "purged" event, so history still counts it."""
    now = now or timezone.now()
    summary = PurgeSummary(dry_run=dry_run)
    for preset in Preset._base_manager.filter(retention_days__isnull=False).order_by("pk"):
        candidates = _purgeable(preset, now).values_list(
            "pk",
            "tavus_id",
            ExpressionWrapper(Q(transcript__isnull=False), output_field=BooleanField()),
            ExpressionWrapper(~Q(perception_analysis=""), output_field=BooleanField()),
        )
        last = 0  # walk by pk: a dry run leaves every candidate in place
        while batch := list(candidates.filter(pk__gt=last)[:PURGE_BATCH]):
            _purge_batch(batch, preset, summary, dry_run, hard)
            last = batch[-1][0]
    log.info("purge: %s", summary)
    return summary


def _purge_batch(batch, preset, summary, dry_run, hard):
    pks = [row[0] for row in batch]
    utterances = Utterance.objects.filter(conversation_id__in=pks)
    events = Event.objects.filter(conversation_id__in=pks).exclude(event_type=PURGED_EVENT)
    counts = {pk: [0, 0] for pk in pks}  # per conversation: caption lines, events
    for pk in utterances.values_list("conversation_id", flat=True):
        counts[pk][0] += 1
    for pk in events.values_list("conversation_id", flat=True):
        counts[pk][1] += 1
    summary.purged_ids.extend(pks)
    summary.conversations += len(pks)
    summary.transcripts += sum(1 for row in batch if row[2])
    summary.perception_analyses += sum(1 for row in batch if row[3])
    summary.utterances += sum(c[0] for c in counts.values())
    summary.events += sum(c[1] for c in counts.values())
    for pk, _, has_transcript, has_perception in batch:
        log.info(
            "purge%s: conversation %s (preset %r, keep %s days): %s%s%s caption line(s), "
            "%s event(s)",
            " (dry run)" if dry_run else "",
            pk,
            preset.name,
            preset.retention_days,
            "transcript, " if has_transcript else "",
            "perception analysis, " if has_perception else "",
            counts[pk][0],
            counts[pk][1],
        )
    if dry_run:
        return
    with transaction.atomic():
        # No delete signals are connected to these models, so these are single DELETEs.
        utterances.delete()
        events.delete()
        Conversation.objects.filter(pk__in=pks).update(transcript=None, perception_analysis="")
        search.unindex(pks)
        now = timezone.now()
        Event.objects.bulk_create(
            [
                Event(
                    conversation_id=pk,
                    source=Event.STUDIO,
                    event_type=PURGED_EVENT,
                    dedupe_key=f"purged:{now.isoformat()}",
                    occurred_at=now,
                    payload={
                        "label": f"Transcript, captions and events removed after "
                        f"{preset.retention_days} days (retention policy of "
                        f"“{preset.name}”)"
                    },
                )
                for pk in pks
            ]
        )
    if hard:
        for pk, tavus_id, *_ in batch:
            if not tavus_id:
                continue
            try:
                client.delete_conversation(tavus_id, hard=True)
            except client.TavusError as exc:
                summary.tavus_failed += 1
                log.warning(
                    "purge: Tavus did not delete %s (conversation %s): %s",
                    tavus_id,
                    pk,
                    exc.message,
                )
            else:
                summary.tavus_deleted += 1


def purge_once_a_day(now=None) -> PurgeSummary | None:
    """The background job: a purge unless one ran (in any process) in the last 24 hours."""
    now = now or timezone.now()
    with Lease.turn(DAILY_LEASE, 24 * 3600, now, keep=True) as mine:
        return purge(now=now) if mine else None
