"""The simulated Daily room behind conversation_url, and the JSON endpoints its page calls.

The page (templates/sandbox/room.html + static sandbox/room.js) joins, sends a heartbeat, polls
for in-room events and relays each one to its parent window with postMessage, exactly like a
Tavus app-message. Private rooms (require_auth) need `?t=<meeting_token>` on every URL.
"""

import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from studio.portraits import face_look
from studio.sandbox import lifecycle
from studio.sandbox.models import Conversation

PARTICIPANT_COOKIE = "sandbox_participant"
MAX_SAY = 1000


@dataclass
class Refusal(Exception):
    status: int
    kind: str
    title: str
    message: str


def _get_room_for_request(request: HttpRequest, conversation_id: str, *, allow_ended=False):
    """The conversation if this request may be in its room, else raise a Refusal."""
    try:
        conversation = Conversation.objects.visible().get(pk=conversation_id)
    except Conversation.DoesNotExist:
        raise Refusal(
            404, "missing", "This room doesn't exist", "Check the link you were given."
        ) from None
    token = request.GET.get("t", "")
    if conversation.require_auth and not hmac.compare_digest(
        token.encode(), conversation.meeting_token.encode()
    ):
        raise Refusal(
            403,
            "not_allowed",
            "You are not allowed to join this call",
            "This is a private room. Join with the full link, including its meeting token.",
        )
    if conversation.status != Conversation.ACTIVE and not allow_ended:
        raise Refusal(
            410, "ended", "This conversation has ended", "The call is over. You can close this."
        )
    return conversation


def _full_refusal() -> Refusal:
    return Refusal(
        403,
        "full",
        "This call is full",
        "The conversation already has as many participants as it allows (the replica counts "
        "as one).",
    )


def _is_full(conversation: Conversation, participant_id: str, now: datetime) -> bool:
    if conversation.max_participants is None:
        return False
    others = conversation.present(now).exclude(participant_id=participant_id).count()
    return others + 2 > conversation.max_participants  # this person and the replica


def _refused_json(refusal: Refusal) -> JsonResponse:
    return JsonResponse(
        {"status": refusal.kind, "error": refusal.title, "message": refusal.message},
        status=refusal.status,
    )


def _room_urls(conversation: Conversation) -> dict:
    query = f"?t={conversation.meeting_token}" if conversation.require_auth else ""
    return {
        name: reverse(f"sandbox:room-{name}", args=[conversation.pk]) + query
        for name in ("presence", "events", "say", "command")
    }


def _take_seat(request: HttpRequest, conversation_id: str) -> tuple[Conversation, str]:
    """The room and this browser's participant id (kept in a cookie), or raise a Refusal."""
    conversation = _get_room_for_request(request, conversation_id)
    participant_id = request.COOKIES.get(PARTICIPANT_COOKIE) or "u" + secrets.token_hex(8)
    if _is_full(conversation, participant_id, timezone.now()):
        raise _full_refusal()
    return conversation, participant_id


def _keep_seat(request: HttpRequest, response: HttpResponse, conversation_id, participant_id):
    response.set_cookie(
        PARTICIPANT_COOKIE,
        participant_id,
        max_age=24 * 3600,
        path=reverse("sandbox:room", args=[conversation_id]),
        samesite="Lax",
        httponly=True,
        secure=request.is_secure(),
    )


@login_not_required
@require_GET
def room(request: HttpRequest, conversation_id: str) -> HttpResponse:
    try:
        conversation, participant_id = _take_seat(request, conversation_id)
    except Refusal as refusal:
        return render(
            request, "sandbox/room_refused.html", {"refusal": refusal}, status=refusal.status
        )
    properties = conversation.properties
    name = request.GET.get("name", "").strip()[:60] or "Guest"
    config = {
        "conversation_id": conversation.conversation_id,
        "participant_id": participant_id,
        "name": name,
        "replica_name": conversation.replica_name,
        "created_at": conversation.created_at.timestamp(),
        "urls": _room_urls(conversation),
        "clock_js": static("sandbox/room-clock.js"),
    }
    context = {
        "conversation": conversation,
        "config": config,
        "look": face_look(conversation.replica_id),
        "captions": bool(properties.get("enable_closed_captions")),
        "greenscreen": bool(properties.get("apply_greenscreen")),
    }
    response = render(request, "sandbox/room.html", context)
    _keep_seat(request, response, conversation_id, participant_id)
    lifecycle.ensure_ticker()
    return response


