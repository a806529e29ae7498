"""The objectives and guardrails client reads every plausible shape and sends what the docs say."""

import json

import pytest

from studio.tavus import behaviour as tb

ITEM = {"objective_name": "ask", "objective_prompt": "Ask"}


@pytest.mark.parametrize(
    "body",
    [
        {"data": {"objective_name": "Intake", "data": [ITEM]}},  # the sandbox's shape
        {"data": [ITEM]},
        {"data": ITEM},
    ],
)
def test_an_objectives_set_is_read_in_every_shape(fake_tavus, body):
    fake_tavus.reply((200, body))
    found = tb.get_objectives("o1")
    assert found.objectives_id == "o1" and found.items == [ITEM]


def test_creating_objectives_sends_data_and_returns_the_id(fake_tavus):
    fake_tavus.reply((200, {"objectives_id": "o12345", "objective_name": "X", "status": "active"}))
    assert tb.create_objectives([ITEM], name="X") == "o12345"
    assert fake_tavus.last_json() == {"data": [ITEM], "name": "X"}


def test_changing_objectives_replaces_the_list_and_reads_304(fake_tavus):
    fake_tavus.reply((200, {"message": "Objective updated successfully"}), (304, ""))
    assert tb.update_objectives("o1", [ITEM]) is True
    assert fake_tavus.last_json() == [{"op": "replace", "path": "/data", "value": [ITEM]}]
    assert tb.update_objectives("o1", [ITEM]) is False


@pytest.mark.parametrize("key", ["uuid", "guardrail_id", "id"])
def test_a_guardrail_id_is_read_from_any_key(fake_tavus, key):
    fake_tavus.reply((200, {key: "g1", "guardrail_name": "kind", "guardrail_prompt": "Be kind."}))
    rule = tb.get_guardrail("g1")
    assert rule.guardrail_id == "g1" and rule.app_message is True and rule.modality == "verbal"


def test_a_guardrail_patch_uses_only_the_documented_paths(fake_tavus):
    fake_tavus.reply((200, {"uuid": "g1", "guardrail_name": "kind"}))
    tb.update_guardrail("g1", guardrail_prompt="Be nice.", tags=["a"], guardrail_name="nope")
    assert json.loads(fake_tavus.last.content) == [
        {"op": "replace", "path": "/guardrail_prompt", "value": "Be nice."},
        {"op": "replace", "path": "/tags", "value": ["a"]},
    ]


def test_listing_guardrails_asks_for_individual_ones(fake_tavus):
    fake_tavus.reply((200, {"data": [{"uuid": "g1", "guardrail_name": "k"}], "total_count": 1}))
    assert [g.guardrail_id for g in tb.iter_guardrails()] == ["g1"]
    assert fake_tavus.last.url.params["legacy"] == "false"


def test_a_missing_one_is_not_at_tavus(fake_tavus):
    fake_tavus.reply((404, {"error": "Objective not found"}))
    with pytest.raises(tb.NotAtTavus):
        tb.delete_objectives("o1")


TOOL = {
    "tool_id": "tabc123def456",
    "name": "get_weather",
    "description": "Weather",
    "parameters": {"type": "object"},
    "origin": "llm",
    "delivery": {"app_message": True},
    "owner_id": 7,
    "created_at": "2026-05-15T10:30:00",
}


def test_a_tool_is_read_with_its_defaults(fake_tavus):
    fake_tavus.reply((200, TOOL))
    tool = tb.create_tool({"name": "get_weather", "description": "Weather"})
    assert (tool.tool_id, tool.trigger_type, tool.is_post_call) == (
        "tabc123def456",
        "in_call",
        False,
    )


def test_attaching_sends_the_tool_ids_and_reads_what_the_pal_has(fake_tavus):
    fake_tavus.reply((200, {"data": [TOOL]}))
    tools = tb.attach_tools("p1", ["tabc123def456"])
    assert fake_tavus.last.url.path == "/v2/pals/p1/tools"
    assert fake_tavus.last_json() == {"tool_ids": ["tabc123def456"]}
    assert [t.name for t in tools] == ["get_weather"]
