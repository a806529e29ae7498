"""Objectives and guardrails over real HTTP (shared/tavus-api-2.md §2, §3), and the events the
sandbox replica sends in the room when its persona has objectives, guardrails or tools."""

import json
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from studio.sandbox.lifecycle import tick
from tests.sandbox.helpers import Person, events_until

INVALID_KEY = {"message": "Invalid access token"}
INTAKE = [
    {
        "objective_name": "ask_if_new_patient",
        "objective_prompt": "Ask if they are new or returning",
        "output_variables": ["patient_status"],
        "next_conditional_objectives": {
            "new_patient_intake": "If the patient is new",
            "existing_patient_intake": "If the patient is returning",
        },
    },
    {"objective_name": "new_patient_intake", "objective_prompt": "Take their details"},
    {"objective_name": "existing_patient_intake", "objective_prompt": "Find their record"},
]
RULE = {
    "guardrail_name": "no_competitors",
    "guardrail_prompt": "Never discuss competitors.",
    "modality": "verbal",
    "tags": ["compliance"],
}


def _objectives(tavus, items=INTAKE, **extra):
    response = tavus.http.post("/v2/objectives", json={"data": items, **extra})
    assert response.status_code == 200, response.text
    return response.json()


def _guardrail(tavus, **body):
    response = tavus.http.post("/v2/guardrails", json={**RULE, **body})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v2/objectives"),
        ("POST", "/v2/objectives"),
        ("GET", "/v2/objectives/o12345"),
        ("PATCH", "/v2/objectives/o12345"),
        ("DELETE", "/v2/objectives/o12345"),
        ("GET", "/v2/guardrails"),
        ("POST", "/v2/guardrails"),
        ("GET", "/v2/guardrails/g12345"),
        ("PATCH", "/v2/guardrails/g12345"),
        ("DELETE", "/v2/guardrails/g12345"),
    ],
)
def test_every_endpoint_needs_the_api_key(tavus, method, path):
    response = httpx.request(method, tavus.base_url + path, json=[] if method != "GET" else None)
    assert response.status_code == 401
    assert response.json() == INVALID_KEY


# --- Objectives ----------------------------------------------------------------------------------


def test_objectives_are_created_listed_read_patched_and_deleted(tavus):
    created = _objectives(tavus, name="Clinic intake")
    assert set(created) == {"objectives_id", "objective_name", "status", "created_at"}
    assert created["status"] == "active" and created["objective_name"] == "Clinic intake"
    oid = created["objectives_id"]
    listed = tavus.http.get("/v2/objectives", params={"limit": 10, "page": 1}).json()
    assert listed["total_count"] == 1 and listed["data"][0]["objectives_id"] == oid
    one = tavus.http.get(f"/v2/objectives/{oid}").json()
    assert "objectives_id" not in one["data"]
    assert [o["objective_name"] for o in one["data"]["data"]] == [
        o["objective_name"] for o in INTAKE
    ]
    assert one["data"]["data"][0]["confirmation_mode"] == "auto"  # the default
    patch = [{"op": "replace", "path": "/data/0/objective_prompt", "value": "Ask kindly"}]
    response = tavus.http.patch(f"/v2/objectives/{oid}", json=patch)
    assert response.status_code == 200
    assert response.json() == {"message": "Objective updated successfully"}
    assert (
        tavus.http.get(f"/v2/objectives/{oid}").json()["data"]["data"][0]["objective_prompt"]
        == "Ask kindly"
    )
    assert tavus.http.patch(f"/v2/objectives/{oid}", json=patch).status_code == 304
    assert tavus.http.delete(f"/v2/objectives/{oid}").status_code == 204
    assert tavus.http.get(f"/v2/objectives/{oid}").status_code == 404


def test_a_bare_array_and_a_bare_patch_path_are_taken_too(tavus):
    tavus.sandbox_only("one docs page's shapes; the sandbox accepts both")
    response = tavus.http.post("/v2/objectives", json=INTAKE[1:2])
    oid = response.json()["objectives_id"]
    patch = [{"op": "replace", "path": "/objective_prompt", "value": "Take details"}]
    assert tavus.http.patch(f"/v2/objectives/{oid}", json=patch).status_code == 200
    item = tavus.http.get(f"/v2/objectives/{oid}").json()["data"]["data"][0]
    assert item["objective_prompt"] == "Take details"


