"""A supervisor finds a conversation by something said in it, reviews it and takes its
subtitles away — in real Chromium against the real ASGI app."""

import re
from datetime import timedelta
from pathlib import Path

from django.db import connection
from playwright.sync_api import expect

from tests.history.conftest import ended

PHRASE = "lighthouse keeper"


def test_find_open_and_download_webvtt(studio_server, operator, operator2, supervisor, login_as):
    for i in range(8):
        ended(
            operator2 if i % 2 else operator,
            minutes_ago=90 + i * 45,
            length=120 + i * 60,
            title="Discovery call",
            preset_name="Discovery call",
            persona_name="Sales Coach",
            replica_name="Anna",
            said=[
                ("replica", "Hello! Shall we practise a discovery call?"),
                ("user", f"Sure, let's talk about pricing option {i}."),
            ],
        )
    target = ended(
        operator,
        minutes_ago=30,
        length=200,
        title="Interview practice",
        preset_name="Interview practice",
        persona_name="Interview coach",
        replica_name="Nora",
        recording={
            "bucket_name": "studio-recordings",
            "s3_key": "c1/recording.mp4",
            "duration": 190,
        },
        recording_started_at=None,
        perception_analysis="The person looked at the camera.\nThey smiled twice.",
        said=[
            ("replica", "Hello! Tell me about your last job."),
            ("user", f"I was a {PHRASE} for <three> years & loved it."),
            ("replica", "What did a typical night look like?"),
        ],
    )
    target._set(
        end_reason="end_conversation_endpoint_hit",
        replica_joined_at=target.created_at + timedelta(seconds=2),
    )

    page = login_as(supervisor)
    page.goto(studio_server.url + "/history/")
    expect(page.get_by_role("heading", name="History")).to_be_visible()
    expect(page.locator(".history-table tbody tr")).to_have_count(9)
    page.screenshot(path="test-artifacts/history-list.png", full_page=True)

    # Typing searches as you go (htmx), and the URL can be bookmarked.
    page.get_by_label("Search what was said").fill(PHRASE)
    expect(page.locator(".snippet-row")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"q=lighthouse(\+|%20)keeper"))
    snippet = page.locator(".snippet-row mark")
    expect(snippet.first).to_have_text(re.compile("lighthouse", re.I))
    # Escaped, not interpreted (PostgreSQL's headline leaves <tag>-like words out).
    said = "<three> years & loved it" if connection.vendor == "sqlite" else "years & loved it"
    expect(page.locator(".snippet-row")).to_contain_text(said)
    page.screenshot(path="test-artifacts/history-search.png", full_page=True)

    # A filter narrows further without losing the search.
    page.get_by_label("Outcome").select_option("participant_left_timeout")
    expect(page.get_by_text("Nothing matches")).to_be_visible()
    expect(page).to_have_url(re.compile(r"q=lighthouse.*end_reason=participant_left_timeout"))
    page.get_by_label("Outcome").select_option("")
    expect(page.locator(".snippet-row")).to_have_count(1)

    page.get_by_role("link", name=re.compile(PHRASE)).click()
    expect(page).to_have_url(re.compile(rf"/history/{target.pk}/"))
    expect(page.get_by_role("heading", name="Interview practice")).to_be_visible()
    expect(page.locator("#transcript")).to_contain_text("Live captions")
    expect(page.get_by_text("s3://studio-recordings/c1/recording.mp4")).to_be_visible()
    expect(page.locator(".history-timeline")).to_contain_text("+0:02")
    page.screenshot(path="test-artifacts/history-detail.png", full_page=True)

    with page.expect_download() as info:
        page.get_by_role("link", name="Subtitles (WebVTT)").click()
    download = info.value
    assert download.suggested_filename == f"interview-practice-{target.pk}.vtt"
    text = Path(download.path()).read_text(encoding="utf-8")
    assert text.startswith("WEBVTT\n\n1\n00:00:")
    assert f"<v Person>I was a {PHRASE} for &lt;three&gt; years &amp; loved it." in text
    assert text.count(" --> ") == 3


def test_an_operator_with_no_history_is_invited_to_launch(studio_server, operator, login_as):
    page = login_as(operator)
    page.goto(studio_server.url + "/history/")
    expect(page.get_by_text("No conversations yet")).to_be_visible()
    expect(page.get_by_role("link", name="Launch a conversation")).to_have_attribute(
        "href", "/launch/"
    )
    page.screenshot(path="test-artifacts/history-empty.png", full_page=True)


def test_the_final_transcript_reads_well(studio_server, operator, login_as):
    from tests.history.test_detail import TRANSCRIPT

    conversation = ended(
        operator,
        title="Pricing drill",
        transcript=TRANSCRIPT,
        settings_snapshot={"persona_id": "p1", "properties": {"max_call_duration": 600}},
        summary_snapshot=["Ends after 10 minutes", "Speaks English"],
    )
    page = login_as(operator)
    page.goto(f"{studio_server.url}/history/{conversation.pk}/")
    prompt = page.get_by_text("Secret house rules")
    expect(prompt).to_be_hidden()
    page.get_by_text("System prompt Tavus used").click()
    expect(prompt).to_be_visible()
    page.get_by_text("Exactly what was sent to Tavus").click()
    expect(page.locator(".preview pre")).to_contain_text('"max_call_duration": 600')
    expect(page.locator(".tool-call")).to_contain_text("lookup_price")
    page.screenshot(path="test-artifacts/history-detail-final.png", full_page=True)
