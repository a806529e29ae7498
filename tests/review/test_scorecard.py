"""The scorecard on a conversation's history page: each objective met or not with its output
variables (read from the objective events as the room stores them), each end-of-call question
with its answer, the raw payload one click away, and the history's "objective not met" filter."""

import re

import pytest
from django.utils import timezone

from studio.conversations import behaviour, live, review
from studio.conversations.models import Conversation, Event, review_plan_of
from studio.knowledge.models import ObjectiveSet
from studio.library.models import Persona
from studio.tavus.events import parse_room_event
from tests.conversations.factories import make_conversation, webhook
from tests.conversations.test_behaviour import room
from tests.history.conftest import ended

# A check-in: ask the name, then (required) the stay; a conditional branch for groups.
PLAN = {
    "objectives": [
        {
            "name": "ask_name",
            "outputs": ["guest_name"],
            "next_required": ["confirm_stay"],
            "next_conditional": ["group_booking"],
        },
        {
            "name": "confirm_stay",
            "outputs": ["nights"],
            "next_required": [],
            "next_conditional": [],
        },
        {"name": "group_booking", "outputs": [], "next_required": [], "next_conditional": []},
    ],
    "questions": [
        "Was anyone else visible in the frame?",
        "On a scale of 1-10, how engaged did the person look?",
    ],
}
# What the sandbox (and Raven, in spirit) sends: free text, each question repeated in bold.
ANALYSIS = (
    "Sandbox perception analysis (simulated, no camera was used).\n"
    "- Engagement: attentive throughout.\n\n"
    "**Was anyone else visible in the frame?**\n"
    "No: nothing of the kind was seen.\n\n"
    "**On a scale of 1-10, how engaged did the person look?**\n"
    "7 out of 10: attentive and steady throughout."
)


def relay(conversation, event_type, seq, **properties):
    """The room's event stored the way the studio stores it (live.ingest_room_event)."""
    envelope = room(conversation, event_type, seq, **properties)
    live.ingest_room_event(conversation, parse_room_event(envelope, conversation.tavus_id))


def card(conversation) -> review.Scorecard:
    conversation.refresh_from_db()
    events = list(conversation.events.select_related("actor"))
    return review.scorecard(conversation, events)


def states(conversation) -> dict:
    return {o.name: o.state for o in card(conversation).objectives}


@pytest.fixture
def checkin(operator):
    conversation, _ = make_conversation(operator, review_plan=PLAN)
    return conversation


def end(conversation):
    conversation.refresh_from_db()
    assert conversation.mark_ended("participant_left_timeout")
    conversation.refresh_from_db()


def test_a_met_objective_shows_its_outputs_and_when_the_next_required_one_was_missed(checkin):
    relay(checkin, "conversation.objective.activated", 1, objective_name="ask_name")
    relay(
        checkin,
        "conversation.objective.completed",
        2,
        objective_name="ask_name",
        output_variables={"guest_name": "Anna Lindqvist"},
    )
    assert states(checkin) == {
        "ask_name": "met",
        "confirm_stay": "in progress",  # required next, still being worked on
        "group_booking": "not reached",  # a branch not taken is never "not met"
    }
    end(checkin)
    scorecard = card(checkin)
    met, missed, branch = scorecard.objectives
    assert met.outputs == [("guest_name", "Anna Lindqvist")] and met.source == "In-room event"
    assert missed.state == "not met" and missed.outputs == []
    assert branch.state == "not reached" and "never got to this step" in branch.note
    assert (scorecard.met, scorecard.expected, scorecard.missed) == (1, 2, 1)
    assert checkin.objectives_missed == 1


def test_every_objective_met_leaves_nothing_missed(checkin):
    relay(checkin, "conversation.objective.completed", 1, objective_name="ask_name")
    relay(
        checkin,
        "conversation.objective.completed",
        2,
        objective_name="confirm_stay",
        output_variables={"nights": "3"},
    )
    end(checkin)
    scorecard = card(checkin)
    assert (scorecard.met, scorecard.expected, scorecard.missed) == (2, 2, 0)
    assert checkin.objectives_missed == 0


def test_an_objectives_latest_state_counts_and_a_late_start_never_undoes_a_completion(checkin):
    relay(checkin, "conversation.objective.completed", 5, objective_name="ask_name")
    relay(checkin, "conversation.objective.activated", 4, objective_name="ask_name")
    assert states(checkin)["ask_name"] == "met"
    # The live card agrees: both read the same rows the same way.
    live_states = {o["name"]: o["state"] for o in behaviour.summary(checkin)["objectives"]}
    assert live_states == {"ask_name": "completed"}