@login_not_required
@require_GET
def session(request: HttpRequest, conversation_id: str) -> HttpResponse:
    """The room page's facts as JSON, for a page that draws the room itself.

    The studio's join page runs daily-js's call-object API against the sandbox through
    static sandbox/daily-shim.js; this is its "open the room": it takes a seat (the cookie the
    presence endpoint needs) and learns what to draw. Same access rules as the room page.
    """
    try:
        conversation, participant_id = _take_seat(request, conversation_id)
    except Refusal as refusal:
        return _refused_json(refusal)
    properties = conversation.properties
    response = JsonResponse(
        {
            "conversation_id": conversation.conversation_id,
            "participant_id": participant_id,
            "replica_id": conversation.replica_id,
            "replica_name": conversation.replica_name,
            "persona_name": conversation.persona_name,
            "look": face_look(conversation.replica_id),
            "audio_only": conversation.audio_only,
            "greenscreen": bool(properties.get("apply_greenscreen")),
            "captions": bool(properties.get("enable_closed_captions")),
            "created_at": conversation.created_at.timestamp(),
            "urls": _room_urls(conversation),
            "clock_js": static("sandbox/room-clock.js"),
        }
    )
    _keep_seat(request, response, conversation_id, participant_id)
    lifecycle.ensure_ticker()
    return response


def _body(request: HttpRequest) -> dict:
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _text(value, limit: int = MAX_SAY) -> str:
    return value.strip()[:limit] if isinstance(value, str) else ""


def _room_state(conversation: Conversation, **extra) -> JsonResponse:
    return JsonResponse(
        {
            "status": conversation.status,
            "replica_joined": conversation.replica_joined_at is not None,
            "recording": conversation.recording_started_at is not None,
            **extra,
        }
    )


@login_not_required
@csrf_exempt
@require_POST
def presence(request: HttpRequest, conversation_id: str) -> HttpResponse:
    """join / heartbeat / leave (leave arrives as a sendBeacon while the page unloads)."""
    try:
        _get_room_for_request(request, conversation_id)
    except Refusal as refusal:
        return _refused_json(refusal)
    participant_id = request.COOKIES.get(PARTICIPANT_COOKIE)
    if not participant_id:
        return JsonResponse({"status": "error", "error": "Open the room page first."}, status=400)
    data = _body(request)
    action, session = data.get("action"), _text(data.get("session"), 40)
    now = timezone.now()
    lifecycle.ensure_ticker()
    with Conversation.objects.locked(conversation_id) as conversation:
        if conversation.status != Conversation.ACTIVE:
            return _room_state(conversation)
        if action == "join":
            if _is_full(conversation, participant_id, now):
                return _refused_json(_full_refusal())
            name = _text(data.get("name"), 60) or "Guest"
            _, event = conversation.participant_join(participant_id, name, session, now)
            return _room_state(conversation, joined=event.envelope())
        participant = conversation.participants.filter(participant_id=participant_id).first()
        if participant is None or participant.left_at is not None:
            # Never joined, or swept as gone while the tab slept: the page joins again.
            return _room_state(conversation, status="rejoin")
        if action == "heartbeat":
            participant.last_seen = now
            participant.save(update_fields=["last_seen"])
            return _room_state(conversation)
        if action == "leave":
            seq = data.get("seq") if isinstance(data.get("seq"), int) else 0
            inference_id = _text(data.get("inference_id"), 64)
            conversation.participant_leave(participant, session, seq, inference_id, now)
            return _room_state(conversation)
    return JsonResponse({"status": "error", "error": "Unknown action."}, status=400)


@login_not_required
@require_GET
def events(request: HttpRequest, conversation_id: str) -> HttpResponse:
    """In-room events after ?after=<seq>, in seq order."""
    try:
        conversation = _get_room_for_request(request, conversation_id, allow_ended=True)
    except Refusal as refusal:
        return _refused_json(refusal)
    raw = request.GET.get("after", "0")
    after = int(raw) if raw.isdigit() else 0
    now = timezone.now()
    due = conversation.room_events.filter(seq__isnull=True, cancelled=False, due_at__lte=now)
    if due.exists():
        with Conversation.objects.locked(conversation_id) as conversation:
            conversation.assign_due(now)
    return _room_state(conversation, events=conversation.events_after(after))


