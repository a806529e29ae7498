"""The tools registry, emulated: /v2/tools and /v2/pals/{id}/tools (tavus-api-2.md §6.2, §6.3).

Field rules are the documented ones. UNCONFIRMED, so chosen here: PATCH takes plain JSON (the
fields to change); attaching adds to what a persona already has (there is no documented way
to detach); errors use the {"error": ...} body of Tavus's other endpoints.
"""

import json
import re

from django.contrib.auth.decorators import login_not_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from studio.sandbox.models import Tool, new_id
from studio.sandbox.validation import ApiError, invalid, json_object
from studio.sandbox.views import _get_persona, _page, api_view

NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]{0,63}$")
MAX_TEXT = 10_000
MAX_PER_PERSONA = 50
ON_CALL = ("generate_filler", "static_filler", "silent", "passthrough")
ON_RESOLVE = ("fire_and_forget", "generate_response", "response_in_result", "add_to_context")


def check_tool(data: dict) -> dict:
    """The definition as stored (defaults filled in), or 400."""
    name = data.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        raise invalid(
            "Invalid name: letters, digits and underscores, at most 64, not a digit first."
        )
    description = data.get("description")
    if not isinstance(description, str) or not description.strip():
        raise invalid("description is required.")
    parameters = data.get("parameters", {})
    if not isinstance(parameters, dict):
        raise invalid("Invalid parameters: must be a JSON Schema object.")
    properties = parameters.get("properties", {})
    if not isinstance(properties, dict):
        raise invalid("Invalid parameters: properties must be an object.")
    if any(str(key).startswith("tavus_") for key in properties):
        raise invalid("Invalid parameters: property names may not start with tavus_.")
    if len(description) + len(json.dumps(parameters)) > MAX_TEXT:
        raise invalid("description and parameters together must be at most 10,000 characters.")
    trigger = data.get("trigger_type", "in_call")
    if trigger not in ("in_call", "post_call"):
        raise invalid("Invalid trigger_type: use in_call or post_call.")
    definition = {"name": name, "description": description, "parameters": parameters}
    definition["trigger_type"] = trigger
    delivery = data.get("delivery", {"app_message": True})
    if not isinstance(delivery, dict):
        raise invalid("Invalid delivery: must be an object.")
    by_message, api = delivery.get("app_message") is True, delivery.get("api")
    if by_message == bool(api):
        raise invalid("Invalid delivery: give exactly one of app_message true or api.")
    if api is not None and (
        not isinstance(api, dict) or not str(api.get("url", "")).startswith("https://")
    ):
        raise invalid("Invalid delivery.api: url must be a public https address.")
    definition["delivery"] = delivery
    if trigger == "post_call":
        if "origin" in data:
            raise invalid("A post_call tool has no origin.")
        if not api:
            raise invalid("A post_call tool needs delivery.api.")
        return definition
    origin = data.get("origin", "llm")
    if origin not in ("llm", "vision", "audio"):
        raise invalid("Invalid origin: use llm, vision or audio.")
    definition["origin"] = origin
    if origin != "llm" and "on_call" in data:
        raise invalid("on_call must be omitted for vision and audio tools.")
    if origin == "llm":
        definition["on_call"] = data.get("on_call", "generate_filler")
        if definition["on_call"] not in ON_CALL:
            raise invalid(f"Invalid on_call: use one of {', '.join(ON_CALL)}.")
        if definition["on_call"] == "static_filler":
            if not isinstance(data.get("static_filler"), str) or not data["static_filler"].strip():
                raise invalid("static_filler is required when on_call is static_filler.")
            definition["static_filler"] = data["static_filler"]
    definition["on_resolve"] = data.get("on_resolve", "fire_and_forget")
    if definition["on_resolve"] not in ON_RESOLVE:
        raise invalid(f"Invalid on_resolve: use one of {', '.join(ON_RESOLVE)}.")
    return definition


def _get_tool(tool_id: str) -> Tool:
    try:
        return Tool.objects.get(pk=tool_id)
    except Tool.DoesNotExist:
        raise ApiError(404, {"error": "Tool not found"}) from None


def _save(tool: Tool, definition: dict) -> None:
    if Tool.objects.filter(name=definition["name"]).exclude(pk=tool.pk).exists():
        raise invalid(f"A tool named {definition['name']} already exists.")
    tool.name, tool.definition = definition["name"], definition
    tool.save()


@login_not_required
@csrf_exempt
@api_view("GET", "POST")
def tools(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _page(request, Tool.objects.all(), lambda t: t.as_api())
    tool = Tool(tool_id=new_id("t"))
    _save(tool, check_tool(json_object(request.body)))
    return JsonResponse(tool.as_api())


@login_not_required
@csrf_exempt
@api_view("GET", "PATCH", "DELETE")
def tool(request: HttpRequest, tool_id: str) -> HttpResponse:
    found = _get_tool(tool_id)
    if request.method == "DELETE":
        found.delete()
        return HttpResponse(status=204)
    if request.method == "PATCH":
        changes = json_object(request.body)
        _save(found, check_tool({**found.definition, **changes}))
    return JsonResponse(found.as_api())


@login_not_required
@csrf_exempt
@api_view("GET", "POST")
def persona_tools(request: HttpRequest, persona_id: str) -> HttpResponse:
    persona = _get_persona(persona_id)
    if request.method == "POST":
        ids = json_object(request.body).get("tool_ids")
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise invalid("tool_ids must be a list of tool ids.")
        found = list(Tool.objects.filter(pk__in=ids))
        if len(found) != len(set(ids)):
            raise invalid("Invalid tool_ids")
        with transaction.atomic():
            attached = sum(persona.persona_id in t.persona_ids for t in Tool.objects.all())
            new = [t for t in found if persona.persona_id not in t.persona_ids]
            if attached + len(new) > MAX_PER_PERSONA:
                raise invalid(f"A persona can have at most {MAX_PER_PERSONA} tools.")
            for item in new:
                item.persona_ids = [*item.persona_ids, persona.persona_id]
                item.save(update_fields=["persona_ids", "updated_at"])
    mine = [t.as_api() for t in Tool.objects.all() if persona.persona_id in t.persona_ids]
    return JsonResponse({"data": mine})
