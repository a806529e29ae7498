"""The Tavus knowledge base (documents), through the client's one transport and its errors.

Kept beside client.py rather than in it so the two grow apart cleanly; everything here goes
through client._call, so timeouts, retries of GETs and error mapping are the same. Facts:
shared/tavus-api-2.md §1. Where the facts disagree, both shapes are read: the id comes as
`document_id` (current docs) or `uuid` (older OpenAPI and the PATCH example).
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Self

import httpx

from studio.tavus.client import (
    InvalidRequest,
    Page,
    TavusUnavailable,
    _call,
    _ignore_body,
    _json,
    _Malformed,
    _object,
    _page,
    _segment,
    _text,
    parse_timestamp,
)

STARTED, READY, ERROR = "started", "ready", "error"  # also processing and recrawling
# Formats Tavus lists for document_url (create-document), and its size cap.
FORMATS = (".pdf", ".txt", ".docx", ".doc", ".png", ".jpg", ".pptx", ".csv", ".xlsx")
MAX_BYTES = 50 * 1024 * 1024
MAX_CRAWL_DEPTH = 10
MAX_CRAWL_PAGES = 100
RECRAWL_COOLDOWN_SECONDS = 3600


class DocumentNotFound(InvalidRequest):
    default_message = "Tavus no longer has this document."


class RecrawlRefused(InvalidRequest):
    """Tavus said no to a recrawl: `.message` says why in plain words."""


def document_id_of(data: dict) -> str:
    """The id, whichever key this version of Tavus used (public clients read all three)."""
    for key in ("document_id", "uuid", "id"):
        value = data.get(key)
        if isinstance(value, str) and value:
            return value
    raise _Malformed("missing document_id")


def _strings(data: dict, key: str) -> list[str]:
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _Malformed(f"{key} is not a list of strings")
    return value


@dataclass(frozen=True)
class Document:
    document_id: str
    document_name: str
    document_url: str
    status: str
    progress: Any  # UNCONFIRMED type: null in examples, a 0-100 number in one spec
    error_message: str
    tags: list[str]
    callback_url: str
    created_at: datetime | None
    updated_at: datetime | None
    crawl_config: dict | None = None
    crawled_urls: list[str] = field(default_factory=list)
    last_crawled_at: datetime | None = None
    crawl_count: int | None = None
    raw: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: Any) -> Self:
        data = _object(data, "document")
        crawl = data.get("crawl_config")
        if crawl is not None and not isinstance(crawl, dict):
            raise _Malformed("crawl_config is not a JSON object")
        count = data.get("crawl_count")
        return cls(
            document_id=document_id_of(data),
            document_name=_text(data, "document_name"),
            document_url=_text(data, "document_url"),
            status=_text(data, "status").lower(),
            progress=data.get("progress"),
            error_message=_text(data, "error_message"),
            tags=_strings(data, "tags") or _strings(data, "document_tags"),
            callback_url=_text(data, "callback_url"),
            created_at=parse_timestamp(data.get("created_at")),
            updated_at=parse_timestamp(data.get("updated_at")),
            crawl_config=crawl,
            crawled_urls=_strings(data, "crawled_urls"),
            last_crawled_at=parse_timestamp(data.get("last_crawled_at")),
            crawl_count=count if isinstance(count, int) and not isinstance(count, bool) else None,
            raw=data,
        )


def _document(response: httpx.Response) -> Document:
    data = _json(response)
    # A wrapped answer ({"data": {...}}) is read too: other Tavus objects come both ways.
    if isinstance(data, dict) and isinstance(data.get("data"), dict):
        data = data["data"]
    return Document.from_json(data)


def _path(document_id: str) -> str:
    return f"/v2/documents/{_segment(document_id, 'document_id')}"


def _not_found(call):
    """Run `call`; Tavus's 404 (or a 400 about the id) becomes DocumentNotFound."""
    try:
        return call()
    except DocumentNotFound:
        raise
    except InvalidRequest as error:
        if error.status == 404 or (error.field or "").startswith(("document_id", "uuid")):
            raise DocumentNotFound(
                DocumentNotFound.default_message, status=error.status, detail=error.detail
            ) from error
        raise


def create_document(
    document_url: str,
    *,
    document_name: str = "",
    tags: list[str] | None = None,
    callback_url: str = "",
    crawl: dict | None = None,
) -> Document:
    """Add a document. https://docs.tavus.io/api-reference/documents/create-document"""
    body: dict = {"document_url": document_url}
    if document_name:
        body["document_name"] = document_name
    if tags:
        body["tags"] = tags
    if callback_url:
        body["callback_url"] = callback_url
    if crawl:
        body["crawl"] = crawl
    return _call("POST", "/v2/documents", _document, json=body)


def get_document(document_id: str) -> Document:
    """One document. https://docs.tavus.io/api-reference/documents/get-document"""
    return _not_found(lambda: _call("GET", _path(document_id), _document))


def list_documents(
    page: int = 0,
    limit: int = 100,
    *,
    status: str = "",
    tags: list[str] | None = None,
    search: str = "",
    descending: bool = False,
) -> Page[Document]:
    """A page (0-based!) of documents. https://docs.tavus.io/api-reference/documents/get-documents"""
    params: dict = {"page": page, "limit": limit}
    if descending:
        params["sort"] = "descending"
    if status:
        params["status"] = status
    if tags:
        params["tags"] = ",".join(tags)
    if search:
        params["name_or_uuid"] = search

    parse = lambda r: _page(_json(r), Document.from_json)  # noqa: E731
    return _call("GET", "/v2/documents", parse, params=params)


def iter_documents() -> Iterator[Document]:
    """Every document, page by page (pages count from 0 here, unlike personas)."""
    seen, page = 0, 0
    while True:
        batch = list_documents(page=page)
        yield from batch.items
        seen += len(batch.items)
        if not batch.items or seen >= batch.total_count:
            return
        page += 1


def update_document(
    document_id: str, *, document_name: str | None = None, tags: list[str] | None = None
) -> Document:
    """Rename or retag: a plain JSON body, NOT JSON Patch; `tags` replaces all tags.
    https://docs.tavus.io/api-reference/documents/patch-document"""
    body: dict = {}
    if document_name is not None:
        body["document_name"] = document_name
    if tags is not None:
        body["tags"] = tags
    return _not_found(lambda: _call("PATCH", _path(document_id), _document, json=body))


def delete_document(document_id: str) -> None:
    """Delete a document. https://docs.tavus.io/api-reference/documents/delete-document"""
    _not_found(lambda: _call("DELETE", _path(document_id), _ignore_body))


def recrawl_document(document_id: str, crawl: dict | None = None) -> Document:
    """Fetch a document or website again (202, status "recrawling").
    https://docs.tavus.io/api-reference/documents/recrawl-document"""
    path = _path(document_id) + "/recrawl"
    body = {"crawl": crawl} if crawl else None
    try:
        return _not_found(lambda: _call("POST", path, _document, json=body))
    except InvalidRequest as error:
        if error.status == 409:
            raise RecrawlRefused(
                "Tavus only recrawls a document once it is ready, or after it failed. "
                "Wait until it has finished and try again.",
                status=409,
                detail=error.detail,
            ) from error
        raise
    except TavusUnavailable as error:
        # 429 on this endpoint is the documented hour's cooldown, not general busyness.
        if error.status == 429:
            raise RecrawlRefused(
                "Tavus allows one recrawl of a document an hour. Try again later.",
                status=429,
                detail=error.detail,
            ) from error
        raise
