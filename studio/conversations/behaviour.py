"""Objectives, guardrails and tool calls in a conversation: what the persona did in the room,
the live page's card that shows it, and the answers to tool calls.

What Tavus sends in the room is stored as Event rows (source "room", deduplicated like every
room event, the payload as Tavus sent it: an objective's `objective_name` and
`output_variables`, a guardrail's `guardrail_name`, a tool call's `name`, `arguments` and
`tool_call_id`). The history timeline, the wall and the usage scorecards read those rows.

A tool call is answered once (its answer's Event is deduplicated by `tool_call_id`), whoever gets
there first: a supervisor on the live page, or the tool's HTTPS endpoint
(studio.knowledge.endpoints). The answer goes into the room as `conversation.tool_result`,
carried by a page in the room (push.send_command) as steering commands are; with no page there,
nothing can carry it, and the supervisor is told so.

Endpoint calls never run on the event loop or in the consumers' shared database thread: each runs
in this process's small thread pool. Taking the call is itself an Event (deduplicated across
processes), so of several pages relaying the same call, one process calls the endpoint once.
"""

import json
import logging
from concurrent.futures import Future, ThreadPoolExecutor

from django.conf import settings
from django.db import connections
from django.template.loader import render_to_string
from django.utils.text import Truncator

from studio.conversations import push, wall
from studio.conversations.models import Conversation, Event
from studio.conversations.push import Pushes
from studio.conversations.review import CONFIRM
from studio.knowledge import endpoints
from studio.knowledge.models import Tool
from studio.tavus.events import (
    GUARDRAIL_TRIGGERED,
    OBJECTIVE_EVENTS,
    TOOL_CALL,
    RoomEvent,
    ToolCall,
    app_message_length,
    build_interaction,
)

log = logging.getLogger(__name__)

PAGE = "conversations/live.html"
ROOM_EVENTS = frozenset({*OBJECTIVE_EVENTS, GUARDRAIL_TRIGGERED, TOOL_CALL})
# The studio's own records: a tool call's automatic attempt and the answer sent, and a
# supervisor's yes to an objective waiting for one (confirmation_mode "manual").
ENDPOINT, RESULT = "studio.tool_endpoint", "studio.tool_result"
# Commands a page in the room carries in and acknowledges (consumers._confirm_command).
COMMANDS = (RESULT, CONFIRM)
NO_PAGE = (
    "No page is in the room right now, so nothing can carry the answer in. Ask the launcher "
    "to keep the live page open, or use “Join the video”."
)
ANSWERED = "This call has been answered already."
# Small: an endpoint call waits on someone else's server, and a conversation makes few calls.
_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="tool-endpoint")


def _props(event: Event) -> dict:
    props = event.payload.get("properties") if isinstance(event.payload, dict) else None
    return props if isinstance(props, dict) else {}


def _arguments(value) -> dict | str:
    """A tool call's arguments for people: Tavus sends a JSON string (tavus-api-2.md §6.1)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    return value if isinstance(value, dict) else json.dumps(value, ensure_ascii=False)


def output_text(output) -> str:
    """An answer as one short line for people."""
    text = output if isinstance(output, str) else json.dumps(output, ensure_ascii=False)
    return Truncator(text).chars(200)


# --- What happened (the live page's card) --------------------------------------------------


def summary(conversation: Conversation) -> dict:
    """Objectives by their latest state, guardrails triggered, and each tool call with its
    answer, in the order they happened."""
    objectives: dict[str, dict] = {}
    guardrails: list[dict] = []
    calls: dict[str, dict] = {}
    events = conversation.events.filter(event_type__in=[*ROOM_EVENTS, ENDPOINT, *COMMANDS])
    for event in events.select_related("actor"):
        props, kind = _props(event), event.event_type
        if kind in OBJECTIVE_EVENTS:
            name = str(props.get("objective_name") or "")
            entry = objectives.setdefault(name, {"name": name, "state": "", "outputs": {}})
            state = kind.rpartition(".")[2]  # activated, pending or completed
            if entry["state"] == "completed":
                continue  # a late "activated" never undoes a completion
            entry.update(state=state, at=event.occurred_at, confirmed=None)
            if isinstance(props.get("output_variables"), dict) and props["output_variables"]:
                entry["outputs"] = props["output_variables"]
        elif kind == CONFIRM and event.payload.get("objective_name") in objectives:
            objectives[event.payload["objective_name"]]["confirmed"] = event.payload
        elif kind == GUARDRAIL_TRIGGERED:
            name = props.get("guardrail_name") or "a guardrail"
            guardrails.append({"name": name, "at": event.occurred_at})
        elif kind == TOOL_CALL:
            call_id = props.get("tool_call_id") or ""
            calls[call_id or f"event-{event.pk}"] = {
                "id": call_id,
                "name": props.get("name") or "a tool",
                "arguments": _arguments(props.get("arguments")),
                "at": event.occurred_at,
                "endpoint": None,
                "answer": None,
            }
        elif event.payload.get("tool_call_id") in calls:
            key = "endpoint" if kind == ENDPOINT else "answer"
            calls[event.payload["tool_call_id"]][key] = {**event.payload, "at": event.occurred_at}
    for call in calls.values():
        call["state"] = _call_state(call)
    return {
        "objectives": list(objectives.values()),
        "guardrails": guardrails,
        "calls": list(calls.values()),
        "call_ids": {call["id"] for call in calls.values()},
        "objective_names": set(objectives),
        "any": bool(objectives or guardrails or calls),
    }


def _call_state(call: dict) -> str:
    if call["answer"]:
        return "answered"
    if not call["id"]:
        return "no_id"  # era A sends no tool_call_id: a tool_result cannot name it
    if call["endpoint"] and call["endpoint"].get("state") == "asking":
        return "asking"
    return "waiting"


def card_html(conversation: Conversation) -> str:
    return render_to_string(
        f"{PAGE}#behaviour",
        {"conversation": conversation, "behaviour": summary(conversation), "oob": True},
    )


def card_pushes(conversation: Conversation) -> Pushes:
    return [(push.conversation_group(conversation.pk), card_html(conversation))]


def received(conversation: Conversation, stored: Event, event: RoomEvent) -> Pushes:
    """A new objective, guardrail or tool-call event is stored: show it on the live page and
    the wall, and, for a tool call, ask the tool's endpoint when it has one."""
    if event.event_type == GUARDRAIL_TRIGGERED:
        log.info("conversation %s: guardrail %r triggered", conversation.pk, event.guardrail_name)
        # The wall shows it as an alert at once (the tile below); noting the code here keeps the
        # alert pass from writing a second line about it on the record.
        codes = sorted({*(conversation.alert_codes or []), "guardrail"})
        conversation._set(alert_codes=codes)
    elif call := event.tool_call:
        log.info(
            "conversation %s: tool call %s (%s)", conversation.pk, call.name, call.tool_call_id
        )
        answer_automatically(conversation, call)
    pushes = card_pushes(conversation)
    if conversation.is_live and event.event_type in (GUARDRAIL_TRIGGERED, *wall.NOTE_EVENTS):
        pushes += wall.tile_pushes(conversation)
    return pushes


