"""History and review: the list of past conversations, one conversation's full record, the
exports, and the watchdog for artifacts Tavus sends late (or not at all)."""

import copy
import json
import logging
from datetime import datetime, time, timedelta

from django import forms
from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.db.models import (
    BooleanField,
    Exists,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    OuterRef,
    Q,
)
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import content_disposition_header
from django.utils.text import slugify

from studio.accounts.roles import ADMIN, OPERATOR, SUPERVISOR, is_supervisor, role_required

# Importing search connects the signals that keep the transcript index in step.
from studio.conversations import export, live, search
from studio.conversations.export import purge  # noqa: F401 - the reconciler calls it from here
from studio.conversations.models import END_REASONS, Conversation, Event, Utterance
from studio.conversations.views import get_conversation_for_user
from studio.tavus import client
from studio.tavus.events import EventError, parse_webhook
from studio.tavus.parse import clean_shutdown_reason

log = logging.getLogger(__name__)

PAGE_SIZE = 50
# Tavus sends the transcript within seconds of the end and perception ~3 minutes later
# (tavus-api.md §5.1); its verbose GET is ready "1–2 min after". Past the grace the watchdog
# asks; past the limit the page stops waiting and says the artifact never arrived.
ARTIFACT_GRACE = timedelta(minutes=3)
ARTIFACT_LIMIT = timedelta(minutes=30)
# Perception models that mean "no perception" (anything else named means raven is on).
NO_PERCEPTION = {"", "off", "none", "basic"}


# --- Access --------------------------------------------------------------------------------


# --- The list ------------------------------------------------------------------------------


class _Seconds(Func):
    """ended_at − created_at in seconds, computed by the database (for "longest first")."""

    arity = 2
    output_field = FloatField()
    arg_joiner = " - "
    template = "EXTRACT(EPOCH FROM (%(expressions)s))"

    def as_sqlite(self, compiler, connection, **extra):
        # Django's generic datetime subtraction on SQLite calls back into Python per row;
        # julianday() stays in C.
        return self.as_sql(
            compiler,
            connection,
            template="((julianday(%(expressions)s)) * 86400.0)",
            arg_joiner=") - julianday(",
            **extra,
        )


SORTS = {
    "newest": ("Newest first", [F("created_at").desc(), F("pk").desc()]),
    "oldest": ("Oldest first", [F("created_at").asc(), F("pk").asc()]),
    "longest": (
        "Longest first",
        [_Seconds("ended_at", "created_at").desc(nulls_last=True), F("created_at").desc()],
    ),
}
END_REASON_CHOICES = [("", "Any outcome"), *END_REASONS.items(), ("failed", "Failed to start")]


def _persona_choices():
    from studio.library.models import Persona

    personas = Persona.objects.order_by("name").values_list("persona_id", "name")
    return [("", "Any persona"), *personas]


def _replica_choices():
    from studio.library.models import Replica

    replicas = Replica.objects.order_by("name").values_list("replica_id", "name")
    return [("", "Any replica"), *replicas]


class HistoryFilterForm(forms.Form):
    """The list's filters and sort, all GET parameters so a filtered view can be bookmarked."""

    q = forms.CharField(
        required=False,
        max_length=200,
        label="Search what was said",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "A word or phrase…"}),
    )
    status = forms.ChoiceField(
        required=False, choices=[("", "Any status"), *Conversation.STATUS_CHOICES]
    )
    preset = forms.ModelChoiceField(required=False, queryset=None, empty_label="Any preset")
    persona = forms.ChoiceField(required=False)
    replica = forms.ChoiceField(required=False)
    launched_by = forms.ModelChoiceField(
        required=False, queryset=None, empty_label="Anyone", to_field_name="username"
    )
    date_from = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )
    end_reason = forms.ChoiceField(required=False, choices=END_REASON_CHOICES, label="Outcome")
    recording = forms.ChoiceField(
        required=False,
        label="Recording",
        choices=[("", "With or without"), ("yes", "Has a recording"), ("no", "No recording")],
    )
    sort = forms.ChoiceField(required=False, choices=[(k, v[0]) for k, v in SORTS.items()])

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        from studio.presets.models import Preset

        # Archived presets too: their conversations are still history.
        self.fields["preset"].queryset = Preset._base_manager.only("pk", "name").order_by("name")
        self.fields["persona"].choices = _persona_choices()
        self.fields["replica"].choices = _replica_choices()
        if is_supervisor(user):
            self.fields["launched_by"].queryset = (
                get_user_model()
                .objects.filter(groups__name__in=[OPERATOR, SUPERVISOR, ADMIN])
                .distinct()
                .only("pk", "username")
                .order_by("username")
            )
        else:
            del self.fields["launched_by"]  # operators only ever see their own

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "The end date is before the start date.")
        return data


