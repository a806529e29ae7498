"""The Tavus CVI API v2, as plain functions over one httpx.Client.

Every function returns a small typed value or raises a TavusError whose `.message` can be shown
to the operator as it is. Settings are read at call time so tests (and the sandbox switch) can
change them without restarting anything.
"""

import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import datetime
from time import sleep
from typing import Any, Self
from urllib.parse import quote

import httpx
from django.conf import settings

from studio.tavus.parse import clean_shutdown_reason, parse_timestamp

USER_AGENT = "ConversationStudio/0.1"
CONNECT_TIMEOUT = 5.0
# One short pause before the single retry of a GET: long enough to ride out a dropped
# connection or a restarting load balancer, short enough that the operator barely notices.
RETRY_BACKOFF = 0.3
# Tavus's own text goes into logs and the "details" line of a message, never a whole HTML page.
DETAIL_LIMIT = 300


# --- Errors --------------------------------------------------------------------------------


class TavusError(Exception):
    """Something Tavus refused or could not do. `.message` is for people, `.detail` is Tavus's."""

    default_message = "Tavus could not do that."

    def __init__(self, message: str = "", *, status: int | None = None, detail: str = ""):
        self.message = message or self.default_message
        self.status = status
        self.detail = detail
        super().__init__(self.message)


class BadApiKey(TavusError):
    default_message = "Tavus did not accept the API key. An admin can check it under Settings."


class ConcurrencyLimitReached(TavusError):
    default_message = (
        "Your Tavus plan is already running as many conversations as it allows. "
        "End one of them and try again."
    )


class OutOfCredits(TavusError):
    default_message = (
        "Your Tavus account has run out of conversation minutes. "
        "Add credits in the Tavus portal and try again."
    )


class InvalidRequest(TavusError):
    default_message = "Tavus turned the request down."

    def __init__(
        self,
        message: str = "",
        *,
        status: int | None = None,
        detail: str = "",
        field: str | None = None,
    ):
        self.field = field
        super().__init__(message or _invalid_message(field, detail), status=status, detail=detail)


class TavusUnavailable(TavusError):
    default_message = "Tavus is not answering right now. Try again in a minute."


class TavusUnreachable(TavusUnavailable):
    """The request never reached Tavus (no connection), so it cannot have done anything."""

    default_message = "Could not reach Tavus. Check the internet connection and try again."


UNEXPECTED = "Tavus answered with something unexpected. Try again in a minute."

# Plain words for the ids people pick from lists; the raw Tavus text stays in `.detail`.
_FIELD_MESSAGES = {
    "conversation_id": "Tavus does not know that conversation.",
    "persona_id": "Tavus does not know that persona.",
    "replica_id": "Tavus does not know that replica.",
    "default_replica_id": "Tavus does not know that replica.",
    "language": "Tavus does not support that language.",
}

# Era-B names for the same fields, so `.field` matches the form field we actually have.
_FIELD_ALIASES = {
    "pal_id": "persona_id",
    "face_id": "replica_id",
    "default_face_id": "default_replica_id",
    "pal_name": "persona_name",
    "languages": "language",
}
# Tavus names fields in snake_case ("Invalid persona_id"); "language" is the one plain word.
_FIELD_WORD = re.compile(r"\b(?:[a-z][a-z0-9]*(?:_[a-z0-9]+)+|languages?)\b", re.IGNORECASE)


def guess_field(text: str) -> str | None:
    """The request field an error text is about ("Invalid persona_id" → "persona_id"), if any."""
    match = _FIELD_WORD.search(text)
    if match is None:
        return None
    word = match.group().lower()
    return _FIELD_ALIASES.get(word, word)


def _invalid_message(field: str | None, detail: str) -> str:
    if field in _FIELD_MESSAGES:
        return _FIELD_MESSAGES[field]
    if detail:
        return f"Tavus turned the request down: {detail}"
    return InvalidRequest.default_message


