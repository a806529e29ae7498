"""Objectives and guardrails, emulated: /v2/objectives and /v2/guardrails (shared/tavus-api-2.md
§2, §3), with the documented success and error bodies.

Sandbox choices where the facts are UNCONFIRMED: an objectives set's PATCH works on the document
GET shows ({"data": [items], ...}, paths like /data/0/objective_prompt), and a bare path such as
/objective_prompt means item 0; a malformed id is 400 "Invalid ..." and a well-formed unknown one
404; deleting an objectives set or a guardrail removes it from the personas that named it.
"""

import json
import re

import jsonpatch
import jsonpointer
from django.contrib.auth.decorators import login_not_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from studio.sandbox import validation
from studio.sandbox.models import Guardrail, GuardrailSet, Objectives, Persona, iso, new_id
from studio.sandbox.validation import ApiError
from studio.sandbox.views import _page, api_view

OBJECTIVE_ID = re.compile(r"^o[0-9a-f]{4,40}$")
GUARDRAIL_ID = re.compile(r"^g[0-9a-f]{4,40}$")
GUARDRAIL_NAME = re.compile(r"^[A-Za-z0-9_]{1,100}$")
MAX_PROMPT = 1000
MAX_TAGS, MAX_TAG = 32, 64
BAD_PATCH = {"error": "Invalid patch operation"}


def message(text: str) -> ApiError:
    # Create errors use "message" (facts §2.1, §3.2), lookups and patches use "error".
    return ApiError(400, {"message": text})


def _body(request: HttpRequest):
    try:
        return json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise message("Invalid request body: it must be JSON.") from None


def _url(value, key: str) -> str:
    if value in (None, ""):
        return ""
    if (
        not isinstance(value, str)
        or len(value) > 2048
        or not value.startswith(("http://", "https://"))
    ):
        raise message(f"{key} must be an http(s) URL of at most 2048 characters")
    try:
        validation.callback_url({key: value}, key)  # only the studio's own hooks
    except ApiError as error:
        raise message(error.body["error"]) from None
    return value


def _strings(value, key: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise message(f"{key} must be a list of strings")
    return value


def _patched(document: dict, operations, bare_prefix: str = "") -> dict:
    """`document` with the JSON Patch applied, or 400 Invalid patch operation."""
    if not isinstance(operations, list) or not all(isinstance(o, dict) for o in operations):
        raise ApiError(400, BAD_PATCH)
    if bare_prefix:
        operations = [
            {**op, "path": bare_prefix + op["path"]}
            if isinstance(op.get("path"), str) and not op["path"].startswith("/data")
            else op
            for op in operations
        ]
    try:
        return jsonpatch.JsonPatch(operations).apply(document)
    except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException, TypeError, KeyError):
        raise ApiError(400, BAD_PATCH) from None


# --- Objectives ---------------------------------------------------------------------------------


