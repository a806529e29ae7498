"""Objectives, guardrails and tools in real Chromium against the sandbox: a persona with an
objective, a guardrail and a tool; an operator talks to it; the objective completes and shows on
the live page and in history, the guardrail raises an alert on the monitor, and a supervisor
answers the tool call, which the replica then says."""

import re
from pathlib import Path

from playwright.sync_api import expect

from studio.conversations.models import Conversation
from studio.knowledge.models import Tool
from studio.library.models import Persona, Replica, sync_personas, sync_replicas
from studio.tavus import behaviour as tavus_behaviour
from studio.tavus import client as tavus
from tests.browser.conftest import launch_from_ui

SHOTS = Path("/tmp/shots-behaviour")


def shot(page, name: str, full_page=True) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


def say(page, text):
    box = page.frame_locator("#room-frame").get_by_label(re.compile("Say something", re.I))
    box.fill(text)
    box.press("Enter")


def concierge():
    """A persona (at the sandbox, mirrored here) with an objective, a guardrail and a tool."""
    sync_replicas()
    objectives = tavus_behaviour.create_objectives(
        [
            {
                "objective_name": "ask_name",
                "objective_prompt": "Ask the guest's name",
                "output_variables": ["guest_name"],
                "next_required_objectives": ["confirm_stay"],
            },
            {
                "objective_name": "confirm_stay",
                "objective_prompt": "Confirm how many nights they stay",
                "output_variables": ["nights"],
                "confirmation_mode": "manual",
            },
        ],
        name="Guest check-in",
    )
    rule = tavus_behaviour.create_guardrail("no_competitors", "Never discuss competitors.")
    tool = tavus_behaviour.create_tool(
        {
            "name": "get_weather",
            "description": "Today's weather in a city.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            "origin": "llm",
            "delivery": {"app_message": True},
        }
    )
    created = tavus.create_persona(
        {
            "persona_name": "Hotel concierge",
            "system_prompt": "You are the concierge of a small hotel.",
            "default_replica_id": Replica.objects.filter(status="ready").first().replica_id,
            "objectives_id": objectives,
            "guardrail_ids": [rule.guardrail_id],
        }
    )
    tavus_behaviour.attach_tools(created.persona_id, [tool.tool_id])
    Tool.store(tool)
    Tool.objects.filter(tool_id=tool.tool_id).update(persona_ids=[created.persona_id])
    sync_personas()
    return Persona.objects.get(persona_id=created.persona_id)


