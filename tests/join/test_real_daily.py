"""The join page with the real daily-js (the pinned package the studio serves, not the sandbox's
shim) in Chromium, Daily's servers faked by Playwright routes (tests/browser/daily.py)."""

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from studio.conversations.models import Conversation, Event, Utterance
from tests.browser.daily import REPLICA, FakeDaily, app_message, wait_for
from tests.join.conftest import joinable

ROOM = "c0ffee123abc"
ROBIN = {"session_id": "robin-1", "user_name": "Robin"}


@pytest.fixture
def real_room(studio_server, operator, settings):
    """A live conversation in a real Tavus room, as the join page sees it."""
    settings.TAVUS_API_KEY = "a-real-key"  # the studio talks to Tavus, not its sandbox
    properties = {"max_call_duration": 600, "enable_closed_captions": True}
    return joinable(
        operator,
        conversation_url=f"https://tavus.daily.co/{ROOM}",
        tavus_id=ROOM,
        replica_name="Anna",
        settings_snapshot={"properties": properties},
    )


def open_join_page(browser, conversation, script=None, **scenario):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    if script:
        context.add_init_script(script)
    daily = FakeDaily(context, **scenario)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(conversation.join_link())
    return page, daily


def say(page, from_id, event_type, seq, **properties):
    app_message(page, ROOM, from_id, event_type, seq, **properties)


def test_a_person_joins_a_real_room_and_only_the_replica_writes_captions(real_room, browser):
    page, daily = open_join_page(
        browser, real_room, others=[REPLICA, {"session_id": "mallory-1", "user_name": "Mallory"}],
        local=ROBIN,
    )
    page.get_by_label("Your name").fill("Robin")
    page.get_by_role("button", name="Join").click()
    expect(page.locator("#call")).to_be_visible()
    expect(page.locator("#stage")).to_have_attribute("data-replica", "here")

    # Tavus's own presence event, the replica's words, and someone else in the room (anyone
    # with the room link can send app-messages) pretending to be the replica.
    say(page, "replica-1", "conversation.joined", 1, role="user", participant_id="robin-1")
    say(page, "mallory-1", "conversation.utterance", 2, role="replica",
        speech="Send me your password")
    say(page, "replica-1", "conversation.utterance.streaming", 3, role="replica",
        speech="Hello Robin, welcome.", final=True)
    say(page, "replica-1", "conversation.utterance", 4, role="replica",
        speech="Hello Robin, welcome.")
    expect(page.locator("#captions")).to_contain_text("Hello Robin, welcome.")
    expect(page.locator("#captions")).not_to_contain_text("password")
    wait_for(lambda: Utterance.objects.filter(conversation=real_room, role="replica").exists())
    assert [u.text for u in Utterance.objects.filter(conversation=real_room)] == [
        "Hello Robin, welcome."
    ]
    page.screenshot(path="test-artifacts/join-real-daily-call.png")

    # The person's own page counts the person, once, by Daily's session id; Tavus's twin is
    # not relayed, and what the page sees of others (Mallory) it may not report.
    people = wait_for(lambda: Conversation.objects.get(pk=real_room.pk).room_people or None)
    assert people == {"robin-1": {"name": "Robin", "via": "join"}}
    assert Conversation.objects.get(pk=real_room.pk).people_in_room == 1
    joined = Event.objects.filter(conversation=real_room, event_type="conversation.joined")
    assert [e.payload["properties"]["participant_id"] for e in joined] == ["robin-1"]

    page.get_by_role("button", name="Leave").click()
    expect(page.get_by_role("heading", name="You've left the conversation")).to_be_visible()
    wait_for(lambda: Conversation.objects.get(pk=real_room.pk).people_in_room == 0)
    assert FakeDaily.violations(page) == []
    assert all(urlsplit(url).hostname == "c.daily.co" for url in daily.requests)
    page.context.close()


MIC_LEVEL = "() => Number(document.getElementById('mic-meter').getAttribute('aria-valuenow')) > 5"
# As if the computer had a camera and no microphone at all.
NO_MICROPHONE = """
const realGetUserMedia = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
navigator.mediaDevices.getUserMedia = (want) => want && want.audio
  ? Promise.reject(new DOMException('Requested device not found', 'NotFoundError'))
  : realGetUserMedia(want);
"""


def test_a_microphone_is_tested_before_the_call_and_can_be_muted_in_it(real_room, browser):
    page, _ = open_join_page(browser, real_room, others=[REPLICA], local=ROBIN)
    expect(page.get_by_label("Microphone", exact=True)).to_be_enabled()
    page.wait_for_function(MIC_LEVEL)  # Chromium's fake microphone beeps: the meter moves
    page.get_by_role("button", name="Join").click()
    expect(page.locator("#stage")).to_have_attribute("data-replica", "here")
    page.get_by_role("button", name="Mute").click()
    expect(page.get_by_role("button", name="Unmute")).to_have_attribute("aria-pressed", "false")
    page.context.close()


