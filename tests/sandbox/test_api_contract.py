"""The Tavus API contract over real HTTP: the sandbox, and real Tavus with TAVUS_LIVE_TESTS=1.

Every assertion here is one the real service is documented to satisfy (shared/tavus-api.md), so
a failure against live Tavus means the sandbox (or the notes) drifted from the truth. Tests that
would start a billed conversation or touch stock objects run against the sandbox only.
"""

import re

import httpx
import pytest

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
INVALID_KEY = {"message": "Invalid access token"}
CONCURRENCY = {"message": "User has reached maximum concurrent conversations"}


def _create(tavus, **body):
    body.setdefault("replica_id", tavus.stock_replica_id())
    return tavus.http.post("/v2/conversations", json=body)


def _persona(tavus, **body):
    body = {"persona_name": "Contract test persona", "system_prompt": "Be brief.", **body}
    response = tavus.http.post("/v2/personas", json=body)
    assert response.status_code == 200, response.text
    return response.json()["persona_id"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v2/conversations"),
        ("POST", "/v2/conversations"),
        ("GET", "/v2/conversations/c123456"),
        ("DELETE", "/v2/conversations/c123456"),
        ("POST", "/v2/conversations/c123456/end"),
        ("GET", "/v2/personas"),
        ("POST", "/v2/personas"),
        ("GET", "/v2/personas/p123456"),
        ("PATCH", "/v2/personas/p123456"),
        ("DELETE", "/v2/personas/p123456"),
        ("GET", "/v2/replicas"),
        ("GET", "/v2/replicas/r123456"),
    ],
)
@pytest.mark.parametrize("key", [None, "wrong-key"])
def test_it_rejects_a_missing_or_wrong_api_key(tavus, method, path, key):
    headers = {"x-api-key": key} if key else {}
    body = {} if method in ("POST", "PATCH") else None
    response = httpx.request(method, tavus.base_url + path, headers=headers, json=body)
    assert response.status_code == 401
    assert response.json() == INVALID_KEY


@pytest.mark.parametrize(
    ("method", "path", "error"),
    [
        ("GET", "/v2/conversations/c0000000dead", "Invalid conversation_id"),
        ("DELETE", "/v2/conversations/c0000000dead", "Invalid conversation_id"),
        ("POST", "/v2/conversations/c0000000dead/end", "Invalid conversation_id"),
        ("GET", "/v2/personas/p0000000dead", "Invalid persona_id"),
        ("DELETE", "/v2/personas/p0000000dead", "Invalid persona_id"),
        ("GET", "/v2/replicas/r0000000dead", "Invalid replica_id"),
    ],
)
def test_unknown_ids_are_400_with_the_tavus_error_body(tavus, method, path, error):
    response = tavus.http.request(method, path)
    assert response.status_code == 400
    assert response.json() == {"error": error}


def test_replicas_are_listed_a_page_at_a_time(tavus):
    first = tavus.http.get("/v2/replicas", params={"limit": 3, "page": 1}).json()
    second = tavus.http.get("/v2/replicas", params={"limit": 3, "page": 2}).json()
    assert set(first) == {"data", "total_count"}
    assert len(first["data"]) == 3
    assert first["total_count"] >= 11 if not tavus.live else first["total_count"] >= 3
    assert {r["replica_id"] for r in first["data"]}.isdisjoint(
        {r["replica_id"] for r in second["data"]}
    )
    item = first["data"][0]
    for key in ("replica_id", "replica_name", "thumbnail_video_url", "status", "created_at"):
        assert key in item
    assert re.match(r"^r[0-9a-f]+$", item["replica_id"])


def test_replicas_filter_by_type_and_verbose_adds_the_type(tavus):
    body = tavus.http.get(
        "/v2/replicas", params={"replica_type": "system", "verbose": "true", "limit": 50}
    ).json()
    assert body["data"]
    assert {r["replica_type"] for r in body["data"]} == {"system"}
    plain = tavus.http.get("/v2/replicas", params={"limit": 1}).json()["data"][0]
    assert "replica_type" not in plain


def test_a_replica_is_read_by_id(tavus):
    replica_id = tavus.stock_replica_id()
    response = tavus.http.get(f"/v2/replicas/{replica_id}")
    assert response.status_code == 200
    body = response.json()
    assert body["replica_id"] == replica_id
    assert body["status"] == "completed"
    assert ISO.match(body["created_at"]) or tavus.live


