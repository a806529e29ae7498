"""Invitation links: the staff's pages (make links, the Links page) and the person's page.

The person's page (/invite/<token>/) needs no sign-in: its unguessable token is the whole
credential. It is the join page (studio.join) before its conversation exists; Join asks
`invite_start`, which starts the conversation through the launch's own path
(studio.conversations.launching) and answers with what the page needs to join the room.
"""

import logging
import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.views.decorators.http import require_GET, require_POST

from studio.accounts.models import audit
from studio.accounts.roles import role_required
from studio.connection import current
from studio.conversations import launching, usage
from studio.conversations.models import Conversation
from studio.invites.email import NoMailServer, send_invitations
from studio.invites.forms import ListForm, Person, PersonForm
from studio.invites.models import Invitation, InvitationUse
from studio.join.views import call_config, render_call_page
from studio.presets.models import Preset

log = logging.getLogger(__name__)

BUSY = "All our hosts are busy, try again in a minute."
PER_PAGE = 50


def _get_invitation_for_user(request: HttpRequest, pk: int) -> Invitation:
    """The link if this user may manage it (its maker, or a supervisor); 404 otherwise."""
    invitation = get_object_or_404(Invitation, pk=pk)
    if not invitation.can_manage(request.user):
        raise Http404  # don't reveal that someone else's link exists
    return invitation


def _get_preset(pk: int) -> Preset:
    return get_object_or_404(
        Preset.objects.select_related("persona", "replica"), pk=pk, archived=False
    )


# --- The Links page ------------------------------------------------------------------------


@role_required()
def links(request: HttpRequest) -> HttpResponse:
    invitations = (
        Invitation.objects.visible_to(request.user)
        .select_related("created_by")
        .prefetch_related(
            Prefetch(
                "uses_made",
                queryset=InvitationUse.objects.select_related("conversation").order_by(
                    "-conversation__created_at"
                ),
            )
        )
    )
    batch = request.GET.get("list", "")[:32]
    if batch:
        invitations = invitations.filter(batch=batch)
    page = Paginator(invitations, PER_PAGE).get_page(request.GET.get("page"))
    now = timezone.now()
    rows = []
    for invitation in page:
        made = list(invitation.uses_made.all())
        invitation._latest = made[0].conversation if made else None
        # Copy, send and revoke only while the link can still start something.
        usable = invitation.closed_reason(now) in ("", "early")
        rows.append((invitation, invitation.state(now), usable))
    template = "invites/links.html"
    if request.htmx:
        template += "#links-table"
    context = {
        "nav": "links",
        "page": page,
        "rows": rows,
        "batch": batch,
        "mail": current.email(),
    }
    return render(request, template, context)


@role_required()
def choose_preset(request: HttpRequest) -> HttpResponse:
    presets = Preset.objects.active().select_related("persona").pinned_first()
    return render(request, "invites/choose.html", {"nav": "links", "presets": presets})


def _create(request, preset, people: list[Person], form) -> list[Invitation]:
    """One link per person, all of one batch; emailed when the form says so."""
    batch = uuid.uuid4().hex
    now = timezone.now()  # one moment for the whole list: it stays in its order on the page
    made = [
        Invitation.build(
            preset=preset,
            user=request.user,
            effective=person.effective,
            person_name=person.name,
            email=person.email,
            details=person.details,
            batch=batch,
            created_at=now,
            **form.link_fields(),
        )
        for person in people
    ]
    made = Invitation.objects.bulk_create(made)
    audit(
        "links made",
        request=request,
        target=preset.name,
        detail=f"{len(made)} link{'s' if len(made) != 1 else ''}, "
        f"until {form.cleaned_data['valid_until']:%Y-%m-%d %H:%M}",
    )
    if form.wants_email:
        _send(request, made)
    return made


def _send(request, invitations: list[Invitation]) -> None:
    """Email the links, and say in words what happened (never a pretended send)."""
    try:
        sent, failed = send_invitations(invitations)
    except NoMailServer as error:
        messages.warning(request, f"{error} The links are ready to copy.")
        return
    if sent:
        messages.success(request, f"Emailed {sent} link{'s' if sent != 1 else ''}.")
    if failed:
        names = ", ".join(str(invitation) for invitation in failed[:5])
        messages.error(
            request,
            f"{len(failed)} email{'s' if len(failed) != 1 else ''} could not be sent ({names}"
            f"{'…' if len(failed) > 5 else ''}): the reason is beside each link. Copy those "
            "links instead, or send again.",
        )