# --- Answers -------------------------------------------------------------------------------


def find_call(conversation: Conversation, call_id: str) -> Event | None:
    if not call_id:
        return None
    calls = conversation.events.filter(source=Event.ROOM, event_type=TOOL_CALL)
    return next((e for e in calls if _props(e).get("tool_call_id") == call_id), None)


def answer(
    conversation: Conversation,
    call_id: str,
    output,
    status: str = "success",
    *,
    user=None,
    host: str = "",
) -> tuple[Event | None, str]:
    """Send the answer to tool call `call_id` into the room, from a supervisor (`user`) or an
    endpoint (`host`). Returns (the answer's Event, "") or (None, why it was not sent)."""
    call = find_call(conversation, call_id)
    if call is None:
        return None, "There is no such tool call in this conversation."
    if conversation.events.filter(dedupe_key=f"tool-result:{call_id}").exists():
        return None, ANSWERED
    envelope, problem = _send(
        conversation, "conversation.tool_result", tool_call_id=call_id, output=output, status=status
    )
    if problem:
        return None, problem
    name = _props(call).get("name") or "the tool"
    who = user.get_username() if user else host
    said = f": “{output_text(output)}”" if output not in ("", None) else ""
    if status == "success":
        label = f"{who} answered {name}{said}"
    else:
        label = f"{who} told the replica {name} failed{said}"
    event = conversation.record_event(
        source=Event.STUDIO,
        event_type=RESULT,
        dedupe_key=f"tool-result:{call_id}",
        payload={
            "label": label,
            "tool_call_id": call_id,
            "name": name,
            "output": output,
            "status": status,
            "by": "supervisor" if user else "endpoint",
            "host": host,
            "delivered": False,
        },
        actor=user,
    )
    if event is None:  # the other one got there first
        return None, ANSWERED
    push.send_command(conversation.pk, event.pk, envelope)
    log.info(
        "conversation %s: tool call %s (%s) answered by %s, status %s",
        conversation.pk,
        name,
        call_id,
        "a supervisor" if user else host,
        status,
    )
    return event, ""


def _send(conversation: Conversation, event_type: str, **properties) -> tuple[dict, str]:
    """The interaction for the room, or why it cannot go: the conversation is over, nobody
    is in the room to carry it, or it is more than Daily carries."""
    conversation.refresh_from_db()
    if not conversation.is_live:
        return {}, "This conversation has ended."
    if not conversation.host_connected:
        return {}, NO_PAGE
    if not conversation.tavus_id:
        return {}, "Tavus has not confirmed this conversation yet. Try again in a moment."
    envelope = build_interaction(event_type, conversation.tavus_id, **properties)
    if app_message_length(envelope) > settings.RELAY_MAX_CHARS:
        return {}, (
            f"That answer is too long for the room (Daily carries {settings.RELAY_MAX_CHARS} "
            "characters at most). Shorten it."
        )
    return envelope, ""