def test_an_objective_waiting_for_a_yes_is_not_met_once_the_call_is_over(checkin, supervisor):
    relay(checkin, "conversation.objective.completed", 1, objective_name="ask_name")
    relay(
        checkin,
        "conversation.objective.pending",
        2,
        objective_name="confirm_stay",
        output_variables={"nights": "two"},
    )
    waiting = card(checkin).objectives[1]
    assert waiting.state == "waits for a yes" and waiting.outputs == [("nights", "two")]
    end(checkin)
    after = card(checkin).objectives[1]
    assert after.state == "not met" and "a supervisor's yes that never came" in after.note
    assert checkin.objectives_missed == 1


def test_a_supervisors_yes_is_named_when_tavus_never_completed_it(checkin, supervisor):
    relay(checkin, "conversation.objective.pending", 2, objective_name="ask_name")
    checkin.record_event(
        source=Event.STUDIO,
        event_type=review.CONFIRM,
        dedupe_key="objective-confirm:ask_name:x",
        payload={"label": "sam confirmed objective ask_name", "objective_name": "ask_name"},
        actor=supervisor,
    )
    end(checkin)
    (asked, *_) = card(checkin).objectives
    assert asked.state == "not met"
    assert asked.note == "sam said yes; Tavus never said it was done."


def test_objectives_tavus_reported_outside_the_plan_still_show(operator):
    conversation, _ = make_conversation(operator)  # a persona whose objectives the studio lacks
    relay(conversation, "conversation.objective.activated", 1, objective_name="warm_up")
    relay(
        conversation,
        "conversation.objective.completed",
        2,
        objective_name="book_visit",
        output_variables={"day": "Friday", "party": 4},
    )
    end(conversation)
    results = {o.name: o for o in card(conversation).objectives}
    assert results["book_visit"].state == "met"
    assert results["book_visit"].outputs == [("day", "Friday"), ("party", "4")]
    assert results["warm_up"].state == "not met"
    assert conversation.objectives_missed == 1


def test_tavus_objective_callback_in_its_flat_form_counts_too(checkin):
    # tavus-api-2.md §2.3: the callback may carry the names at the top level.
    checkin.record_event(
        source=Event.WEBHOOK,
        event_type="conversation.objective.completed",
        dedupe_key="objective:ask_name",
        payload={"objective_name": "ask_name", "output_variables": {"guest_name": "Bo"}},
    )
    first = card(checkin).objectives[0]
    assert first.state == "met" and first.source == "Tavus webhook"
    assert first.outputs == [("guest_name", "Bo")]


def test_each_question_gets_the_words_after_it_in_the_analysis():
    answers = review.perception_answers([*PLAN["questions"], "Describe the lighting."], ANALYSIS)
    assert [(a.question, a.answer) for a in answers] == [
        ("Was anyone else visible in the frame?", "No: nothing of the kind was seen."),
        (
            "On a scale of 1-10, how engaged did the person look?",
            "7 out of 10: attentive and steady throughout.",
        ),
        ("Describe the lighting.", ""),  # not repeated: answered only in the full text
    ]


def test_questions_are_found_whatever_their_case_numbering_or_markdown():
    text = (
        "Summary.\n1. **was ANYONE else  visible in the frame**: Yes, a child.\n2. **Mood?** Calm"
    )
    questions = ["Was anyone else visible in the frame?", "Mood"]
    assert [a.answer for a in review.perception_answers(questions, text)] == [
        "Yes, a child.",
        "Calm",
    ]


def test_the_plan_is_the_personas_questions_and_objectives_frozen_at_launch(db):
    ObjectiveSet.objects.create(
        objectives_id="o12345",
        name="Check-in",
        items=[
            {
                "objective_name": "ask_name",
                "objective_prompt": "Ask their name",
                "output_variables": ["guest_name"],
                "next_required_objectives": ["confirm_stay"],
                "next_conditional_objectives": {"group_booking": "If they are a group"},
            },
            {"objective_name": "confirm_stay", "objective_prompt": "How many nights"},
        ],
    )
    persona = Persona.objects.create(
        persona_id="p1",
        name="Concierge",
        raw={"objectives_id": "o12345"},
        layers={"perception": {"perception_analysis_queries": ["Was anyone else there?", " "]}},
    )
    plan = review_plan_of(persona)
    assert plan["questions"] == ["Was anyone else there?"]
    assert plan["objectives"][0] == {
        "name": "ask_name",
        "outputs": ["guest_name"],
        "next_required": ["confirm_stay"],
        "next_conditional": ["group_booking"],
    }
    assert review_plan_of(Persona.objects.create(persona_id="p2", name="Plain")) == {}


