"""The Tavus API v2, emulated: conversations, personas and replicas under /sandbox/v2/.

Paths, fields, status codes and error bodies follow shared/tavus-api.md. Legacy names are the
primary ones; era-B aliases are accepted (/v2/pals, /v2/faces, pal_id, face_id...). Views stay
short and synchronous: Django runs each request's sync code in its own thread, so the studio may
call the sandbox from inside one of its own requests without deadlocking (tests prove it).
"""

import hmac
import json
import secrets
import time
from base64 import urlsafe_b64encode
from functools import wraps

import jsonpatch
import jsonpointer
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from studio.sandbox import lifecycle, validation
from studio.sandbox.models import Conversation, Persona, Replica, default_deadlines, new_id
from studio.sandbox.validation import ApiError, invalid

# Era-B routes answer with their own names next to the legacy ones.
PAL_KEYS = {"persona_id": "pal_id", "persona_name": "pal_name", "persona_type": "pal_type"}
FACE_KEYS = {"replica_id": "face_id", "replica_name": "face_name", "replica_type": "face_type"}


def api_view(*methods: str):
    """Check x-api-key, then the method; turn ApiError into Tavus's JSON error body."""

    def decorator(view):
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            key = request.headers.get("x-api-key", "")
            if not hmac.compare_digest(key.encode(), settings.SANDBOX_API_KEY.encode()):
                return JsonResponse({"message": "Invalid access token"}, status=401)
            if request.method not in methods:
                response = JsonResponse({"message": "Method not allowed"}, status=405)
                response["Allow"] = ", ".join(methods)
                return response
            # Any API call (the studio's reconciler polls) restarts the clock after a restart.
            lifecycle.ensure_ticker()
            try:
                return view(request, *args, **kwargs)
            except ApiError as error:
                return JsonResponse(error.body, status=error.status)

        return wrapped

    return decorator


def _era_b(request: HttpRequest) -> bool:
    return "/v2/pals" in request.path or "/v2/faces" in request.path


def _with_aliases(data: dict, keys: dict[str, str]) -> dict:
    return {**data, **{alias: data[key] for key, alias in keys.items() if key in data}}


def _flag(request: HttpRequest, name: str) -> bool:
    return request.GET.get(name, "").strip().lower() in ("true", "1", "yes")


def _page(request: HttpRequest, queryset, serialize) -> JsonResponse:
    """Tavus pagination: ?limit=10&page=1 → {"data": [...], "total_count": n}."""
    numbers = {}
    for name, default in (("limit", 10), ("page", 1)):
        raw = request.GET.get(name, str(default))
        if not raw.isdigit() or int(raw) < 1:
            raise invalid(f"Invalid {name}: must be a whole number of at least 1.")
        numbers[name] = int(raw)
    start = (numbers["page"] - 1) * numbers["limit"]
    items = queryset[start : start + numbers["limit"]]
    return JsonResponse({"data": [serialize(i) for i in items], "total_count": queryset.count()})


def _conversation_url(request: HttpRequest, conversation_id: str) -> str:
    return request.build_absolute_uri(reverse("sandbox:room", args=[conversation_id]))


def _get_conversation(conversation_id: str) -> Conversation:
    try:
        return Conversation.objects.visible().get(pk=conversation_id)
    except Conversation.DoesNotExist:
        raise invalid("Invalid conversation_id") from None


def _get_persona(persona_id: str) -> Persona:
    try:
        return Persona.objects.get(pk=persona_id)
    except Persona.DoesNotExist:
        raise invalid("Invalid persona_id") from None


def _get_replica(replica_id: str) -> Replica:
    try:
        return Replica.objects.get(pk=replica_id)
    except Replica.DoesNotExist:
        raise invalid("Invalid replica_id") from None


def _meeting_token(conversation_id: str) -> str:
    """A Daily-style meeting token: it looks like a JWT; only the sandbox reads it."""

    def b64(data: bytes) -> str:
        return urlsafe_b64encode(data).rstrip(b"=").decode()

    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = {"r": conversation_id, "iat": int(time.time()), "jti": secrets.token_hex(8)}
    return f"{header}.{b64(json.dumps(claims).encode())}.{b64(secrets.token_bytes(32))}"