def test_the_sandbox_seeds_tavus_stock_replicas_and_personas(tavus):
    tavus.sandbox_only("the stock cast differs per account and churns")
    replicas = tavus.http.get("/v2/replicas", params={"limit": 100, "verbose": "true"}).json()
    names = {r["replica_name"]: r for r in replicas["data"]}
    assert replicas["total_count"] == 11
    assert names["Nathan"]["replica_id"] == "rfe12d8b9597"
    assert names["Anna"]["replica_id"] == "r6ae5b6efc9d"
    assert all(r["status"] == "completed" and r["replica_type"] == "system" for r in names.values())
    personas = tavus.http.get("/v2/personas", params={"persona_type": "system", "limit": 50})
    body = personas.json()
    assert body["total_count"] == 12
    replica_ids = {r["replica_id"] for r in replicas["data"]}
    assert all(p["default_replica_id"] in replica_ids for p in body["data"])
    raven = [p for p in body["data"] if p["layers"]["perception"]["perception_model"] == "raven-0"]
    assert raven


def test_era_b_aliases_reach_the_same_objects(tavus):
    tavus.sandbox_only("era-B routes are not on every account yet")
    face = tavus.http.get("/v2/faces", params={"limit": 1}).json()["data"][0]
    assert face["face_id"] == face["replica_id"]
    assert tavus.http.get(f"/v2/faces/{face['face_id']}").json()["replica_id"] == face["face_id"]
    pal = tavus.http.post("/v2/pals", json={"pal_name": "Pal", "system_prompt": "Hi."}).json()
    assert pal["pal_id"] == pal["persona_id"] and pal["pal_name"] == "Pal"
    assert tavus.http.get(f"/v2/personas/{pal['pal_id']}").json()["persona_name"] == "Pal"
    created = _create(tavus, pal_id=pal["pal_id"], face_id=face["face_id"], test_mode=True)
    conversation = tavus.http.get(f"/v2/conversations/{created.json()['conversation_id']}")
    assert conversation.json()["persona_id"] == pal["pal_id"]
    assert conversation.json()["replica_id"] == face["face_id"]


# --- Personas --------------------------------------------------------------------------------


def test_a_persona_is_created_read_listed_patched_and_deleted(tavus):
    replica_id = tavus.stock_replica_id()
    response = tavus.http.post(
        "/v2/personas",
        json={
            "persona_name": "Contract Coach",
            "system_prompt": "You coach.",
            "default_replica_id": replica_id,
            "layers": {"llm": {"model": "tavus-gpt-4o"}},
        },
    )
    assert response.status_code == 200
    created = response.json()
    assert {"persona_id", "persona_name", "created_at"} <= set(created)
    persona_id = created["persona_id"]
    assert re.match(r"^p[0-9a-f]+$", persona_id)
    try:
        body = tavus.http.get(f"/v2/personas/{persona_id}").json()
        assert body["persona_name"] == "Contract Coach"
        assert body["default_replica_id"] == replica_id
        assert body["system_prompt"] == "You coach."

        listed = tavus.http.get("/v2/personas", params={"persona_type": "user", "limit": 100})
        assert persona_id in {p["persona_id"] for p in listed.json()["data"]}

        patch = [
            {"op": "replace", "path": "/persona_name", "value": "Renamed Coach"},
            {"op": "add", "path": "/layers/llm/model", "value": "tavus-gpt-4o-mini"},
        ]
        patched = tavus.http.patch(f"/v2/personas/{persona_id}", json=patch)
        assert patched.status_code == 200
        assert patched.json()["persona_name"] == "Renamed Coach"
        assert patched.json()["layers"]["llm"]["model"] == "tavus-gpt-4o-mini"
        # Same patch again: nothing changes. (A 304 carries no body over HTTP.)
        assert tavus.http.patch(f"/v2/personas/{persona_id}", json=patch).status_code == 304
    finally:
        assert tavus.http.delete(f"/v2/personas/{persona_id}").status_code == 204
    assert tavus.http.get(f"/v2/personas/{persona_id}").status_code == 400


