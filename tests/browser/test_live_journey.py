"""The heart of the product, in real Chromium against the sandbox."""

import re

from playwright.sync_api import expect

from studio.conversations.models import Conversation
from tests.browser.conftest import launch_from_ui


def test_launch_watch_talk_and_end(studio_server, operator, supervisor, login_as, stock_preset):
    stock_preset()
    page = login_as(operator)
    launch_from_ui(page, studio_server.url, "Customer call practice")
    status = page.locator("#live-status")
    expect(status).to_contain_text("Replica joined")
    expect(status.locator(".timeline li.done")).to_contain_text(["Launched", "Replica joined"])

    # A supervisor watches the same conversation from another browser.
    conversation = Conversation.objects.get()
    watcher = login_as(supervisor)
    watcher.goto(f"{studio_server.url}/conversations/{conversation.pk}/")
    expect(watcher.locator("#live[data-socket=open]")).to_be_attached()
    expect(watcher.get_by_text("You're watching without joining the video.")).to_be_visible()

    captions = page.locator("#captions")
    expect(captions).to_contain_text("Shall we practise a tricky customer call?")
    expect(status).to_contain_text("Person joined")

    room = page.frame_locator("#room-frame")
    box = room.get_by_label(re.compile("Say something", re.I))
    box.fill("I want a refund for my broken kettle")
    box.press("Enter")
    expect(captions).to_contain_text("I want a refund for my broken kettle")
    expect(watcher.locator("#captions")).to_contain_text("I want a refund for my broken kettle")
    page.screenshot(path="test-artifacts/live-page.png", full_page=True)

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="End conversation").click()
    expect(status).to_contain_text("Ended: Ended from the studio", timeout=15_000)
    expect(watcher.locator("#live-status")).to_contain_text("Ended from the studio")
    page.screenshot(path="test-artifacts/live-ended.png", full_page=True)

    conversation.refresh_from_db()
    assert conversation.status == "ended"
    spoken = [u.text for u in conversation.utterances.filter(role="user")]
    assert "I want a refund for my broken kettle" in spoken
    # The final transcript from Tavus's webhook matches what was said.
    page.wait_for_timeout(500)
    conversation.refresh_from_db()
    said = [item["content"] for item in conversation.transcript if item["role"] == "user"]
    assert said == spoken


def test_private_room_needs_the_token(studio_server, operator, operator2, login_as, stock_preset):
    stock_preset(name="Private interview", require_auth=True)
    page = login_as(operator)
    launch_from_ui(page, studio_server.url, "Private interview")
    conversation = Conversation.objects.get()
    assert conversation.meeting_token
    page.locator("summary", has_text="Other link").click()
    link = page.get_by_role("button", name="Copy Tavus room link").get_attribute("data-copy")
    assert link.endswith("?t=" + conversation.meeting_token)
    # The participant link is the studio's join page, which joins with the token itself.
    join = page.get_by_role("button", name="Copy participant link").get_attribute("data-copy")
    assert join == conversation.join_link()
    expect(page.locator("#captions")).to_contain_text("Shall we practise")
    # Without the token the room refuses.
    stranger = login_as(operator2)
    stranger.goto(conversation.conversation_url)
    expect(stranger.locator("body")).to_contain_text(re.compile("not allowed", re.I))
    # An operator who did not launch it cannot see the page or the link.
    response = stranger.goto(f"{studio_server.url}/conversations/{conversation.pk}/")
    assert response.status == 404
    assert conversation.meeting_token not in stranger.content()


def test_dry_run(studio_server, operator, login_as, stock_preset):
    stock_preset(name="Dry run check", test_mode=True)
    page = login_as(operator)
    page.goto(studio_server.url + "/launch/")
    page.get_by_role("link", name=re.compile("Dry run check")).click()
    page.get_by_role("button", name="Launch conversation").click()
    expect(page.locator(".messages")).to_contain_text("Dry run")
    expect(page.locator("#live-status")).to_contain_text("Dry run: nothing was started")
    assert Conversation.objects.get().status == "ended"
