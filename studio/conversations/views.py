import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.db import IntegrityError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from studio import daily
from studio.accounts.models import audit
from studio.accounts.roles import SUPERVISOR, is_supervisor, role_required
from studio.connection import current
from studio.conversations import behaviour, launching, live, push, usage
from studio.conversations.forms import (
    LaunchForm,
    ObjectiveConfirmForm,
    SteerForm,
    ToolAnswerForm,
)
from studio.conversations.models import Conversation, Event
from studio.presets.demo import ensure_demo_presets
from studio.presets.models import Preset, Talker
from studio.tavus import client
from studio.tavus.events import EventError, parse_webhook

log = logging.getLogger(__name__)


def _get_conversation_for_user(request, pk) -> Conversation:
    """The conversation if this user may see it; 404 otherwise."""
    conversation = get_object_or_404(
        Conversation.objects.select_related("launched_by", "end_requested_by"), pk=pk
    )
    if not conversation.can_view(request.user):
        raise Http404  # don't reveal that someone else's conversation exists
    return conversation


def _slots_page(request, preset, holders, tavus_message=""):
    return render(
        request,
        "conversations/slots_full.html",
        {
            "nav": "launch",
            "preset": preset,
            "holders": holders,
            "tavus_message": tavus_message,
            "limit": current.concurrency_limit(),
            "sandbox": current.mode() == "sandbox",
        },
        status=409,
    )


@role_required()
def launch(request: HttpRequest) -> HttpResponse:
    ensure_demo_presets()
    presets = (
        Preset.objects.filter(archived=False)
        .select_related("persona", "replica")
        .order_by("-pinned", "name")
    )
    return render(request, "conversations/launch.html", {"nav": "launch", "presets": presets})


@role_required()
def launch_preset(request: HttpRequest, pk: int) -> HttpResponse:
    preset = get_object_or_404(
        Preset.objects.select_related("persona", "replica"), pk=pk, archived=False
    )
    form = LaunchForm(request.POST or None, preset=preset)
    if request.method == "POST" and form.is_valid():
        return _launch(request, preset, form)
    effective = preset.effective_settings(
        form.overrides() if form.is_bound and form.is_valid() else None,
        *form.memory_person(request.user),
        form.details(preview=True),
    )
    template = "conversations/launch_preset.html"
    if request.htmx and request.method == "POST":
        template += "#preview"
    return render(
        request,
        template,
        {
            "nav": "launch",
            "preset": preset,
            "form": form,
            "effective": effective,
            "budget": usage.launch_budget(preset, request.user),
        },
    )


@role_required()
@require_POST
def launch_preview(request: HttpRequest, pk: int) -> HttpResponse:
    preset = get_object_or_404(Preset, pk=pk, archived=False)
    form = LaunchForm(request.POST, preset=preset)
    form.is_valid()  # what is valid so far shows; the rest waits for the launch's own check
    effective = preset.effective_settings(
        form.overrides(), *form.memory_person(request.user), form.details(preview=True)
    )
    return render(
        request,
        "conversations/launch_preset.html#preview",
        {"preset": preset, "form": form, "effective": effective},
    )


def _launch(request, preset, form):
    key = form.cleaned_data["launch_key"]
    existing = Conversation.objects.filter(launch_key=key).first()
    if existing:  # a double click: the first submit already launched
        return redirect("conversations:page", pk=existing.pk)
    holders = launching.slots_full()
    if holders is not None:
        return _slots_page(request, preset, holders)
    person, person_label = form.memory_person(request.user)
    effective = preset.effective_settings(form.overrides(), person, person_label, form.details())
    budget = usage.launch_budget(preset, request.user)
    override = budget.blocked and budget.can_override and request.POST.get("over_budget") == "1"
    if budget.blocked and not override:
        form.add_error(None, budget.refusal())
        return _launch_form(request, preset, form, effective, budget=budget, status=409)
    if effective.blockers:
        # Tavus would refuse these; say so now instead of spending a launch on it.
        for blocker in effective.blockers:
            form.add_error(None, blocker)
        return _launch_form(request, preset, form, effective)
    try:
        conversation, secret = Conversation.start(
            preset=preset,
            user=request.user,
            effective=effective,
            launch_key=key,
            talker=form.cleaned_data["talker"],
        )
    except IntegrityError:  # the twin request won the race on launch_key
        return redirect("conversations:page", pk=Conversation.objects.get(launch_key=key).pk)
    try:
        sent = launching.send(conversation, secret)
    except launching.SlotsTaken as exc:
        holders = list(Conversation.objects.holding_slots().select_related("launched_by"))
        return _slots_page(request, preset, holders, tavus_message=exc.tavus_message)
    except launching.Unreachable as exc:
        messages.error(request, f"The conversation did not start: {exc.message}")
        return redirect("conversations:page", pk=conversation.pk)
    except launching.Refused as exc:
        form.add_error(None, f"Tavus refused to start the conversation: {exc.message}")
        return _launch_form(request, preset, form, effective)
    if not sent.answered:
        if sent.unsure:
            messages.warning(
                request,
                "Tavus did not answer in time. The studio is checking "
                "whether the conversation started; this page will update.",
            )
        return redirect("conversations:page", pk=conversation.pk)
    audit(
        "launch",
        request=request,
        target=conversation,
        detail=f"preset {preset.name!r}, Tavus {conversation.tavus_id}",
    )
    if override:
        usage.note_override(request, budget, preset.name)
    if "memory_stores" in effective.body:
        # In words, once: whose memories this conversation brings back and adds to.
        memory = next(line for line in effective.summary if "will remember" in line)
        messages.info(request, f"{memory}.")
    if conversation.test_mode:
        messages.info(
            request,
            "Dry run: Tavus accepted the settings. Nothing was started and nothing is billed.",
        )
    return redirect("conversations:page", pk=conversation.pk)


