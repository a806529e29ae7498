"""Usage, budgets and review in real Chromium, offline: an admin sets a budget; an operator
sees what a launch can cost against what is left, launches a persona that asks end-of-call
questions and has objectives, and talks to it in the sandbox room, which records; the
sandbox copies the recording to a local S3 server (moto) and sends its perception answers and
objective completions. A supervisor then finds the conversation by "objective not met", reads
its scorecard, plays the recording from the bucket, tags and notes it, and opens the Usage page
with its charts. Screenshots in /tmp/shots-usage/."""

import random
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from studio.conversations import usage
from studio.conversations.models import Conversation, MinuteBudget, Note, Tag
from studio.knowledge.models import sync_behaviour
from studio.library.models import Persona, Replica, sync_personas, sync_replicas
from studio.tavus import behaviour as tavus_behaviour
from studio.tavus import client as tavus
from tests.browser.conftest import launch_from_ui
from tests.browser.test_behaviour_journey import say
from tests.conftest import make_user
from tests.conversations.factories import make_conversation

SHOTS = Path("/tmp/shots-usage")
BUCKET = "studio-recordings"
QUESTIONS = [
    "Was anyone else visible in the frame?",
    "On a scale of 1-10, how engaged did the person look?",
]


def shot(page, name: str, full_page=True) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


def interviewer() -> Persona:
    """A persona (at the sandbox, mirrored here) with end-of-call questions and objectives."""
    sync_replicas()
    objectives = tavus_behaviour.create_objectives(
        [
            {
                "objective_name": "ask_name",
                "objective_prompt": "Ask the candidate's name",
                "output_variables": ["candidate_name"],
                "next_required_objectives": ["ask_experience"],
            },
            {
                "objective_name": "ask_experience",
                "objective_prompt": "Ask how many years of experience they have",
                "output_variables": ["years"],
            },
        ],
        name="Screening call",
    )
    created = tavus.create_persona(
        {
            "persona_name": "Screening interviewer",
            "system_prompt": "You run short screening interviews.",
            "default_replica_id": Replica.objects.filter(status="ready").first().replica_id,
            "objectives_id": objectives,
            "layers": {
                "perception": {
                    "perception_model": "raven-1",
                    "perception_analysis_queries": QUESTIONS,
                }
            },
        }
    )
    sync_personas()
    sync_behaviour()
    return Persona.objects.get(persona_id=created.persona_id)


def seed_history(people, presets):
    """Ended conversations over the last three months (relative to now), and a few dry runs."""
    rng = random.Random(20)
    now = timezone.now()
    for _ in range(140):
        start = now - timedelta(days=rng.uniform(0.2, 88), minutes=rng.uniform(0, 600))
        minutes = rng.choice([3, 5, 8, 10, 12, 15, 20])
        preset, persona = rng.choice(presets)
        make_conversation(
            rng.choice(people),
            status=Conversation.ENDED,
            created_at=start,
            ended_at=start + timedelta(minutes=minutes, seconds=rng.randint(0, 59)),
            preset_name=preset,
            persona_name=persona,
            test_mode=rng.random() < 0.08,
        )


@pytest.fixture
def recording_bucket(s3, settings):
    """The customer's bucket on a local S3 server; the sandbox copies recordings into it."""
    settings.SANDBOX_RECORDING_COPY = True
    s3.create_bucket(Bucket=BUCKET)
    return s3