# --- Conversations ---------------------------------------------------------------------------


@login_not_required
@csrf_exempt
@api_view("GET", "POST")
def conversations(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _create_conversation(request)
    queryset = Conversation.objects.visible()
    if status := request.GET.get("status"):
        queryset = queryset.filter(status=status)
    return _page(
        request,
        queryset,
        lambda c: c.as_api(_conversation_url(request, c.conversation_id)),
    )


def _create_conversation(request: HttpRequest) -> JsonResponse:
    data = validation.conversation(validation.json_object(request.body))
    persona = _get_persona(data["persona_id"]) if data.get("persona_id") else None
    replica_id = data.get("replica_id") or (persona.default_replica_id if persona else "")
    if not replica_id:
        raise invalid("replica_id is required: the persona has no default_replica_id.")
    replica = _get_replica(replica_id)
    now = timezone.now()
    test_mode = bool(data.get("test_mode"))
    conversation = Conversation(
        conversation_id=new_id("c"),
        conversation_name=data.get("conversation_name")
        or f"New Conversation {int(now.timestamp() * 1000)}",
        callback_url=data.get("callback_url") or "",
        replica_id=replica.replica_id,
        replica_name=replica.replica_name,
        persona_id=persona.persona_id if persona else None,
        persona_name=persona.persona_name if persona else "",
        system_prompt=_system_prompt(persona, replica),
        perception_model=persona.perception_model if persona else "",
        knowledge=_knowledge(persona, data),
        behaviour=_behaviour(persona),
        test_mode=test_mode,
        require_auth=bool(data.get("require_auth")),
        max_participants=data.get("max_participants"),
        audio_only=bool(data.get("audio_only")),
        custom_greeting=data.get("custom_greeting") or "",
        conversational_context=data.get("conversational_context") or "",
        properties=data["properties"],
        request=data,
        created_at=now,
    )
    if conversation.require_auth:
        conversation.meeting_token = _meeting_token(conversation.conversation_id)
    if test_mode:
        # Tavus: created, never joined, already ended, no slot used, no webhooks.
        conversation.status = Conversation.ENDED
        conversation.ended_at = now
    else:
        default_deadlines(conversation, data["properties"])
    # On SQLite the IMMEDIATE transaction serialises creates, so the count can't race. (On
    # PostgreSQL two creates could both squeeze in; acceptable for a test double.)
    with transaction.atomic():
        limit = settings.SANDBOX_CONCURRENCY_LIMIT  # None: unlimited
        in_use = Conversation.objects.holding_slots().count()
        if not test_mode and limit is not None and in_use >= limit:
            message = "User has reached maximum concurrent conversations"
            raise ApiError(400, {"message": message})
        conversation.save()
    if not test_mode:
        lifecycle.ensure_ticker()
    body = {
        "conversation_id": conversation.conversation_id,
        "conversation_name": conversation.conversation_name,
        "conversation_url": _conversation_url(request, conversation.conversation_id),
        "status": conversation.status,
        "callback_url": conversation.callback_url,
        "created_at": conversation.as_api("")["created_at"],
    }
    if conversation.require_auth:
        body["meeting_token"] = conversation.meeting_token
    return JsonResponse(body)


def _knowledge(persona: Persona | None, data: dict) -> dict:
    """The documents a conversation may use: its own and its persona's (ids and tags)."""
    document = persona.document if persona else {}
    combined = {}
    for key in ("document_ids", "document_tags"):
        values = [*(document.get(key) or []), *(data.get(key) or [])]
        combined[key] = list(dict.fromkeys(values))
    combined["document_retrieval_strategy"] = data.get("document_retrieval_strategy") or "balanced"
    return combined


def _system_prompt(persona: Persona | None, replica: Replica) -> str:
    if persona is None:
        return f"You are {replica.replica_name}, a friendly and helpful assistant."
    parts = [persona.document.get("system_prompt") or "", persona.document.get("context") or ""]
    return "\n\n".join(p for p in parts if p)


@login_not_required
@csrf_exempt
@api_view("GET", "DELETE")
def conversation(request: HttpRequest, conversation_id: str) -> HttpResponse:
    found = _get_conversation(conversation_id)
    if request.method == "DELETE":
        with Conversation.objects.locked(found.pk) as locked:
            locked.end("daily_room_has_been_deleted", timezone.now())
            if _flag(request, "hard"):
                locked.delete()
            else:
                locked.deleted_at = timezone.now()
                locked.save(update_fields=["deleted_at", "updated_at"])
        return HttpResponse(status=204)
    url = _conversation_url(request, conversation_id)
    return JsonResponse(found.as_api(url, verbose=_flag(request, "verbose")))


@login_not_required
@csrf_exempt
@api_view("POST")
def end_conversation(request: HttpRequest, conversation_id: str) -> HttpResponse:
    found = _get_conversation(conversation_id)
    with Conversation.objects.locked(found.pk) as locked:
        locked.end("end_conversation_endpoint_hit", timezone.now())
    return JsonResponse({"conversation_id": conversation_id, "status": Conversation.ENDED})


# --- Personas (era B: PALs) ------------------------------------------------------------------


def _persona_body(request: HttpRequest, persona: Persona) -> dict:
    data = persona.as_api()
    if _era_b(request):
        data = _with_aliases(data, PAL_KEYS)
        if "default_replica_id" in data:
            data["default_face_id"] = data["default_replica_id"]
    return data


def _check_behaviour(document: dict) -> None:
    """Objectives and guardrails a persona names must exist (tavus-api-2.md §2.3, §3.1)."""
    from studio.sandbox.models import Guardrail, GuardrailSet, Objectives

    objectives_id = document.get("objectives_id")
    if objectives_id not in (None, "") and (
        not isinstance(objectives_id, str)
        or not Objectives.objects.filter(pk=objectives_id).exists()
    ):
        raise invalid("Invalid objectives_id")
    ids = document.get("guardrail_ids")
    if ids is not None:
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids) or len(ids) > 50:
            raise invalid("Invalid guardrail_ids: a list of at most 50 guardrail ids.")
        if Guardrail.objects.filter(pk__in=ids).count() != len(set(ids)):
            raise invalid("Invalid guardrail_ids")
    tags = document.get("guardrail_tags")
    if tags is not None and (
        not isinstance(tags, list) or not all(isinstance(t, str) for t in tags)
    ):
        raise invalid("Invalid guardrail_tags: must be a list of strings.")
    set_id = document.get("guardrails_id")
    if set_id not in (None, "") and not GuardrailSet.objects.filter(pk=set_id).exists():
        raise invalid("Invalid guardrails_id")


