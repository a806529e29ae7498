"""Who is in the room: a launcher who talks joins the video, one who watches stays out of it
(no seat, not counted as the person who joined), and a last page leaving is known at once.
On the sandbox, whose room counts seats and presence as Tavus's does."""

import re

from playwright.sync_api import expect

from studio.conversations.models import Conversation
from tests.browser.conftest import launch_from_ui
from tests.browser.daily import wait_for

SHOTS = "test-artifacts"


def launch_as(page, base_url, preset_name, talker):
    page.goto(base_url + "/launch/")
    page.get_by_role("link", name=re.compile(preset_name)).click()
    page.get_by_label(talker).check()
    page.screenshot(path=f"{SHOTS}/launch-talk-or-watch.png", full_page=True)
    page.get_by_role("button", name="Launch conversation").click()
    expect(page).to_have_url(re.compile(r"/conversations/\d+/$"))
    expect(page.locator("#live[data-socket=open]")).to_be_attached()


def test_a_launcher_who_watches_takes_no_seat_and_can_still_join(
    studio_server, operator, login_as, stock_preset, browser
):
    # Room for the replica and one person: a watching launcher must leave that place free.
    stock_preset(name="Interview", conversation_name="Interview", max_participants=2)
    host = login_as(operator)
    host.set_viewport_size({"width": 1366, "height": 768})
    sandbox_requests = []
    host.on("request", lambda r: "/sandbox/rooms/" in r.url and sandbox_requests.append(r.url))
    launch_as(host, studio_server.url, "Interview", "Someone else, with a link")
    conversation = Conversation.objects.get()
    assert conversation.talker == "link"
    expect(host.locator("[data-watching]")).to_contain_text("you're watching")
    expect(host.locator("#room-frame")).to_have_count(0)
    expect(host.locator("#live-status")).to_contain_text("Replica joined")
    host.screenshot(path=f"{SHOTS}/live-watching.png")
    assert sandbox_requests == []  # the page never opened the room

    # The person joins with their link: the place is theirs (the room is not full).
    person = browser.new_context().new_page()
    person.goto(conversation.join_link())
    person.get_by_label("Your name").fill("Robin")
    person.get_by_role("button", name="Join").click()
    expect(person.locator("#stage")).to_have_attribute("data-replica", "here")
    expect(host.locator('[data-timer="people"]')).to_have_text("1")
    expect(host.locator(".relay-note")).to_have_text(
        "Captions are coming from the participant's page."
    )
    conversation.refresh_from_db()
    assert [entry["via"] for entry in conversation.room_people.values()] == ["join"]
    person.get_by_label("Type what you would say").fill("Good morning, I'm here for the interview")
    person.get_by_label("Type what you would say").press("Enter")
    expect(host.locator("#captions")).to_contain_text("I'm here for the interview")
    host.screenshot(path=f"{SHOTS}/live-watching-captions.png")

    # The person closes their tab: the studio knows within seconds (pagehide, beacon, socket).
    beacons = []
    person.on("request", lambda r: r.url.endswith("/left") and beacons.append(r.method))
    person.close(run_before_unload=True)
    expect(host.locator(".relay-note")).to_have_text(
        "No captions yet: they start once someone joins the video through the studio."
    )
    wait_for(lambda: Conversation.objects.get(pk=conversation.pk).people_in_room == 0, 10)
    assert Conversation.objects.get(pk=conversation.pk).room_people == {}

    # The launcher chooses to join after all: now this page is in the room.
    host.once("dialog", lambda dialog: dialog.accept())
    host.get_by_role("link", name="Join the video").click()
    expect(host.locator("#live[data-room-mode=sandbox]")).to_be_attached()
    room = host.frame_locator("#room-frame")
    expect(room.locator("body")).to_have_attribute("data-state", "live")
    wait_for(lambda: Conversation.objects.get(pk=conversation.pk).people_in_room == 1, 10)
    expect(host.locator('[data-timer="people"]')).to_have_text("1")
    host.screenshot(path=f"{SHOTS}/live-talking.png")


def test_a_closed_tab_leaves_no_ghost_and_the_slots_page_offers_to_end_it(
    studio_server, operator, login_as, stock_preset, settings
):
    settings.TAVUS_CONCURRENCY_LIMIT = 1
    stock_preset(name="Practice call", conversation_name="Practice call")
    page = login_as(operator)
    launch_from_ui(page, studio_server.url, "Practice call")  # the preset says: me, here
    conversation = Conversation.objects.get()
    expect(page.locator("#captions")).to_contain_text("Shall we practise")
    wait_for(lambda: Conversation.objects.get(pk=conversation.pk).people_in_room == 1, 10)
    assert Conversation.objects.get(pk=conversation.pk).host_pages == 1

    # The last studio page in the room goes: within seconds nobody is in it.
    context = page.context
    page.close(run_before_unload=True)
    wait_for(lambda: Conversation.objects.get(pk=conversation.pk).nobody_in_room, 10)
    ghost = Conversation.objects.get(pk=conversation.pk)
    assert ghost.people_in_room == 0 and ghost.host_pages == 0 and ghost.is_live

    # A launch now finds every slot taken, and is offered the empty one to end.
    page = context.new_page()
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(studio_server.url + "/launch/")
    page.get_by_role("link", name=re.compile("Practice call")).click()
    page.get_by_role("button", name="Launch conversation").click()
    expect(page.get_by_role("heading", name="Every conversation slot is in use")).to_be_visible()
    row = page.locator("tr[data-empty]")
    expect(row).to_contain_text("Practice call")
    expect(row).to_contain_text("Nobody")
    page.screenshot(path=f"{SHOTS}/slots-full-nobody.png")
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="End it: nobody is in it").click()
    expect(page.get_by_role("button", name="Launch conversation")).to_be_visible()
    page.get_by_role("button", name="Launch conversation").click()
    expect(page.locator("#live[data-socket=open]")).to_be_attached()
    assert Conversation.objects.filter(status__in=Conversation.LIVE_STATUSES).count() >= 1
    assert Conversation.objects.get(pk=conversation.pk).end_requested_at is not None
