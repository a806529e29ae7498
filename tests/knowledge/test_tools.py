"""The tools registry pages and attaching tools to a persona, against the sandbox over HTTP."""

import json

import pytest

from studio.knowledge.models import Tool
from studio.library.models import Persona, sync_personas, sync_replicas
from studio.sandbox.models import Tool as SandboxTool

ORDER = {
    "name": "get_order_status",
    "description": "Looks up an order by its number.",
    "parameters": json.dumps(
        {"type": "object", "properties": {"order_number": {"type": "string"}}}
    ),
    "trigger_type": "in_call",
    "api_method": "POST",
}
FOLLOW_UP = {
    "name": "send_summary",
    "description": "Sends the call summary to the CRM.",
    "parameters": "",
    "trigger_type": "post_call",
    "api_url": "https://crm.example.com/calls",
    "api_method": "POST",
}


@pytest.fixture
def admin(client, admin_user, studio_server):
    client.force_login(admin_user)
    return client


def test_an_in_call_tool_is_registered_at_tavus(admin):
    assert admin.post("/knowledge/tools/new/", ORDER).status_code == 302
    tool = Tool.objects.get()
    definition = SandboxTool.objects.get(pk=tool.tool_id).definition
    assert definition["parameters"]["properties"] == {"order_number": {"type": "string"}}
    assert (definition["origin"], definition["delivery"]) == ("llm", {"app_message": True})
    html = admin.get("/knowledge/tools/").content.decode()
    assert "get_order_status" in html and "order_number" in html and "During the call" in html


def test_a_post_call_action_goes_to_its_https_address(admin):
    assert admin.post("/knowledge/tools/new/", FOLLOW_UP).status_code == 302
    definition = SandboxTool.objects.get().definition
    assert definition["trigger_type"] == "post_call" and "origin" not in definition
    assert definition["delivery"]["api"] == {
        "url": "https://crm.example.com/calls",
        "method": "POST",
    }


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"parameters": "{not json"}, "parameters", "isn't valid JSON"),
        ({"parameters": "[1, 2]"}, "parameters", "JSON object"),
        ({"parameters": '{"properties": {"tavus_x": {}}}'}, "parameters", "tavus_ are Tavus's"),
        ({"name": "2fast"}, "name", "not starting with a digit"),
        ({"trigger_type": "post_call", "api_url": ""}, "api_url", "needs the address"),
        ({"trigger_type": "post_call", "api_url": "http://crm.test/x"}, "api_url", "https://"),
        ({"description": "x" * 10_000}, "parameters", "10,000"),
    ],
)
def test_a_bad_tool_is_explained_and_nothing_is_sent(
    client, admin_user, db, changes, field, message
):
    client.force_login(admin_user)
    response = client.post("/knowledge/tools/new/", {**ORDER, **changes})
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert not Tool.objects.exists()


def test_editing_changes_the_tool_at_tavus(admin):
    admin.post("/knowledge/tools/new/", ORDER)
    tool = Tool.objects.get()
    changed = {**ORDER, "description": "Finds where an order is."}
    assert admin.post(f"/knowledge/tools/{tool.pk}/", changed).status_code == 302
    assert SandboxTool.objects.get().definition["description"] == "Finds where an order is."


def test_tools_are_attached_to_a_persona_and_listed_on_its_page(admin):
    admin.post("/knowledge/tools/new/", ORDER)
    admin.post("/knowledge/tools/new/", FOLLOW_UP)
    sync_replicas()
    sync_personas()
    admin.post(
        "/library/personas/new/",
        {
            "persona_name": "Shop",
            "pipeline_mode": "full",
            "system_prompt": "Help shoppers.",
            "default_replica_id": "r6ae5b6efc9d",
        },
    )
    persona = Persona.objects.get(name="Shop")
    picks = [t.pk for t in Tool.objects.all()]
    response = admin.post(f"/knowledge/tools/attach/{persona.pk}/", {"tools": picks})
    assert response.status_code == 302
    attached = {t.name for t in SandboxTool.objects.all() if persona.persona_id in t.persona_ids}
    assert attached == {"get_order_status", "send_summary"}
    html = admin.get(f"/library/personas/{persona.pk}/").content.decode()
    assert "During calls it may use: <strong>get_order_status</strong>" in html
    assert "<strong>send_summary</strong>: Sends the call summary to the CRM." in html
    html = admin.get(f"/knowledge/tools/{Tool.objects.get(name='send_summary').pk}/delete/")
    assert "<strong>Shop</strong>" in html.content.decode()


def test_operators_may_look_but_not_register_or_attach(client, operator, db):
    tool = Tool.objects.create(tool_id="t1", name="get_x", description="x")
    client.force_login(operator)
    assert "get_x" in client.get("/knowledge/tools/").content.decode()
    assert client.get("/knowledge/tools/new/").status_code == 403
    assert client.post(f"/knowledge/tools/{tool.pk}/", ORDER).status_code == 403
    assert client.post("/knowledge/tools/attach/1/", {"tools": [tool.pk]}).status_code == 403


# --- Answering in-call tools automatically (studio.knowledge.endpoints) ----------------------


def test_an_in_call_tool_may_name_an_allowlisted_endpoint_that_tavus_never_hears_of(
    admin, settings
):
    settings.TOOL_ENDPOINT_ALLOWLIST = ["tools.example.com"]
    answered = {**ORDER, "answer_url": "https://tools.example.com/orders"}
    assert admin.post("/knowledge/tools/new/", answered).status_code == 302
    tool = Tool.objects.get()
    assert tool.answer_url == "https://tools.example.com/orders"
    assert tool.answer_host == "tools.example.com"
    # The studio's own setting: Tavus still delivers the call in the room.
    definition = SandboxTool.objects.get(pk=tool.tool_id).definition
    assert definition["delivery"] == {"app_message": True}
    assert "tools.example.com" not in json.dumps(definition)
    listed = admin.get("/knowledge/tools/").content.decode()
    assert "Answered by tools.example.com, else a supervisor" in listed
    form = admin.get(f"/knowledge/tools/{tool.pk}/").content.decode()
    assert 'value="https://tools.example.com/orders"' in form
    # A later sync from Tavus keeps it.
    from studio.tavus import behaviour as tavus_behaviour

    for item in tavus_behaviour.iter_tools():
        Tool.store(item)
    assert Tool.objects.get().answer_url == "https://tools.example.com/orders"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://elsewhere.example.com/x", "is not on the studio's list of hosts it may call"),
        ("http://tools.example.com/x", "Only https:// addresses are called."),
        ("not a url", "Enter a valid URL."),
    ],
)
def test_an_endpoint_off_the_allowlist_is_refused_and_nothing_is_sent(
    client, admin_user, db, settings, url, message
):
    settings.TOOL_ENDPOINT_ALLOWLIST = ["tools.example.com"]
    client.force_login(admin_user)
    response = client.post("/knowledge/tools/new/", {**ORDER, "answer_url": url})
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors["answer_url"])
    assert not Tool.objects.exists()


def test_a_post_call_action_has_nothing_to_answer(admin, settings):
    settings.TOOL_ENDPOINT_ALLOWLIST = ["tools.example.com"]
    admin.post("/knowledge/tools/new/", {**FOLLOW_UP, "answer_url": "https://tools.example.com/x"})
    assert Tool.objects.get().answer_url == ""
