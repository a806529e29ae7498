"""The participant's join page: /join/<token>/, for a member of the public, no sign-in.

The token is the whole credential: it opens one conversation, and only until that conversation
ends. The page itself (static/studio/join/*.js) joins the room with daily-js's call object (or
the sandbox's shim of it), composites the preset's background, and relays in-room events to the
studio over ws/join/<token>/ (consumers.py).
"""

import hashlib

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from studio import daily
from studio.connection import current
from studio.conversations import live
from studio.conversations.models import Conversation
from studio.presets.models import Preset
from studio.presets.views import serve_background

# Why it ended, in words for the person in the call (the studio's own wording is for staff).
PARTICIPANT_END_REASONS = {
    "max_call_duration": "The conversation reached its time limit.",
    "participant_left_timeout": "Everyone left the call.",
    "participant_absent_timeout": "Nobody joined in time, so the call was closed.",
    "end_conversation_endpoint_hit": "The organiser ended the conversation.",
    "test_mode": "This link was for a practice run: no conversation took place.",
}


def end_reason(conversation: Conversation) -> str:
    if conversation.status == Conversation.FAILED:
        return "The conversation could not start. Please ask whoever sent you the link."
    return PARTICIPANT_END_REASONS.get(conversation.end_reason, "The call is over.")


def background_for(conversation: Conversation) -> tuple[str, str]:
    """What the page shows behind the replica: ("none" | "green" | "image", picture URL)."""
    preset = conversation.preset
    greenscreen = bool(conversation.properties.get("apply_greenscreen"))
    if preset is None or conversation.audio_only or not greenscreen:
        # Without Tavus's green there is nothing to key out: the video shows as it comes.
        return Preset.Background.NONE, ""
    if preset.background == Preset.Background.IMAGE and preset.background_image:
        if not conversation.join_token:  # an invitation's page before Join: no picture yet
            return Preset.Background.IMAGE, ""
        # The file name changes with every upload, so the URL does too (safe to cache).
        version = hashlib.sha256(preset.background_image.name.encode()).hexdigest()[:12]
        url = reverse("join:background", args=[conversation.join_token]) + f"?v={version}"
        return Preset.Background.IMAGE, url
    if preset.background == Preset.Background.GREEN:
        return Preset.Background.GREEN, ""
    return Preset.Background.NONE, ""


def _not_found(request: HttpRequest) -> HttpResponse:
    return render(request, "join/not_found.html", status=404)


def call_config(conversation: Conversation) -> dict:
    """Everything the join page's scripts need, as JSON in the page (no inline script: the
    CSP forbids it), or in the answer to an invitation's Join (studio.invites). Before Join an
    invitation's conversation has no room and no addresses yet."""
    token = conversation.join_token
    kind, image_url = background_for(conversation)
    return {
        "mode": "sandbox" if current.mode() == "sandbox" else "daily",
        "roomUrl": conversation.conversation_url,
        "roomToken": conversation.meeting_token or "",
        "conversationId": conversation.tavus_id or "",
        "socketPath": f"/ws/join/{token}/" if token else "",
        "stateUrl": reverse("join:state", args=[token]) if token else "",
        "leftUrl": reverse("join:left", args=[token]) if token else "",
        "background": kind,
        "backgroundUrl": image_url,
        "captions": bool(conversation.properties.get("enable_closed_captions")),
        "audioOnly": conversation.audio_only,
        "record": conversation.wants_recording,
        "replicaName": conversation.replica_name or "the replica",
    }


def _devices(conversation: Conversation, sandbox: bool) -> dict:
    """What the page asks the browser for, in the words its help uses. The sandbox's practice
    room has no microphone (the person types), so there it asks for the camera alone."""
    if sandbox:
        return {"and": "camera", "or": "camera", "allow": "Camera", "sense": "see"}
    if conversation.audio_only:
        return {"and": "microphone", "or": "microphone", "allow": "Microphone", "sense": "hear"}
    return {
        "and": "camera and microphone",
        "or": "camera or microphone",
        "allow": "Camera and Microphone",
        "sense": "see or hear",
    }


@login_not_required
@require_GET
def join_page(request: HttpRequest, token: str) -> HttpResponse:
    conversation = Conversation.for_join_token(token)
    if conversation is None:
        return _not_found(request)
    context = {"conversation": conversation}
    if not conversation.is_live:
        context["reason"] = end_reason(conversation)
        return render(request, "join/ended.html", context, status=410)
    if not conversation.conversation_url:
        # Tavus has not answered the launch yet: a calm page that looks again by itself.
        return render(request, "join/preparing.html", context)
    return render_call_page(request, conversation, call_config(conversation))


def render_call_page(request: HttpRequest, conversation: Conversation, config: dict):
    """The page that joins the room: for a conversation's link, and for an invitation link
    (whose conversation starts on Join; `conversation` is then the one it will start)."""
    sandbox = config["mode"] == "sandbox"
    context = {
        "conversation": conversation,
        "config": config,
        "sandbox": sandbox,
        "devices": _devices(conversation, sandbox),
    }
    response = render(request, "join/join.html", context)
    if not sandbox:
        # What @csp_override sets, chosen per request: the page joins with a call object.
        response._csp_config = daily.call_object_csp()
    return response


@login_not_required
@require_GET
def join_state(request: HttpRequest, token: str) -> HttpResponse:
    """Is it still on, and if not why: the page asks once the room has closed."""
    conversation = Conversation.for_join_token(token)
    if conversation is None:
        return JsonResponse({"error": "unknown link"}, status=404)
    live = conversation.is_live
    return JsonResponse({"live": live, "reason": "" if live else end_reason(conversation)})


@login_not_required
@require_GET
def join_background(request: HttpRequest, token: str) -> HttpResponse:
    conversation = Conversation.for_join_token(token)
    if conversation is None or not conversation.is_live:
        return _not_found(request)
    kind, _ = background_for(conversation)
    if kind != Preset.Background.IMAGE:
        return _not_found(request)
    return serve_background(conversation.preset)


@csrf_exempt  # no cookie is involved: the token in the address is the whole credential
@login_not_required
@require_POST
def join_left(request: HttpRequest, token: str) -> HttpResponse:
    """The join page's beacon on pagehide: its person left the room. Like its socket, it can
    only take its own person out (one the join page reported), never anyone else."""
    conversation = Conversation.for_join_token(token)
    if conversation is None:
        return JsonResponse({"error": "unknown link"}, status=404)
    participant = request.POST.get("participant_id", "")[:100]
    gone = conversation.note_presence(participant, present=False, only_via="join")
    seen = Conversation.objects.filter(pk=conversation.pk).exclude(join_page_seen_at=None)
    if seen.update(join_page_seen_at=None) or gone:
        conversation.refresh_from_db()
        if conversation.is_live:
            live.publish_status(conversation)
    return HttpResponse(status=204)
