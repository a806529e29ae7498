"""Objectives and guardrails (shared/tavus-api-2.md §2, §3), through the client's transport.

Where the facts leave shapes open, every plausible one is read: a GET of an objectives set may
wrap its items as {"data": {"data": [...]}}, {"data": [...]} or {"data": item}; a guardrail's
id comes as `guardrail_id`, `uuid` or `id`. Changes to an objectives set are sent as one JSON
Patch that replaces its `/data` list (the path form the docs' page text uses).
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Self

import httpx

from studio.tavus.client import (
    InvalidRequest,
    Page,
    _call,
    _ignore_body,
    _json,
    _Malformed,
    _object,
    _page,
    _segment,
    _text,
    _walk,
)


class NotAtTavus(InvalidRequest):
    default_message = "Tavus no longer has this."


def _gone(call):
    try:
        return call()
    except InvalidRequest as error:
        if error.status == 404:
            raise NotAtTavus(NotAtTavus.default_message, status=404, detail=error.detail) from error
        raise


def _id(data: dict, *keys: str) -> str:
    for key in keys:
        if isinstance(data.get(key), str) and data[key]:
            return data[key]
    raise _Malformed(f"missing {keys[0]}")


# --- Objectives ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ObjectiveSet:
    objectives_id: str
    name: str
    items: list[dict]
    raw: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: Any, objectives_id: str = "") -> Self:
        data = _object(data, "objectives")
        inner = data.get("data", data)
        name = _text(data, "objective_name")
        if isinstance(inner, dict) and "data" in inner:
            name = _text(inner, "objective_name") or name
            inner = inner["data"]
        if isinstance(inner, dict):
            inner = [inner]  # one item, returned bare
        if not isinstance(inner, list) or not all(isinstance(i, dict) for i in inner):
            raise _Malformed("objectives are not a list of objects")
        return cls(
            objectives_id=objectives_id or _id(data, "objectives_id", "id"),
            name=name,
            items=inner,
            raw=data,
        )


def create_objectives(items: list[dict], name: str = "") -> str:
    """A new objectives set; returns its id. https://docs.tavus.io/api-reference/objectives"""
    body: dict = {"data": items}
    if name:
        body["name"] = name
    return _call(
        "POST",
        "/v2/objectives",
        lambda r: _id(_object(_json(r), "answer"), "objectives_id"),
        json=body,
    )


def get_objectives(objectives_id: str) -> ObjectiveSet:
    """One set. https://docs.tavus.io/api-reference/objectives/get-objectives"""
    path = f"/v2/objectives/{_segment(objectives_id, 'objectives_id')}"
    return _gone(
        lambda: _call("GET", path, lambda r: ObjectiveSet.from_json(_json(r), objectives_id))
    )


def iter_objectives() -> Iterator[ObjectiveSet]:
    """Every set (1-based pages). https://docs.tavus.io/api-reference/objectives"""

    def fetch(page: int) -> Page[ObjectiveSet]:
        params = {"page": page, "limit": 100}
        return _call(
            "GET",
            "/v2/objectives",
            lambda r: _page(_json(r), ObjectiveSet.from_json),
            params=params,
        )

    return _walk(fetch)


def update_objectives(objectives_id: str, items: list[dict]) -> bool:
    """Replace the steps; False if Tavus says nothing changed (304)."""
    path = f"/v2/objectives/{_segment(objectives_id, 'objectives_id')}"
    patch = [{"op": "replace", "path": "/data", "value": items}]
    return _gone(lambda: _call("PATCH", path, lambda r: r.status_code != 304, json=patch))


def delete_objectives(objectives_id: str) -> None:
    path = f"/v2/objectives/{_segment(objectives_id, 'objectives_id')}"
    _gone(lambda: _call("DELETE", path, _ignore_body))


# --- Guardrails ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Guardrail:
    guardrail_id: str
    guardrail_name: str
    guardrail_prompt: str
    modality: str
    tags: list[str]
    callback_url: str
    app_message: bool
    raw: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: Any) -> Self:
        data = _object(data, "guardrail")
        tags = data.get("tags") or []
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise _Malformed("tags is not a list of strings")
        app_message = data.get("app_message", True)
        return cls(
            guardrail_id=_id(data, "guardrail_id", "uuid", "id"),
            guardrail_name=_text(data, "guardrail_name", required=True),
            guardrail_prompt=_text(data, "guardrail_prompt"),
            modality=_text(data, "modality") or "verbal",
            tags=tags,
            callback_url=_text(data, "callback_url"),
            app_message=app_message if isinstance(app_message, bool) else True,
            raw=data,
        )


def _guardrail_path(guardrail_id: str) -> str:
    return f"/v2/guardrails/{_segment(guardrail_id, 'guardrail_id')}"