class _Malformed(Exception):
    """A 2xx body we cannot use; becomes TavusUnavailable with this text as the detail."""


# --- Typed values --------------------------------------------------------------------------


def _text(data: dict, *keys: str, required: bool = False) -> str:
    """The first of `keys` present (era-A name first, then its era-B alias)."""
    for key in keys:
        value = data.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise _Malformed(f"{key} is not text")
        if value or not required:
            return value
    if required:
        raise _Malformed(f"missing {keys[0]}")
    return ""


def _optional_text(data: dict, *keys: str) -> str | None:
    return _text(data, *keys) or None


def _object(data: Any, what: str) -> dict:
    if not isinstance(data, dict):
        raise _Malformed(f"{what} is not a JSON object")
    return data


@dataclass(frozen=True)
class Conversation:
    conversation_id: str
    conversation_name: str
    conversation_url: str
    status: str
    callback_url: str
    created_at: datetime | None
    meeting_token: str | None = None
    replica_id: str | None = None
    persona_id: str | None = None
    events: list[dict] = field(default_factory=list)
    raw: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: Any) -> Self:
        data = _object(data, "conversation")
        events = data.get("events") or []
        if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
            raise _Malformed("events is not a list of objects")
        return cls(
            conversation_id=_text(data, "conversation_id", required=True),
            conversation_name=_text(data, "conversation_name"),
            conversation_url=_text(data, "conversation_url"),
            status=_text(data, "status"),
            callback_url=_text(data, "callback_url"),
            created_at=parse_timestamp(data.get("created_at")),
            meeting_token=_optional_text(data, "meeting_token"),
            replica_id=_optional_text(data, "replica_id", "face_id"),
            persona_id=_optional_text(data, "persona_id", "pal_id"),
            events=events,
            raw=data,
        )

    @property
    def shutdown_reason(self) -> str | None:
        return clean_shutdown_reason(self.raw.get("shutdown_reason"))


@dataclass(frozen=True)
class Persona:
    persona_id: str
    persona_name: str
    system_prompt: str
    context: str
    pipeline_mode: str
    default_replica_id: str | None
    layers: dict
    persona_type: str
    created_at: datetime | None
    updated_at: datetime | None
    raw: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: Any) -> Self:
        data = _object(data, "persona")
        layers = data.get("layers") or {}
        if not isinstance(layers, dict):
            raise _Malformed("layers is not a JSON object")
        return cls(
            persona_id=_text(data, "persona_id", "pal_id", required=True),
            persona_name=_text(data, "persona_name", "pal_name"),
            system_prompt=_text(data, "system_prompt"),
            context=_text(data, "context"),
            pipeline_mode=_text(data, "pipeline_mode"),
            default_replica_id=_optional_text(data, "default_replica_id", "default_face_id"),
            layers=layers,
            persona_type=_text(data, "persona_type", "pal_type"),
            created_at=parse_timestamp(data.get("created_at")),
            updated_at=parse_timestamp(data.get("updated_at")),
            raw=data,
        )


@dataclass(frozen=True)
class Replica:
    replica_id: str
    replica_name: str
    thumbnail_video_url: str
    training_progress: str
    status: str
    replica_type: str
    created_at: datetime | None
    raw: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: Any) -> Self:
        data = _object(data, "replica")
        return cls(
            replica_id=_text(data, "replica_id", "face_id", required=True),
            replica_name=_text(data, "replica_name", "face_name"),
            thumbnail_video_url=_text(data, "thumbnail_video_url"),
            training_progress=_text(data, "training_progress"),
            status=_text(data, "status"),
            replica_type=_text(data, "replica_type", "face_type"),
            created_at=parse_timestamp(data.get("created_at")),
            raw=data,
        )


@dataclass(frozen=True)
class Page[T]:
    items: list[T]
    total_count: int


