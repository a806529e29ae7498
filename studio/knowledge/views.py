"""Knowledge base pages: documents (add by upload, link or crawl; rename, retag, recrawl,
delete), the callback Tavus posts statuses to, and the short-lived links it reads uploads from.

Who may do what: everyone with a role sees the documents and picks them for presets; adding,
changing, recrawling and deleting documents needs a Supervisor (what the replicas know is
curated, and a deletion reaches every persona and preset that uses the document).
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from studio.accounts.models import audit
from studio.accounts.roles import OPERATOR, SUPERVISOR, has_role, role_required
from studio.knowledge.forms import DocumentEditForm, DocumentForm
from studio.knowledge.models import CONTENT_TYPES, Document, sync_documents
from studio.tavus import client as tavus
from studio.tavus import knowledge as tavus_kb
from studio.tavus.events import EventError, parse_document_callback

log = logging.getLogger(__name__)
CALLBACK_MAX_BYTES = 100_000


def _get_document_for_user(request: HttpRequest, pk: int, manage: bool = False) -> Document:
    document = get_object_or_404(Document, pk=pk)
    if manage and not has_role(request.user, SUPERVISOR):
        raise PermissionDenied("Only supervisors and admins change the knowledge base.")
    return document


def _problem(error: tavus.TavusError, outcome: str) -> str:
    return f"{error.message} {outcome}"


# --- List ------------------------------------------------------------------------------------


def _refresh_pending() -> None:
    """Ask Tavus about documents still being read, unless a callback or a look was recent."""
    recent = timezone.now() - timedelta(seconds=settings.KNOWLEDGE_REFRESH_SECONDS)
    stale = Document.objects.pending().exclude(document_id=None)
    for document in stale.filter(Q(checked_at__isnull=True) | Q(checked_at__lt=recent)):
        try:
            document.refresh_from_tavus()
        except tavus.TavusError as error:
            log.info("document %s not refreshed: %s", document.document_id, error.detail)
            return  # Tavus is unwell: try again on the next look, not once per document


def _list_context(request: HttpRequest) -> dict:
    q = request.GET.get("q", "").strip()[:100]
    tag = request.GET.get("tag", "").strip()[:50]
    documents = Document.objects.all()
    if q:
        documents = documents.filter(Q(name__icontains=q) | Q(document_id__iexact=q))
    rows = [d for d in documents if not tag or tag in d.tags]
    all_tags = sorted({t for d in Document.objects.present() for t in d.tags}, key=str.lower)
    return {
        "nav": "knowledge",
        "documents": rows,
        "q": q,
        "tag": tag,
        "all_tags": all_tags,
        "total": Document.objects.count(),
        "pending": any(d.is_pending for d in rows),
        "can_manage": has_role(request.user, SUPERVISOR),
    }


@role_required(OPERATOR)
def documents(request: HttpRequest) -> HttpResponse:
    sync_error = None
    if not Document.objects.exists() and not request.htmx:
        try:
            sync_documents()  # first visit: show what the account already has
        except tavus.TavusError as error:
            sync_error = _problem(error, "The list here may be incomplete.")
    _refresh_pending()
    context = {**_list_context(request), "sync_error": sync_error}
    template = "knowledge/documents.html"
    if request.htmx and not request.htmx.boosted:
        template += "#document-region"
    return render(request, template, context)


@role_required(SUPERVISOR)
@require_POST
def documents_sync(request: HttpRequest) -> HttpResponse:
    try:
        count, vanished = sync_documents()
    except tavus.TavusError as error:
        messages.error(request, _problem(error, "The list here is unchanged."))
    else:
        gone = f" ({vanished} no longer at Tavus)" if vanished else ""
        messages.success(request, f"Synced {count} document{'s' if count != 1 else ''}{gone}.")
    return redirect("knowledge:documents")


# --- Add -------------------------------------------------------------------------------------


def _send_to_tavus(document: Document, form: DocumentForm) -> None:
    """Create the document at Tavus; on failure the row and any file are removed again."""
    data = form.cleaned_data
    crawl = None
    if document.source == Document.Source.WEBSITE:
        crawl = {"depth": data["crawl_depth"], "max_pages": data["crawl_max_pages"]}
    url = document.mint_upload_link() if document.upload else document.url
    try:
        created = tavus_kb.create_document(
            url,
            document_name=document.name,
            tags=document.tags,
            callback_url=document.callback_url,
            crawl=crawl,
        )
    except tavus.TavusError:
        document.discard_upload()
        document.delete()
        raise
    document.apply_tavus(created)


@role_required(SUPERVISOR)
def document_add(request: HttpRequest) -> HttpResponse:
    form = DocumentForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        upload = data.get("upload") if data["source"] == Document.Source.FILE else None
        filename = getattr(form, "original_filename", "") if upload else ""
        document = Document(
            name=form.default_name(filename),
            source=data["source"],
            url="" if upload else data["url"],
            filename=filename,
            tags=data["tags"],
            crawl_depth=data.get("crawl_depth") if data["source"] == "website" else None,
            crawl_max_pages=data.get("crawl_max_pages") if data["source"] == "website" else None,
            created_by=request.user,
        )
        if upload:
            document.upload = upload
        document.save()
        try:
            _send_to_tavus(document, form)
        except tavus.TavusError as error:
            form.add_error(None, _problem(error, "Nothing was added."))
        else:
            audit(
                "document added", request=request, target=document.name, detail=document.document_id
            )
            messages.success(
                request,
                f"Tavus is reading “{document.name}”. It can be used once it shows Ready.",
            )
            return redirect("knowledge:documents")
    return render(request, "knowledge/document_add.html", {"nav": "knowledge", "form": form})


# --- One document ----------------------------------------------------------------------------


@role_required(OPERATOR)
def document_detail(request: HttpRequest, pk: int) -> HttpResponse:
    document = _get_document_for_user(request, pk, manage=request.method == "POST")
    initial = {"name": document.name, "tags": document.tags}
    form = DocumentEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        name, tags = form.cleaned_data["name"].strip(), form.cleaned_data["tags"]
        if (name, tags) == (document.name, document.tags):
            messages.info(request, "Nothing changed, so nothing was sent to Tavus.")
            return redirect("knowledge:document", pk=document.pk)
        try:
            document.apply_tavus(
                tavus_kb.update_document(document.document_id, document_name=name, tags=tags)
            )
        except tavus.TavusError as error:
            form.add_error(None, _problem(error, "Nothing was saved, here or at Tavus."))
        else:
            audit("document changed", request=request, target=name, detail=document.document_id)
            messages.success(request, f"Saved “{document.name}” at Tavus.")
            return redirect("knowledge:document", pk=document.pk)
    context = {
        "nav": "knowledge",
        "document": document,
        "form": form,
        "personas": document.personas_using(),
        "presets": document.presets_using(),
        "can_manage": has_role(request.user, SUPERVISOR),
    }
    return render(request, "knowledge/document_detail.html", context)


@role_required(SUPERVISOR)
@require_POST
def document_recrawl(request: HttpRequest, pk: int) -> HttpResponse:
    document = _get_document_for_user(request, pk, manage=True)
    if document.source == Document.Source.FILE:
        # The short-lived link has gone with the file: Tavus would find nothing to read.
        messages.error(request, "An uploaded file can't be read again: upload it anew instead.")
        return redirect("knowledge:document", pk=document.pk)
    try:
        document.apply_tavus(tavus_kb.recrawl_document(document.document_id))
    except tavus.TavusError as error:
        messages.error(request, _problem(error, "Nothing was changed."))
    else:
        audit("document recrawled", request=request, target=document.name)
        messages.success(request, f"Tavus is reading “{document.name}” again.")
    return redirect("knowledge:document", pk=document.pk)


@role_required(SUPERVISOR)
def document_delete(request: HttpRequest, pk: int) -> HttpResponse:
    document = _get_document_for_user(request, pk, manage=True)
    context = {
        "nav": "knowledge",
        "document": document,
        "personas": document.personas_using(),
        "presets": document.presets_using(),
    }
    if request.method != "POST":
        return render(request, "knowledge/document_delete.html", context)
    if document.document_id and not document.vanished:
        try:
            tavus_kb.delete_document(document.document_id)
        except tavus_kb.DocumentNotFound:
            pass  # already gone at Tavus: what we wanted
        except tavus.TavusError as error:
            context["error"] = _problem(error, "The document was not deleted.")
            return render(request, "knowledge/document_delete.html", context)
    audit("document deleted", request=request, target=document.name, detail=document.document_id)
    document.discard_upload()
    document.delete()
    messages.success(request, f"Deleted “{document.name}”.")
    return redirect("knowledge:documents")


# --- What Tavus calls -------------------------------------------------------------------------


@login_not_required
@csrf_exempt
@require_POST
def document_callback(request: HttpRequest, pk: int, secret: str) -> HttpResponse:
    """Tavus's status updates for one document. The secret in the path is the only key."""
    document = Document.objects.filter(pk=pk).first()
    if document is None or not document.check_callback_secret(secret):
        return JsonResponse({"error": "unknown callback"}, status=404)
    if len(request.body) > CALLBACK_MAX_BYTES:
        return JsonResponse({"error": "too large"}, status=413)
    try:
        update = parse_document_callback(request.body)
    except EventError as error:
        return JsonResponse({"error": str(error)}, status=400)
    if document.document_id is None:
        # Tavus's first callback can beat the answer to our create; the GET after it catches up.
        return JsonResponse({"ok": True, "ignored": "not created yet"})
    if update.document_id != document.document_id:
        return JsonResponse({"error": "document_id does not match"}, status=400)
    document.take_status(update.status, update.error_message)
    return JsonResponse({"ok": True})


@login_not_required
def document_file(request: HttpRequest, token: str) -> HttpResponse:
    """The uploaded file, for Tavus to read: only with a live token, and only until it has."""
    document = Document.by_upload_token(token)
    if document is None:
        raise Http404
    suffix = "." + document.upload.name.rsplit(".", 1)[-1].lower()
    try:
        file = document.upload.open("rb")
    except OSError:
        raise Http404 from None
    response = FileResponse(
        file, content_type=CONTENT_TYPES.get(suffix, "application/octet-stream")
    )
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex"
    return response