def _launch_form(request, preset, form, effective, *, budget=None, status=400) -> HttpResponse:
    """The launch form again, with what stopped the launch."""
    context = {"nav": "launch", "preset": preset, "form": form, "effective": effective}
    return render(
        request, "conversations/launch_preset.html", {**context, "budget": budget}, status=status
    )


@role_required()
def live_list(request: HttpRequest) -> HttpResponse:
    conversations = (
        Conversation.objects.visible_to(request.user).live().select_related("launched_by")
    )
    return render(
        request, "conversations/live_list.html", {"nav": "live", "conversations": conversations}
    )


@role_required()
def conversation_page(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _get_conversation_for_user(request, pk)
    is_launcher = conversation.launched_by_id == request.user.pk
    # The page joins the video room only for the person who talks to the replica: the
    # launcher when they said "me", or anyone who chooses "Join the video". A page in the room
    # takes a place and counts as someone there, so a watching page stays out (README, "Talk
    # or watch").
    talks = is_launcher and conversation.talker == Talker.ME
    joins_room = conversation.is_live and (talks or request.GET.get("join") == "1")
    sandbox_room = current.mode() == "sandbox"
    response = render(
        request,
        "conversations/live.html",
        {
            "nav": "live",
            "conversation": conversation,
            "timeline": live.timeline(conversation),
            "utterances": conversation.utterances.all(),
            "joins_room": joins_room,
            "is_launcher": is_launcher,
            "sandbox_room": sandbox_room,
            "can_steer": conversation.is_live and is_supervisor(request.user),
            "steer_form": SteerForm(),
            "behaviour": behaviour.summary(conversation),
        },
    )
    if joins_room and not sandbox_room:
        # The page joins the real room with a daily-js call frame: allow what that loads.
        response._csp_config = daily.call_frame_csp(conversation.conversation_url)
    return response


@role_required()
@require_POST
def page_left(request: HttpRequest, pk: int) -> HttpResponse:
    """The live page left the room (its beacon on pagehide, when its socket may not get the
    word out): the person it was is no longer there."""
    conversation = _get_conversation_for_user(request, pk)
    participant = request.POST.get("participant_id", "")[:100]
    if conversation.note_presence(participant, present=False):
        live.publish_status(conversation)
    return HttpResponse(status=204)


@role_required()
@require_POST
def end_conversation(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _get_conversation_for_user(request, pk)
    if not conversation.is_live:
        messages.info(request, "This conversation has already ended.")
    elif not conversation.tavus_id:
        conversation.mark_end_requested(request.user)
        messages.warning(
            request,
            "Tavus has not confirmed this conversation yet; the studio "
            "will end it as soon as it finds it.",
        )
    else:
        # When it was asked, not when Tavus answered: its shutdown webhook may arrive first.
        asked = timezone.now()
        try:
            client.end_conversation(conversation.tavus_id)
        except client.TavusError as exc:
            messages.error(request, f"Could not end the conversation: {exc.message}")
        else:
            conversation.mark_end_requested(request.user, when=asked)
            audit("end", request=request, target=conversation, detail=conversation.tavus_id)
            conversation.record_event(
                source=Event.STUDIO,
                event_type="studio.end_requested",
                dedupe_key=f"end:{asked.isoformat()}",
                payload={"label": f"End requested by {request.user.get_username()}"},
                occurred_at=asked,
                actor=request.user,
            )
            live.publish_status(conversation)
    if request.htmx:
        return render(
            request,
            "conversations/live.html#status",
            {"conversation": conversation, "timeline": live.timeline(conversation)},
        )
    back = request.POST.get("next", "")
    if back and url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure()):
        return redirect(back)  # the slots page: back to the launch that was waiting
    return redirect("conversations:page", pk=conversation.pk)


@role_required(SUPERVISOR)
@require_POST
def steer(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _get_conversation_for_user(request, pk)
    form = SteerForm(request.POST)
    sent = None
    if form.is_valid():
        if not conversation.is_live:
            form.add_error(None, "This conversation has ended.")
        elif not conversation.host_connected:
            form.add_error(
                None,
                "No page is in the room right now, so nothing can carry the "
                "command in. Ask the launcher to keep the live page open, or use "
                "“Join the video”.",
            )
        else:
            sent, envelope = form.record(conversation, request.user)
            push.send_command(conversation.pk, sent.pk, envelope)
            audit("steer", request=request, target=conversation, detail=sent.payload["label"])
            push.send(live.status_pushes(conversation, wall_too=False))
            form = SteerForm()
    context = {"conversation": conversation, "steer_form": form, "sent": sent}
    if request.htmx:
        return render(request, "conversations/live.html#steer", context)
    if sent:
        messages.success(request, "Sent to the room.")
    else:
        for error in form.non_field_errors() or ["Check the command and try again."]:
            messages.error(request, error)
    return redirect("conversations:page", pk=conversation.pk)


@role_required(SUPERVISOR)
@require_POST
def answer_tool(request: HttpRequest, pk: int) -> HttpResponse:
    """A supervisor answers a tool call the replica made: sent into the room as its result."""
    conversation = _get_conversation_for_user(request, pk)
    form = ToolAnswerForm(request.POST)
    sent = None
    if form.is_valid():
        data = form.cleaned_data
        sent, problem = behaviour.answer(
            conversation, data["tool_call_id"], form.output_value(), data["status"],
            user=request.user,
        )
        if problem:
            form.add_error(None, problem)
        else:
            audit("tool answer", request=request, target=conversation, detail=sent.payload["label"])
            push.send(behaviour.card_pushes(conversation))
    done = "Answer sent to the room."
    return _card_answer(request, conversation, sent, answer_form=form, done=done)


@role_required(SUPERVISOR)
@require_POST
def confirm_objective(request: HttpRequest, pk: int) -> HttpResponse:
    """A supervisor says yes to an objective that waits for one (confirmation_mode "manual")."""
    conversation = _get_conversation_for_user(request, pk)
    form = ObjectiveConfirmForm(request.POST)
    sent = None
    if form.is_valid():
        name = form.cleaned_data["objective_name"]
        sent, problem = behaviour.confirm(conversation, name, request.user)
        if problem:
            form.add_error(None, problem)
        else:
            audit("objective confirmed", request=request, target=conversation, detail=name)
            push.send(behaviour.card_pushes(conversation))
    return _card_answer(request, conversation, sent, confirm_form=form, done="Confirmed.")


def _card_answer(request, conversation, sent, *, done: str, **forms) -> HttpResponse:
    """The behaviour card again (htmx), or back to the live page with a message."""
    if request.htmx:
        context = {"conversation": conversation, "behaviour": behaviour.summary(conversation)}
        if not sent:
            context.update(forms)
        return render(request, "conversations/live.html#behaviour", context)
    if sent:
        messages.success(request, done)
    else:
        (form,) = forms.values()
        for error in form.problems() or ["Check it and try again."]:
            messages.error(request, error)
    return redirect("conversations:page", pk=conversation.pk)


@csrf_exempt
@login_not_required
@require_POST
def tavus_webhook(request: HttpRequest, secret: str) -> HttpResponse:
    # The body is read first, so that one query finds the conversation and says whether this
    # webhook is stored already; a wrong secret is still answered 404 first, whatever the body.
    event, refused = _webhook_event(request)
    conversation = Conversation.for_webhook_secret(secret, event)
    if conversation is None:
        return JsonResponse({"error": "unknown callback"}, status=404)
    if refused:
        return refused
    if conversation.tavus_id and event.conversation_id != conversation.tavus_id:
        return JsonResponse({"error": "conversation_id does not match"}, status=400)
    changed = conversation.receive_webhook(event, stored=conversation.event_stored)
    if changed is None:
        return JsonResponse({"status": "duplicate"})
    if changed:
        # Artifacts (transcript, recording, analysis) appear on the live page, not the wall.
        live.publish_status(conversation, wall_too="status" in changed)
    return JsonResponse({"status": "ok"})


def _webhook_event(request: HttpRequest):
    """(the webhook in the request's body, None), or (None, the response refusing it)."""
    if request.content_type != "application/json":
        return None, JsonResponse({"error": "expected application/json"}, status=415)
    # The limit counts the bytes that arrive, not what Content-Length claims: a chunked body
    # has no length, and one that lies must not get more in.
    body = request.read(settings.WEBHOOK_MAX_BYTES + 1)
    if len(body) > settings.WEBHOOK_MAX_BYTES:
        return None, JsonResponse({"error": "body too large"}, status=413)
    try:
        return parse_webhook(body), None
    except EventError as exc:
        return None, JsonResponse({"error": f"bad webhook: {exc}"}, status=400)