def _page[T](data: Any, parse: Callable[[Any], T]) -> Page[T]:
    data = _object(data, "list")
    items = data.get("data")
    if not isinstance(items, list):
        raise _Malformed("data is not a list")
    total = data.get("total_count", len(items))
    if not isinstance(total, int) or isinstance(total, bool):
        raise _Malformed("total_count is not a number")
    return Page(items=[parse(item) for item in items], total_count=total)


# --- Transport -----------------------------------------------------------------------------

_clients: dict[tuple, httpx.Client] = {}
_clients_lock = threading.Lock()
# Module-wide rather than per-thread on purpose: a test's fault must also reach requests made
# by the studio server thread it drives.
_transport: httpx.BaseTransport | None = None


# Set by `connected_as`: the Settings page tries a key before anything is saved.
_trying: ContextVar[tuple[str, str] | None] = ContextVar("tavus_trying", default=None)


@contextmanager
def connected_as(base: str, key: str) -> Iterator[None]:
    """Send the calls made in this block to `base` with `key` instead of the studio's own."""
    token = _trying.set((base.rstrip("/"), key))
    try:
        yield
    finally:
        _trying.reset(token)


def _client() -> httpx.Client:
    from studio.connection import current

    base, key = _trying.get() or (current.api_base(), current.api_key())
    key = key or settings.SANDBOX_API_KEY
    read_timeout = float(settings.TAVUS_TIMEOUT)
    cache_key = (base, key, read_timeout, _transport)
    with _clients_lock:
        client = _clients.get(cache_key)
        if client is None:
            client = httpx.Client(
                base_url=base,
                headers={"x-api-key": key, "User-Agent": USER_AGENT, "Accept": "application/json"},
                timeout=httpx.Timeout(read_timeout, connect=CONNECT_TIMEOUT),
                transport=_transport,
            )
            _clients[cache_key] = client
        return client


@contextmanager
def use_transport(transport: httpx.BaseTransport) -> Iterator[None]:
    """Send every Tavus call through `transport` (an httpx.MockTransport in tests)."""
    global _transport
    previous, _transport = _transport, transport
    try:
        yield
    finally:
        _transport = previous
        with _clients_lock:
            for cache_key in [k for k in _clients if k[3] is transport]:
                _clients.pop(cache_key).close()


