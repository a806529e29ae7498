"""First run without a terminal: `make run`, sign in, open Settings, paste a Tavus key, the
library syncs itself, launch. A second studio process, started the same way, plays Tavus: its
sandbox is the "Tavus address" (an advanced setting) and its sandbox key is the key pasted.
Nothing after the two starts is done but in the browser (screenshots in /tmp/shots-operator)."""

import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from tests.instance import ADMIN, ADMIN_PASSWORD, Instance

SHOTS = Path("/tmp/shots-operator")


def shot(page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"first-run-{name}.png"), full_page=True)


@pytest.fixture
def two_studios(tmp_path):
    studio = Instance(tmp_path / "studio")
    # The studio that plays Tavus calls back only the first one's hooks (its own are not used).
    tavus = Instance(tmp_path / "tavus", SANDBOX_CALLBACK_PREFIXES=studio.url + "/hooks/")
    try:
        studio.start()
        tavus.start()
        yield studio, tavus
    finally:
        studio.stop()
        tavus.stop()


@pytest.mark.browser
def test_sign_in_connect_tavus_in_settings_sync_and_launch(
    two_studios, browser
):
    studio, tavus = two_studios
    shown = tavus.manage(
        "shell", "-c", "from django.conf import settings; print(settings.SANDBOX_API_KEY)"
    )
    key = shown.stdout.strip().splitlines()[-1]  # what that server's admin would hand over

    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(studio.url + "/")
    page.get_by_label("Username").fill(ADMIN)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    shot(page, "1-sign-in")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/launch/$"))
    expect(page.get_by_text("Sandbox — no real Tavus calls")).to_be_visible()
    shot(page, "2-launch-on-the-sandbox")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    shot(page, "3-settings")
    page.get_by_label("Tavus API key").fill(key)
    page.locator("details.advanced summary").click()
    page.get_by_label("Tavus address").fill(tavus.url + "/sandbox")
    page.get_by_role("button", name="Check and save").click()
    messages = page.locator(".messages")
    expect(messages).to_contain_text("Connected to Tavus")
    expect(messages).to_contain_text("The library is up to date: Synced 11 replicas")
    expect(page.get_by_text("Sandbox — no real Tavus calls")).to_have_count(0)
    expect(page.locator(".settings-now")).to_contain_text(tavus.url + "/sandbox")
    shot(page, "4-connected")
    # This studio's own sandbox is gone now that it talks to Tavus: no restart was needed.
    own = httpx.get(studio.url + "/sandbox/v2/replicas", headers={"x-api-key": key})
    assert own.status_code == 404

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Library").click()
    expect(page.get_by_role("img", name="Drawn portrait of Nathan")).to_be_visible()
    shot(page, "5-library-from-tavus")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Launch").click()
    page.get_by_role("link", name=re.compile("Demo: sales coach")).click()
    shot(page, "6-launch-preset")
    page.get_by_role("button", name="Launch conversation").click()
    expect(page).to_have_url(re.compile(r"/conversations/\d+/$"))
    # The conversation was made at the "Tavus" next door, with this studio's webhook address,
    # and that Tavus's replica joining reaches this page through the webhook.
    made = httpx.get(tavus.url + "/sandbox/v2/conversations", headers={"x-api-key": key}).json()
    assert made["total_count"] == 1
    expect(page.locator("#live-status [data-status]")).to_have_attribute("data-status", "active")
    shot(page, "7-live")
    context.close()
