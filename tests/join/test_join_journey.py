"""The participant's join page in real Chromium, with fake camera and microphone, on the sandbox."""

import re

from django.core.files.base import ContentFile
from playwright.sync_api import expect

from studio.conversations.models import Conversation
from tests.browser.conftest import launch_from_ui
from tests.join.conftest import MAGENTA, joinable, picture

# Reads one pixel of the replica canvas (WebGL or 2D alike: copied into a 2D canvas first), at
# a position given as fractions of its width and height.
READ_PIXEL = """([x, y]) => {
  const source = document.getElementById("replica-canvas");
  if (!source || !source.width) return null;
  const copy = document.createElement("canvas");
  copy.width = source.width;
  copy.height = source.height;
  const ctx = copy.getContext("2d");
  ctx.drawImage(source, 0, 0);
  const px = ctx.getImageData(Math.floor(x * source.width), Math.floor(y * source.height), 1, 1);
  return Array.from(px.data.slice(0, 3));
}"""

COMPOSITING = """() => {
  const canvas = document.getElementById("replica-canvas");
  return !!canvas && canvas.dataset.background === "loaded" && Number(canvas.dataset.frames) > 3;
}"""

PREVIEW_PLAYING = """() => {
  const video = document.getElementById("preview-video");
  const track = video && video.srcObject && video.srcObject.getVideoTracks()[0];
  return !!track && track.readyState === "live" && !video.paused && video.videoWidth > 0;
}"""


def close_to(pixel, colour, tolerance=12):
    if pixel is None:
        return False
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour, strict=True))


def background_preset(stock_preset, **fields):
    values = {
        "name": "Front desk",
        "conversation_name": "Front desk",
        "custom_greeting": "Hello! How can I help you today?",
        "apply_greenscreen": True,
        "background": "image",
        "background_image": ContentFile(picture(), name="magenta.png"),
        "participant_left_timeout": 2,
    }
    values.update(fields)
    return stock_preset(**values)


def open_join_page(browser, url):
    """The person's own browser: a fresh context, signed in to nothing."""
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(url)
    return page


