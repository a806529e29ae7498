"""The tools registry over real HTTP (tavus-api-2.md §6.2, §6.3), and a registry tool called in
the room."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from studio.sandbox.lifecycle import tick
from tests.sandbox.helpers import Person, events_until

WEATHER = {
    "name": "get_weather",
    "description": "Current weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}
FOLLOW_UP = {
    "name": "send_follow_up",
    "description": "Email a summary after the call",
    "trigger_type": "post_call",
    "delivery": {"app_message": False, "api": {"url": "https://crm.example.com/calls"}},
}


def _tool(tavus, **body):
    response = tavus.http.post("/v2/tools", json={**WEATHER, **body})
    assert response.status_code == 200, response.text
    return response.json()


def test_a_tool_is_created_with_tavus_defaults_and_extras(tavus):
    made = _tool(tavus)
    assert made["tool_id"].startswith("t") and made["is_system_tool"] is False
    assert isinstance(made["owner_id"], int)
    assert (made["origin"], made["trigger_type"]) == ("llm", "in_call")
    assert (made["on_call"], made["on_resolve"]) == ("generate_filler", "fire_and_forget")
    assert made["delivery"] == {"app_message": True}
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$", made["created_at"])  # no Z


def test_tools_are_listed_read_changed_and_deleted(tavus):
    made = _tool(tavus)
    path = f"/v2/tools/{made['tool_id']}"
    assert tavus.http.get("/v2/tools").json()["total_count"] == 1
    assert tavus.http.get(path).json()["name"] == "get_weather"
    changed = tavus.http.patch(path, json={"description": "Weather now"})
    assert changed.status_code == 200 and changed.json()["description"] == "Weather now"
    assert tavus.http.delete(path).status_code == 204
    assert tavus.http.get(path).status_code == 404


def test_a_post_call_action_needs_an_api_delivery_and_no_origin(tavus):
    made = _tool(tavus, **FOLLOW_UP)
    assert made["trigger_type"] == "post_call" and "origin" not in made
    for broken in (
        {**FOLLOW_UP, "origin": "llm"},
        {**FOLLOW_UP, "delivery": {"app_message": True}},
    ):
        assert tavus.http.post("/v2/tools", json=broken).status_code == 400


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"name": "9lives"}, "Invalid name"),
        ({"name": "has space"}, "Invalid name"),
        ({"description": ""}, "description is required"),
        ({"parameters": {"properties": {"tavus_secret": {}}}}, "may not start with tavus_"),
        ({"description": "x" * 10_001}, "at most 10,000"),
        ({"origin": "smell"}, "Invalid origin"),
        ({"origin": "vision", "on_call": "generate_filler"}, "on_call must be omitted"),
        ({"on_call": "static_filler"}, "static_filler is required"),
        ({"delivery": {"app_message": True, "api": {"url": "https://x"}}}, "exactly one"),
        ({"delivery": {"app_message": False}}, "exactly one"),
    ],
)
def test_bad_tools_are_400(tavus, changes, error):
    response = tavus.http.post("/v2/tools", json={**WEATHER, **changes})
    assert response.status_code == 400
    assert error in response.json()["error"]


def test_names_are_unique(tavus):
    _tool(tavus)
    assert tavus.http.post("/v2/tools", json=WEATHER).status_code == 400


def test_tools_are_attached_to_a_pal_and_listed(tavus):
    pid = tavus.http.post(
        "/v2/personas", json={"persona_name": "Desk", "system_prompt": "Help."}
    ).json()["persona_id"]
    weather, follow = _tool(tavus), _tool(tavus, **FOLLOW_UP)
    response = tavus.http.post(f"/v2/pals/{pid}/tools", json={"tool_ids": [weather["tool_id"]]})
    assert [t["tool_id"] for t in response.json()["data"]] == [weather["tool_id"]]
    tavus.http.post(f"/v2/pals/{pid}/tools", json={"tool_ids": [follow["tool_id"]]})
    listed = tavus.http.get(f"/v2/pals/{pid}/tools").json()["data"]
    assert {t["name"] for t in listed} == {"get_weather", "send_follow_up"}  # attaching adds
    assert tavus.http.post(f"/v2/pals/{pid}/tools", json={"tool_ids": ["t0dead"]}).json() == {
        "error": "Invalid tool_ids"
    }
    assert tavus.http.get("/v2/pals/p0dead/tools").json() == {"error": "Invalid persona_id"}


def test_an_attached_registry_tool_is_called_in_the_room(tavus):
    tavus.sandbox_only("the sandbox calls a tool when its purpose is named")
    pid = tavus.http.post(
        "/v2/personas", json={"persona_name": "Desk", "system_prompt": "Help."}
    ).json()["persona_id"]
    tavus.http.post(f"/v2/pals/{pid}/tools", json={"tool_ids": [_tool(tavus)["tool_id"]]})
    body = {"persona_id": pid, "replica_id": tavus.stock_replica_id()}
    cid = tavus.http.post("/v2/conversations", json=body).json()["conversation_id"]
    person = Person(cid)
    person.join()
    tick(timezone.now() + timedelta(seconds=5))
    person.say("How is the weather in Oslo?")
    calls = [e for e in events_until(cid) if e["event_type"] == "conversation.tool_call"]
    assert [c["properties"]["name"] for c in calls] == ["get_weather"]