@pytest.mark.parametrize(
    "patch",
    [
        {"op": "replace", "path": "/persona_name", "value": "x"},  # not a list
        [{"op": "explode", "path": "/persona_name"}],
        [{"op": "replace", "path": "/persona_name"}],  # no value
        [{"op": "replace", "path": "/no/such/path", "value": 1}],
        "not even json",
    ],
    ids=["object", "unknown-op", "no-value", "missing-path", "not-json"],
)
def test_a_bad_json_patch_is_422(tavus, patch):
    persona_id = _persona(tavus)
    try:
        if isinstance(patch, str):
            response = tavus.http.patch(
                f"/v2/personas/{persona_id}",
                content=patch,
                headers={"Content-Type": "application/json"},
            )
        else:
            response = tavus.http.patch(f"/v2/personas/{persona_id}", json=patch)
        assert response.status_code == 422
        assert response.json() == {"message": "Invalid JSON patch format"}
    finally:
        tavus.http.delete(f"/v2/personas/{persona_id}")


def test_stock_personas_cannot_be_patched_or_deleted(tavus):
    tavus.sandbox_only("never risk a stock persona on a real account")
    patch = [{"op": "replace", "path": "/persona_name", "value": "Mine now"}]
    for response in (
        tavus.http.patch("/v2/personas/pdced222244b", json=patch),
        tavus.http.delete("/v2/personas/pdced222244b"),
    ):
        assert response.status_code == 400
        assert "error" in response.json()
    assert tavus.http.get("/v2/personas/pdced222244b").json()["persona_name"] == "Sales Coach"


def test_a_persona_needs_a_system_prompt_in_full_pipeline_mode(tavus):
    response = tavus.http.post("/v2/personas", json={"persona_name": "No prompt"})
    assert response.status_code == 400


# --- Conversations ----------------------------------------------------------------------------


def test_test_mode_creates_an_ended_conversation(tavus):
    response = _create(tavus, test_mode=True, conversation_name="Contract test")
    assert response.status_code == 200
    body = response.json()
    assert {
        "conversation_id",
        "conversation_name",
        "conversation_url",
        "status",
        "callback_url",
        "created_at",
    } <= set(body)
    assert body["status"] == "ended"
    assert body["conversation_name"] == "Contract test"
    assert re.match(r"^c[0-9a-f]+$", body["conversation_id"])
    assert "meeting_token" not in body
    got = tavus.http.get(f"/v2/conversations/{body['conversation_id']}").json()
    assert got["status"] == "ended"


def test_require_auth_returns_a_meeting_token(tavus):
    body = _create(tavus, test_mode=True, require_auth=True).json()
    assert body["meeting_token"].count(".") == 2  # a JWT


def test_create_returns_the_documented_fields(tavus):
    tavus.sandbox_only("an active conversation is billed")
    hook = "http://127.0.0.1:9/hooks/tavus/x/"
    response = _create(tavus, callback_url=hook)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "active"
    assert body["callback_url"] == hook
    assert ISO.match(body["created_at"])
    assert body["conversation_url"] == f"{tavus.base_url}/rooms/{body['conversation_id']}/"
    assert body["conversation_name"].startswith("New Conversation ")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"persona_id": "p0000000dead"}, {"error": "Invalid persona_id"}),
        ({"replica_id": "r0000000dead"}, {"error": "Invalid replica_id"}),
        ({"properties": {"language": "klingon"}}, None),
        ({"properties": {"language": "en"}}, None),
        ({"max_participants": 1}, None),
        ({"properties": {"max_call_duration": -1}}, None),
        ({"properties": {"max_call_duration": 3601}}, None),
        ({"properties": {"max_call_duration": 60.5}}, None),
        ({"properties": {"max_call_duration": "60"}}, None),
        ({"properties": {"participant_left_timeout": -5}}, None),
        ({"properties": {"participant_absent_timeout": 1.5}}, None),
    ],
    ids=[
        "unknown-persona",
        "unknown-replica",
        "unknown-language",
        "language-code",
        "one-participant",
        "negative-duration",
        "duration-over-an-hour",
        "fractional-duration",
        "string-duration",
        "negative-left-timeout",
        "fractional-absent-timeout",
    ],
)
def test_create_rejects_what_tavus_rejects(tavus, body, expected):
    body = {"test_mode": True, **body}  # should it slip through on live Tavus, it costs nothing
    if "replica_id" not in body:
        body["replica_id"] = tavus.stock_replica_id()
    response = tavus.http.post("/v2/conversations", json=body)
    assert response.status_code == 400, response.text
    if expected:
        assert response.json() == expected
    else:
        assert "error" in response.json() or "message" in response.json()


