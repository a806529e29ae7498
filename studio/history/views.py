"""History and review: the list of past conversations (filtered, searched, exported as CSV),
one conversation's full record, and its transcript downloads."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import content_disposition_header
from django.utils.text import slugify
from django.views.decorators.http import require_POST

from studio.accounts.models import audit
from studio.accounts.roles import ADMIN, SUPERVISOR, has_role, is_supervisor, role_required
from studio.conversations import export, review, search
from studio.conversations.artifacts import artifact_states
from studio.conversations.models import Conversation, Note, Tag, Utterance
from studio.history import recordings
from studio.history.forms import HistoryFilterForm, NoteForm, TagForm, filtered_history
from studio.history.timeline import (
    history_timeline,
    raw_review_json,
    recording_facts,
    snapshot_json,
    summary_lines,
)

PAGE_SIZE = 50


def _get_conversation_for_user(request: HttpRequest, pk: int) -> Conversation:
    """The conversation if this user may see it; 404 otherwise (as on the live page)."""
    visible = Conversation.objects.visible_to(request.user).select_related(
        "launched_by", "end_requested_by"
    )
    return get_object_or_404(visible, pk=pk)


def _page_rows(pks: list[int], phrase: str) -> list[Conversation]:
    """The page's conversations with everything the table shows, in the page's order.

    Paging runs on ids alone and this second query loads the rows: SQLite evaluates a select
    list for every row it sorts, so per-row subqueries (snippets, captions) stay off the sort.
    """
    if not pks:
        return []
    rows = (
        Conversation.objects.filter(pk__in=pks)
        .with_artifact_flags()
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
def history_list(request: HttpRequest) -> HttpResponse:
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
    conversations = filtered_history(request.user, form).with_artifact_flags()
    response = StreamingHttpResponse(
        export.stream_for(
            request, export.csv_chunks(conversations, with_review=is_supervisor(request.user))
        ),
        content_type="text/csv; charset=utf-8",
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = content_disposition_header(True, f"history-{stamp}.csv")
    return response


@role_required()
def history_detail(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _get_conversation_for_user(request, pk)
    utterances = list(conversation.utterances.all())
    events = list(conversation.events.select_related("actor"))
    playback = None
    if conversation.recording and not conversation.recording_error:
        region = conversation.properties.get("recording_s3_bucket_region") or ""
        playback = recordings.playback(conversation.recording, region)
    context = {
        "nav": "history",
        "conversation": conversation,
        "transcript": export.transcript_of(conversation, utterances),
        "timeline": history_timeline(conversation, events),
        "artifacts": artifact_states(conversation),
        "snapshot_json": snapshot_json(conversation.settings_snapshot),
        "summary_lines": summary_lines(conversation.summary_snapshot),
        "recording": recording_facts(conversation.recording),
        "playback": playback,
        "scorecard": review.scorecard(conversation, events),
        "scorecard_raw": raw_review_json(events),
        "show_link": conversation.can_see_link(request.user),
    }
    if is_supervisor(request.user):
        context.update(_review_context(conversation))
    response = render(request, "conversations/history_detail.html", context)
    if playback and playback.origin:
        # The video plays straight from the bucket: let the page load media from there.
        policy = {name: list(v) for name, v in settings.SECURE_CSP.items()}
        policy["media-src"] = [*policy.get("media-src", []), playback.origin]
        response._csp_config = policy
    return response


def _review_context(conversation: Conversation, note_form=None, tag_form=None) -> dict:
    return {
        "can_review": True,
        "notes": conversation.notes.select_related("author"),
        "tags": conversation.tags.all(),
        "known_tags": Tag.objects.order_by("name").values_list("name", flat=True).distinct(),
        "note_form": note_form or NoteForm(),
        "tag_form": tag_form or TagForm(),
    }


def _review_response(request, conversation, **forms) -> HttpResponse:
    """The review card again (htmx), or back to the page."""
    if request.htmx:
        context = {"conversation": conversation, **_review_context(conversation, **forms)}
        return render(request, "conversations/history_detail.html#review", context)
    for form in filter(None, forms.values()):  # None: it was saved
        for errors in form.errors.values():
            messages.error(request, " ".join(errors))
    return redirect("history:detail", pk=conversation.pk)


@role_required(SUPERVISOR)
@require_POST
def note_add(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _get_conversation_for_user(request, pk)
    form = NoteForm(request.POST)
    if form.is_valid():
        Note.objects.create(
            conversation=conversation, author=request.user, text=form.cleaned_data["text"]
        )
        audit("note added", request=request, target=conversation)
        form = None
    return _review_response(request, conversation, note_form=form)


@role_required(SUPERVISOR)
@require_POST
def note_delete(request: HttpRequest, pk: int, note_pk: int) -> HttpResponse:
    conversation = _get_conversation_for_user(request, pk)
    note = get_object_or_404(Note, pk=note_pk, conversation=conversation)
    if note.author_id != request.user.pk and not has_role(request.user, ADMIN):
        raise PermissionDenied("Only its author or an admin removes a note.")
    note.delete()
    audit("note removed", request=request, target=conversation)
    return _review_response(request, conversation)


@role_required(SUPERVISOR)
@require_POST
def tag_add(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _get_conversation_for_user(request, pk)
    form = TagForm(request.POST)
    if form.is_valid():
        name = form.cleaned_data["name"]
        _, created = Tag.objects.get_or_create(
            conversation=conversation, name=name, defaults={"added_by": request.user}
        )
        if created:
            audit("tag added", request=request, target=conversation, detail=name)
        form = None
    return _review_response(request, conversation, tag_form=form)


@role_required(SUPERVISOR)
@require_POST
def tag_remove(request: HttpRequest, pk: int, tag_pk: int) -> HttpResponse:
    conversation = _get_conversation_for_user(request, pk)
    tag = get_object_or_404(Tag, pk=tag_pk, conversation=conversation)
    tag.delete()
    audit("tag removed", request=request, target=conversation, detail=tag.name)
    return _review_response(request, conversation)


@role_required()
def transcript_download(request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
    if fmt not in export.FORMATS:
        raise Http404
    conversation = _get_conversation_for_user(request, pk)
    write, content_type = export.FORMATS[fmt]
    body = write(conversation, export.transcript_of(conversation))
    response = HttpResponse(body, content_type=content_type)
    name = f"{slugify(conversation.title) or 'conversation'}-{conversation.pk}.{fmt}"
    response["Content-Disposition"] = content_disposition_header(True, name)
    return response
