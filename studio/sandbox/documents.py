"""The knowledge base API, emulated: /v2/documents (shared/tavus-api-2.md §1).

Errors use the bodies the facts file gives. Where it gives none (the crawl limits, the bodies of
the recrawl 409 and 429), the wording here is the sandbox's own, in the same "error" key.
"""

from datetime import timedelta

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from studio.sandbox import lifecycle, validation
from studio.sandbox.models import Document, new_id
from studio.sandbox.validation import ApiError, json_object
from studio.sandbox.views import api_view

MAX_CRAWL_DOCUMENTS = 100
MAX_CONCURRENT_CRAWLS = 5
RECRAWL_COOLDOWN = timedelta(hours=1)
MAX_TAGS = 100
_URL_SCHEMES = ("http://", "https://")


def bad(message: str) -> ApiError:
    return ApiError(400, {"error": f"Invalid request: {message}"})


def _get_document(document_id: str) -> Document:
    try:
        return Document.objects.get(pk=document_id)
    except Document.DoesNotExist:
        raise ApiError(404, {"error": "Document not found"}) from None


def _tags(data: dict) -> list[str] | None:
    # "tags" is the OpenAPI field; one docs page says "document_tags": take either.
    value = data.get("tags", data.get("document_tags"))
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise bad("tags must be an array of strings")
    if len(value) > MAX_TAGS:
        raise bad(f"at most {MAX_TAGS} tags")
    return list(dict.fromkeys(t.strip() for t in value if t.strip()))


def _crawl(data: dict) -> dict | None:
    crawl = data.get("crawl")
    if crawl is None:
        return None
    if not isinstance(crawl, dict):
        raise bad("crawl must be an object")
    result = {}
    for key, low, high, default in (("depth", 1, 10, 1), ("max_pages", 1, 100, 10)):
        value = crawl.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise bad(f"crawl.{key} must be an integer from {low} to {high}")
        result[key] = value
    return result


def _check_crawl_limits(exclude: str = "") -> None:
    crawls = Document.objects.filter(crawl__isnull=False).exclude(pk=exclude)
    running = crawls.exclude(status__in=(Document.READY, Document.ERROR)).count()
    if running >= MAX_CONCURRENT_CRAWLS:
        raise ApiError(
            429, {"error": f"Too many crawls in progress: at most {MAX_CONCURRENT_CRAWLS}"}
        )


def _create(request: HttpRequest) -> JsonResponse:
    data = json_object(request.body)
    url = data.get("document_url")
    if not isinstance(url, str) or not url.strip():
        raise bad("document_url is required")
    url = url.strip()
    if not url.startswith(_URL_SCHEMES) or len(url) > 2048:
        raise bad("document_url must be a public http(s) URL")
    name = data.get("document_name")
    if name is not None and (not isinstance(name, str) or len(name) > 300):
        raise bad("document_name must be a string")
    callback = data.get("callback_url") or ""
    if not isinstance(callback, str) or (callback and not callback.startswith(_URL_SCHEMES)):
        raise bad("callback_url must be an http(s) URL")
    validation.callback_url(data)  # only the studio's own hooks: the sandbox is no open relay
    properties = data.get("properties") or {}
    if not isinstance(properties, dict):
        raise bad("properties must be an object")
    crawl = _crawl(data)
    if crawl:
        if Document.objects.filter(crawl__isnull=False).count() >= MAX_CRAWL_DOCUMENTS:
            raise bad(f"at most {MAX_CRAWL_DOCUMENTS} crawled documents per account")
        _check_crawl_limits()
    now = timezone.now()
    document = Document(
        document_id=new_id("d"),
        document_name=(name or "").strip() or f"Document {int(now.timestamp() * 1000)}",
        document_url=url,
        callback_url=callback,
        tags=_tags(data) or [],
        crawl=crawl,
        properties=properties,
        created_at=now,
    )
    document.start(now, Document.STARTED)
    lifecycle.ensure_ticker()
    return JsonResponse(document.as_api())


def _list(request: HttpRequest) -> JsonResponse:
    numbers = {}
    for name, default, low, word in (("limit", 10, 1, "positive"), ("page", 0, 0, "non-negative")):
        raw = request.GET.get(name, str(default)).strip()
        if not raw.isdigit() or int(raw) < low:
            raise bad(f"{name} must be a {word} integer")
        numbers[name] = int(raw)
    documents = Document.objects.all()
    if request.GET.get("sort", "ascending") == "descending":
        documents = documents.order_by("-created_at", "-document_id")
    if status := request.GET.get("status", "").strip():
        documents = documents.filter(status=status)
    if search := request.GET.get("name_or_uuid", "").strip():
        documents = documents.filter(document_name__icontains=search) | documents.filter(
            document_id=search
        )
    found = list(documents)
    # Tags live in a JSON list; a small account's documents are filtered here, in Python.
    wanted = {t.strip() for t in request.GET.get("tags", "").split(",") if t.strip()}
    if wanted:
        found = [d for d in found if wanted & set(d.tags)]
    start = numbers["page"] * numbers["limit"]
    return JsonResponse(
        {
            "data": [d.as_api() for d in found[start : start + numbers["limit"]]],
            "total_count": len(found),
            "page": numbers["page"],
            "limit": numbers["limit"],
        }
    )


@login_not_required
@csrf_exempt
@api_view("GET", "POST")
def documents(request: HttpRequest) -> HttpResponse:
    return _create(request) if request.method == "POST" else _list(request)


@login_not_required
@csrf_exempt
@api_view("GET", "PATCH", "DELETE")
def document(request: HttpRequest, document_id: str) -> HttpResponse:
    found = _get_document(document_id)
    if request.method == "DELETE":
        found.delete()
        return HttpResponse(status=204)
    if request.method == "PATCH":
        # Plain JSON, not JSON Patch: a list here is someone sending RFC 6902 by mistake.
        data = json_object(request.body)
        if "document_name" in data:
            name = data["document_name"]
            if not isinstance(name, str) or not name.strip() or len(name) > 300:
                raise bad("document_name must be a string")
            found.document_name = name.strip()
        tags = _tags(data)
        if tags is not None:
            found.tags = tags  # replaces every tag
        found.save()
    return JsonResponse(found.as_api())


@login_not_required
@csrf_exempt
@api_view("POST")
def recrawl(request: HttpRequest, document_id: str) -> HttpResponse:
    found = _get_document(document_id)
    if found.status not in (Document.READY, Document.ERROR):
        refusal = f"Document is {found.status}: only ready or error documents can be recrawled"
        raise ApiError(409, {"error": refusal})
    now = timezone.now()
    if found.recrawl_requested_at and now - found.recrawl_requested_at < RECRAWL_COOLDOWN:
        raise ApiError(429, {"error": "Document was recrawled less than an hour ago"})
    data = json_object(request.body) if request.body else {}
    crawl = _crawl(data)
    if crawl or found.crawl:
        _check_crawl_limits(exclude=found.pk)
    if crawl:
        found.crawl = crawl
    found.recrawl_requested_at = now
    found.start(now, Document.RECRAWLING)
    lifecycle.ensure_ticker()
    return JsonResponse(found.as_api(), status=202)