def test_create_needs_a_replica_from_the_request_or_the_persona(tavus):
    persona_id = _persona(tavus)
    try:
        response = tavus.http.post(
            "/v2/conversations", json={"persona_id": persona_id, "test_mode": True}
        )
        assert response.status_code == 400
    finally:
        tavus.http.delete(f"/v2/personas/{persona_id}")


def test_create_rejects_a_body_that_is_not_json(tavus):
    response = tavus.http.post(
        "/v2/conversations", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400


def test_language_names_are_case_insensitive(tavus):
    for language in ("English", "spanish", "MULTILINGUAL"):
        response = _create(tavus, test_mode=True, properties={"language": language})
        assert response.status_code == 200, (language, response.text)


def test_a_stock_persona_supplies_its_default_replica(tavus):
    tavus.sandbox_only("stock persona ids differ per account")
    body = tavus.http.post(
        "/v2/conversations", json={"persona_id": "pc55154f229a", "test_mode": True}
    ).json()
    got = tavus.http.get(f"/v2/conversations/{body['conversation_id']}").json()
    assert got["replica_id"] == "r6ae5b6efc9d"
    assert got["persona_id"] == "pc55154f229a"


def test_conversations_are_listed_a_page_at_a_time_and_filtered(tavus):
    ids = [_create(tavus, test_mode=True).json()["conversation_id"] for _ in range(3)]
    page = tavus.http.get("/v2/conversations", params={"limit": 2, "page": 1}).json()
    assert set(page) == {"data", "total_count"}
    assert len(page["data"]) == 2
    assert page["total_count"] >= 3
    ended = tavus.http.get("/v2/conversations", params={"status": "ended", "limit": 100}).json()
    assert {c["status"] for c in ended["data"]} == {"ended"}
    assert set(ids) <= {c["conversation_id"] for c in ended["data"]}
    item = ended["data"][0]
    for key in ("conversation_id", "conversation_name", "status", "conversation_url", "created_at"):
        assert key in item


def test_get_conversation_shows_the_documented_fields(tavus):
    tavus.sandbox_only("an active conversation is billed")
    created = _create(tavus).json()
    body = tavus.http.get(f"/v2/conversations/{created['conversation_id']}").json()
    assert body["status"] == "active"
    for key in ("conversation_url", "callback_url", "replica_id", "persona_id", "updated_at"):
        assert key in body
    verbose = tavus.http.get(
        f"/v2/conversations/{created['conversation_id']}", params={"verbose": "true"}
    ).json()
    assert verbose["events"] == []
    assert verbose["shutdown_reason"] is None


def test_end_then_delete_a_conversation(tavus):
    tavus.sandbox_only("an active conversation is billed")
    conversation_id = _create(tavus).json()["conversation_id"]
    assert tavus.http.post(f"/v2/conversations/{conversation_id}/end").status_code == 200
    body = tavus.http.get(f"/v2/conversations/{conversation_id}", params={"verbose": "true"})
    assert body.json()["status"] == "ended"
    assert body.json()["shutdown_reason"] == "end_conversation_endpoint_hit"
    assert tavus.http.delete(f"/v2/conversations/{conversation_id}").status_code == 204
    assert tavus.http.get(f"/v2/conversations/{conversation_id}").status_code == 400


def test_a_hard_delete_removes_the_conversation(tavus):
    conversation_id = _create(tavus, test_mode=True).json()["conversation_id"]
    response = tavus.http.delete(f"/v2/conversations/{conversation_id}", params={"hard": "true"})
    assert response.status_code == 204
    assert tavus.http.get(f"/v2/conversations/{conversation_id}").status_code == 400


def test_the_concurrency_limit_is_enforced_with_the_tavus_message(tavus, settings):
    tavus.sandbox_only("the plan's limit is unknown and active calls are billed")
    settings.SANDBOX_CONCURRENCY_LIMIT = 2
    first = _create(tavus).json()["conversation_id"]
    _create(tavus)
    over = _create(tavus)
    assert over.status_code == 400
    assert over.json() == CONCURRENCY
    # test_mode takes no slot; ending a call frees one.
    assert _create(tavus, test_mode=True).status_code == 200
    tavus.http.post(f"/v2/conversations/{first}/end")
    assert _create(tavus).status_code == 200


def test_a_wrong_method_is_405_json(tavus):
    tavus.sandbox_only("Tavus's 405 body is undocumented")
    response = tavus.http.put("/v2/conversations")
    assert response.status_code == 405
    assert response.json() == {"message": "Method not allowed"}