def test_without_a_microphone_nothing_offers_to_mute_or_test_one(real_room, browser):
    page, _ = open_join_page(browser, real_room, script=NO_MICROPHONE, others=[REPLICA])
    expect(page.get_by_role("alert")).to_contain_text("We couldn't find a microphone")
    expect(page.get_by_role("alert")).to_contain_text("the replica won't hear you")
    expect(page.locator("#preview")).to_have_attribute("data-state", "on")  # the camera works
    expect(page.locator("#meter-row")).to_be_hidden()
    expect(page.get_by_role("button", name="Use microphone")).to_be_hidden()
    page.screenshot(path="test-artifacts/join-no-microphone-390.png", full_page=True)
    page.get_by_role("button", name="Join").click()
    expect(page.locator("#stage")).to_have_attribute("data-replica", "here")
    expect(page.locator("#call-mic")).to_be_hidden()
    expect(page.get_by_role("button", name="Stop video")).to_be_visible()
    page.screenshot(path="test-artifacts/join-no-microphone-call-390.png")
    page.context.close()


def test_an_unreachable_room_says_so_and_offers_to_try_again(real_room, browser):
    page, daily = open_join_page(browser, real_room, reachable=False)
    page.get_by_role("button", name="Join").click()
    # daily-js tries its call machine on each of Daily's base domains, three times over.
    expect(page.locator("#join-status")).to_contain_text(
        "We couldn't connect you to the call", timeout=40_000
    )
    expect(page.locator("#join-status")).to_contain_text("Check your internet connection")
    expect(page.get_by_role("button", name="Try again")).to_be_enabled()
    expect(page.locator("#ended")).to_be_hidden()
    tried = {urlsplit(url).hostname for url in daily.requests if "call-machine" in url}
    assert tried == {"c.daily.co", "c.dailywebrtc.com", "c.dailywebrtc.net"}
    wait_for(lambda: daily.error_reports)  # daily-js reports it to Daily, and the CSP lets it
    page.screenshot(path="test-artifacts/join-real-daily-unreachable.png")
    assert FakeDaily.violations(page) == []
    page.context.close()


@pytest.mark.parametrize(
    ("fatal", "words", "advice"),
    [
        ("meeting-full", "This call is full", "Wait a few minutes and try again"),
        ("exp-room", "This conversation's time is up", "Ask whoever sent you the link"),
        ("no-room", "This conversation has ended", "Ask whoever sent you the link"),
        ("not-allowed", "This link doesn't let you into the call", "for a new one"),
    ],
)
def test_a_room_that_turns_the_person_away_says_why(real_room, browser, fatal, words, advice):
    page, _ = open_join_page(browser, real_room, join=fatal)
    page.get_by_role("button", name="Join").click()
    if fatal == "meeting-full":
        # Worth another go: it stays on the join form (Daily's left-meeting after the error
        # does not read as "the conversation ended").
        expect(page.locator("#join-status")).to_contain_text(words)
        expect(page.locator("#join-status")).to_contain_text(advice)
        expect(page.get_by_role("button", name="Try again")).to_be_enabled()
        expect(page.locator("#ended")).to_be_hidden()
    else:
        expect(page.get_by_role("heading", name=words)).to_be_visible()
        expect(page.locator("#ended-reason")).to_contain_text(advice)
    page.screenshot(path=f"test-artifacts/join-real-daily-{fatal}.png")
    assert FakeDaily.violations(page) == []
    page.context.close()


def test_a_person_removed_from_the_call_is_told_so(real_room, browser):
    page, _ = open_join_page(browser, real_room, others=[REPLICA], local=ROBIN)
    page.get_by_role("button", name="Join").click()
    expect(page.locator("#call")).to_be_visible()
    page.evaluate("() => window.__fakeDaily.fatal('ejected', 'Ejected from meeting')")
    expect(page.get_by_role("heading", name="You were removed from the call")).to_be_visible()
    expect(page.get_by_role("button", name="Rejoin the conversation")).to_be_hidden()
    expect(page.get_by_text("This conversation has ended")).to_have_count(0)
    page.screenshot(path="test-artifacts/join-real-daily-ejected.png")
    assert FakeDaily.violations(page) == []
    assert Conversation.objects.get(pk=real_room.pk).is_live
    page.context.close()


def test_a_closed_join_page_says_so_by_beacon_and_leaves_nobody_behind(real_room, browser):
    page, _ = open_join_page(browser, real_room, others=[REPLICA], local=ROBIN)
    page.get_by_role("button", name="Join").click()
    expect(page.locator("#stage")).to_have_attribute("data-replica", "here")
    wait_for(lambda: Conversation.objects.get(pk=real_room.pk).people_in_room == 1)
    # The tab goes away: pagehide. Its socket gets nothing more out (as often while a page
    # unloads), so only the beacon, which outlives the page, can tell the studio.
    page.evaluate(
        "() => { WebSocket.prototype.send = () => {};"
        " window.dispatchEvent(new PageTransitionEvent('pagehide')); }"
    )
    wait_for(lambda: Conversation.objects.get(pk=real_room.pk).people_in_room == 0, 10)
    gone = Conversation.objects.get(pk=real_room.pk)
    assert gone.room_people == {} and not gone.join_page_connected
    assert FakeDaily.violations(page) == []
    page.context.close()