def test_a_participant_joins_talks_and_leaves(
    studio_server, operator, supervisor, login_as, stock_preset, browser, media_root
):
    background_preset(stock_preset)
    host = login_as(operator)
    launch_from_ui(host, studio_server.url, "Front desk")
    conversation = Conversation.objects.get()
    link = host.get_by_role("button", name="Copy participant link").get_attribute("data-copy")
    assert link == f"{studio_server.url}/join/{conversation.join_token}/"
    host.locator("summary", has_text="Other link").click()
    tavus_link = host.get_by_role("button", name="Copy Tavus room link").get_attribute("data-copy")
    assert tavus_link == conversation.participant_link()

    # Before joining: title, organisation, a live camera preview, device choice. The sandbox's
    # practice room has no microphone (the person types): none is asked for, nothing to test.
    person = open_join_page(browser, link)
    expect(person.get_by_role("heading", name="Front desk")).to_be_visible()
    expect(person.locator(".join-org")).to_have_text("Conversation Studio")
    expect(person.locator(".lede")).to_contain_text("This practice room has no microphone")
    person.wait_for_function(PREVIEW_PLAYING)
    expect(person.locator("#preview")).to_have_attribute("data-state", "on")
    expect(person.get_by_label("Camera", exact=True)).to_be_enabled()
    expect(person.get_by_label("Microphone", exact=True)).to_be_hidden()
    expect(person.locator("#meter-row")).to_be_hidden()
    expect(person.get_by_role("button", name="Use microphone")).to_be_hidden()
    assert person.evaluate("JoinDevices.tracks.audio") is None
    person.get_by_label("Your name").fill("Robin")
    person.screenshot(path="test-artifacts/join-prejoin.png")

    person.get_by_role("button", name="Join").click()
    expect(person.locator("#call")).to_be_visible()
    expect(person.locator("#stage")).to_have_attribute("data-replica", "here")
    expect(person.locator("#self-video")).to_be_visible()
    expect(person.get_by_role("button", name="Mute")).to_be_hidden()
    expect(person.get_by_role("button", name="Stop video")).to_be_visible()

    # The sandbox's green became the preset's picture; the replica itself did not.
    person.wait_for_function(COMPOSITING)
    mode = person.locator("#replica-canvas").get_attribute("data-compositor")
    assert mode == "webgl"
    corner = person.evaluate(READ_PIXEL, [0.04, 0.06])
    assert close_to(corner, MAGENTA), corner
    face = person.evaluate(READ_PIXEL, [0.47, 0.5])
    assert not close_to(face, MAGENTA, 60) and not close_to(face, (0, 255, 155), 60), face

    # Now only the person is in the room: the launcher moves on to other work.
    expect(host.locator("#captions")).to_contain_text("How can I help you today?")
    host.goto(studio_server.url + "/live/")

    wall = login_as(supervisor)
    wall.goto(studio_server.url + "/monitor/")
    expect(wall.locator("#monitor[data-socket=open]")).to_be_attached()
    watcher = login_as(supervisor)
    watcher.goto(f"{studio_server.url}/conversations/{conversation.pk}/")
    expect(watcher.locator("#live[data-socket=open]")).to_be_attached()
    expect(watcher.locator(".relay-note")).to_have_text(
        "Captions are coming from the participant's page."
    )

    # Typing stands in for speaking; captions reach the page and, live, the supervisors.
    person.get_by_label("Type what you would say").fill("I'd like to book a table for two")
    person.get_by_label("Type what you would say").press("Enter")
    expect(person.locator("#captions")).to_contain_text("I'd like to book a table for two")
    expect(wall.locator(f"#tile-captions-{conversation.pk}")).to_contain_text(
        "I'd like to book a table for two"
    )
    expect(watcher.locator("#captions")).to_contain_text("I'd like to book a table for two")
    person.screenshot(path="test-artifacts/join-call.png")

    # A supervisor steps in: the join page carries the command into the room.
    watcher.get_by_label("What should happen").select_option("echo")
    watcher.get_by_label("Words or context").fill("Let me check the diary for you.")
    watcher.get_by_role("button", name="Send to the room").click()
    expect(person.locator("#captions")).to_contain_text("Let me check the diary for you.")
    expect(watcher.locator("#live-status")).to_contain_text("sent into the room")

    # Leaving ends it: nobody is left, and the preset's 2-second timeout runs out.
    person.get_by_role("button", name="Leave").click()
    expect(person.get_by_role("heading", name="You've left the conversation")).to_be_visible()
    expect(watcher.locator("#live-status")).to_contain_text("Ended: Everyone left", timeout=20_000)
    person.context.close()


def test_the_compositor_falls_back_to_canvas_2d(
    studio_server, operator, login_as, stock_preset, browser, media_root
):
    background_preset(stock_preset, name="Fallback check", conversation_name="Fallback check")
    host = login_as(operator)
    launch_from_ui(host, studio_server.url, "Fallback check")
    conversation = Conversation.objects.get()
    person = open_join_page(browser, conversation.join_link() + "?compositor=2d")
    person.get_by_role("button", name="Join").click()
    person.wait_for_function(COMPOSITING)
    assert person.locator("#replica-canvas").get_attribute("data-compositor") == "2d"
    assert close_to(person.evaluate(READ_PIXEL, [0.04, 0.06]), MAGENTA)
    person.context.close()


def test_blocked_camera_and_microphone_get_plain_help(studio_server, operator, browser):
    conversation = joinable(operator, conversation_url=studio_server.url + "/sandbox/rooms/x/")
    context = browser.new_context()
    # As if the person had clicked "Block" in the browser's prompt.
    context.add_init_script(
        "navigator.mediaDevices.getUserMedia = () => "
        "Promise.reject(new DOMException('Permission denied', 'NotAllowedError'));"
    )
    page = context.new_page()
    page.goto(conversation.join_link())
    help_box = page.get_by_role("alert")
    # The sandbox's practice room asks for the camera alone (typing stands in for speaking).
    expect(help_box).to_contain_text("Your browser is blocking the camera")
    expect(help_box).not_to_contain_text("microphone")
    expect(help_box).to_contain_text(re.compile("address bar"))
    expect(page.get_by_role("button", name="Try again")).to_be_visible()
    expect(page.get_by_role("button", name="Join")).to_be_enabled()
    context.close()
