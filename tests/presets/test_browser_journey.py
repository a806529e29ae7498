"""An admin's first half hour: sync the library, make a persona, make a preset, pin it."""

import re

import pytest
from playwright.sync_api import expect

from studio.presets.models import Preset

pytestmark = pytest.mark.browser

GOOD_ARN = "arn:aws:iam::123456789012:role/TavusRecordings"


def test_sync_create_persona_then_a_recording_preset_and_pin_it(login_as, admin_user):
    page = login_as(admin_user)

    # Library: the first visit fills itself; the button syncs again with a visible result.
    page.goto("/library/")
    expect(page.get_by_role("heading", name="Sabrina")).to_be_visible()
    page.get_by_role("button", name="Sync from Tavus").click()
    expect(page.get_by_role("status").filter(has_text="Synced 11 replicas")).to_be_visible()
    page.get_by_label("Search by name").fill("an")
    expect(page.get_by_role("heading", name="Sabrina")).to_be_hidden()
    expect(page.get_by_role("heading", name="Anna")).to_be_visible()
    expect(page).to_have_url(re.compile(r"q=an"))
    page.get_by_label("Search by name").fill("")
    expect(page.get_by_role("heading", name="Sabrina")).to_be_visible()
    page.screenshot(path="test-artifacts/library-replicas.png", full_page=True)

    # A new persona, with a face picked from the cards.
    page.get_by_role("navigation", name="Library").get_by_role("link", name="Personas").click()
    expect(page.get_by_role("cell", name=re.compile("Sales Coach"))).to_be_visible()
    page.screenshot(path="test-artifacts/library-personas.png", full_page=True)
    page.get_by_role("link", name="New persona").click()
    page.get_by_label("Name", exact=True).fill("Front desk")
    page.get_by_label("Instructions (system prompt)").fill(
        "You greet visitors at the front desk and ask who they are here to see."
    )
    page.locator("label.face-option", has_text="Helen").click()
    page.get_by_label("Language model (the brain)").select_option("tavus-gemini-3-flash")
    page.get_by_label("Words to listen out for").fill("Acme, reception")
    page.screenshot(path="test-artifacts/persona-editor.png", full_page=True)
    page.get_by_role("button", name="Create persona").click()
    expect(page.get_by_text("Created the persona “Front desk” at Tavus.")).to_be_visible()
    expect(page.get_by_text("Helen")).to_be_visible()

    # A preset that records: the S3 fields appear, a bad ARN is refused in place.
    page.goto("/presets/new/")
    page.get_by_label("Preset name").fill("Reception")
    page.get_by_label("Persona", exact=True).select_option(label="Front desk")
    preview = page.locator("#effective-preview")
    expect(preview).to_contain_text("Helen (the persona's default face)")
    expect(preview).to_contain_text("as the “Front desk” persona")
    bucket = page.get_by_label("S3 bucket name")
    expect(bucket).to_be_hidden()
    page.get_by_label("Allow recording to your S3 bucket").check()
    expect(bucket).to_be_visible()
    bucket.fill("acme-call-recordings")
    page.get_by_label("Bucket region").select_option("eu-west-1")
    arn = page.get_by_label("IAM role ARN")
    arn.fill("arn:aws:iam::42:role/Tavus")
    arn.press("Tab")
    arn_field = page.locator("#id_aws_assume_role_arn-field")
    expect(arn_field).to_contain_text("isn't an IAM role ARN")
    page.get_by_label("IAM role ARN").fill(GOOD_ARN)
    page.get_by_label("IAM role ARN").press("Tab")
    expect(arn_field).not_to_contain_text("isn't an IAM role ARN")
    expect(preview).to_contain_text("“acme-call-recordings” (eu-west-1)")
    expect(preview).to_contain_text("arn:aws:iam::********9012:role/TavusRecordings")

    # The preview follows the form.
    minutes = page.get_by_label("Time limit (minutes)")
    minutes.fill("25")
    minutes.press("Tab")
    expect(preview).to_contain_text("Can run for up to 25 minutes (billed while it runs)")
    expect(preview).to_contain_text('"max_call_duration": 1500')
    page.get_by_label("Limit how many can join").check()
    page.get_by_label("Most people in the room, counting the replica").fill("2")
    page.get_by_label("Most people in the room, counting the replica").press("Tab")
    expect(preview).to_contain_text("Up to 1 person plus the replica")
    page.get_by_label("Language").fill("Spanish")
    page.get_by_label("Language").press("Tab")
    expect(preview).to_contain_text("Speaks Spanish")
    page.screenshot(path="test-artifacts/preset-editor.png", full_page=True)
    page.get_by_label("IAM role ARN").scroll_into_view_if_needed()
    page.screenshot(path="test-artifacts/preset-editor-viewport.png")
    page.get_by_role("button", name="Create preset").click()

    # Saved; pin it and it moves to the top.
    expect(page.get_by_text("Saved “Reception”.")).to_be_visible()
    card = page.locator("article", has_text="Reception")
    card.get_by_role("button", name="Pin").click()
    expect(card.get_by_role("button", name="Unpin")).to_be_visible()
    preset = Preset.objects.get(name="Reception")
    assert preset.pinned and preset.enable_recording and preset.language == "spanish"
    assert preset.aws_assume_role_arn == GOOD_ARN and preset.max_participants == 2
    page.screenshot(path="test-artifacts/preset-list.png", full_page=True)
