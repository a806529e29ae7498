"""The staff live page in a real Tavus room: the pinned daily-js's call frame in Chromium, with
Daily's room page faked by Playwright routes (tests/browser/daily.py)."""

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from studio.conversations.models import Conversation, Utterance
from tests.browser.conftest import steer
from tests.browser.daily import REPLICA, FakeDaily, app_message, wait_for
from tests.conversations.factories import make_conversation

ROOM = "c0ffee456def"
HOST = {"session_id": "host-1", "user_name": "olivia"}
ROBIN = {"session_id": "robin-1", "user_name": "Robin"}


@pytest.fixture
def real_conversation(studio_server, operator, settings):
    settings.TAVUS_API_KEY = "a-real-key"  # the studio talks to Tavus, not its sandbox
    conversation, _ = make_conversation(
        operator,
        conversation_url=f"https://tavus.daily.co/{ROOM}",
        tavus_id=ROOM,
        replica_name="Anna",
        meeting_token="mt-secret",
    )
    return conversation


def open_live_page(login_as, user, conversation, **scenario):
    page = login_as(user)
    daily = FakeDaily(page.context, **scenario)
    page.goto(f"/conversations/{conversation.pk}/")
    expect(page.locator("#live[data-socket=open]")).to_be_attached()
    return page, daily


def in_room(page, from_id, event_type, seq, **properties):
    app_message(FakeDaily.room_frame(page), ROOM, from_id, event_type, seq, **properties)


def test_the_live_page_relays_a_real_room_and_trusts_only_the_replica(
    real_conversation, operator, supervisor, login_as
):
    page, daily = open_live_page(
        login_as, operator, real_conversation, others=[REPLICA, ROBIN], local=HOST
    )
    room = FakeDaily.room_frame(page)
    room.wait_for_function(
        "() => window.__fakeDaily.received.some((m) => m.action === 'join-meeting')"
    )
    assert urlsplit(room.url).hostname == "tavus.daily.co"

    # Tavus's own presence event for Robin, someone else in the room posing as the replica,
    # then the replica's words.
    in_room(page, "replica-1", "conversation.joined", 1, role="user", participant_id="robin-1")
    in_room(page, "robin-1", "conversation.utterance", 2, role="replica", speech="Free money here")
    in_room(page, "replica-1", "conversation.utterance", 3, role="replica",
            speech="Welcome to the real room.")
    expect(page.locator("#captions")).to_contain_text("Welcome to the real room.")
    assert not Utterance.objects.filter(text="Free money here").exists()

    # People counted once each, by Daily's session id: the page itself and Robin, as the page
    # saw them join (Tavus's own event about Robin is not relayed).
    wait_for(lambda: set(Conversation.objects.get(pk=real_conversation.pk).room_people)
             == {"host-1", "robin-1"})
    expect(page.locator('[data-timer="people"]')).to_have_text("2")
    assert Conversation.objects.get(pk=real_conversation.pk).people_in_room == 2
    joined = real_conversation.events.filter(event_type="conversation.joined")
    assert sorted(e.payload["properties"]["participant_id"] for e in joined) == [
        "host-1", "robin-1"
    ]

    # A supervisor steps in: the launcher's page carries it into the room with daily-js.
    watcher = login_as(supervisor)
    steer(watcher, f"/conversations/{real_conversation.pk}/", "Let me check that for you.")
    expect(watcher.locator("#live-status")).to_contain_text("sent into the room")
    sent = room.evaluate(
        "() => window.__fakeDaily.received.filter((m) => m.action === 'app-msg')"
    )
    assert sent[-1]["to"] == "*"
    assert sent[-1]["data"]["properties"]["text"] == "Let me check that for you."

    page.set_viewport_size({"width": 1366, "height": 768})
    page.screenshot(path="test-artifacts/live-real-daily.png")
    assert FakeDaily.violations(page) == []
    # A call frame loads the room page and nothing else from Daily.
    assert {urlsplit(url).hostname for url in daily.requests} == {"tavus.daily.co"}


@pytest.mark.parametrize(
    ("fatal", "words"),
    [
        ("exp-room", "The video room has closed: the conversation reached its time limit."),
        ("connection-error", "This page couldn't reach the video room."),
    ],
)
def test_the_live_page_says_what_went_wrong_with_the_room(
    real_conversation, operator, login_as, fatal, words
):
    page, daily = open_live_page(login_as, operator, real_conversation, join=fatal)
    expect(page.locator("#room-problem")).to_contain_text(words)
    if fatal == "connection-error":
        wait_for(lambda: daily.error_reports)  # daily-js reports it; the CSP lets it
    page.set_viewport_size({"width": 1366, "height": 768})
    page.screenshot(path=f"test-artifacts/live-real-daily-{fatal}.png")
    assert FakeDaily.violations(page) == []


def test_a_watching_launcher_stays_out_of_the_real_room_until_they_join(
    real_conversation, operator, login_as
):
    Conversation.objects.filter(pk=real_conversation.pk).update(talker="link")
    page, daily = open_live_page(
        login_as, operator, real_conversation, others=[REPLICA], local=HOST
    )
    # Watching: daily-js is not even loaded, nothing is asked of Daily, no place is taken.
    expect(page.locator("#live[data-room-mode=observer]")).to_be_attached()
    expect(page.locator("[data-watching]")).to_contain_text("you're watching")
    assert page.evaluate("typeof window.Daily") == "undefined"
    page.set_viewport_size({"width": 1366, "height": 768})
    page.screenshot(path="test-artifacts/live-real-daily-watching.png")
    assert daily.requests == []

    # Joining after all: the call frame joins and the page counts its person.
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("link", name="Join the video").click()
    expect(page.locator("#live[data-room-mode=daily]")).to_be_attached()
    expect(page.locator("#live[data-socket=open]")).to_be_attached()
    wait_for(lambda: set(Conversation.objects.get(pk=real_conversation.pk).room_people)
             == {"host-1"})
    assert {urlsplit(url).hostname for url in daily.requests} == {"tavus.daily.co"}

    # The last studio page in the room closes: the studio knows at once (pagehide).
    page.close(run_before_unload=True)
    wait_for(lambda: Conversation.objects.get(pk=real_conversation.pk).nobody_in_room, 10)


def test_the_live_page_leaving_the_call_takes_its_person_out(
    real_conversation, operator, login_as
):
    page, _ = open_live_page(
        login_as, operator, real_conversation, others=[REPLICA, ROBIN], local=HOST
    )
    wait_for(lambda: Conversation.objects.get(pk=real_conversation.pk).people_in_room == 2)
    # Daily's Leave button in the call frame: left-meeting.
    room = FakeDaily.room_frame(page)
    room.evaluate("() => window.__fakeDaily.fatal('ejected', 'Ejected from meeting')")
    wait_for(lambda: set(Conversation.objects.get(pk=real_conversation.pk).room_people)
             == {"robin-1"})
    # The page says "left" for its person, then that it is leaving: two messages in turn.
    wait_for(lambda: Conversation.objects.get(pk=real_conversation.pk).host_pages == 0)
