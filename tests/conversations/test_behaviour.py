"""Objectives, guardrails and tool calls in the room: kept as Tavus sent them, shown on the live
page's card and the wall, in history's timeline, and tool calls answered by a supervisor."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from studio.accounts.models import AuditEntry
from studio.conversations import behaviour, live, push, wall
from studio.conversations.models import Event
from studio.history.timeline import history_timeline
from studio.tavus.events import parse_room_event
from tests.conversations.factories import make_conversation


def room(conversation, event_type, seq, **properties):
    """An in-room app-message as Tavus sends it (tavus-api.md §6.2)."""
    return {
        "message_type": "conversation",
        "event_type": event_type,
        "conversation_id": conversation.tavus_id,
        "inference_id": f"inf-{seq}",
        "seq": seq,
        "properties": properties,
    }


def ingest(conversation, envelope):
    event = parse_room_event(envelope, conversation_id=conversation.tavus_id)
    return live.ingest_room_event(conversation, event)


def html_for(pushes, group):
    return "".join(html for g, html in pushes if g == group)


def tool_call(conversation, seq=7, call_id="call_1", name="get_weather", city="Paris"):
    return room(
        conversation,
        "conversation.tool_call",
        seq,
        name=name,
        arguments=json.dumps({"city": city}),
        tool_call_id=call_id,
    )


@pytest.fixture
def in_room(operator):
    """A live conversation with a page in the room to carry answers in."""
    conversation, _ = make_conversation(operator, host_pages=1, page_seen_at=timezone.now())
    return conversation


@pytest.fixture
def commands(monkeypatch):
    """What went to the pages in the room: (conversation pk, event id, envelope)."""
    sent = []
    monkeypatch.setattr(push, "send_command", lambda *args: sent.append(args))
    return sent


# --- Objectives ------------------------------------------------------------------------------


def test_a_completed_objective_is_kept_as_tavus_sent_it_and_shows_live_and_on_the_tile(in_room):
    started = room(in_room, "conversation.objective.activated", 1, objective_name="ask_if_new")
    ingest(in_room, started)
    completed = room(
        in_room,
        "conversation.objective.completed",
        2,
        objective_name="ask_if_new",
        output_variables={"patient_status": "new"},
    )
    pushes = ingest(in_room, completed)
    # The row the usage scorecards read: event type and properties as Tavus sent them.
    row = Event.objects.get(event_type="conversation.objective.completed")
    assert row.source == Event.ROOM
    assert row.payload["properties"] == {
        "objective_name": "ask_if_new",
        "output_variables": {"patient_status": "new"},
    }
    card = html_for(pushes, push.conversation_group(in_room.pk))
    assert 'id="behaviour"' in card and 'hx-swap-oob="true"' in card
    assert "Done" in card and "ask_if_new" in card and "patient_status" in card
    tile = html_for(pushes, push.MONITOR_ALL)
    assert f'id="tile-{in_room.pk}"' in tile
    assert "Objective “ask_if_new” completed" in tile and "data-until=" in tile
    # Relayed again (a second page in the room): stored once, nothing pushed.
    assert ingest(in_room, completed) == []
    assert Event.objects.filter(event_type="conversation.objective.completed").count() == 1


def test_an_objective_is_shown_by_its_latest_state_and_a_late_start_never_undoes_it(in_room):
    ingest(in_room, room(in_room, "conversation.objective.completed", 5, objective_name="greet"))
    ingest(in_room, room(in_room, "conversation.objective.activated", 4, objective_name="greet"))
    ingest(in_room, room(in_room, "conversation.objective.pending", 6, objective_name="book"))
    states = {o["name"]: o["state"] for o in behaviour.summary(in_room)["objectives"]}
    assert states == {"greet": "completed", "book": "pending"}


def test_an_objective_event_without_its_name_is_refused(in_room):
    from studio.tavus.events import EventError

    with pytest.raises(EventError, match="missing objective_name"):
        ingest(in_room, room(in_room, "conversation.objective.completed", 1))
    assert not Event.objects.exists()


# --- Guardrails ------------------------------------------------------------------------------


@pytest.mark.time_window
def test_a_triggered_guardrail_is_an_alert_on_the_tile_until_its_time_is_up(in_room, settings):
    settings.ALERTS = {**settings.ALERTS, "guardrail": 120}
    pushes = ingest(
        in_room,
        room(in_room, "conversation.guardrail.triggered", 3, guardrail_name="no_competitors"),
    )
    tile = html_for(pushes, push.MONITOR_ALL)
    assert 'data-alert="guardrail"' in tile and "has-alerts" in tile
    assert "Guardrail “no_competitors” triggered" in tile
    card = html_for(pushes, push.conversation_group(in_room.pk))
    assert "“no_competitors” triggered" in card
    in_room.refresh_from_db()
    assert "guardrail" in in_room.alert_codes
    now = timezone.now()
    # The alert pass agrees, and writes no second line about it on the record.
    wall.refresh_alerts(now=now + timedelta(seconds=5))
    assert not in_room.events.filter(event_type="studio.alert").exists()
    in_room.refresh_from_db()
    assert "guardrail" in in_room.alert_codes
    # Two minutes on, the alert has cleared itself.
    wall.refresh_alerts(now=now + timedelta(seconds=121))
    in_room.refresh_from_db()
    assert "guardrail" not in in_room.alert_codes
    tile = wall.render("tile", **wall.tile_context(in_room, now + timedelta(seconds=121)))
    assert 'data-alert="guardrail"' not in tile


@pytest.mark.time_window
def test_the_tiles_note_on_an_objective_or_tool_call_is_brief(in_room, settings):
    settings.ALERTS = {**settings.ALERTS, "note": 30}
    ingest(in_room, tool_call(in_room))
    now = timezone.now()
    assert wall.tile_context(in_room, now)["note"]["text"] == "Tool call: get_weather"
    assert wall.tile_context(in_room, now + timedelta(seconds=31))["note"] is None
    page = wall.snapshot_html(in_room.launched_by, now)
    assert "Tool call: get_weather" in page


# --- Tool calls: a supervisor answers --------------------------------------------------------


def answer(client, conversation, call_id="call_1", output="72 degrees and sunny", **fields):
    return client.post(
        f"/conversations/{conversation.pk}/tool-answer/",
        {"tool_call_id": call_id, "output": output, "status": "success", **fields},
        HTTP_HX_REQUEST="true",
    )


def test_a_tool_call_waits_for_a_supervisor_on_the_live_page(client, supervisor, in_room):
    ingest(in_room, tool_call(in_room))
    client.force_login(supervisor)
    page = client.get(f"/conversations/{in_room.pk}/").content.decode()
    assert "Tool call</strong> <code>get_weather</code>" in page
    assert "<dt>city</dt><dd>Paris</dd>" in page
    assert 'class="behaviour-slot" data-can-answer' in page
    assert "Send the answer" in page and 'name="tool_call_id" value="call_1"' in page


def test_the_launchers_page_shows_the_call_but_only_a_supervisors_page_answers(
    client, operator, in_room
):
    ingest(in_room, tool_call(in_room))
    client.force_login(operator)
    page = client.get(f"/conversations/{in_room.pk}/").content.decode()
    assert "get_weather" in page and "Waiting for a supervisor to answer it." in page
    assert "data-can-answer" not in page  # the form stays hidden on this page
    assert answer(client, in_room).status_code == 403
    assert not in_room.events.filter(event_type=behaviour.RESULT).exists()


def test_a_supervisors_answer_goes_into_the_room_as_the_tool_result(
    client, supervisor, in_room, commands
):
    ingest(in_room, tool_call(in_room))
    client.force_login(supervisor)
    response = answer(client, in_room)
    html = response.content.decode()
    assert "sam answered get_weather: “72 degrees and sunny”" in html
    assert "Waiting for a page in the room to carry it in." in html
    ((pk, event_id, envelope),) = commands
    assert pk == in_room.pk
    assert envelope == {
        "message_type": "conversation",
        "event_type": "conversation.tool_result",
        "conversation_id": in_room.tavus_id,
        "properties": {
            "tool_call_id": "call_1",
            "output": "72 degrees and sunny",
            "status": "success",
        },
    }
    result = Event.objects.get(pk=event_id)
    assert result.event_type == behaviour.RESULT and result.actor == supervisor
    assert result.payload["by"] == "supervisor" and result.payload["delivered"] is False
    audit = AuditEntry.objects.get(action="tool answer")
    assert audit.actor == supervisor and "get_weather" in audit.detail
    # One answer per call.
    again = answer(client, in_room, output="Raining").content.decode()
    assert "This call has been answered already." in again
    assert len(commands) == 1


def test_saying_a_tool_failed_sends_an_error_result(client, supervisor, in_room, commands):
    ingest(in_room, tool_call(in_room))
    client.force_login(supervisor)
    html = answer(client, in_room, output="", status="error").content.decode()
    assert "sam told the replica get_weather failed: “The tool could not answer.”" in html
    properties = commands[0][2]["properties"]
    assert properties["status"] == "error" and properties["output"] == "The tool could not answer."


def test_an_answer_without_a_page_in_the_room_is_explained_and_not_sent(
    client, supervisor, operator, commands
):
    conversation, _ = make_conversation(operator)
    ingest(conversation, tool_call(conversation))
    client.force_login(supervisor)
    page = client.get(f"/conversations/{conversation.pk}/").content.decode()
    assert "No page is in the room right now, so nothing can carry an answer in" in page
    html = answer(client, conversation).content.decode()
    assert "No page is in the room right now, so nothing can carry the answer in." in html
    assert not commands and not conversation.events.filter(event_type=behaviour.RESULT).exists()


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ({"output": "   "}, "Type the answer the replica should use."),
        ({"call_id": "call_nobody_made"}, "There is no such tool call in this conversation."),
        ({"output": "x" * 2001}, "at most 2000 characters"),
        # 1,990 characters, but Daily counts UTF-16 units: 3,980 of them, plus the envelope.
        ({"output": "🙂" * 1990}, "too long for the room"),
        ({"status": "maybe"}, "Select a valid choice"),
    ],
)
def test_a_bad_answer_is_refused_and_nothing_is_sent(
    client, supervisor, in_room, commands, fields, why
):
    ingest(in_room, tool_call(in_room))
    client.force_login(supervisor)
    html = answer(client, in_room, **fields).content.decode()
    assert why in html
    assert not commands and not in_room.events.filter(event_type=behaviour.RESULT).exists()


def test_no_answer_once_the_conversation_has_ended(client, supervisor, in_room, commands):
    ingest(in_room, tool_call(in_room))
    in_room.mark_ended("participant_left_timeout")
    client.force_login(supervisor)
    assert "This conversation has ended." in answer(client, in_room).content.decode()
    page = client.get(f"/conversations/{in_room.pk}/").content.decode()
    assert "Not answered before the conversation ended." in page
    assert not commands


def test_without_htmx_the_answer_comes_back_to_the_live_page_with_a_message(
    client, supervisor, in_room, commands
):
    ingest(in_room, tool_call(in_room))
    client.force_login(supervisor)
    response = client.post(
        f"/conversations/{in_room.pk}/tool-answer/",
        {"tool_call_id": "call_1", "output": "Sunny", "status": "success"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == f"/conversations/{in_room.pk}/"
    assert "Answer sent to the room." in response.content.decode()


def test_a_call_without_an_id_cannot_be_answered_with_a_result(client, supervisor, in_room):
    envelope = tool_call(in_room)
    del envelope["properties"]["tool_call_id"]  # era A sends none
    ingest(in_room, envelope)
    client.force_login(supervisor)
    page = client.get(f"/conversations/{in_room.pk}/").content.decode()
    assert "Tavus sent no call id with it" in page and "Send the answer" not in page


# --- Where it is kept -----------------------------------------------------------------------


def test_the_status_timeline_leaves_tool_answers_to_the_card_and_history_keeps_everything(
    client, supervisor, in_room, commands
):
    ingest(in_room, room(in_room, "conversation.objective.activated", 1, objective_name="greet"))
    ingest(
        in_room,
        room(
            in_room,
            "conversation.objective.completed",
            2,
            objective_name="greet",
            output_variables={"name": "Anna"},
        ),
    )
    ingest(in_room, room(in_room, "conversation.guardrail.triggered", 3, guardrail_name="no_pii"))
    ingest(in_room, tool_call(in_room))
    client.force_login(supervisor)
    answer(client, in_room)
    assert not any("answered" in step["label"] for step in live.timeline(in_room))
    events = list(in_room.events.select_related("actor"))
    labels = [item["label"] for item in history_timeline(in_room, events)]
    assert "Objective “greet” started" in labels
    assert "Objective “greet” completed (name: Anna)" in labels
    assert "Guardrail “no_pii” triggered" in labels
    assert 'Tool call: get_weather {"city": "Paris"}' in labels
    assert "sam answered get_weather: “72 degrees and sunny”" in labels  # named once
    detail = client.get(f"/history/{in_room.pk}/").content.decode()
    assert "Objective “greet” completed (name: Anna)" in detail


def test_an_empty_card_stays_hidden(client, operator, in_room):
    client.force_login(operator)
    page = client.get(f"/conversations/{in_room.pk}/").content.decode()
    assert 'id="behaviour"' in page and "hidden" in page.split('id="behaviour"')[1][:200]


# --- Objectives waiting for a yes (confirmation_mode "manual") -------------------------------


def confirm(client, conversation, name="book_room"):
    return client.post(
        f"/conversations/{conversation.pk}/objective-confirm/",
        {"objective_name": name},
        HTTP_HX_REQUEST="true",
    )


def test_a_supervisor_confirms_an_objective_waiting_for_a_yes(
    client, supervisor, in_room, commands
):
    waiting = room(
        in_room,
        "conversation.objective.pending",
        4,
        objective_name="book_room",
        output_variables={"nights": "two"},
    )
    ingest(in_room, waiting)
    client.force_login(supervisor)
    page = client.get(f"/conversations/{in_room.pk}/").content.decode()
    assert "Needs a yes" in page and "Confirm it's done" in page
    html = confirm(client, in_room).content.decode()
    assert "sam confirmed objective book_room" in html and "Confirm it's done" not in html
    ((_, event_id, envelope),) = commands
    assert envelope == {
        "message_type": "conversation",
        "event_type": "conversation.objective.confirm",
        "conversation_id": in_room.tavus_id,
        "properties": {"objective_name": "book_room"},
    }
    assert Event.objects.get(pk=event_id).actor == supervisor
    assert AuditEntry.objects.filter(action="objective confirmed", detail="book_room").exists()
    assert "Someone has confirmed it already." in confirm(client, in_room).content.decode()
    # Tavus then completes it: the card says so, and forgets the question.
    done = room(in_room, "conversation.objective.completed", 5, objective_name="book_room")
    ingest(in_room, done)
    (objective,) = behaviour.summary(in_room)["objectives"]
    assert objective["state"] == "completed" and objective["confirmed"] is None


def test_only_an_objective_waiting_for_a_yes_can_be_confirmed(
    client, supervisor, operator, in_room, commands
):
    ingest(in_room, room(in_room, "conversation.objective.activated", 1, objective_name="greet"))
    client.force_login(supervisor)
    html = confirm(client, in_room, "greet").content.decode()
    assert "That objective is not waiting for a yes." in html
    unknown = confirm(client, in_room, "nope").content.decode()
    assert "That objective is not waiting for a yes." in unknown
    client.force_login(operator)
    assert confirm(client, in_room, "greet").status_code == 403
    assert not commands