def _day_start(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def filtered_history(user, form: HistoryFilterForm):
    """The user's visible conversations narrowed by the form's valid fields, in its sort order.
    Invalid fields are ignored (and shown as errors), so an old bookmark still works."""
    form.is_valid()
    data = form.cleaned_data
    qs = Conversation.objects.visible_to(user)
    if data.get("status"):
        qs = qs.filter(status=data["status"])
    if data.get("preset"):
        qs = qs.filter(preset=data["preset"])
    if data.get("persona"):
        qs = qs.filter(persona_id=data["persona"])
    if data.get("replica"):
        qs = qs.filter(replica_id=data["replica"])
    if data.get("launched_by"):
        qs = qs.filter(launched_by=data["launched_by"])
    if data.get("date_from"):
        qs = qs.filter(created_at__gte=_day_start(data["date_from"]))
    if data.get("date_to") and "date_to" not in form.errors:
        qs = qs.filter(created_at__lt=_day_start(data["date_to"] + timedelta(days=1)))
    if data.get("end_reason") == "failed":
        qs = qs.filter(status=Conversation.FAILED)
    elif data.get("end_reason"):
        qs = qs.filter(end_reason=data["end_reason"])
    if data.get("recording") == "yes":
        qs = qs.filter(recording__isnull=False)
    elif data.get("recording") == "no":
        qs = qs.filter(recording__isnull=True)
    if data.get("q"):
        qs = search.search(qs, data["q"], snippets=False)
    return qs.order_by(*SORTS[data.get("sort") or "newest"][1])


def with_artifact_flags(qs):
    """Whether each artifact is there, without loading it."""
    return qs.annotate(
        has_transcript=ExpressionWrapper(Q(transcript__isnull=False), output_field=BooleanField()),
        has_recording=ExpressionWrapper(Q(recording__isnull=False), output_field=BooleanField()),
        has_perception=ExpressionWrapper(~Q(perception_analysis=""), output_field=BooleanField()),
    )


def _page_rows(pks: list[int], phrase: str) -> list[Conversation]:
    """The page's conversations with everything the table shows, in the page's order.

    Paging runs on ids alone and this second query loads the rows: SQLite evaluates a select
    list for every row it sorts, so per-row subqueries (snippets, captions) stay off the sort.
    """
    if not pks:
        return []
    rows = (
        with_artifact_flags(Conversation.objects.filter(pk__in=pks))
        # The big JSON and text columns stay in the database.
        .defer(
            "transcript",
            "recording",
            "perception_analysis",
            "settings_snapshot",
            "summary_snapshot",
            "meeting_token",
        )
        .select_related("launched_by")
        .annotate(has_captions=Exists(Utterance.objects.filter(conversation=OuterRef("pk"))))
    )
    if phrase:
        rows = search.with_snippets(rows, phrase)
    by_pk = {row.pk: row for row in rows}
    return [by_pk[pk] for pk in pks if pk in by_pk]


@role_required()
def history(request: HttpRequest) -> HttpResponse:
    form = HistoryFilterForm(request.GET, user=request.user)
    ids = filtered_history(request.user, form).values_list("pk", flat=True)
    page = Paginator(ids, PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = _page_rows(list(page.object_list), form.cleaned_data.get("q"))
    template = "conversations/history.html"
    # A history-restore request (back button, cache miss) needs the whole page.
    if request.htmx and not request.htmx.history_restore_request:
        template += "#results"
    response = render(
        request,
        template,
        {
            "nav": "history",
            "form": form,
            "page": page,
            "searching": bool(form.cleaned_data.get("q")),
            "filtered": any(v for k, v in form.cleaned_data.items() if k != "sort"),
        },
    )
    patch_vary_headers(response, ["HX-Request"])
    return response


@role_required()
def history_export_csv(request: HttpRequest) -> StreamingHttpResponse:
    form = HistoryFilterForm(request.GET, user=request.user)
    conversations = with_artifact_flags(filtered_history(request.user, form))
    response = StreamingHttpResponse(
        export.stream_for(request, export.csv_chunks(conversations)),
        content_type="text/csv; charset=utf-8",
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = content_disposition_header(True, f"history-{stamp}.csv")
    return response


# --- One conversation ----------------------------------------------------------------------


def offset(moment, origin) -> str:
    """+0:42, +12:05 or +1:02:05 from the start (− for clocks that disagree)."""
    seconds = round((moment - origin).total_seconds())
    sign = "+" if seconds >= 0 else "−"
    hours, rest = divmod(abs(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{sign}{hours}:{minutes:02}:{secs:02}" if hours else f"{sign}{minutes}:{secs:02}"


def _duration_text(seconds) -> str:
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        return ""
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}:{secs:02}"


def describe_event(event: Event) -> str:
    """One line, in plain words, for the timeline."""
    raw = event.payload if isinstance(event.payload, dict) else {}
    props = raw.get("properties") if isinstance(raw.get("properties"), dict) else {}
    kind = event.event_type
    if event.source == Event.STUDIO:
        return str(raw.get("label") or kind)
    if kind == "system.replica_joined":
        return "Replica joined the room"
    if kind == "system.shutdown":
        reason = clean_shutdown_reason(props.get("shutdown_reason")) or ""
        text = END_REASONS.get(reason, reason.replace("_", " ") or "no reason given")
        return f"Tavus closed the room: {text}"
    if kind == "application.transcription_ready":
        transcript = props.get("transcript")
        count = len(transcript) if isinstance(transcript, list) else 0
        return f"Final transcript received ({count} entries)"
    if kind == "application.recording_ready":
        length = _duration_text(props.get("duration"))
        return "Recording ready" + (f" ({length})" if length else "")
    if kind == "application.recording_copy_failed":
        return f"Recording could not be copied: {props.get('error_message') or 'no details'}"
    if kind == "application.perception_analysis":
        return "Perception analysis received"
    if kind == "application.perception_unavailable":
        return "No perception analysis (the camera was off)"
    if kind == "application.post_call_action_executed":
        name = props.get("tool_name") or props.get("tool_id") or "action"
        return f"Post-call action {name}: {props.get('status') or 'done'}"
    if kind in ("conversation.joined", "conversation.left"):
        who = "The replica" if props.get("role") in ("replica", "pal") else "A person"
        return f"{who} {'joined' if kind.endswith('joined') else 'left'}"
    if kind == "conversation.replica_interrupted":
        return "The person interrupted the replica"
    if kind in ("conversation.tool_call", "conversation.perception_tool_call"):
        name = props.get("name") or props.get("tool_name") or "a tool"
        arguments = props.get("arguments")
        what = "Perception tool call" if "perception" in kind else "Tool call"
        return f"{what}: {name}" + (f" {export._arguments_text(arguments)}" if arguments else "")
    if kind == "conversation.perception_analysis":
        return "Perception note from the room"
    return kind


def history_timeline(conversation: Conversation, events: list[Event]) -> list[dict]:
    """Everything that happened, from every source, in order, timed from the start."""
    c = conversation
    origin = c.created_at
    who = c.launched_by.get_username() if c.launched_by else "someone"
    items = [
        {
            "at": origin,
            "label": f"Launched by {who}",
            "source": Event.STUDIO,
            "source_label": "Studio",
        }
    ]
    seen = {e.event_type for e in events}
    for event in events:
        label = describe_event(event)
        if event.source == Event.STUDIO and event.actor_id and event.actor:
            label += f" ({event.actor.get_username()})"
        items.append(
            {
                "at": event.occurred_at,
                "label": label,
                "source": event.source,
                "source_label": event.get_source_display(),
            }
        )
    # Facts the conversation row knows even when no event was stored for them.
    facts = [
        (c.replica_joined_at, "system.replica_joined", "Replica joined the room"),
        (c.person_joined_at, "conversation.joined", "A person joined"),
        (c.recording_started_at, None, "Recording started"),
    ]
    if c.status == Conversation.FAILED:
        facts.append((c.ended_at, None, f"Failed to start: {c.failure_reason}"))
    elif c.ended_at:
        facts.append((c.ended_at, "system.shutdown", f"Ended: {c.end_reason_text}"))
    for at, event_type, label in facts:
        if at and (event_type is None or event_type not in seen):
            items.append({"at": at, "label": label, "source": "fact", "source_label": ""})
    items.sort(key=lambda item: item["at"])
    for item in items:
        item["offset"] = offset(item["at"], origin)
    return items


def snapshot_json(snapshot) -> str:
    """The launch settings as sent, pretty, with the role ARN's account masked."""
    from studio.presets.validators import mask_role_arn

    data = copy.deepcopy(snapshot) if isinstance(snapshot, dict) else {}
    data.pop("callback_url", None)  # holds the webhook secret (launch adds it, but be sure)
    props = data.get("properties")
    if isinstance(props, dict) and isinstance(props.get("aws_assume_role_arn"), str):
        props["aws_assume_role_arn"] = mask_role_arn(props["aws_assume_role_arn"])
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False)


def summary_lines(summary) -> list[str]:
    if not isinstance(summary, list):
        return []
    lines = []
    for item in summary:
        if isinstance(item, list | tuple) and len(item) == 2:
            lines.append(f"{item[0]}: {item[1]}")
        elif item not in (None, ""):
            lines.append(str(item))
    return lines


def recording_facts(recording) -> dict | None:
    if not isinstance(recording, dict):
        return None
    bucket = recording.get("bucket_name") or ""
    key = recording.get("s3_key") or ""
    uri = recording.get("storage_uri") or (f"s3://{bucket}/{key}" if bucket and key else "")
    return {
        "bucket": bucket,
        "key": key,
        "duration": _duration_text(recording.get("duration")),
        "uri": uri,
        "provider": recording.get("storage_provider") or ("Amazon S3" if bucket else ""),
    }


@role_required()
def history_detail(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = get_conversation_for_user(request, pk)
    utterances = list(conversation.utterances.all())
    events = list(conversation.events.select_related("actor"))
    return render(
        request,
        "conversations/history_detail.html",
        {
            "nav": "history",
            "conversation": conversation,
            "transcript": export.transcript_of(conversation, utterances),
            "timeline": history_timeline(conversation, events),
            "artifacts": artifact_states(conversation),
            "snapshot_json": snapshot_json(conversation.settings_snapshot),
            "summary_lines": summary_lines(conversation.summary_snapshot),
            "recording": recording_facts(conversation.recording),
            "show_link": conversation.can_see_link(request.user),
        },
    )


@role_required()
def transcript_download(request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
    if fmt not in export.FORMATS:
        raise Http404
    conversation = get_conversation_for_user(request, pk)
    write, content_type = export.FORMATS[fmt]
    body = write(conversation, export.transcript_of(conversation))
    response = HttpResponse(body, content_type=content_type)
    name = f"{slugify(conversation.title) or 'conversation'}-{conversation.pk}.{fmt}"
    response["Content-Disposition"] = content_disposition_header(True, name)
    return response


# --- Late artifacts --------------------------------------------------------------------------


def expects_perception(conversation: Conversation) -> bool | None:
    """Whether the launch settings turned raven perception on; None when they don't say."""
    snapshot = (
        conversation.settings_snapshot if isinstance(conversation.settings_snapshot, dict) else {}
    )
    layers = snapshot.get("layers") if isinstance(snapshot.get("layers"), dict) else {}
    perception = layers.get("perception") if isinstance(layers.get("perception"), dict) else {}
    for value in (
        conversation.perception_model or None,
        snapshot.get("perception_model"),
        perception.get("perception_model"),
        conversation.properties.get("perception_model"),
    ):
        if isinstance(value, str):
            return value.strip().lower() not in NO_PERCEPTION
    return None


def missing_artifacts(conversation: Conversation) -> list[str]:
    """What Tavus should have sent after the end and hasn't, for an ended conversation."""
    if conversation.status != Conversation.ENDED or not conversation.tavus_id:
        return []
    missing = list(conversation.expected_artifacts())
    if expects_perception(conversation) and not conversation.perception_analysis:
        missing.append("perception analysis")
    return missing


def artifact_states(conversation: Conversation, now=None) -> list[dict]:
    """For the page: each missing artifact, still awaited or given up on."""
    now = now or timezone.now()
    missing = missing_artifacts(conversation)
    received = conversation.end_received_at
    if not missing or not received:
        return []
    waiting = now < received + ARTIFACT_LIMIT
    return [{"name": name, "waiting": waiting} for name in missing]


def apply_tavus_events(conversation: Conversation, items: list) -> set[str]:
    """Apply Tavus's stored events exactly as the webhook receiver applies a delivery."""
    changed: set[str] = set()
    for item in items:
        if not isinstance(item, dict):
            continue
        try:
            # The verbose GET's items may leave out the conversation id the envelope carries.
            event = parse_webhook({"conversation_id": conversation.tavus_id, **item})
        except EventError as exc:
            log.warning(
                "watchdog: skipped an unreadable event of %s: %s", conversation.tavus_id, exc
            )
            continue
        if event.conversation_id != conversation.tavus_id:
            continue
        changed |= conversation.receive_webhook(event) or set()
    return changed


def watch_artifacts(now=None) -> dict:
    """Back-fill artifacts missing a few minutes after the end from Tavus's verbose GET.

    The reconciler calls this every pass. Returns counts for its log."""
    now = now or timezone.now()
    window = (
        Conversation.objects.filter(
            status=Conversation.ENDED,
            test_mode=False,
            tavus_id__isnull=False,
            # The studio's own clock (see Conversation.end_received_at).
            end_received_at__lte=now - ARTIFACT_GRACE,
            end_received_at__gt=now - ARTIFACT_LIMIT,
        )
        .filter(
            Q(transcript__isnull=True)
            | Q(recording__isnull=True, recording_started_at__isnull=False)
            | Q(perception_analysis="")
        )
        .order_by("end_received_at")
    )
    summary = {"checked": 0, "backfilled": 0, "errors": 0}
    # A list, not an iterator: SQLite would see our own writes mid-iteration.
    for conversation in list(window):
        missing = missing_artifacts(conversation)
        if not missing:
            continue
        summary["checked"] += 1
        try:
            remote = client.get_conversation(conversation.tavus_id, verbose=True)
        except client.TavusError as exc:
            summary["errors"] += 1
            log.warning(
                "watchdog: could not fetch %s for its %s: %s",
                conversation.tavus_id,
                ", ".join(missing),
                exc.message,
            )
            continue
        if apply_tavus_events(conversation, remote.events):
            summary["backfilled"] += 1
            log.info(
                "watchdog: back-filled %s from Tavus (was missing %s)",
                conversation.tavus_id,
                ", ".join(missing),
            )
            live.publish_status(conversation)
    return summary