@pytest.mark.parametrize(
    ("items", "error"),
    [
        ([{"objective_prompt": "x"}], "objective_name is required"),
        ([{"objective_name": "a", "objective_prompt": ""}], "objective_prompt is required"),
        ([{"objective_name": "has space", "objective_prompt": "x"}], "must not contain spaces"),
        (
            [{"objective_name": "a", "objective_prompt": "x", "confirmation_mode": "maybe"}],
            "confirmation_mode must be auto or manual",
        ),
        (
            [{"objective_name": "a", "objective_prompt": "x", "next_required_objectives": ["b"]}],
            "unknown objective",
        ),
    ],
)
def test_bad_objectives_are_400_with_a_message(tavus, items, error):
    response = tavus.http.post("/v2/objectives", json={"data": items})
    assert response.status_code == 400
    assert error in response.json()["message"]


def test_objectives_lookups_use_the_documented_errors(tavus):
    assert tavus.http.get("/v2/objectives/not-an-id").json() == {"error": "Invalid objectives_id"}
    assert tavus.http.get("/v2/objectives/not-an-id").status_code == 400
    missing = tavus.http.get("/v2/objectives/o0000dead")
    assert (missing.status_code, missing.json()) == (404, {"error": "Objective not found"})
    oid = _objectives(tavus)["objectives_id"]
    bad = tavus.http.patch(f"/v2/objectives/{oid}", json=[{"op": "jump", "path": "/data"}])
    assert (bad.status_code, bad.json()) == (400, {"error": "Invalid patch operation"})
    assert tavus.http.delete("/v2/objectives/o0000dead").status_code == 404


# --- Guardrails ----------------------------------------------------------------------------------


def test_an_individual_guardrail_is_created_read_patched_listed_and_deleted(tavus):
    made = _guardrail(tavus)
    assert made["uuid"].startswith("g") and made["app_message"] is True  # the default
    assert made["guardrail_prompt"] == RULE["guardrail_prompt"] and made["tags"] == ["compliance"]
    path = f"/v2/guardrails/{made['uuid']}"
    assert tavus.http.get(path).json()["guardrail_name"] == "no_competitors"
    patched = tavus.http.patch(
        path, json=[{"op": "replace", "path": "/guardrail_prompt", "value": "Never name rivals."}]
    )
    assert patched.status_code == 200 and patched.json()["guardrail_prompt"] == "Never name rivals."
    rename = tavus.http.patch(
        path, json=[{"op": "replace", "path": "/guardrail_name", "value": "x"}]
    )
    assert (rename.status_code, rename.json()) == (400, {"error": "Invalid patch operation"})
    flat = tavus.http.get("/v2/guardrails", params={"legacy": "false"}).json()
    assert [g["uuid"] for g in flat["data"]] == [made["uuid"]]
    assert tavus.http.get("/v2/guardrails").json()["total_count"] == 0  # legacy sets by default
    assert tavus.http.delete(path).status_code == 204
    assert tavus.http.get(path).json() == {"error": "Guardrails not found"}


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"guardrail_name": None}, "guardrail_name is required"),
        ({"guardrail_name": "no spaces please"}, "letters, digits or underscores"),
        ({"guardrail_prompt": "x" * 1001}, "at most 1000 characters"),
        ({"modality": "smell"}, "modality must be verbal or visual"),
        ({"tags": ["t"] * 33}, "at most 32 tags"),
        ({"app_message": "yes"}, "app_message must be true or false"),
    ],
)
def test_bad_guardrails_are_400_with_a_message(tavus, body, error):
    response = tavus.http.post("/v2/guardrails", json={**RULE, **body})
    assert response.status_code == 400
    assert error in response.json()["message"]