def test_objective_guardrail_and_tool_call_live_on_the_monitor_and_in_history(
    studio_server, operator, supervisor, login_as, stock_preset
):
    stock_preset(
        name="Concierge desk",
        conversation_name="Concierge desk",
        persona=concierge(),
        custom_greeting="Welcome to the hotel! May I have your name?",
        remember_people=True,
    )

    # The operator talks to the replica; the launch says whose memories it uses.
    host = login_as(operator)
    host.set_viewport_size({"width": 1366, "height": 768})
    launch_from_ui(host, studio_server.url, "Concierge desk")
    expect(host.locator(".messages")).to_contain_text(
        "will remember earlier conversations with you (and only yours)"
    )
    conversation = Conversation.objects.get()
    captions = host.locator("#captions")
    expect(captions).to_contain_text("May I have your name?")

    # A supervisor watches the live page, and the monitor in another tab.
    boss = login_as(supervisor)
    boss.set_viewport_size({"width": 1366, "height": 768})
    boss.goto(f"{studio_server.url}/conversations/{conversation.pk}/")
    expect(boss.locator("#live[data-socket=open]")).to_be_attached()
    wall = boss.context.new_page()
    wall.set_viewport_size({"width": 1366, "height": 768})
    wall.goto(studio_server.url + "/monitor/")
    expect(wall.locator("#monitor[data-socket=open]")).to_be_attached()
    tile = wall.locator(f"#tile-{conversation.pk}")
    expect(tile).to_be_visible()

    # 3. The objective completes: on the live pages, and briefly on the tile.
    say(host, "I'm Anna Lindqvist, checking in.")
    card = host.locator("#behaviour")
    expect(card).to_be_visible()
    objective = card.locator(".objective", has_text="ask_name")
    expect(objective).to_contain_text("Done")
    expect(objective).to_contain_text("guest_name")
    expect(objective).to_contain_text("I'm Anna Lindqvist, checking in.")
    expect(boss.locator("#behaviour .objective-completed")).to_contain_text("ask_name")
    expect(tile.locator(".tile-note")).to_contain_text("Objective “ask_name” completed")
    shot(host, "1-objective-completed-live")

    # 4. The guardrail triggers: an alert on the monitor's tile.
    say(host, "Are your competitors across the street any cheaper?")
    expect(tile.locator("[data-alert=guardrail]")).to_contain_text(
        "Guardrail “no_competitors” triggered"
    )
    expect(tile).to_have_class(re.compile("has-alerts"))
    expect(captions).to_contain_text("that's something I can't discuss")
    shot(wall, "2-guardrail-alert-monitor")

    # 5. A tool call: the supervisor answers it, the replica says the answer.
    say(host, "What's the weather like in Stockholm today?")
    call = boss.locator("#behaviour .tool-call-card", has_text="get_weather")
    expect(call).to_contain_text("Stockholm")
    expect(tile.locator(".tile-note")).to_contain_text("Tool call: get_weather")
    # The operator's page shows the call, but only a supervisor's page answers it.
    expect(host.locator("#behaviour .tool-call-card")).to_contain_text(
        "Waiting for a supervisor to answer it."
    )
    expect(host.locator("#behaviour .tool-answer")).to_be_hidden()
    shot(boss, "3-tool-call-waiting")
    call.get_by_label("Answer for the replica").fill("Sunny and 21 degrees in Stockholm today.")
    call.get_by_role("button", name="Send the answer").click()
    expect(boss.locator("#behaviour")).to_contain_text(
        "sam answered get_weather: “Sunny and 21 degrees in Stockholm today.” — sent into the room"
    )
    expect(captions).to_contain_text("Sunny and 21 degrees in Stockholm today.")
    shot(boss, "4-tool-call-answered")

    # An objective that waits for a yes: the supervisor confirms it, Tavus completes it.
    say(host, "Two nights, please.")
    waiting = boss.locator("#behaviour .objective", has_text="confirm_stay")
    expect(waiting).to_contain_text("Needs a yes")
    waiting.get_by_role("button", name="Confirm it's done").click()
    expect(waiting).to_contain_text("Done")
    expect(waiting).to_contain_text("Two nights, please.")

    # History keeps all of it.
    host.once("dialog", lambda dialog: dialog.accept())
    host.get_by_role("button", name="End conversation").click()
    expect(host.locator("#live-status [data-status=ended]")).to_be_attached(timeout=20_000)
    boss.goto(f"{studio_server.url}/history/{conversation.pk}/")
    timeline = boss.locator(".history-timeline")
    expect(timeline).to_contain_text(
        "Objective “ask_name” completed (guest_name: I'm Anna Lindqvist, checking in.)"
    )
    expect(timeline).to_contain_text("Guardrail “no_competitors” triggered")
    expect(timeline).to_contain_text('Tool call: get_weather {"city":')
    expect(timeline).to_contain_text("sam answered get_weather")
    expect(timeline).to_contain_text("sam confirmed objective confirm_stay — sent into the room")
    expect(timeline).to_contain_text("Objective “confirm_stay” completed (nights: Two nights")
    timeline.scroll_into_view_if_needed()
    shot(boss, "5-history")


def test_an_admin_has_a_tool_answered_by_an_endpoint_on_the_allowlist(
    studio_server, admin_user, login_as, settings
):
    settings.TOOL_ENDPOINT_ALLOWLIST = ["tools.example.com"]
    page = login_as(admin_user)
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(studio_server.url + "/knowledge/tools/new/")
    page.get_by_label("Name").fill("get_order_status")
    page.get_by_label("What it does, and when to use it").fill("Looks up an order by number.")
    page.get_by_label("Answer automatically from").fill("https://orders.example.net/answer")
    page.get_by_role("button", name="Save at Tavus").click()
    expect(page.locator(".has-error")).to_contain_text(
        "orders.example.net is not on the studio's list of hosts it may call"
    )
    shot(page, "6-tool-endpoint-refused")
    page.get_by_label("Answer automatically from").fill("https://tools.example.com/orders")
    page.get_by_role("button", name="Save at Tavus").click()
    expect(page.locator("main")).to_contain_text("Answered by tools.example.com, else a supervisor")
    shot(page, "7-tools-list")
    assert Tool.objects.get().answer_url == "https://tools.example.com/orders"


def test_launching_for_someone_else_says_whose_memories_the_replica_uses(
    studio_server, operator, login_as, stock_preset
):
    stock_preset(name="Returning guests", remember_people=True, talker="link")
    page = login_as(operator)
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(studio_server.url + "/launch/")
    page.get_by_role("link", name=re.compile("Returning guests")).click()
    page.get_by_role("button", name="Launch conversation").click()
    expect(page.locator(".has-error")).to_contain_text("This preset remembers people")
    page.get_by_label("Who is it with?").fill("anna@example.com")
    page.get_by_label("Who is it with?").press("Tab")  # the preview follows on change
    expect(page.locator("#preview")).to_contain_text(
        "will remember earlier conversations with anna@example.com (and only theirs)"
    )
    shot(page, "8-launch-for-someone-remembered")
    page.get_by_role("button", name="Launch conversation").click()
    expect(page.locator(".messages")).to_contain_text(
        "will remember earlier conversations with anna@example.com (and only theirs)"
    )
    assert Conversation.objects.get().settings_snapshot["memory_stores"]
