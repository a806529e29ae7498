"""Staff run the studio without help: people on the Users page, Tavus on the Settings page,
a preset whose picture survives a mistake, and faces that are each someone's (screenshots of
every page touched, 1366×768, in /tmp/shots-operator)."""

import re
from pathlib import Path

from playwright.sync_api import expect

from studio.accounts.roles import role_of
from studio.presets.models import Preset
from tests.join.conftest import picture

SHOTS = Path("/tmp/shots-operator")


def shot(page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_an_admin_adds_a_person_who_chooses_a_password_and_signs_in(
    studio_server, admin_user, login_as, browser, settings
):
    from django.contrib.auth.models import User

    settings.STUDIO_PUBLIC_URL_FROM_ENV = False
    page = login_as(admin_user)
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(studio_server.url + "/launch/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Users").click()
    expect(page.get_by_role("heading", name="Users")).to_be_visible()
    shot(page, "users-1-list")
    page.get_by_role("link", name="Add a person").click()
    page.get_by_label("Username").fill("priya")
    page.get_by_role("textbox", name=re.compile("^Name")).fill("Priya Shah")
    page.get_by_role("radio", name=re.compile("^Supervisor")).check()
    shot(page, "users-2-add")
    page.get_by_role("button", name="Add and make a password link").click()
    expect(page.get_by_role("heading", name=re.compile("Give them this link"))).to_be_visible()
    link = page.get_by_label("Password link").input_value()
    assert link.startswith(studio_server.url + "/users/password/")
    shot(page, "users-3-link")

    # Priya opens the link on her own computer, chooses a password and signs in.
    theirs = browser.new_context(viewport={"width": 1366, "height": 768})
    them = theirs.new_page()
    them.goto(link)
    expect(them.get_by_role("heading", name="Choose your password")).to_be_visible()
    shot(them, "users-4-choose-password")
    them.get_by_label("New password", exact=True).fill("sunlit-harbour-42-kites")
    them.get_by_label("New password confirmation").fill("sunlit-harbour-42-kites")
    them.get_by_role("button", name="Set my password").click()
    expect(them.get_by_role("heading", name="Your password is set")).to_be_visible()
    shot(them, "users-5-password-set")
    them.get_by_role("link", name="Sign in").click()
    them.get_by_label("Username").fill("priya")
    them.get_by_label("Password").fill("sunlit-harbour-42-kites")
    them.get_by_role("button", name="Sign in").click()
    expect(them).to_have_url(re.compile(r"/launch/$"))
    expect(them.locator(".role-badge")).to_have_text("Supervisor")

    # The admin makes her an admin, then deactivates her: she is signed out at once.
    page.goto(studio_server.url + "/users/")
    page.get_by_role("link", name="Priya Shah").click()
    page.get_by_role("radio", name=re.compile("^Admin")).check()
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".messages")).to_contain_text("Saved priya")
    assert role_of(User.objects.get(username="priya")) == "Admin"
    page.get_by_role("button", name="Deactivate").click()
    expect(page.locator(".messages")).to_contain_text("can no longer sign in")
    shot(page, "users-6-detail")
    them.goto(studio_server.url + "/launch/")
    expect(them).to_have_url(re.compile(r"/login/"))
    theirs.close()


def test_an_admin_sees_the_settings_page_and_a_wrong_key_is_explained(
    studio_server, admin_user, login_as, settings
):
    settings.TAVUS_API_BASE = ""  # as `make run` has it: the address is the page's to set
    page = login_as(admin_user)
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(studio_server.url + "/launch/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    expect(page.get_by_text("The sandbox", exact=True)).to_be_visible()
    shot(page, "settings-1-sandbox")
    page.get_by_label("Tavus API key").fill("not-a-real-key")
    page.locator("details.advanced summary").click()
    page.get_by_label("Tavus address").fill(studio_server.url + "/sandbox")
    page.get_by_role("button", name="Check and save").click()
    expect(page.get_by_text("Tavus did not accept this key")).to_be_visible()
    shot(page, "settings-2-wrong-key")


def test_a_picture_survives_a_bad_arn_and_the_preview_speaks_plainly(
    studio_server, operator, login_as, stock_preset, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path / "media"
    stock_preset()  # syncs the sandbox's stock cast
    page = login_as(operator)
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(studio_server.url + "/library/")
    shot(page, "library-1-replicas")
    expect(page.get_by_role("img", name="Drawn portrait of Sabrina")).to_be_visible()
    page.get_by_role("link", name="Personas").click()
    shot(page, "library-2-personas")
    page.get_by_role("link", name="Sales Coach").first.click()
    shot(page, "library-3-persona")

    page.goto(studio_server.url + "/presets/new/")
    page.get_by_label("Preset name").fill("Beach reception")
    page.get_by_label("Persona", exact=True).select_option(label="Sales Coach (stock)")
    page.get_by_label("Your picture, on the participant's page").check()
    page.locator("#id_background_image").set_input_files(
        {"name": "beach.png", "mimeType": "image/png", "buffer": picture()}
    )
    page.get_by_label("If nobody joins, end after (seconds)").fill("5")
    page.get_by_label("If nobody joins, end after (seconds)").blur()
    preview = page.locator("#effective-preview")
    expect(preview).to_contain_text("hardly time to open the link")
    page.get_by_label("Allow recording to your S3 bucket").check()
    page.get_by_label("S3 bucket name").fill("acme-recordings")
    page.get_by_label("Bucket region").select_option("eu-west-1")
    page.get_by_label("IAM role ARN").fill("arn:aws:iam::12:role/x")
    shot(page, "presets-1-filled")
    page.get_by_role("button", name="Create preset").click()
    expect(page.get_by_text("The picture you chose is kept")).to_be_visible()
    expect(page.get_by_role("img", name="The picture you chose")).to_be_visible()
    shot(page, "presets-2-bad-arn-picture-kept")
    page.get_by_label("IAM role ARN").fill("arn:aws:iam::123456789012:role/TavusRecordings")
    page.get_by_label("If nobody joins, end after (seconds)").fill("300")
    page.get_by_role("button", name="Create preset").click()
    expect(page.locator(".messages")).to_contain_text("Saved “Beach reception”")
    preset = Preset.objects.get(name="Beach reception")
    assert preset.background == "image" and preset.background_image and preset.apply_greenscreen
    shot(page, "presets-3-list")
    page.goto(studio_server.url + f"/presets/{preset.pk}/edit/")
    json_box = page.locator("details.effective-json")
    expect(json_box).not_to_have_attribute("open", "")
    expect(page.locator("#effective-preview")).to_contain_text("Your picture behind the replica")
    shot(page, "presets-4-edit")
