"""Small builders and a scripted Tavus for the library and preset tests."""

import json
from contextlib import contextmanager

import httpx

from studio.library.models import Persona, Replica
from studio.tavus import client


def make_replica(replica_id="r-anna", name="Anna", **extra) -> Replica:
    values = {
        "status": Replica.Status.READY,
        "replica_type": Replica.Type.SYSTEM,
        "thumbnail_video_url": f"https://cdn.example.com/{replica_id}.mp4",
        **extra,
    }
    return Replica.objects.create(replica_id=replica_id, name=name, **values)


def make_persona(persona_id="p-coach", name="Coach", **extra) -> Persona:
    values = {
        "persona_type": Persona.Type.USER,
        "system_prompt": "You coach people.",
        "pipeline_mode": "full",
        **extra,
    }
    return Persona.objects.create(persona_id=persona_id, name=name, **values)


def replica_json(replica_id, name, status="completed", replica_type="system", **extra) -> dict:
    return {
        "replica_id": replica_id,
        "replica_name": name,
        "thumbnail_video_url": f"https://cdn.example.com/{replica_id}.mp4",
        "training_progress": "100/100",
        "status": status,
        "replica_type": replica_type,
        "created_at": "2025-05-13T06:42:58.291561Z",
        **extra,
    }


def persona_json(persona_id, name, persona_type="system", **extra) -> dict:
    return {
        "persona_id": persona_id,
        "persona_name": name,
        "persona_type": persona_type,
        "system_prompt": f"You are {name}.",
        "context": "",
        "pipeline_mode": "full",
        "default_replica_id": None,
        "layers": {},
        "created_at": "2025-05-13T06:42:58.291561Z",
        **extra,
    }


class ScriptedTavus:
    """Just enough of Tavus for list/create/patch/delete, with every request recorded.

    Used only where the sandbox cannot help: paging over a tiny page size, objects that vanish,
    and outages. Flows run against the sandbox itself.
    """

    def __init__(self, replicas=(), personas=(), page_size=2):
        self.replicas = list(replicas)
        self.personas = list(personas)
        self.page_size = page_size
        self.requests: list[httpx.Request] = []
        self.fail_with: httpx.Response | Exception | None = None

    def bodies(self, method: str) -> list:
        return [json.loads(r.content) for r in self.requests if r.method == method]

    def _page(self, items, request):
        kind = request.url.params.get("replica_type") or request.url.params.get("persona_type")
        key = "replica_type" if "/replicas" in request.url.path else "persona_type"
        if kind:
            items = [i for i in items if i.get(key) == kind]
        page = int(request.url.params.get("page", 1))
        start = (page - 1) * self.page_size
        return httpx.Response(
            200, json={"data": items[start : start + self.page_size], "total_count": len(items)}
        )

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if isinstance(self.fail_with, Exception):
            raise self.fail_with
        if self.fail_with is not None:
            return self.fail_with
        path = request.url.path
        path = path[path.find("/v2/") :]  # whatever base TAVUS_API_BASE has
        if path == "/v2/replicas" and request.method == "GET":
            return self._page(self.replicas, request)
        if path == "/v2/personas" and request.method == "GET":
            return self._page(self.personas, request)
        if path == "/v2/personas" and request.method == "POST":
            body = json.loads(request.content)
            made = {
                "persona_id": f"p-new{len(self.personas)}",
                "created_at": "2025-06-01T00:00:00Z",
            }
            self.personas.append({**body, **made, "persona_type": "user"})
            return httpx.Response(200, json={**made, "persona_name": body.get("persona_name")})
        if path.startswith("/v2/personas/") and request.method == "PATCH":
            return httpx.Response(200, json={"message": "ok"})
        if path.startswith("/v2/personas/") and request.method == "DELETE":
            return httpx.Response(204)
        return httpx.Response(404, json={"message": "not scripted"})

    @contextmanager
    def installed(self):
        with client.use_transport(httpx.MockTransport(self)):
            yield self


@contextmanager
def tavus_answers(status: int, body: dict | None = None):
    """Every Tavus call gets this answer (an error, usually)."""
    transport = httpx.MockTransport(lambda request: httpx.Response(status, json=body or {}))
    with client.use_transport(transport):
        yield


@contextmanager
def tavus_unreachable():
    def refuse(request):
        raise httpx.ConnectError("connection refused", request=request)

    with client.use_transport(httpx.MockTransport(refuse)):
        yield
