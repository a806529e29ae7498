"""The knowledge base in real Chromium against the sandbox: upload a PDF, watch it become ready,
attach it to a preset, launch, ask about something in it, and hear the answer from it."""

import re
from pathlib import Path

from playwright.sync_api import expect

from studio.knowledge.models import Document
from studio.presets.models import Preset
from tests.browser.conftest import launch_from_ui
from tests.documents import HANDBOOK_LINES, make_pdf

SHOTS = Path("/tmp/shots-knowledge")


def shot(page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_upload_a_pdf_attach_it_launch_and_get_an_answer_from_it(
    studio_server, supervisor, login_as, stock_preset, settings, tmp_path
):
    settings.KNOWLEDGE_FILES_ROOT = tmp_path / "private"
    settings.SANDBOX_DOCUMENT_STEP_SECONDS = 0.5
    preset = stock_preset(created_by=supervisor, updated_by=supervisor)
    page = login_as(supervisor)
    page.set_viewport_size({"width": 1366, "height": 768})

    # 1. Upload a PDF and see it become ready.
    page.goto(studio_server.url + "/knowledge/")
    page.get_by_role("link", name="Knowledge", exact=True).click()
    page.get_by_role("link", name="Add the first document").click()
    page.get_by_label("A file from your computer").check()
    page.locator("#id_upload").set_input_files(
        {
            "name": "Staff handbook.pdf",
            "mimeType": "application/pdf",
            "buffer": make_pdf(HANDBOOK_LINES),
        }
    )
    page.get_by_label("Tags").fill("hr, handbook")
    shot(page, "1-add-document")
    page.get_by_role("button", name="Add the document").click()
    expect(page.locator(".messages")).to_contain_text("Tavus is reading “Staff handbook”")
    row = page.locator("#document-region tr", has_text="Staff handbook")
    expect(row).to_contain_text(re.compile("Started|Reading|Ready"))
    shot(page, "2-document-reading")
    expect(row.locator(".badge-ok")).to_have_text("Ready")  # the list follows by itself
    shot(page, "3-document-ready")
    document = Document.objects.get()
    assert not document.upload  # the studio's copy is gone once Tavus has read it
    row.get_by_role("link", name="Staff handbook").click()
    expect(page.locator("main")).to_contain_text("the studio has deleted its copy")
    shot(page, "3b-document-detail")

    # 2. Attach it to a preset: the preview says so, and what goes to Tavus.
    page.goto(f"{studio_server.url}/presets/{preset.pk}/edit/")
    page.get_by_label(re.compile("Staff handbook")).check()
    preview = page.locator("#effective-preview")
    expect(preview).to_contain_text("Looks things up in “Staff handbook”")
    expect(preview).to_contain_text(document.document_id)
    page.get_by_label(re.compile("Staff handbook")).scroll_into_view_if_needed()
    shot(page, "4-preset-with-document")
    page.get_by_role("button", name="Save preset").click()
    expect(page.locator(".messages")).to_contain_text("Saved")
    assert list(Preset.objects.get(pk=preset.pk).documents.all()) == [document]

    # 3. Launch, ask about something in it, and get the answer from it.
    launch_from_ui(page, studio_server.url, "Customer call practice")
    captions = page.locator("#captions")
    expect(captions).to_contain_text("Shall we practise a tricky customer call?")
    box = page.frame_locator("#room-frame").get_by_label(re.compile("Say something", re.I))
    box.fill("How soon are refunds paid?")
    box.press("Enter")
    expect(captions).to_contain_text(
        "According to “Staff handbook”: Refunds are paid within 14 days of a returned order."
    )
    shot(page, "5-answer-from-document")


def test_objectives_flow_and_guardrails_pages_read_well(studio_server, admin_user, login_as):
    from studio.knowledge.models import Guardrail, ObjectiveSet

    ObjectiveSet.objects.create(
        objectives_id="o1",
        name="Clinic intake",
        items=[
            {
                "objective_name": "ask_if_new",
                "objective_prompt": "Ask whether they have been here before",
                "output_variables": ["patient_status"],
                "next_conditional_objectives": {
                    "take_details": "if they are new",
                    "find_record": "if they have been before",
                },
            },
            {"objective_name": "take_details", "objective_prompt": "Take their details"},
            {
                "objective_name": "find_record",
                "objective_prompt": "Find their record",
                "confirmation_mode": "manual",
            },
        ],
    )
    Guardrail.objects.create(
        guardrail_id="g1",
        name="no_competitors",
        prompt="Never discuss competitors.",
        tags=["legal"],
    )
    page = login_as(admin_user)
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(studio_server.url + "/knowledge/objectives/")
    expect(page.locator(".flow-step").first).to_contain_text("Notes down patient_status")
    shot(page, "6-objectives-flow")
    page.get_by_role("link", name="Edit").click()
    expect(page.get_by_label("Step name").first).to_have_value("ask_if_new")
    shot(page, "7-objectives-editor")
    page.goto(studio_server.url + "/knowledge/guardrails/")
    expect(page.locator("main")).to_contain_text("Never discuss competitors.")
    shot(page, "8-guardrails")
    page.get_by_role("link", name="Edit").click()
    expect(page.get_by_label("Name")).to_be_disabled()
    shot(page, "9-guardrail-editor")

    from studio.knowledge.models import Tool

    Tool.objects.create(
        tool_id="t1",
        name="get_order_status",
        description="Looks up an order by its number.",
        parameters={"type": "object", "properties": {"order_number": {"type": "string"}}},
    )
    Tool.objects.create(
        tool_id="t2",
        name="send_summary",
        description="Sends the call summary to the CRM.",
        trigger_type="post_call",
        api_url="https://crm.example.com/calls",
        api_method="POST",
    )
    page.goto(studio_server.url + "/knowledge/tools/")
    expect(page.locator("main")).to_contain_text("order_number")
    shot(page, "10-tools")
