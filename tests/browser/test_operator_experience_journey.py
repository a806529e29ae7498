"""Issue 18, items 7-12, as staff see them in Chromium at 1366×768 (and the participant's page
on a phone at 390×844): the live page's layout, the supervisor's line "as the person", the end
closing Step in, the monitor's board and one-click join, history's links and times."""

import re

from playwright.sync_api import expect

from studio.conversations.models import Conversation
from tests.browser.conftest import launch_from_ui
from tests.browser.daily import wait_for

WIDE = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}

# Counts every moment the replica's streamed line is visible while the captions already hold
# that very line: the "caption shows twice for a moment" of issue 18.
WATCH_DOUBLES = """
window.__doubled = [];
new MutationObserver(() => {
  const streaming = document.getElementById('streaming-replica');
  if (!streaming || streaming.hidden) return;
  const words = streaming.textContent.replace(/^Replica/, '').trim();
  const lines = [...document.querySelectorAll('#captions .caption')].map((c) => c.textContent);
  if (words && lines.some((line) => line.includes(words))) window.__doubled.push(words);
}).observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
"""


def shoot(page, name, **options):
    # Finished animations: a chip caught fading in looks greyed out.
    page.screenshot(path=f"test-artifacts/operator-{name}.png", animations="disabled", **options)


def timeline_labels(page) -> list[str]:
    return page.locator("#live-status .timeline li").all_inner_texts()


def test_a_supervisor_runs_a_conversation_from_the_live_page(
    studio_server, supervisor, login_as, stock_preset, browser
):
    stock_preset(name="Refund desk", conversation_name="Refund desk", talker="link")
    page = login_as(supervisor)
    page.set_viewport_size(WIDE)
    page.add_init_script(WATCH_DOUBLES)
    launch_from_ui(page, studio_server.url, "Refund desk")
    conversation = Conversation.objects.get()

    # The person joins on their phone through the link the launcher copied.
    link = page.get_by_role("button", name="Copy participant link").get_attribute("data-copy")
    assert link == conversation.join_link()
    phone = browser.new_context(viewport=PHONE)
    person = phone.new_page()
    person.set_default_timeout(15_000)
    person.goto(link)
    # The sandbox's room has no microphone: nothing to mute or test.
    expect(person.locator(".lede")).to_contain_text("This practice room has no microphone")
    expect(person.locator("#meter-row")).to_be_hidden()
    shoot(person, "join-phone")
    person.get_by_label("Your name").fill("Robin")
    person.get_by_role("button", name="Join").click()
    expect(person.locator("#stage")).to_have_attribute("data-replica", "here")
    expect(person.get_by_role("button", name="Mute")).to_be_hidden()
    expect(page.locator("#captions")).to_contain_text("Shall we practise", timeout=15_000)
    shoot(person, "join-phone-call")

    # Captions start above the fold, beside the video; Step in sits under the video.
    room = page.locator(".room-column").bounding_box()
    steer = page.locator("#steer").bounding_box()
    captions = page.locator("#captions").bounding_box()
    assert steer["y"] >= room["y"] + room["height"] and abs(steer["x"] - room["x"]) < 2
    assert captions["x"] > room["x"] + room["width"]
    assert captions["y"] + 100 < WIDE["height"]
    expect(page.locator(".relay-note")).to_have_text(
        "Captions are coming from the participant's page."
    )
    # The Tavus room link is not a stray link: it waits behind "Other link".
    tavus_link = page.get_by_role("button", name="Copy Tavus room link")
    expect(tavus_link).to_be_hidden()
    page.locator("summary", has_text="Other link").click()
    expect(tavus_link).to_be_visible()
    shoot(page, "live-other-link")
    page.locator("h1").click()  # elsewhere: the menu closes
    expect(tavus_link).to_be_hidden()

    # "Answer as if the person said…" is the supervisor's line, not the person's.
    page.get_by_label("What should happen").select_option("respond")
    page.get_by_label("Words or context").fill("What is your refund policy?")
    page.get_by_role("button", name="Send to the room").click()
    mine = page.locator("#captions .caption.as-person")
    expect(mine).to_have_text(re.compile(r"^sam \(as the person\)\s*What is your refund policy\?"))
    replica_lines = page.locator("#captions .caption.role-replica")
    expect(replica_lines).to_have_count(2, timeout=15_000)  # the greeting and its answer
    person.get_by_label("Type what you would say").fill("And for a broken kettle?")
    person.get_by_label("Type what you would say").press("Enter")
    expect(page.locator("#captions .caption.role-user").last).to_have_text(
        re.compile(r"^Person\s*And for a broken kettle\?")
    )
    expect(replica_lines).to_have_count(3, timeout=15_000)
    expect(page.locator("#speaking-replica")).not_to_have_class(re.compile(r"\bon\b"))
    # However tall the card gets, its newest line is in the window.
    assert page.locator("#captions").bounding_box()["y"] + 100 < WIDE["height"]
    expect(replica_lines.last).to_be_in_viewport()
    shoot(page, "live")
    assert page.evaluate("window.__doubled") == []

    # The end: the request comes before the end on the timeline, and Step in closes.
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="End conversation").click()
    status = page.locator("#live-status")
    expect(status).to_contain_text("Ended: Ended from the studio", timeout=15_000)
    labels = timeline_labels(page)
    request = next(i for i, label in enumerate(labels) if label.startswith("End requested by"))
    end = next(i for i, label in enumerate(labels) if label.startswith("Ended:"))
    assert request < end == len(labels) - 1
    expect(page.locator("#steer .steer-fields")).to_be_hidden()
    expect(page.locator("#steer")).to_contain_text("The conversation has ended")
    expect(page.get_by_role("button", name="Copy participant link")).to_be_hidden()
    expect(page.get_by_role("link", name="Join the video")).to_be_hidden()
    shoot(page, "live-ended")
    phone.close()

    # History: the supervisor's line named, the join link that was shared, a transcript CSV.
    wait_for(lambda: Conversation.objects.get(pk=conversation.pk).transcript, 15)
    page.goto(f"{studio_server.url}/history/{conversation.pk}/")
    transcript = page.locator(".transcript")
    expect(transcript).to_contain_text("sam (as the person)")
    expect(page.locator('[data-link="participant"]')).to_have_text(conversation.join_link())
    expect(page.get_by_role("link", name="Spreadsheet (CSV)")).to_be_visible()
    shoot(page, "history-detail", full_page=True)
    page.goto(f"{studio_server.url}/history/")
    expect(page.get_by_label("Status")).to_contain_text("Still running")
    shoot(page, "history-list")