def check_objectives(items) -> list[dict]:
    """Validate a list of objective items; returns them as stored."""
    if not isinstance(items, list) or not items:
        raise message("data must be a non-empty list of objectives")
    clean, names = [], []
    for item in items:
        if not isinstance(item, dict):
            raise message("each objective must be an object")
        name = item.get("objective_name")
        if not isinstance(name, str) or not name.strip():
            raise message("objective_name is required")
        if re.search(r"\s", name):
            raise message(f"objective_name must not contain spaces: {name!r}")
        if name in names:
            raise message(f"objective_name must be unique: {name!r}")
        prompt = item.get("objective_prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise message("objective_prompt is required")
        mode = item.get("confirmation_mode", "auto")
        if mode not in ("auto", "manual"):
            raise message("confirmation_mode must be auto or manual")
        modality = item.get("modality", "verbal")
        if modality not in ("verbal", "visual"):
            raise message("modality must be verbal or visual")
        conditional = item.get("next_conditional_objectives") or {}
        if not isinstance(conditional, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in conditional.items()
        ):
            raise message("next_conditional_objectives must map objective names to conditions")
        entry = {
            "objective_name": name,
            "objective_prompt": prompt,
            "confirmation_mode": mode,
            "output_variables": _strings(item.get("output_variables"), "output_variables"),
            "modality": modality,
            "next_conditional_objectives": conditional,
            "next_required_objectives": _strings(
                item.get("next_required_objectives"), "next_required_objectives"
            ),
        }
        if item.get("callback_url"):
            entry["callback_url"] = _url(item["callback_url"], "callback_url")
        names.append(name)
        clean.append(entry)
    for entry in clean:
        for target in [*entry["next_required_objectives"], *entry["next_conditional_objectives"]]:
            if target not in names:
                raise message(f"{entry['objective_name']} leads to an unknown objective {target!r}")
    return clean


def _get_objectives(objectives_id: str) -> Objectives:
    if not OBJECTIVE_ID.match(objectives_id):
        raise ApiError(400, {"error": "Invalid objectives_id"})
    try:
        return Objectives.objects.get(pk=objectives_id)
    except Objectives.DoesNotExist:
        raise ApiError(404, {"error": "Objective not found"}) from None


@login_not_required
@csrf_exempt
@api_view("GET", "POST")
def objectives(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _page(
            request,
            Objectives.objects.all(),
            lambda o: {"objectives_id": o.objectives_id, **o.document()},
        )
    body = _body(request)
    # {"data": [...]} per the API reference; one docs page shows a bare array: take both.
    items = body.get("data") if isinstance(body, dict) else body
    name = body.get("name") if isinstance(body, dict) else None
    if name is not None and not isinstance(name, str):
        raise message("name must be a string")
    created = Objectives.objects.create(
        objectives_id=new_id("o"),
        objective_name=(name or "").strip() or "New Objectives",
        items=check_objectives(items),
    )
    return JsonResponse(
        {
            "objectives_id": created.objectives_id,
            "objective_name": created.objective_name,
            "status": "active",
            "created_at": iso(created.created_at),
        }
    )


@login_not_required
@csrf_exempt
@api_view("GET", "PATCH", "DELETE")
def objectives_one(request: HttpRequest, objectives_id: str) -> HttpResponse:
    found = _get_objectives(objectives_id)
    if request.method == "GET":
        return JsonResponse({"data": found.document()})
    if request.method == "DELETE":
        with transaction.atomic():
            _scrub("objectives_id", found.objectives_id)
            found.delete()
        return HttpResponse(status=204)
    current = found.document()
    patched = _patched(current, _body(request), bare_prefix="/data/0")
    if patched == current:
        return HttpResponseNotModified()
    if not isinstance(patched, dict):
        raise ApiError(400, BAD_PATCH)
    found.items = check_objectives(patched.get("data"))
    name = patched.get("objective_name")
    if isinstance(name, str) and name.strip():
        found.objective_name = name.strip()
    found.save()
    return JsonResponse({"message": "Objective updated successfully"})


def _scrub(key: str, value: str) -> None:
    """Take a deleted object out of every persona that named it."""
    for persona in Persona.objects.all():
        document = persona.document
        if document.get(key) == value:
            document.pop(key)
        elif isinstance(document.get(key), list) and value in document[key]:
            document[key] = [v for v in document[key] if v != value]
        else:
            continue
        persona.save(update_fields=["document", "updated_at"])


# --- Guardrails ---------------------------------------------------------------------------------


def check_guardrail(item) -> dict:
    if not isinstance(item, dict):
        raise message("each guardrail must be an object")
    name = item.get("guardrail_name")
    if name in (None, ""):
        raise message("guardrail_name is required")
    if not isinstance(name, str) or not GUARDRAIL_NAME.match(name):
        raise message("guardrail_name must be 1-100 letters, digits or underscores")
    prompt = item.get("guardrail_prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise message("guardrail_prompt is required")
    if len(prompt) > MAX_PROMPT:
        raise message(f"guardrail_prompt must be at most {MAX_PROMPT} characters")
    modality = item.get("modality", "verbal")
    if modality not in ("verbal", "visual"):
        raise message("modality must be verbal or visual")
    tags = _strings(item.get("tags"), "tags")
    if len(tags) > MAX_TAGS or any(len(t) > MAX_TAG for t in tags):
        raise message(f"tags: at most {MAX_TAGS} tags of at most {MAX_TAG} characters")
    app_message = item.get("app_message", True)
    if not isinstance(app_message, bool):
        raise message("app_message must be true or false")
    return {
        "guardrail_name": name,
        "guardrail_prompt": prompt,
        "modality": modality,
        "callback_url": _url(item.get("callback_url"), "callback_url"),
        "tags": tags,
        "app_message": app_message,
    }


def _get_guardrails(guardrail_id: str) -> GuardrailSet | Guardrail:
    # Same path for both kinds (§3): the id tells which.
    if not GUARDRAIL_ID.match(guardrail_id):
        raise ApiError(400, {"error": "Invalid guardrails_id"})
    found = GuardrailSet.objects.filter(pk=guardrail_id).first()
    found = found or Guardrail.objects.filter(pk=guardrail_id).first()
    if found is None:
        raise ApiError(404, {"error": "Guardrails not found"})
    return found


def _create_set(body: dict) -> JsonResponse:
    items = body.get("data")
    if not isinstance(items, list) or not items:
        raise message("guardrail_name is required")
    checked = [check_guardrail(item) for item in items]
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise message("name is required")
    with transaction.atomic():
        made = GuardrailSet.objects.create(guardrails_id=new_id("g")[:7], guardrails_name=name)
        for position, item in enumerate(checked):
            Guardrail.objects.create(
                guardrail_id=new_id("g"), guardrail_set=made, position=position, **item
            )
    return JsonResponse(
        {
            "guardrails_id": made.guardrails_id,
            "guardrails_name": made.guardrails_name,
            "status": "active",
            "created_at": iso(made.created_at),
        }
    )


@login_not_required
@csrf_exempt
@api_view("GET", "POST")
def guardrails(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        if request.GET.get("legacy", "true").strip().lower() == "false":
            return _page(request, Guardrail.objects.all(), lambda g: g.as_api())
        return _page(
            request,
            GuardrailSet.objects.all(),
            lambda s: {
                "guardrails_id": s.guardrails_id,
                "created_at": iso(s.created_at),
                "updated_at": iso(s.updated_at),
            },
        )
    body = _body(request)
    if not isinstance(body, dict):
        raise message("guardrail_name is required")
    if "guardrail_name" not in body and "data" in body:
        return _create_set(body)
    made = Guardrail.objects.create(guardrail_id=new_id("g"), **check_guardrail(body))
    return JsonResponse(made.as_api())


@login_not_required
@csrf_exempt
@api_view("GET", "PATCH", "DELETE")
def guardrails_one(request: HttpRequest, guardrail_id: str) -> HttpResponse:
    found = _get_guardrails(guardrail_id)
    is_set = isinstance(found, GuardrailSet)
    if request.method == "GET":
        return JsonResponse({"data": found.document()} if is_set else found.as_api())
    if request.method == "DELETE":
        with transaction.atomic():
            if is_set:
                for item in found.guardrails.all():
                    _scrub("guardrail_ids", item.guardrail_id)
                _scrub("guardrails_id", found.guardrails_id)
            else:
                _scrub("guardrail_ids", found.guardrail_id)
            found.delete()
        return HttpResponse(status=204)
    operations = _body(request)
    if is_set:
        return _patch_set(found, operations)
    allowed = {"/guardrail_prompt", "/tags", "/modality"}
    if not isinstance(operations, list) or any(
        not isinstance(op, dict) or op.get("path") not in allowed for op in operations
    ):
        raise ApiError(400, BAD_PATCH)
    current = found.as_api()
    patched = _patched(current, operations)
    if patched == current:
        return HttpResponseNotModified()
    checked = check_guardrail({**patched, "guardrail_name": found.guardrail_name})
    for key in ("guardrail_prompt", "tags", "modality"):
        setattr(found, key, checked[key])
    found.save()
    return JsonResponse(found.as_api())


def _patch_set(found: GuardrailSet, operations) -> HttpResponse:
    current = found.document()
    patched = _patched(current, operations)
    if patched == current:
        return HttpResponseNotModified()
    items = patched.get("data") if isinstance(patched, dict) else None
    if not isinstance(items, list) or not items:
        raise ApiError(400, BAD_PATCH)
    checked = [check_guardrail(item) for item in items]
    with transaction.atomic():
        existing = list(found.guardrails.order_by("position", "created_at"))
        for position, item in enumerate(checked):
            if position < len(existing):
                guardrail = existing[position]
                for key, value in item.items():
                    setattr(guardrail, key, value)
                guardrail.position = position
                guardrail.save()
            else:
                Guardrail.objects.create(
                    guardrail_id=new_id("g"), guardrail_set=found, position=position, **item
                )
        for gone in existing[len(checked) :]:
            gone.delete()
        found.save()
    return JsonResponse({"message": "Guardrails updated successfully"})