def create_guardrail(
    name: str, prompt: str, *, modality: str = "verbal", tags=(), app_message: bool = True
) -> Guardrail:
    """One guardrail. https://docs.tavus.io/api-reference/guardrails/create-guardrails"""
    body = {
        "guardrail_name": name,
        "guardrail_prompt": prompt,
        "modality": modality,
        "tags": list(tags),
        "app_message": app_message,
    }

    def parse(response: httpx.Response) -> Guardrail:
        # Fill in what we sent if the answer is thinner than the docs' example.
        return Guardrail.from_json({**body, **_object(_json(response), "guardrail")})

    return _call("POST", "/v2/guardrails", parse, json=body)


def get_guardrail(guardrail_id: str) -> Guardrail:
    return _gone(
        lambda: _call("GET", _guardrail_path(guardrail_id), lambda r: Guardrail.from_json(_json(r)))
    )


def iter_guardrails() -> Iterator[Guardrail]:
    """Every individual guardrail (`legacy=false`; the default lists legacy sets)."""

    def fetch(page: int) -> Page[Guardrail]:
        params = {"page": page, "limit": 100, "legacy": "false"}
        return _call(
            "GET", "/v2/guardrails", lambda r: _page(_json(r), Guardrail.from_json), params=params
        )

    return _walk(fetch)


def update_guardrail(guardrail_id: str, **changes) -> bool:
    """JSON Patch of prompt, tags and/or modality (the paths Tavus documents); False if 304."""
    allowed = ("guardrail_prompt", "tags", "modality")
    patch = [
        {"op": "replace", "path": f"/{k}", "value": changes[k]} for k in allowed if k in changes
    ]
    if not patch:
        return False
    path = _guardrail_path(guardrail_id)
    return _gone(lambda: _call("PATCH", path, lambda r: r.status_code != 304, json=patch))


def delete_guardrail(guardrail_id: str) -> None:
    _gone(lambda: _call("DELETE", _guardrail_path(guardrail_id), _ignore_body))


# --- Tools registry (tavus-api-2.md §6.2, §6.3) ---------------------------------------------


@dataclass(frozen=True)
class Tool:
    tool_id: str
    name: str
    description: str
    parameters: dict
    trigger_type: str  # "in_call" or "post_call"
    delivery: dict
    raw: dict = field(default_factory=dict, repr=False)

    @property
    def is_post_call(self) -> bool:
        return self.trigger_type == "post_call"

    @classmethod
    def from_json(cls, data: Any) -> Self:
        data = _object(data, "tool")
        parameters = data.get("parameters") or {}
        delivery = data.get("delivery") or {}
        if not isinstance(parameters, dict) or not isinstance(delivery, dict):
            raise _Malformed("parameters or delivery is not an object")
        return cls(
            tool_id=_id(data, "tool_id", "id"),
            name=_text(data, "name", required=True),
            description=_text(data, "description"),
            parameters=parameters,
            trigger_type=_text(data, "trigger_type") or "in_call",
            delivery=delivery,
            raw=data,
        )


def _tool_path(tool_id: str) -> str:
    return f"/v2/tools/{_segment(tool_id, 'tool_id')}"


def create_tool(body: dict) -> Tool:
    """Register a tool. https://docs.tavus.io/api-reference/tools/create-tool"""
    return _call("POST", "/v2/tools", lambda r: Tool.from_json(_json(r)), json=body)


def iter_tools() -> Iterator[Tool]:
    def fetch(page: int) -> Page[Tool]:
        params = {"page": page, "limit": 100}
        return _call("GET", "/v2/tools", lambda r: _page(_json(r), Tool.from_json), params=params)

    return _walk(fetch)


def update_tool(tool_id: str, changes: dict) -> Tool:
    """Change a tool (plain JSON of the fields to change; the body shape is UNCONFIRMED)."""
    return _gone(
        lambda: _call(
            "PATCH", _tool_path(tool_id), lambda r: Tool.from_json(_json(r)), json=changes
        )
    )


def delete_tool(tool_id: str) -> None:
    _gone(lambda: _call("DELETE", _tool_path(tool_id), _ignore_body))


def _tools_list(response: httpx.Response) -> list[Tool]:
    data = _object(_json(response), "answer").get("data")
    if not isinstance(data, list):
        raise _Malformed("data is not a list")
    return [Tool.from_json(item) for item in data]


def attach_tools(persona_id: str, tool_ids: list[str]) -> list[Tool]:
    """Let a persona (PAL) call these tools; returns what it has now.
    https://docs.tavus.io/api-reference/pal-tools/attach-tools-to-pal"""
    path = f"/v2/pals/{_segment(persona_id, 'persona_id')}/tools"
    return _call("POST", path, _tools_list, json={"tool_ids": tool_ids})


def persona_tools(persona_id: str) -> list[Tool]:
    """The registry tools a persona (PAL) may call, post-call actions included."""
    path = f"/v2/pals/{_segment(persona_id, 'persona_id')}/tools"
    return _call("GET", path, _tools_list)