def _behaviour(persona: Persona | None) -> dict:
    """The persona's objectives, guardrails and inline tools, frozen for this conversation."""
    from studio.sandbox.models import Guardrail, Objectives

    if persona is None:
        return {}
    document = persona.document
    objectives = Objectives.objects.filter(pk=document.get("objectives_id") or "").first()
    tags = set(document.get("guardrail_tags") or [])
    chosen = [
        g
        for g in Guardrail.objects.all()
        if g.guardrail_id in (document.get("guardrail_ids") or [])
        or (tags & set(g.tags))
        or (document.get("guardrails_id") and g.guardrail_set_id == document["guardrails_id"])
    ]
    layers = document.get("layers") if isinstance(document.get("layers"), dict) else {}
    llm = layers.get("llm") if isinstance(layers.get("llm"), dict) else {}
    perception = layers.get("perception") if isinstance(layers.get("perception"), dict) else {}
    tools = [
        t["function"]
        for t in llm.get("tools") or []
        if isinstance(t, dict) and isinstance(t.get("function"), dict) and t["function"].get("name")
    ]
    # Registry tools attached to the persona, called during the call by the LLM.
    from studio.sandbox.models import Tool

    for tool in Tool.objects.all():
        definition = tool.definition
        if persona.persona_id in tool.persona_ids and definition.get("origin") == "llm":
            tools.append({k: definition[k] for k in ("name", "description", "parameters")})
    return {
        "objectives": objectives.items if objectives else [],
        "guardrails": [{**g.item(), "app_message": g.app_message} for g in chosen],
        "tools": tools,
        # Asked of the end-of-call analysis (tavus-api-2.md §5.4): it answers them.
        "perception_queries": _strings(perception.get("perception_analysis_queries")),
    }


