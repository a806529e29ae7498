"""The join page relays objective, guardrail and tool-call events as it relays captions (they
come from the replica; the table in studio/conversations/consumers.py), and carries a
supervisor's answer to a tool call into the room."""

import json

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from studio.conversations import behaviour
from studio.conversations.models import Event
from tests.conversations.test_behaviour import room
from tests.join.test_consumer import connect, setup, staff_page

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


def relayed(conversation, seq, event_type, **properties):
    """What the join page sends for one of the replica's app-messages."""
    return {"type": "room_event", "event": room(conversation, event_type, seq, **properties)}


def weather_call(conversation):
    return relayed(
        conversation,
        3,
        "conversation.tool_call",
        name="get_weather",
        arguments='{"city": "Oslo"}',
        tool_call_id="call_9",
    )


async def test_the_join_page_relays_objectives_guardrails_and_tool_calls():
    launcher, conversation = await setup()
    staff = await staff_page(launcher, conversation)
    join, _, _ = await connect(conversation.join_token)
    await join.send_json_to(
        relayed(
            conversation,
            1,
            "conversation.objective.completed",
            objective_name="ask_name",
            output_variables={"name": "Anna"},
        )
    )
    card = await staff.receive_from()
    assert 'id="behaviour"' in card and "ask_name" in card and "Anna" in card
    await join.send_json_to(
        relayed(conversation, 2, "conversation.guardrail.triggered", guardrail_name="pii")
    )
    assert "“pii” triggered" in await staff.receive_from()
    await join.send_json_to(weather_call(conversation))
    assert "get_weather" in await staff.receive_from()
    kinds = await sync_to_async(
        lambda: sorted(Event.objects.filter(source=Event.ROOM).values_list("event_type", flat=True))
    )()
    assert kinds == [
        "conversation.guardrail.triggered",
        "conversation.objective.completed",
        "conversation.tool_call",
    ]
    await join.disconnect()
    await staff.disconnect()


async def test_a_supervisors_answer_is_carried_in_by_the_join_page_and_confirmed():
    launcher, conversation = await setup()
    staff = await staff_page(launcher, conversation)
    join, _, _ = await connect(conversation.join_token)
    await join.send_json_to({"type": "heartbeat"})
    await staff.receive_from()  # "Relaying from: the participant's join page"
    await join.send_json_to(weather_call(conversation))
    await staff.receive_from()  # the card with the call

    @sync_to_async
    def answer_as_supervisor():
        from tests.conftest import make_user

        client = Client()
        client.force_login(make_user("sam", "Supervisor"))
        return client.post(
            f"/conversations/{conversation.pk}/tool-answer/",
            {"tool_call_id": "call_9", "output": "Snowing", "status": "success"},
            HTTP_HX_REQUEST="true",
        )

    response = await answer_as_supervisor()
    assert response.status_code == 200
    assert "sam answered get_weather" in await staff.receive_from()  # the card, pushed
    command = json.loads(await join.receive_from())
    assert command["envelope"]["event_type"] == "conversation.tool_result"
    assert command["envelope"]["properties"]["tool_call_id"] == "call_9"
    await join.send_json_to({"type": "command_ack", "id": command["studio_command"]})
    assert "— sent into the room" in await staff.receive_from()
    result = await sync_to_async(Event.objects.get)(event_type=behaviour.RESULT)
    assert result.payload["delivered"] is True
    await join.disconnect()
    await staff.disconnect()