def _snippet(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= DETAIL_LIMIT else text[: DETAIL_LIMIT - 1] + "…"


def _tavus_text(response: httpx.Response) -> str:
    # Tavus uses "error" on some endpoints and "message" on others (tavus-api.md §1.2).
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        for key in ("error", "message"):
            if isinstance(body.get(key), str) and body[key]:
                return _snippet(body[key])
    return _snippet(response.text)


def _raise_for_status(response: httpx.Response) -> None:
    status = response.status_code
    if 200 <= status < 300 or status == 304:
        return
    detail = _tavus_text(response)
    # 403 is what a key outside its IP allow-list would most plausibly get: same remedy.
    if status in (401, 403):
        raise BadApiKey(status=status, detail=detail)
    if status == 402:
        raise OutOfCredits(status=status, detail=detail)
    # Tavus reports the plan's concurrency limit as a plain 400; only the wording tells it apart.
    if status == 400 and "maximum concurrent conversations" in detail.lower():
        raise ConcurrencyLimitReached(status=status, detail=detail)
    # Rate limits are undocumented; treat them as "busy, try later" rather than our fault.
    if status == 429:
        raise TavusUnavailable(
            "Tavus is busy right now. Try again in a minute.", status=status, detail=detail
        )
    if 400 <= status < 500:
        raise InvalidRequest(status=status, detail=detail, field=guess_field(detail))
    if status >= 500:
        raise TavusUnavailable(
            f"Tavus is having trouble right now (error {status}). Try again in a minute.",
            status=status,
            detail=detail,
        )
    raise TavusUnavailable(UNEXPECTED, status=status, detail=detail)


def _call[T](
    method: str,
    path: str,
    parse: Callable[[httpx.Response], T],
    *,
    params: dict | None = None,
    json: Any = None,
) -> T:
    try:
        return _call_once(method, path, parse, params=params, json=json)
    except TavusUnavailable:
        # Only GETs retry: a repeated create could start (and bill) a second conversation.
        if method != "GET":
            raise
    sleep(RETRY_BACKOFF)
    return _call_once(method, path, parse, params=params, json=json)


def _call_once[T](
    method: str,
    path: str,
    parse: Callable[[httpx.Response], T],
    *,
    params: dict | None,
    json: Any,
) -> T:
    try:
        response = _client().request(method, path, params=params, json=json)
    except httpx.ConnectTimeout as exc:
        raise TavusUnreachable(
            "Tavus did not answer in time. Try again in a minute.", detail=str(exc)
        ) from exc
    except httpx.TimeoutException as exc:
        raise TavusUnavailable(
            "Tavus did not answer in time. Try again in a minute.", detail=str(exc)
        ) from exc
    except httpx.ConnectError as exc:
        raise TavusUnreachable(detail=str(exc)) from exc
    except httpx.RequestError as exc:
        raise TavusUnavailable(TavusUnreachable.default_message, detail=str(exc)) from exc
    _raise_for_status(response)
    try:
        return parse(response)
    except _Malformed as exc:
        raise TavusUnavailable(
            UNEXPECTED, status=response.status_code, detail=f"{exc}: {_snippet(response.text)}"
        ) from exc


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        # HTML error pages from a proxy, or a body cut off mid-way.
        raise _Malformed("not JSON") from exc


def _ignore_body(response: httpx.Response) -> None:
    return None


def _segment(value: str, name: str) -> str:
    # Quote ids so a stray "/" cannot reach another endpoint; a blank one would hit the list.
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest(detail=f"Invalid {name}", field=name)
    return quote(value.strip(), safe="")


def _verbose(value: bool) -> dict:
    return {"verbose": "true"} if value else {}


# --- Conversations -------------------------------------------------------------------------


def create_conversation(body: dict) -> Conversation:
    """Start a conversation. https://docs.tavus.io/api-reference/conversations/create-conversation"""

    def parse(response: httpx.Response) -> Conversation:
        conversation = Conversation.from_json(_json(response))
        # Without the room URL nobody can join, so it is as good as a failure.
        if not conversation.conversation_url:
            raise _Malformed("missing conversation_url")
        return conversation

    return _call("POST", "/v2/conversations", parse, json=body)


def get_conversation(conversation_id: str, verbose: bool = False) -> Conversation:
    """One conversation. https://docs.tavus.io/api-reference/conversations/get-conversation"""
    path = f"/v2/conversations/{_segment(conversation_id, 'conversation_id')}"
    return _call("GET", path, lambda r: Conversation.from_json(_json(r)), params=_verbose(verbose))


def list_conversations(
    status: str | None = None, page: int = 1, limit: int = 10
) -> Page[Conversation]:
    """A page of conversations. https://docs.tavus.io/api-reference/conversations/get-conversations"""
    params: dict = {"page": page, "limit": limit}
    if status:
        params["status"] = status
    return _call(
        "GET",
        "/v2/conversations",
        lambda r: _page(_json(r), Conversation.from_json),
        params=params,
    )


def end_conversation(conversation_id: str) -> None:
    """End a live conversation. https://docs.tavus.io/api-reference/conversations/end-conversation"""
    path = f"/v2/conversations/{_segment(conversation_id, 'conversation_id')}/end"
    _call("POST", path, _ignore_body)


def delete_conversation(conversation_id: str, hard: bool = False) -> None:
    """Delete one. https://docs.tavus.io/api-reference/conversations/delete-conversation"""
    path = f"/v2/conversations/{_segment(conversation_id, 'conversation_id')}"
    _call("DELETE", path, _ignore_body, params={"hard": "true"} if hard else {})


# --- Personas ------------------------------------------------------------------------------


def create_persona(body: dict) -> Persona:
    """Create a persona. https://docs.tavus.io/api-reference/personas/create-persona"""

    def parse(response: httpx.Response) -> Persona:
        answer = _object(_json(response), "persona")
        # Tavus echoes only id, name and created_at; fill the rest from what we sent so the
        # caller gets a whole persona. `raw` stays exactly what Tavus said.
        return replace(Persona.from_json({**body, **answer}), raw=answer)

    return _call("POST", "/v2/personas", parse, json=body)


def get_persona(persona_id: str) -> Persona:
    """One persona. https://docs.tavus.io/api-reference/personas/get-persona"""

    def parse(response: httpx.Response) -> Persona:
        data = _json(response)
        # The docs show {"data": [persona]}, while client code reads a flat object: take both.
        if isinstance(data, dict) and "data" in data:
            items = data["data"]
            if not isinstance(items, list) or len(items) != 1:
                raise _Malformed("data is not a list of one persona")
            data = items[0]
        return Persona.from_json(data)

    return _call("GET", f"/v2/personas/{_segment(persona_id, 'persona_id')}", parse)


def list_personas(
    persona_type: str | None = None, page: int = 1, limit: int = 100
) -> Page[Persona]:
    """A page of personas. https://docs.tavus.io/api-reference/personas/get-personas"""
    params: dict = {"page": page, "limit": limit}
    if persona_type:
        params["persona_type"] = persona_type
    return _call("GET", "/v2/personas", lambda r: _page(_json(r), Persona.from_json), params=params)


def iter_personas(persona_type: str | None = None) -> Iterator[Persona]:
    """Every persona, page by page. https://docs.tavus.io/api-reference/personas/get-personas"""
    return _walk(lambda page: list_personas(persona_type, page=page))


def patch_persona(persona_id: str, operations: list[dict]) -> bool:
    """JSON Patch; False if unchanged. https://docs.tavus.io/api-reference/personas/patch-persona"""
    path = f"/v2/personas/{_segment(persona_id, 'persona_id')}"
    return _call("PATCH", path, lambda r: r.status_code != 304, json=operations)


def delete_persona(persona_id: str) -> None:
    """Delete a persona. https://docs.tavus.io/api-reference/personas/delete-persona"""
    _call("DELETE", f"/v2/personas/{_segment(persona_id, 'persona_id')}", _ignore_body)


# --- Replicas ------------------------------------------------------------------------------


def list_replicas(
    replica_type: str | None = None, page: int = 1, limit: int = 100, verbose: bool = True
) -> Page[Replica]:
    """A page of replicas. https://docs.tavus.io/api-reference/phoenix-replica-model/get-replicas"""
    # verbose is what adds replica_type to each item, hence on by default.
    params: dict = {"page": page, "limit": limit, **_verbose(verbose)}
    if replica_type:
        params["replica_type"] = replica_type
    return _call("GET", "/v2/replicas", lambda r: _page(_json(r), Replica.from_json), params=params)


def iter_replicas(replica_type: str | None = None) -> Iterator[Replica]:
    """All replicas. https://docs.tavus.io/api-reference/phoenix-replica-model/get-replicas"""
    return _walk(lambda page: list_replicas(replica_type, page=page))


def get_replica(replica_id: str, verbose: bool = True) -> Replica:
    """One replica. https://docs.tavus.io/api-reference/phoenix-replica-model/get-replica"""
    path = f"/v2/replicas/{_segment(replica_id, 'replica_id')}"
    return _call("GET", path, lambda r: Replica.from_json(_json(r)), params=_verbose(verbose))


def _walk[T](fetch: Callable[[int], Page[T]]) -> Iterator[T]:
    # Pages are numbered from 1 and there are no "next" links; stop on the count or on an
    # empty page, whichever comes first, so a miscounting server cannot loop us forever.
    seen, page = 0, 1
    while True:
        batch = fetch(page)
        yield from batch.items
        seen += len(batch.items)
        if not batch.items or seen >= batch.total_count:
            return
        page += 1