def _strings(value) -> list[str]:
    return [v for v in value if isinstance(v, str) and v.strip()] if isinstance(value, list) else []


def _save_document(persona: Persona, document: dict) -> None:
    replica_id = document.get("default_replica_id")
    if replica_id:
        _get_replica(replica_id)
    _check_behaviour(document)
    persona.persona_name = document.pop("persona_name", None) or ""
    persona.document = document


@login_not_required
@csrf_exempt
@api_view("GET", "POST")
def personas(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        document = validation.persona(validation.json_object(request.body))
        persona = Persona(persona_id=new_id("p"), persona_type="user")
        _save_document(persona, document)
        persona.save()
        body = {
            "persona_id": persona.persona_id,
            "persona_name": persona.persona_name,
            "created_at": persona.as_api()["created_at"],
        }
        return JsonResponse(_with_aliases(body, PAL_KEYS) if _era_b(request) else body)
    queryset = Persona.objects.all()
    kind = request.GET.get("persona_type") or request.GET.get("pal_type")
    if kind:
        queryset = queryset.filter(persona_type=kind)
    return _page(request, queryset, lambda p: _persona_body(request, p))


@login_not_required
@csrf_exempt
@api_view("GET", "PATCH", "DELETE")
def persona(request: HttpRequest, persona_id: str) -> HttpResponse:
    found = _get_persona(persona_id)
    if request.method == "GET":
        return JsonResponse(_persona_body(request, found))
    if found.persona_type == "system":
        raise invalid("Stock personas cannot be changed or deleted.")
    if request.method == "DELETE":
        found.delete()
        return HttpResponse(status=204)
    return _patch_persona(request, found)


def _patch_persona(request: HttpRequest, found: Persona) -> JsonResponse:
    """RFC 6902 JSON Patch against the persona as GET shows it."""
    bad_patch = ApiError(422, {"message": "Invalid JSON patch format"})
    try:
        operations = json.loads(request.body or b"")
    except (ValueError, UnicodeDecodeError):
        raise bad_patch from None
    if not isinstance(operations, list) or not all(isinstance(o, dict) for o in operations):
        raise bad_patch
    current = found.as_api()
    try:
        patched = jsonpatch.JsonPatch(operations).apply(current)
    except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException, TypeError, KeyError):
        raise bad_patch from None
    if not isinstance(patched, dict):
        raise bad_patch
    if patched == current:
        # Tavus documents {"message": "No changes were made to the persona"} here, but HTTP
        # forbids a body on 304 (uvicorn would write it into the next response); send none.
        return HttpResponseNotModified()
    for key in validation.PERSONA_READ_ONLY:
        if patched.get(key) != current.get(key):
            raise invalid(f"{key} cannot be changed.")
    _save_document(found, validation.persona(patched))
    found.save()
    return JsonResponse(_persona_body(request, found))


# --- Replicas (era B: Faces) -----------------------------------------------------------------


def _replica_body(request: HttpRequest, replica: Replica, **kwargs) -> dict:
    data = replica.as_api(**kwargs)
    return _with_aliases(data, FACE_KEYS) if _era_b(request) else data


@login_not_required
@csrf_exempt
@api_view("GET")
def replicas(request: HttpRequest) -> HttpResponse:
    queryset = Replica.objects.all()
    kind = request.GET.get("replica_type") or request.GET.get("face_type")
    if kind:
        queryset = queryset.filter(replica_type=kind)
    ids = request.GET.get("replica_ids") or request.GET.get("face_ids")
    if ids:
        queryset = queryset.filter(replica_id__in=[i.strip() for i in ids.split(",") if i.strip()])
    verbose = _flag(request, "verbose")
    return _page(request, queryset, lambda r: _replica_body(request, r, verbose=verbose))


@login_not_required
@csrf_exempt
@api_view("GET")
def replica(request: HttpRequest, replica_id: str) -> HttpResponse:
    found = _get_replica(replica_id)
    verbose = _flag(request, "verbose")
    return JsonResponse(_replica_body(request, found, verbose=verbose, detail=True))