def test_a_legacy_set_makes_individual_guardrails_and_is_patched_by_item(tavus):
    response = tavus.http.post(
        "/v2/guardrails", json={"name": "Healthcare Compliance", "data": [RULE]}
    )
    body = response.json()
    assert set(body) == {"guardrails_id", "guardrails_name", "status", "created_at"}
    set_path = f"/v2/guardrails/{body['guardrails_id']}"
    assert (
        tavus.http.get("/v2/guardrails").json()["data"][0]["guardrails_id"] == body["guardrails_id"]
    )
    assert tavus.http.get(set_path).json()["data"]["data"][0]["guardrail_name"] == "no_competitors"
    patch = [{"op": "replace", "path": "/data/0/guardrail_prompt", "value": "No rivals."}]
    response = tavus.http.patch(set_path, json=patch)
    assert response.json() == {"message": "Guardrails updated successfully"}
    flat = tavus.http.get("/v2/guardrails", params={"legacy": "false"}).json()["data"]
    assert [g["guardrail_prompt"] for g in flat] == ["No rivals."]
    assert tavus.http.patch(set_path, json=patch).status_code == 304
    assert tavus.http.delete(set_path).status_code == 204
    assert tavus.http.get("/v2/guardrails", params={"legacy": "false"}).json()["data"] == []


def test_guardrail_lookups_use_the_documented_errors(tavus):
    bad = tavus.http.get("/v2/guardrails/nope")
    assert (bad.status_code, bad.json()) == (400, {"error": "Invalid guardrails_id"})
    assert tavus.http.get("/v2/guardrails/g0000dead").status_code == 404
    missing = tavus.http.post("/v2/guardrails", json={"guardrail_prompt": "x"})
    assert (missing.status_code, missing.json()) == (400, {"message": "guardrail_name is required"})


# --- Personas name them ------------------------------------------------------------------------


def _persona(tavus, **fields):
    body = {"persona_name": "Clinic", "system_prompt": "Help patients.", **fields}
    return tavus.http.post("/v2/personas", json=body)


def test_a_persona_may_name_only_objectives_and_guardrails_that_exist(tavus):
    assert _persona(tavus, objectives_id="o0000dead").json() == {"error": "Invalid objectives_id"}
    assert _persona(tavus, guardrail_ids=["g0000dead"]).json() == {"error": "Invalid guardrail_ids"}
    assert _persona(tavus, guardrail_ids=["g1"] * 51).status_code == 400
    oid = _objectives(tavus)["objectives_id"]
    gid = _guardrail(tavus)["uuid"]
    response = _persona(tavus, objectives_id=oid, guardrail_ids=[gid], guardrail_tags=["x"])
    assert response.status_code == 200


def test_deleting_them_takes_them_off_the_personas(tavus):
    tavus.sandbox_only("what Tavus does to personas is documented for legacy sets only")
    oid = _objectives(tavus)["objectives_id"]
    gid = _guardrail(tavus)["uuid"]
    pid = _persona(tavus, objectives_id=oid, guardrail_ids=[gid]).json()["persona_id"]
    tavus.http.delete(f"/v2/objectives/{oid}")
    tavus.http.delete(f"/v2/guardrails/{gid}")
    persona = tavus.http.get(f"/v2/personas/{pid}").json()
    assert "objectives_id" not in persona and persona["guardrail_ids"] == []


# --- In the room --------------------------------------------------------------------------------


def _room(tavus, hooks=None, **persona):
    pid = _persona(tavus, **persona).json()["persona_id"]
    body = {"persona_id": pid, "replica_id": tavus.stock_replica_id()}
    cid = tavus.http.post("/v2/conversations", json=body).json()["conversation_id"]
    person = Person(cid)
    person.join()
    tick(timezone.now() + timedelta(seconds=5))  # the replica joins and greets
    return cid, person


def _of(events, prefix):
    return [
        (e["event_type"], e["properties"]) for e in events if e["event_type"].startswith(prefix)
    ]


def _said(events):
    return [
        e["properties"]["speech"]
        for e in events
        if e["event_type"] == "conversation.utterance" and e["properties"]["role"] == "replica"
    ]


def test_objectives_activate_complete_with_outputs_and_lead_on(tavus, hooks):
    tavus.sandbox_only("Tavus decides with an LLM; the sandbox by rule")
    items = [{**INTAKE[0], "callback_url": hooks.url}, *INTAKE[1:]]
    cid, person = _room(tavus, objectives_id=_objectives(tavus, items)["objectives_id"])
    assert _of(events_until(cid), "conversation.objective") == [
        ("conversation.objective.activated", {"objective_name": "ask_if_new_patient"})
    ]
    person.say("I am returning, I was here last year")
    events = _of(events_until(cid), "conversation.objective")
    assert events[1:] == [
        (
            "conversation.objective.completed",
            {
                "objective_name": "ask_if_new_patient",
                "output_variables": {"patient_status": "I am returning, I was here last year"},
            },
        ),
        ("conversation.objective.activated", {"objective_name": "existing_patient_intake"}),
    ]
    tick()
    callback = hooks.wait_for(1)[0]
    assert callback["event_type"] == "conversation.objective.completed"
    assert callback["conversation_id"] == cid
    assert callback["properties"]["objective_name"] == "ask_if_new_patient"