def test_usage_budgets_scorecard_and_a_playing_recording(
    studio_server,
    operator,
    supervisor,
    admin_user,
    login_as,
    stock_preset,
    recording_bucket,
    settings,
):
    settings.TAVUS_CONCURRENCY_LIMIT = 3  # the plan's limit, drawn on the Usage page
    persona = interviewer()
    stock_preset(
        name="Screening call",
        conversation_name="Screening call",
        persona=persona,
        custom_greeting="Hello! Before we start, what is your name?",
        enable_recording=True,
        recording_s3_bucket_name=BUCKET,
        recording_s3_bucket_region="us-east-1",
        aws_assume_role_arn="arn:aws:iam::123456789012:role/TavusRecorder",
    )
    oscar = make_user("oscar", "Operator")
    seed_history(
        [operator, supervisor, oscar],
        [
            ("Screening call", "Screening interviewer"),
            ("Customer call practice", "Sales coach"),
            ("Onboarding walkthrough", "Product guide"),
        ],
    )

    # 1. An admin sets the organisation's monthly budget.
    used = usage.compute([usage.this_month()], "person", peaks=False).total_seconds / 60
    budget = max(10, int(used / 0.85))  # about 85 % used (unless the month has just begun)
    admin = login_as(admin_user)
    admin.set_viewport_size({"width": 1366, "height": 768})
    admin.goto(studio_server.url + "/usage/budgets/")
    admin.get_by_label("Minutes a month").fill(str(budget))
    admin.get_by_role("button", name=re.compile("Save")).click()
    expect(admin.locator(".messages")).to_contain_text(
        f"The budget of the organisation is set to {budget:,} minutes a month."
    )
    assert MinuteBudget.objects.get(person=None).monthly_minutes == budget
    shot(admin, "1-budgets")
    if usage.budget_states(None)[0].level:
        # 80 % or more: the monitor says so.
        admin.goto(studio_server.url + "/monitor/")
        expect(admin.locator("[data-alert=budget]")).to_contain_text(
            "The organisation's minute budget: 8"
        )
        shot(admin, "1b-monitor-budget-warning", full_page=False)

    # 2. The operator sees what the launch can cost against what is left, and launches.
    host = login_as(operator)
    host.set_viewport_size({"width": 1366, "height": 768})
    host.goto(studio_server.url + "/launch/")
    host.get_by_role("link", name=re.compile("Screening call")).click()
    note = host.locator("#launch-budget")
    expect(note).to_contain_text("This conversation can use up to 10 minutes (its time limit).")
    left = usage.launch_budget(_preset(), operator)
    expect(note).to_contain_text(
        f"The organisation's budget: {left.states[0].left_minutes} of {budget} minutes left"
    )
    shot(host, "2-launch-budget")
    launch_from_ui(host, studio_server.url, "Screening call")
    conversation = Conversation.objects.get(preset=_preset())
    captions = host.locator("#captions")
    expect(captions).to_contain_text("what is your name?")

    # 3. The person answers the first objective and leaves the second one open; the call ends.
    say(host, "I'm Anna Lindqvist.")
    expect(host.locator("#behaviour .objective", has_text="ask_name")).to_contain_text("Done")
    host.once("dialog", lambda dialog: dialog.accept())
    host.get_by_role("button", name="End conversation").click()
    _wait_for(lambda: _artifacts_in(conversation))

    # 4. A supervisor finds it among the conversations that missed an objective.
    boss = login_as(supervisor)
    boss.set_viewport_size({"width": 1366, "height": 768})
    boss.goto(studio_server.url + "/history/?objectives=missed")
    row = boss.locator("tr", has_text="Screening call").first
    expect(row).to_be_visible()
    boss.goto(f"{studio_server.url}/history/{conversation.pk}/")
    scorecard = boss.locator("#scorecard")
    expect(scorecard).to_contain_text("1 of 2 objectives met")
    expect(scorecard.locator(".objective", has_text="Ask name")).to_contain_text("Met")
    expect(scorecard.locator(".objective", has_text="Ask name")).to_contain_text(
        "I'm Anna Lindqvist."
    )
    expect(scorecard.locator(".objective", has_text="Ask experience")).to_contain_text("Not met")
    expect(scorecard).to_contain_text("Was anyone else visible in the frame?")
    expect(scorecard).to_contain_text("7 out of 10")
    raw = scorecard.locator("details.raw")
    expect(raw.locator("pre")).to_be_hidden()
    raw.locator("summary").click()
    expect(raw.locator("pre")).to_contain_text('"objective_name": "ask_name"')
    raw.locator("summary").click()

    # 5. The recording plays in the page, straight from the bucket.
    video = boss.locator("video.recording-player")
    expect(video).to_have_attribute("src", re.compile(r"^http://127\.0\.0\.1:\d+/" + BUCKET))
    video.scroll_into_view_if_needed()
    boss.evaluate("document.querySelector('video.recording-player').muted = true")
    video.evaluate("v => v.play()")
    boss.wait_for_function(
        "() => { const v = document.querySelector('video.recording-player');"
        " return v.currentTime > 0.3 && v.readyState >= 2 && !v.paused; }"
    )
    shot(boss, "3-scorecard-and-recording")
    shot(boss, "3b-recording-playing", full_page=False)

    # 6. Tags and a note, without leaving the page.
    review = boss.locator("#review")
    review.get_by_label("Add a tag").fill("Follow up")
    review.get_by_role("button", name="Add tag").click()
    expect(boss.locator("#review .tag")).to_contain_text("follow up")
    boss.locator("#review").get_by_label("Add a note").fill("Strong start; ask about experience.")
    boss.locator("#review").get_by_role("button", name="Save note").click()
    expect(boss.locator("#review .note")).to_contain_text("Strong start; ask about experience.")
    assert Tag.objects.get(conversation=conversation).name == "follow up"
    assert Note.objects.get(conversation=conversation).author == supervisor
    shot(boss, "4-notes-and-tags")
    boss.goto(studio_server.url + "/history/?tag=follow+up")
    expect(boss.locator("tr", has_text="Screening call")).to_have_count(1)

    # 7. Usage: minutes by week split by person, with the charts and their tables.
    boss.goto(studio_server.url + "/usage/?grain=week")
    chart = boss.locator("#minutes-chart")
    expect(chart).to_be_visible()
    expect(chart.locator("rect").first).to_be_attached()
    expect(boss.locator(".chart-legend")).to_contain_text("olivia")
    table = boss.locator(".usage-table", has_text="By person")
    for name in ("olivia", "sam", "oscar"):
        expect(table).to_contain_text(name)
    expect(boss.locator("#peak-chart .chart-limit")).to_contain_text("Plan limit: 3")
    shot(boss, "5-usage-by-week")
    boss.goto(studio_server.url + "/usage/?grain=month&split=preset")
    expect(boss.locator(".usage-table", has_text="By preset")).to_contain_text("Screening call")
    shot(boss, "6-usage-by-month-preset")
    with boss.expect_download() as download:
        boss.get_by_role("link", name="Export CSV").click()
    assert download.value.suggested_filename.startswith("usage-by-month-preset-")

    # A phone-sized look at the scorecard, as a supervisor on the move sees it.
    boss.set_viewport_size({"width": 390, "height": 844})
    boss.goto(f"{studio_server.url}/history/{conversation.pk}/")
    expect(boss.locator("#scorecard")).to_be_visible()
    shot(boss, "7-history-phone", full_page=False)
    boss.locator("#scorecard").scroll_into_view_if_needed()
    shot(boss, "7b-scorecard-phone", full_page=False)


def _preset():
    from studio.presets.models import Preset

    return Preset.objects.get(name="Screening call")


def _artifacts_in(conversation) -> bool:
    conversation.refresh_from_db()
    return bool(
        conversation.status == Conversation.ENDED
        and conversation.recording
        and conversation.perception_analysis
    )


def _wait_for(condition, timeout=30.0) -> None:
    """Poll the database until the sandbox's webhooks have landed."""
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the recording and the perception analysis never arrived")
        time.sleep(0.2)