def confirm(conversation: Conversation, name: str, user) -> tuple[Event | None, str]:
    """A supervisor says yes to an objective waiting for one: `conversation.objective.confirm`
    into the room (its payload is UNCONFIRMED at Tavus, tavus-api-2.md §2.2)."""
    objective = next((o for o in summary(conversation)["objectives"] if o["name"] == name), None)
    if objective is None or objective["state"] != "pending":
        return None, "That objective is not waiting for a yes."
    envelope, problem = _send(conversation, "conversation.objective.confirm", objective_name=name)
    if problem:
        return None, problem
    event = conversation.record_event(
        source=Event.STUDIO,
        event_type=CONFIRM,
        dedupe_key=f"objective-confirm:{name}:{objective['at'].isoformat()}",
        payload={
            "label": f"{user.get_username()} confirmed objective {name}",
            "objective_name": name,
            "delivered": False,
        },
        actor=user,
    )
    if event is None:
        return None, "Someone has confirmed it already."
    push.send_command(conversation.pk, event.pk, envelope)
    log.info("conversation %s: objective %s confirmed by a supervisor", conversation.pk, name)
    return event, ""


def _take_call(conversation: Conversation, call: ToolCall, tool: Tool, state: str, why=""):
    """The automatic attempt at a call, on the record; None when another page's relay of the
    same call got there first."""
    host = tool.answer_host
    label = f"Asked {host} to answer {call.name}" if state == "asking" else why
    return conversation.record_event(
        source=Event.STUDIO,
        event_type=ENDPOINT,
        dedupe_key=f"tool-endpoint:{call.tool_call_id}",
        payload={
            "label": label,
            "tool_call_id": call.tool_call_id,
            "name": call.name,
            "host": host,
            "state": state,
            "reason": why,
        },
    )


def answer_automatically(conversation: Conversation, call: ToolCall) -> Future | None:
    """Ask the tool's HTTPS endpoint, when it has one and may be called, in the thread pool;
    returns the pool's Future (tests wait on it), or None when a supervisor answers."""
    if not call.tool_call_id or not conversation.is_live:
        return None
    tool = (
        Tool.objects.filter(name=call.name, vanished=False, trigger_type=Tool.When.IN_CALL)
        .exclude(answer_url="")
        .first()
    )
    # Only the conversation's own persona's tools: a join link's holder can relay made-up calls.
    if tool is None or conversation.persona_id not in tool.persona_ids:
        return None
    try:
        endpoints.check_allowed(tool.answer_url)
    except endpoints.NotAllowed as error:
        log.warning("conversation %s: tool %s not called: %s", conversation.pk, call.name, error)
        _take_call(conversation, call, tool, "failed", f"{error.message} A supervisor answers.")
        return None
    made = conversation.events.filter(event_type=ENDPOINT).count()
    if made >= settings.TOOL_ENDPOINT_MAX_PER_CONVERSATION:
        why = f"The studio has called endpoints {made} times in this conversation, its limit."
        log.warning("conversation %s: tool %s not called: %s", conversation.pk, call.name, why)
        _take_call(conversation, call, tool, "failed", f"{why} A supervisor answers.")
        return None
    if _take_call(conversation, call, tool, "asking") is None:
        return None
    request = {
        "tool": call.name,
        "arguments": call.arguments,
        "tool_call_id": call.tool_call_id,
        "conversation_id": conversation.tavus_id,
    }
    return _pool.submit(_ask, conversation.pk, tool.answer_url, request)


def _ask(pk: int, url: str, request: dict) -> None:
    """In the pool: call the endpoint, send its answer into the room, or hand over to a
    supervisor, saying why."""
    host, call_id = endpoints.host_of(url), request["tool_call_id"]
    try:
        try:
            output = endpoints.ask(url, request)
        except endpoints.EndpointError as error:
            problem = error.message
        else:
            # Tavus takes text or an object (tavus-api-2.md §6.1); anything else goes as JSON text.
            if not isinstance(output, str | dict):
                output = json.dumps(output)
            conversation = Conversation.objects.get(pk=pk)
            _, problem = answer(conversation, call_id, output, host=host)
            if problem and problem != ANSWERED:
                problem = f"{host} answered, but it could not be sent: {problem}"
        conversation = Conversation.objects.get(pk=pk)
        if problem:
            attempt = conversation.events.get(dedupe_key=f"tool-endpoint:{call_id}")
            if problem == ANSWERED:  # a supervisor was quicker: theirs stands
                label, state = f"{host}'s answer came after a supervisor's and was not sent", "late"
            else:
                log.warning("conversation %s: tool call %s: %s", pk, call_id, problem)
                label, state = f"{host} could not answer {request['tool']}: {problem}", "failed"
            attempt.payload = {**attempt.payload, "state": state, "reason": problem, "label": label}
            attempt.save(update_fields=["payload"])
        push.send(card_pushes(conversation))
    except Exception:
        log.exception("conversation %s: answering tool call %s failed", pk, call_id)
    finally:
        connections.close_all()  # this pool thread's own; the next call opens afresh