@login_not_required
@csrf_exempt
@require_POST
def say(request: HttpRequest, conversation_id: str) -> HttpResponse:
    """The person typed a line in the room's text box."""
    try:
        _get_room_for_request(request, conversation_id)
    except Refusal as refusal:
        return _refused_json(refusal)
    text = _text(_body(request).get("text"))
    if not text:
        return JsonResponse({"status": "error", "error": "Say something first."}, status=400)
    now = timezone.now()
    with Conversation.objects.locked(conversation_id) as conversation:
        if conversation.replica_joined_at is None:
            error = "The replica hasn't joined yet."
            return JsonResponse({"status": "error", "error": error}, status=409)
        inference_id = conversation.user_says(text, now)
    return _room_state(conversation, inference_id=inference_id)


def _sandbox_command(conversation: Conversation, event_type: str, now) -> dict:
    """Recording controls: the answer the page posts back to its parent."""
    if event_type == "start_recording" and conversation.start_recording(now):
        return {"message_type": "sandbox", "event_type": "recording-started"}
    if event_type == "stop_recording" and conversation.stop_recording(now):
        return {"message_type": "sandbox", "event_type": "recording-stopped"}
    if not conversation.enable_recording:
        message = "Recording is not enabled for this conversation (properties.enable_recording)."
    elif event_type == "stop_recording":
        message = "Recording is not running."
    else:
        message = f"Unknown sandbox command {event_type!r}."
    return {
        "message_type": "sandbox",
        "event_type": "recording-error",
        "properties": {"message": message},
    }


@login_not_required
@csrf_exempt
@require_POST
def command(request: HttpRequest, conversation_id: str) -> HttpResponse:
    """An interaction the parent window sent (Tavus envelope), or a sandbox recording control."""
    try:
        _get_room_for_request(request, conversation_id)
    except Refusal as refusal:
        return _refused_json(refusal)
    message = _body(request)
    kind, event_type = message.get("message_type"), message.get("event_type")
    properties = message.get("properties") if isinstance(message.get("properties"), dict) else {}
    if message.get("conversation_id") not in (None, conversation_id):
        return JsonResponse({"status": "error", "error": "Wrong conversation_id."}, status=400)
    now = timezone.now()
    with Conversation.objects.locked(conversation_id) as conversation:
        if kind == "sandbox":
            reply = _sandbox_command(conversation, event_type, now)
            return _room_state(conversation, reply=reply)
        if kind != "conversation":
            return JsonResponse({"status": "error", "error": "Unknown message_type."}, status=400)
        text = _text(properties.get("text"), 2000)
        context = _text(properties.get("context"), 2000)
        joined = conversation.replica_joined_at is not None
        if event_type in ("conversation.echo", "conversation.respond") and text and joined:
            if event_type == "conversation.echo":
                conversation.echo(text, now)
            else:
                conversation.user_says(text, now)
        elif event_type == "conversation.interrupt":
            conversation.interrupt(now)
        elif event_type == "conversation.append_llm_context" and context:
            conversation.set_context(context, append=True)
        elif event_type == "conversation.overwrite_llm_context" and context:
            conversation.set_context(context, append=False)
        elif event_type == "conversation.tool_result" and joined:
            result = conversation.tool_result(
                _text(properties.get("tool_call_id"), 100),
                properties.get("output", ""),
                properties.get("status", "success"),
                now,
            )
            if not result:
                return _room_state(conversation, ignored=True)
        elif event_type == "conversation.objective.confirm":
            name = _text(properties.get("objective_name"), 200)
            if not conversation.confirm_objective(name, now):
                return _room_state(conversation, ignored=True)
        else:
            # Tavus ignores what it can't act on (sensitivity, tool results, an echo before the
            # replica joined...); so do we, but say so for whoever is debugging.
            return _room_state(conversation, ignored=True)
    return _room_state(conversation, ignored=False)