@role_required()
def new_link(request: HttpRequest, pk: int) -> HttpResponse:
    preset = _get_preset(pk)
    form = PersonForm(request.POST or None, preset=preset)
    if request.method == "POST" and form.is_valid():
        (invitation,) = _create(request, preset, [form.person], form)
        messages.success(request, f"The link for {invitation} is ready.")
        return redirect(reverse("invites:links") + f"?list={invitation.batch}")
    context = {
        "nav": "links",
        "preset": preset,
        "form": form,
        "tab": "one",
        "effective": preset.effective_settings(),
    }
    return render(request, "invites/new.html", context, status=400 if form.errors else 200)


@role_required()
def new_list(request: HttpRequest, pk: int) -> HttpResponse:
    preset = _get_preset(pk)
    form = ListForm(request.POST or None, request.FILES or None, preset=preset)
    made, result = [], None
    if request.method == "POST" and form.is_valid():
        made = _create(request, preset, form.good, form) if form.good else []
        if not form.bad:
            messages.success(request, f"{len(made)} link{'s' if len(made) != 1 else ''} ready.")
            return redirect(reverse("invites:links") + f"?list={made[0].batch}")
        # Some rows were refused: they are shown with their reasons, and put back in the
        # box to fix and send again. The good ones are made already; nothing is lost.
        result = form
        initial = {**form.cleaned_data, "upload": None, "rows": form.bad_rows_text()}
        form = ListForm(initial=initial, preset=preset)
    context = {
        "nav": "links",
        "preset": preset,
        "form": form,
        "tab": "list",
        "made": made,
        "result": result,
        "batch": made[0].batch if made else "",
        "effective": preset.effective_settings(),
    }
    return render(request, "invites/new.html", context, status=400 if form.errors else 200)


@role_required()
@require_POST
def revoke(request: HttpRequest, pk: int) -> HttpResponse:
    invitation = _get_invitation_for_user(request, pk)
    if invitation.revoke(request.user):
        audit("link revoked", request=request, target=str(invitation), detail=invitation.title)
        messages.success(request, f"The link for {invitation} no longer works.")
    return redirect(_back(request))


@role_required()
@require_POST
def send(request: HttpRequest, pk: int) -> HttpResponse:
    invitation = _get_invitation_for_user(request, pk)
    if not invitation.email:
        messages.error(request, "This link has no email address to send it to.")
    elif invitation.closed_reason() not in ("", "early"):
        messages.error(request, "This link no longer works, so it was not sent.")
    else:
        _send(request, [invitation])
    return redirect(_back(request))


def _back(request: HttpRequest) -> str:
    batch = request.POST.get("list", "")[:32]
    return reverse("invites:links") + (f"?list={batch}" if batch else "")


# --- The person's page ---------------------------------------------------------------------


def _when(moment) -> str:
    return date_format(timezone.localtime(moment), "l j F, H:i")


def _closed_words(invitation: Invitation, reason: str) -> tuple[str, str]:
    """(title, explanation) for a link that cannot start a conversation, for the person."""
    ask = "Ask whoever sent it to you for a new one if you still need it."
    if reason == "used":
        many = invitation.max_uses > 1
        taken = "The conversations it was for have" if many else "The conversation it was for has"
        return "This link has been used", f"{taken} taken place. {ask}"
    if reason == "expired":
        return "This link has expired", f"It worked until {_when(invitation.valid_until)}. {ask}"
    if reason == "early":
        return (
            "This link isn't open yet",
            f"It opens on {_when(invitation.valid_from)}. Please come back then.",
        )
    return "This link no longer works", f"Whoever sent it has withdrawn it. {ask}"


def _closed_page(request, invitation: Invitation, reason: str) -> HttpResponse:
    title, text = _closed_words(invitation, reason)
    context = {"title": title, "text": text, "early": reason == "early"}
    return render(request, "invites/closed.html", context, status=403 if reason == "early" else 410)