def test_the_monitor_in_words_and_one_click_into_the_video(
    studio_server, operator, operator2, supervisor, login_as, stock_preset, settings
):
    settings.TAVUS_CONCURRENCY_LIMIT = 3
    stock_preset(name="Morning coaching", conversation_name="Morning coaching", talker="link")
    stock_preset(name="Late coaching", conversation_name="Late coaching", talker="link")
    other = login_as(operator2)
    launch_from_ui(other, studio_server.url, "Late coaching")
    mine = login_as(operator)
    launch_from_ui(mine, studio_server.url, "Morning coaching")
    late, morning = Conversation.objects.order_by("pk")

    # An operator's board: numbers in words, nobody's name; their own tiles only.
    mine.set_viewport_size(WIDE)
    mine.goto(studio_server.url + "/monitor/")
    expect(mine.locator("#monitor[data-socket=open]")).to_be_attached()
    board = mine.locator("#board")
    expect(board.locator("[data-stat=slots]")).to_have_text("2 of 3")
    expect(board).to_contain_text("1 free")
    expect(board.locator("[data-stat=billed]")).to_have_text("Under a minute")
    expect(board).not_to_contain_text("oscar")
    expect(mine.locator(".tile")).to_have_count(1)
    shoot(mine, "monitor-operator")

    # A supervisor joins an operator's video from the wall in one click.
    wall = login_as(supervisor)
    wall.set_viewport_size(WIDE)
    wall.goto(studio_server.url + "/monitor/")
    expect(wall.locator(".tile")).to_have_count(2)
    shoot(wall, "monitor")
    wall.locator(f"#tile-{morning.pk}").get_by_role("link", name="Join the video").click()
    expect(wall).to_have_url(re.compile(rf"/conversations/{morning.pk}/\?join=1$"))
    expect(wall.locator("#room-frame")).to_be_attached()
    # In the video at 1366×768: the captions beside it start above the fold, Step in is under it.
    expect(wall.locator("#captions")).to_contain_text("Shall we practise", timeout=15_000)
    room = wall.locator(".room-column").bounding_box()
    assert wall.locator("#steer").bounding_box()["y"] >= room["y"] + room["height"]
    assert wall.locator("#captions").bounding_box()["y"] + 100 < WIDE["height"]
    shoot(wall, "live-in-the-video")

    # Ended: it shows among the last few.
    mine.once("dialog", lambda dialog: dialog.accept())
    mine.goto(f"{studio_server.url}/conversations/{morning.pk}/")
    mine.get_by_role("button", name="End conversation").click()
    expect(mine.locator("#live-status")).to_contain_text("Ended: ", timeout=15_000)
    wall.goto(studio_server.url + "/monitor/")
    expect(wall.locator("#recent")).to_contain_text("Morning coaching")
    expect(wall.locator("#board")).to_contain_text("Ended from the studio: 1")
    expect(wall.locator(f"#tile-{late.pk} [data-timer=elapsed]")).to_have_text(re.compile(r"\d:"))
    expect(wall.locator("#tiles")).to_contain_text("Late coaching")
    shoot(wall, "monitor-recent")
