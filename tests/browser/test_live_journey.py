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


LAPTOP = {"width": 1366, "height": 768}
SHOTS = "/tmp/shots-fixes2"


def caption_room(page) -> dict:
    return page.locator("#captions").bounding_box()


def test_on_a_laptop_the_captions_get_a_good_share_beside_a_long_timeline(
    studio_server, supervisor, login_as, stock_preset
):
    stock_preset(name="Refund desk", conversation_name="Refund desk")
    page = login_as(supervisor)
    page.set_viewport_size(LAPTOP)
    launch_from_ui(page, studio_server.url, "Refund desk")
    expect(page.locator("#captions")).to_contain_text("Shall we practise", timeout=15_000)
    # A long timeline (the reconciler's notes, as it writes them) must not squeeze the captions.
    conversation = Conversation.objects.get()
    labels = ["Found at Tavus: the launch had worked", "Still running at Tavus: checked"]
    labels += [f"A note from the studio ({n})" for n in range(1, 5)]
    for n, label in enumerate(labels):
        conversation.record_event(
            source="studio",
            event_type="studio.reconciler",
            dedupe_key=f"reconcile:note-{n}",
            payload={"label": label},
        )
    page.reload()
    expect(page.locator("#live[data-socket=open]")).to_be_attached()
    expect(page.locator("#live-status .timeline li")).to_have_count(4 + len(labels))

    # The captions get a useful part of the window (at the floor of 160 px it was a fifth),
    # and the video, the status timeline and End stay above the fold beside them.
    captions = caption_room(page)
    assert captions["height"] >= 0.3 * LAPTOP["height"], captions
    assert captions["y"] + captions["height"] <= LAPTOP["height"]
    for part in (".room", "#live-status .timeline", "#captions"):
        expect(page.locator(part)).to_be_in_viewport()
    expect(page.get_by_role("button", name="End conversation")).to_be_in_viewport(ratio=1)
    page.screenshot(path=f"{SHOTS}/live-1366-long-timeline.png", animations="disabled")

    # A big screen gives them more; a phone stacks everything in one column, nothing sideways.
    page.set_viewport_size({"width": 1920, "height": 1080})
    # The page refits on the window's resize event, which comes with the next frame.
    page.wait_for_function(
        "() => document.getElementById('captions').getBoundingClientRect().height"
        " >= 0.3 * innerHeight"
    )
    assert caption_room(page)["height"] >= 0.3 * 1080
    page.screenshot(path=f"{SHOTS}/live-1920.png", animations="disabled")
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=f"{SHOTS}/live-phone.png", full_page=True, animations="disabled")

    # Ended, the status card grows (the outcome): the captions shrink to fit under it.
    page.set_viewport_size(LAPTOP)
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="End conversation").click()
    expect(page.locator("#live-status")).to_contain_text("Ended: Ended from the studio")
    expect(page.locator("#live-status .summary")).to_be_visible()
    page.wait_for_function(
        "() => document.getElementById('captions').getBoundingClientRect().bottom <= innerHeight"
    )
    page.screenshot(path=f"{SHOTS}/live-1366-ended.png", animations="disabled")


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