# --- On the page ------------------------------------------------------------------------------


def test_the_history_page_shows_the_scorecard_with_the_raw_payload_one_click_away(
    client, supervisor, checkin
):
    relay(
        checkin,
        "conversation.objective.completed",
        1,
        objective_name="ask_name",
        output_variables={"guest_name": "<script>alert(1)</script>"},
    )
    end(checkin)
    Conversation.objects.filter(pk=checkin.pk).update(perception_analysis=ANALYSIS)
    client.force_login(supervisor)
    html = client.get(f"/history/{checkin.pk}/").content.decode()
    section = html.split('id="scorecard"')[1].split("</section>")[0]
    assert "1 of 2 objectives met" in section
    assert re.search(r"<b>Ask name</b> <span class=\"badge badge-ok\">Met</span>", section)
    assert re.search(r"<b>Confirm stay</b> <span class=\"badge badge-bad\">Not met</span>", section)
    assert "<b>Group booking</b>" in section and "never got to this step" in section
    assert "<dt>guest_name</dt><dd>&lt;script&gt;alert(1)&lt;/script&gt;</dd>" in section
    assert "<script>alert(1)" not in html
    assert "<dt>Was anyone else visible in the frame?</dt>" in section
    # Answers read as the full analysis does (the `analysis` filter), not as raw markdown.
    answer = "<p>7 out of 10: attentive and steady throughout.</p>"
    assert f'<div class="analysis">{answer}</div>' in section
    raw = section.split('<details class="raw">')[1]
    assert (
        "What Tavus sent (raw)" in raw and "&quot;objective_name&quot;: &quot;ask_name&quot;" in raw
    )


def test_a_conversation_with_nothing_to_score_has_no_scorecard(client, operator):
    conversation = ended(operator)
    client.force_login(operator)
    assert 'id="scorecard"' not in client.get(f"/history/{conversation.pk}/").content.decode()


def test_history_filters_on_objectives_not_met_and_all_met(client, supervisor, operator):
    missed = ended(operator, title="Missed one", review_plan=PLAN)
    relay(missed, "conversation.objective.completed", 1, objective_name="ask_name")
    review.refresh_missed(missed.pk)
    met = ended(operator, title="All met", review_plan=PLAN)
    relay(met, "conversation.objective.completed", 1, objective_name="ask_name")
    relay(met, "conversation.objective.completed", 2, objective_name="confirm_stay")
    ended(operator, title="No objectives")
    running, _ = make_conversation(operator, title="Live one", review_plan=PLAN)
    relay(running, "conversation.objective.activated", 1, objective_name="ask_name")
    client.force_login(supervisor)

    def titles(objectives):
        page = client.get("/history/", {"objectives": objectives}).content.decode()
        found = {"Missed one", "All met", "No objectives", "Live one"}
        return {title for title in found if title in page}

    # Live conversations are still working on theirs: judged once they are over.
    assert titles("missed") == {"Missed one"}
    assert titles("met") == {"All met"}
    assert titles("nonsense") == {"Missed one", "All met", "No objectives", "Live one"}


def test_the_recount_follows_events_from_webhooks_too(client, checkin):
    # The objective callback arrives at the conversation's webhook like any other event.
    end(checkin)
    assert checkin.objectives_missed == 1  # ask_name was expected and never met
    checkin.record_event(
        source=Event.WEBHOOK,
        event_type="conversation.objective.completed",
        dedupe_key="late-callback",
        payload=webhook(checkin, "conversation.objective.completed", objective_name="ask_name"),
        occurred_at=timezone.now(),
    )
    checkin.refresh_from_db()
    assert checkin.objectives_missed == 1  # now confirm_stay, required next, is the one missed
    assert states(checkin) == {
        "ask_name": "met",
        "confirm_stay": "not met",
        "group_booking": "not reached",
    }
