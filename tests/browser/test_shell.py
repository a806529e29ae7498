import re

from playwright.sync_api import expect

from tests.conftest import PASSWORD


def test_sign_in_see_shell_and_sandbox_banner_then_sign_out(studio_server, operator, page):
    page.goto(studio_server.url + "/launch/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/launch/"))
    page.get_by_label("Username").fill("olivia")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/launch/$"))
    expect(page.get_by_role("navigation", name="Main")).to_contain_text("Presets")
    expect(page.get_by_text("Sandbox — no real Tavus calls")).to_be_visible()
    page.screenshot(path="test-artifacts/shell.png", full_page=True)
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login/$"))