@login_not_required
@require_GET
def invite_page(request: HttpRequest, token: str) -> HttpResponse:
    invitation = Invitation.for_token(token)
    if invitation is None:
        return render(request, "join/not_found.html", status=404)
    live = invitation.live_conversation()
    reason = "" if live else invitation.closed_reason()
    if reason:
        return _closed_page(request, invitation, reason)
    invitation.note_opened()
    to_be = invitation.conversation_to_be()
    config = {
        **call_config(to_be),
        "startUrl": reverse("invites:start", args=[invitation.token]),
        "csrfToken": get_token(request),
        "personName": invitation.person_name,
    }
    return render_call_page(request, to_be, config)


def _answer(conversation: Conversation) -> JsonResponse:
    """The started conversation, for the page to join (or: ask again in a moment)."""
    if conversation.status == Conversation.FAILED:
        return _not_started()
    if not conversation.conversation_url:
        return JsonResponse({"starting": True}, status=202)
    return JsonResponse({"config": call_config(conversation)})


def _busy(invitation: Invitation) -> JsonResponse:
    invitation.note_miss()
    response = JsonResponse({"retry": True, "busy": True, "message": BUSY}, status=503)
    response["Retry-After"] = "60"
    return response


def _not_started() -> JsonResponse:
    message = (
        "The conversation couldn't start. Please try again in a few minutes; if it keeps "
        "happening, tell whoever sent you the link."
    )
    return JsonResponse({"retry": True, "message": message}, status=502)


def _closed_answer(invitation: Invitation, reason: str) -> JsonResponse:
    title, text = _closed_words(invitation, reason)
    return JsonResponse({"closed": reason, "title": title, "message": text}, status=410)


@login_not_required
@require_POST
def invite_start(request: HttpRequest, token: str) -> HttpResponse:
    """Join pressed: start the link's conversation, or answer with the one it started."""
    invitation = Invitation.for_token(token)
    if invitation is None:
        return JsonResponse({"error": "unknown link"}, status=404)
    live = invitation.live_conversation()
    if live is not None:  # another tab (or an earlier press) started it: join that one
        return _answer(live)
    if request.POST.get("waiting"):
        # The page was waiting on a start Tavus never confirmed, and it has failed since (the
        # reconciler gave up). Say so and let the person press again, rather than quietly
        # starting another conversation on the use that came back.
        return _not_started()
    seen = invitation.uses
    reason = invitation.closed_reason()
    if reason:
        return _closed_answer(invitation, reason)
    refusal = budget_refusal(invitation)
    if refusal:
        title = "This conversation can't start right now"
        return JsonResponse({"closed": "budget", "title": title, "message": refusal}, status=409)
    if launching.slots_full() is not None:
        return _busy(invitation)
    claimed = invitation.claim(seen)
    if claimed is None:
        # Another press got there first (or the link closed meanwhile): join what it started.
        invitation.refresh_from_db()
        live = invitation.live_conversation()
        if live is not None:
            return _answer(live)
        return _closed_answer(invitation, invitation.closed_reason() or "used")
    conversation, secret = claimed
    # A failure marks the conversation failed, and that gives the use back (_give_back_use).
    try:
        sent = launching.send(conversation, secret)
    except launching.SlotsTaken:
        return _busy(invitation)
    except launching.Refused as exc:  # Unreachable too: nothing started, the use is theirs
        log.warning("invitation %s: conversation %s not started: %s", invitation.pk,
                    conversation.pk, exc.message)
        return _not_started()
    audit(
        "link used",
        target=conversation,
        detail=f"link for {invitation} ({invitation.preset_name}), "
        f"Tavus {conversation.tavus_id or 'not confirmed yet'}",
    )
    return _answer(sent.conversation)


def budget_refusal(invitation: Invitation) -> str:
    """Why this month's minute budget keeps the conversation from starting now, in the
    person's words ("" when it may start). Budgets apply when the person arrives, as they do
    when staff launch: the link's maker's and the organisation's. Nobody overrides at arrival;
    staff see the refusal in the audit log."""
    if invitation.preset is None:
        return ""  # closed_reason() has turned it away already
    budget = usage.launch_budget(invitation.preset, invitation.created_by, may_override=False)
    if not budget.blocked:
        return ""
    audit(
        "link refused",
        target=str(invitation),
        detail=f"{invitation.preset_name}: {budget.refusal()}",
    )
    return (
        "It can't start at the moment. Please try again later, or let whoever sent you the "
        "link know."
    )