def test_a_manual_objective_waits_for_confirmation(tavus):
    tavus.sandbox_only("the pending/confirm payloads are UNCONFIRMED")
    items = [
        {
            "objective_name": "consent",
            "objective_prompt": "Ask for consent",
            "confirmation_mode": "manual",
            "output_variables": ["answer"],
        }
    ]
    cid, person = _room(tavus, objectives_id=_objectives(tavus, items)["objectives_id"])
    person.say("Yes, I agree")
    assert _of(events_until(cid), "conversation.objective")[-1] == (
        "conversation.objective.pending",
        {"objective_name": "consent", "output_variables": {"answer": "Yes, I agree"}},
    )
    confirm = {
        "message_type": "conversation",
        "event_type": "conversation.objective.confirm",
        "conversation_id": cid,
        "properties": {"objective_name": "consent"},
    }
    assert person.command(confirm).json()["ignored"] is False
    assert _of(events_until(cid), "conversation.objective")[-1] == (
        "conversation.objective.completed",
        {"objective_name": "consent", "output_variables": {"answer": "Yes, I agree"}},
    )
    assert person.command(confirm).json()["ignored"] is True  # nothing waits any more


def test_a_guardrail_triggers_an_event_a_callback_and_a_refusal(tavus, hooks):
    tavus.sandbox_only("Tavus decides with an LLM; the sandbox by keyword")
    gid = _guardrail(tavus, callback_url=hooks.url)["uuid"]
    cid, person = _room(tavus, guardrail_ids=[gid])
    person.say("Is your product cheaper than your competitors?")
    events = events_until(cid)
    assert _of(events, "conversation.guardrail") == [
        (
            "conversation.guardrail.triggered",
            {"guardrail_name": "no_competitors", "modality": "verbal"},
        )
    ]
    assert _said(events)[-1].startswith("I'm sorry, that's something I can't discuss.")
    tick()
    assert hooks.wait_for(1)[0]["event_type"] == "conversation.guardrail.triggered"
    person.say("What time do you open?")
    assert len(_of(events_until(cid), "conversation.guardrail")) == 1  # no other topic trips it


def test_guardrails_come_by_tag_and_app_message_false_sends_no_event(tavus):
    tavus.sandbox_only("keyword rule")
    _guardrail(tavus, app_message=False)
    cid, person = _room(tavus, guardrail_tags=["compliance"])
    person.say("Tell me about competitors")
    events = events_until(cid)
    assert _of(events, "conversation.guardrail") == []
    assert "can't discuss" in _said(events)[-1]


def test_a_tool_is_called_and_its_result_is_spoken(tavus):
    tavus.sandbox_only("the sandbox calls a tool when its purpose is named")
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Current weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ]
    cid, person = _room(tavus, layers={"llm": {"tools": tools}})
    person.say("What's the weather in Paris?")
    events = events_until(cid)
    [(kind, call)] = _of(events, "conversation.tool_call")
    assert call["name"] == "get_weather"
    assert json.loads(call["arguments"]) == {"city": "What's the weather in Paris?"}
    assert _said(events)[-1] == "One moment while I check that for you."
    result = {
        "message_type": "conversation",
        "event_type": "conversation.tool_result",
        "conversation_id": cid,
        "properties": {"tool_call_id": call["tool_call_id"], "output": "Sunny, 21 degrees"},
    }
    assert person.command(result).json()["ignored"] is False
    assert _said(events_until(cid))[-1] == "Sunny, 21 degrees"
    assert person.command(result).json()["ignored"] is True  # one answer per call
    wrong = {**result, "properties": {"tool_call_id": "call_nope", "output": "x"}}
    assert person.command(wrong).json()["ignored"] is True
