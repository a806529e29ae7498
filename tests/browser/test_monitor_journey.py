import re

from playwright.sync_api import expect

from studio.conversations.models import Conversation
from tests.browser.conftest import launch_from_ui, steer
from tests.browser.daily import wait_for


def say(page, text):
    box = page.frame_locator("#room-frame").get_by_label(re.compile("Say something", re.I))
    box.fill(text)
    box.press("Enter")


def test_the_wall_follows_two_live_conversations(
    studio_server,
    operator,
    supervisor,
    login_as,
    stock_preset,
    settings,
):
    settings.TAVUS_CONCURRENCY_LIMIT = 3
    stock_preset(name="Morning coaching", conversation_name="Morning coaching")
    stock_preset(name="Afternoon coaching", conversation_name="Afternoon coaching")
    wall = login_as(supervisor)
    wall.goto(studio_server.url + "/monitor/")
    expect(wall.locator("#monitor[data-socket=open]")).to_be_attached()
    expect(wall.locator("#tiles")).to_contain_text("Nothing is running")

    first = login_as(operator)
    launch_from_ui(first, studio_server.url, "Morning coaching")
    second = first.context.new_page()
    launch_from_ui(second, studio_server.url, "Afternoon coaching")
    morning, afternoon = Conversation.objects.order_by("pk")

    expect(wall.locator(".tile")).to_have_count(2)
    expect(wall.locator("[data-stat=slots]")).to_contain_text("2 of 3")
    expect(wall.locator(f"#tile-{morning.pk}")).to_contain_text("Morning coaching")
    expect(wall.locator(f"#tile-{morning.pk}")).to_contain_text("Launched by olivia")

    expect(first.locator("#captions")).to_contain_text("Shall we practise")
    say(first, "Can we talk about my targets?")
    expect(wall.locator(f"#tile-captions-{morning.pk}")).to_contain_text(
        "Can we talk about my targets?"
    )
    wall.screenshot(path="test-artifacts/monitor.png", full_page=True)

    second.once("dialog", lambda dialog: dialog.accept())
    second.get_by_role("button", name="End conversation").click()
    expect(wall.locator(f"#tile-{afternoon.pk}")).to_have_count(0, timeout=15_000)
    expect(wall.locator("#recent")).to_contain_text("Afternoon coaching")
    expect(wall.locator("[data-stat=slots]")).to_contain_text("1 of 3")
    expect(wall.locator(".tile")).to_have_count(1)


def test_a_supervisor_makes_the_replica_say_something(
    studio_server,
    operator,
    supervisor,
    login_as,
    stock_preset,
):
    stock_preset(name="Sales roleplay", conversation_name="Sales roleplay")
    host = login_as(operator)
    launch_from_ui(host, studio_server.url, "Sales roleplay")
    conversation = Conversation.objects.get()
    expect(host.locator("#captions")).to_contain_text("Shall we practise")

    boss = login_as(supervisor)
    steer(boss, f"{studio_server.url}/conversations/{conversation.pk}/",
          "Let's look at pricing next.")
    expect(boss.locator("#steer")).to_contain_text("Sent.")
    # The sandbox room speaks it and the caption comes back to everyone.
    expect(host.frame_locator("#room-frame").locator("body")).to_contain_text(
        "Let's look at pricing next."
    )
    expect(boss.locator("#captions")).to_contain_text("Let's look at pricing next.")
    expect(boss.locator("#live-status")).to_contain_text(
        "sam said: “Let's look at pricing next.” — sent into the room"
    )
    boss.screenshot(path="test-artifacts/steering.png", full_page=True)

    # With the host page gone, the control explains instead of failing silently.
    host.close()
    expect(boss.locator("#steer")).to_be_visible()

    def host_gone():
        conversation.refresh_from_db()
        return conversation.host_pages == 0

    wait_for(host_gone)  # the server hears the closed socket (slowly on a loaded machine)
    boss.get_by_label("Words or context").fill("Anyone there?")
    boss.get_by_role("button", name="Send to the room").click()
    expect(boss.locator("#steer")).to_contain_text("No page is in the room right now")
