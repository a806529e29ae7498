"""The supervisors' monitoring wall: alerts, the slot board, and live tiles.

Tiles go to group `monitor` (supervisors and admins see every conversation) and to
`monitor-user-<id>` (an operator sees their own); the board goes to `monitor-board`, which
every wall joins (studio.conversations.push). Each fragment is rendered once; the functions
here return the pushes and their callers send them.
"""

from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Max
from django.template.defaultfilters import pluralize
from django.template.loader import render_to_string
from django.utils import timezone

from studio.connection import current
from studio.conversations import push, usage
from studio.conversations.models import (
    Conversation,
    Event,
    Lease,
    Utterance,
    end_reason_words,
)
from studio.conversations.push import Pushes

PAGE = "conversations/monitor.html"
ALERTS_LEASE = "alerts"
# What the replica's persona did, as Tavus said in the room: a triggered guardrail is an alert
# for ALERTS["guardrail"] seconds; a completed objective or a tool call shows on the tile for
# ALERTS["note"] seconds (studio.conversations.behaviour keeps the whole story).
GUARDRAIL = "conversation.guardrail.triggered"
NOTE_EVENTS = ("conversation.objective.completed", "conversation.tool_call")


@dataclass(frozen=True)
class Alert:
    code: str
    text: str


def alerts(c: Conversation, now=None, last_spoken=None, recent=()) -> list[Alert]:
    """What needs a supervisor's eye right now. Pure: the same state and clock, the same
    answer, so alerts clear themselves once their condition is gone. `recent`: the
    conversation's latest behaviour events (_recent_behaviour)."""
    now = now or timezone.now()
    found = []
    if not c.is_live:
        return found
    age = (now - c.created_at).total_seconds()
    limits = settings.ALERTS
    if c.status in (Conversation.LAUNCHING, Conversation.UNKNOWN) and age > limits["stuck"]:
        found.append(Alert("stuck", "Stuck starting: Tavus has not confirmed it"))
    elif not c.replica_joined_at and age > limits["replica_join"]:
        found.append(Alert("replica_late", f"Replica not in the room after {int(age)} s"))
    if not c.person_joined_at:
        left = (c.absent_deadline - now).total_seconds()
        if 0 < left <= limits["absent_near"]:
            found.append(Alert("absent_near", f"Nobody has joined: ends in {int(left)} s"))
    elif c.people_in_room:
        quiet_since = max(filter(None, [last_spoken, c.person_joined_at]))
        if (now - quiet_since).total_seconds() >= limits["silence"]:
            found.append(Alert("silence", "Nobody has spoken for a minute"))
    remaining = (c.ends_by - now).total_seconds()
    if 0 < remaining <= limits["ending_soon"]:
        found.append(Alert("ending_soon", f"Less than {limits['ending_soon'] // 60} minutes left"))
    if c.end_requested_at and (now - c.end_requested_at).total_seconds() > limits["end_slow"]:
        found.append(Alert("end_unconfirmed", "End requested, but Tavus has not confirmed it"))
    guardrail = next((e for e in recent if e.event_type == GUARDRAIL), None)
    if guardrail and 0 <= (now - guardrail.occurred_at).total_seconds() < limits["guardrail"]:
        name = _properties(guardrail).get("guardrail_name") or "a guardrail"
        found.append(Alert("guardrail", f"Guardrail “{name}” triggered: check what was said"))
    return found


def _properties(event: Event) -> dict:
    props = event.payload.get("properties") if isinstance(event.payload, dict) else None
    return props if isinstance(props, dict) else {}


def _recent_behaviour(conversations, now) -> dict[int, list[Event]]:
    """Each conversation's guardrails, objectives completed and tool calls young enough to show,
    newest first: one query for a whole wall."""
    window = max(settings.ALERTS["guardrail"], settings.ALERTS["note"])
    rows = Event.objects.filter(
        conversation__in=conversations,
        source=Event.ROOM,
        event_type__in=(GUARDRAIL, *NOTE_EVENTS),
        occurred_at__gte=now - timedelta(seconds=window),
    ).order_by("-occurred_at", "-id")
    found: dict[int, list[Event]] = {}
    for event in rows:
        found.setdefault(event.conversation_id, []).append(event)
    return found


def note(recent, now) -> dict | None:
    """The tile's brief word on the latest objective completed or tool call, with when it goes."""
    event = next((e for e in recent if e.event_type in NOTE_EVENTS), None)
    if event is None:
        return None
    until = event.occurred_at + timedelta(seconds=settings.ALERTS["note"])
    if until <= now:
        return None
    props = _properties(event)
    if event.event_type == "conversation.tool_call":
        text = f"Tool call: {props.get('name') or 'a tool'}"
    else:
        text = f"Objective “{props.get('objective_name') or '?'}” completed"
    return {"text": text, "until": until, "kind": event.event_type.rpartition(".")[2]}


def _last_spoken(conversations) -> dict[int, object]:
    rows = (
        Utterance.objects.filter(conversation__in=conversations)
        .values("conversation")
        .annotate(last=Max("spoken_at"))
    )
    return {row["conversation"]: row["last"] for row in rows}


def tiles_for(user, now=None) -> list[dict]:
    now = now or timezone.now()
    conversations = list(
        Conversation.objects.visible_to(user)
        .live()
        .select_related("launched_by")
        .order_by("created_at")
    )
    spoken = _last_spoken(conversations)
    recent = _recent_behaviour(conversations, now)
    return [tile_context(c, now, spoken.get(c.pk), recent.get(c.pk, [])) for c in conversations]


def _captions(c: Conversation) -> list[Utterance]:
    return list(c.utterances.order_by("-spoken_at", "-id")[:2])[::-1]


def tile_context(c: Conversation, now=None, last_spoken=None, recent=None) -> dict:
    now = now or timezone.now()
    if recent is None:
        recent = _recent_behaviour([c], now).get(c.pk, [])
    return {
        "conversation": c,
        "alerts": alerts(c, now, last_spoken, recent),
        "captions": _captions(c),
        "note": note(recent, now),
    }


def billed_text(seconds: float) -> str:
    """Time Tavus bills, as people say it: a call that has run 48 s is not "0 minutes"."""
    if seconds <= 0:
        return "None"
    if seconds < 60:
        return "Under a minute"
    hours, minutes = divmod(int(seconds // 60), 60)
    said = f"{minutes} minute{pluralize(minutes)}"
    return f"{hours} h {minutes} min" if hours else said


def board(now=None) -> dict:
    """The numbers every wall shows, rendered once for all of them: so it names nobody (an
    operator sees only their own conversations; the tiles name the launchers)."""
    now = now or timezone.now()
    holders = list(Conversation.objects.holding_slots().only("created_at"))
    # Tavus bills from when the room is made and the replica waits (tavus-api.md §2.9).
    billed = sum((now - c.created_at).total_seconds() for c in holders)
    midnight = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    recent = (
        Conversation.objects.filter(status=Conversation.ENDED)
        .filter(ended_at__gte=now - timedelta(hours=1))
        .order_by()
        .values_list("end_reason")
        .annotate(n=Count("pk"))
    )
    # Counted in the database: the last hour's endings can be hundreds of rows.
    reasons = Counter()
    for reason, n in recent:
        reasons[end_reason_words(reason)] += n
    limit = current.concurrency_limit()
    budgets = usage.budget_states(None, now)
    return {
        # The organisation's budget always; people's own only as a count (the board names
        # nobody: Usage says whose).
        "budget": next((b for b in budgets if b.person_id is None), None),
        "people_over_budget": sum(1 for b in budgets if b.person_id and b.level),
        # Recordings Tavus could not copy to the bucket, for a day after the end: counted here,
        # each named in History (to those who may see it) and on its own page.
        "recording_failures": Conversation.objects.filter(
            status=Conversation.ENDED,
            created_at__gte=now - timedelta(days=2),
            end_received_at__gte=now - timedelta(days=1),
        )
        .exclude(recording_error="")
        .count(),
        "limit": limit,
        "in_use": len(holders),
        "free": max(limit - len(holders), 0) if limit is not None else None,
        "billed": billed_text(billed),
        "today": Conversation.objects.filter(created_at__gte=midnight).count(),
        "ended_by_reason": reasons.most_common(),
        "ended_last_hour": sum(reasons.values()),
    }


RECENT_CHIPS = 6


def recently_ended(user, now=None):
    """The last few conversations that ended in the last hour; user=None means everyone's (the
    supervisors' view). A launch that never started is not one: History lists those."""
    now = now or timezone.now()
    conversations = Conversation.objects.all()
    if user is not None:
        conversations = conversations.visible_to(user)
    return (
        conversations.filter(status=Conversation.ENDED, ended_at__gte=now - timedelta(hours=1))
        .select_related("launched_by")
        .order_by("-ended_at")[:RECENT_CHIPS]
    )


def render(name: str, **context) -> str:
    return render_to_string(f"{PAGE}#{name}", {"oob": True, **context})


def _audiences(c: Conversation) -> tuple[str, str]:
    return (push.MONITOR_ALL, push.monitor_user_group(c.launched_by_id))


# The board and the "recently ended" strips sum up every conversation: in a burst of endings
# each is rendered at most this often (push.throttled), a single ending at once.
SUMMARY_EVERY = 0.5  # seconds


def tile_pushes(c: Conversation, *, launched: bool = False) -> Pushes:
    """A conversation changed state: its tile (or its move to "recently ended") and, when it
    was just launched or has ended, the board."""
    if c.is_live:
        html = render("tile", **tile_context(c))
        pushes = [(group, html) for group in _audiences(c)]
    else:
        gone = render("tile-gone", conversation=c)
        pushes = [(push.MONITOR_ALL, gone)]
        if c.launched_by_id:
            pushes.append((push.monitor_user_group(c.launched_by_id), gone))
        pushes += recent_pushes(c.launched_by if c.launched_by_id else None)
    # The board counts slot holders, launches and endings: only a launch or an end changes it.
    # Rendering it on every change cost ~40 % of a webhook; the alert pass refreshes it every
    # few seconds anyway, for the billed minutes.
    if launched or not c.is_live:
        pushes += push.throttled("board", lambda _: board_pushes(), SUMMARY_EVERY)
    return pushes


def recent_pushes(launcher) -> Pushes:
    """The "recently ended" strips: everyone's, and the launcher's own (it differs by who may
    see what: one render per audience)."""

    def everyone(_) -> Pushes:
        return [(push.MONITOR_ALL, render("recent", recent=recently_ended(None)))]

    pushes = push.throttled("recent", everyone, SUMMARY_EVERY)
    if launcher is not None:

        def theirs(_) -> Pushes:
            mine = render("recent", recent=recently_ended(launcher))
            return [(push.monitor_user_group(launcher.pk), mine)]

        pushes += push.throttled(f"recent-{launcher.pk}", theirs, SUMMARY_EVERY)
    return pushes


def board_pushes(now=None) -> Pushes:
    return [(push.MONITOR_BOARD, render("board", board=board(now)))]


def captions_pushes(c: Conversation) -> Pushes:
    html = render("tile-captions", conversation=c, captions=_captions(c))
    return [(group, html) for group in _audiences(c)]


def speaking_pushes(c: Conversation, role: str, on: bool) -> Pushes:
    html = render("tile-speaking", conversation=c, role=role, on=on)
    return [(group, html) for group in _audiences(c)]


def snapshot_html(user, now=None) -> str:
    """Everything a (re)connecting wall needs, so a dropped socket loses nothing."""
    now = now or timezone.now()
    return (
        render("board", board=board(now))
        + render("tiles", tiles=tiles_for(user, now))
        + render("recent", recent=recently_ended(user, now))
    )


def refresh_alerts(now=None) -> int:
    """Re-evaluate time-based alerts; publish and log only the ones that changed, and the
    board (billed minutes and "ended in the last hour" move with the clock)."""
    now = now or timezone.now()
    with Lease.turn(ALERTS_LEASE, settings.ALERT_INTERVAL, now) as mine:
        if not mine:
            return 0
        conversations = list(Conversation.objects.live())
        spoken = _last_spoken(conversations)
        recent = _recent_behaviour(conversations, now)
        pushes: Pushes = []
        changed = 0
        for c in conversations:
            found = alerts(c, now, spoken.get(c.pk), recent.get(c.pk, []))
            current = {a.code: a.text for a in found}
            if set(current) == set(c.alert_codes or []):
                continue
            for code in set(current) - set(c.alert_codes or []):
                c.record_event(
                    source=Event.STUDIO,
                    event_type="studio.alert",
                    dedupe_key=f"alert:{code}:{now.isoformat()}",
                    payload={"label": f"Alert: {current[code]}", "code": code},
                    occurred_at=now,
                )
            c._set(alert_codes=sorted(current))
            pushes += tile_pushes(c)
            changed += 1
        # Budgets at 80 % or 100 %: said once a month in the audit log and the server log; the
        # board below shows them for as long as they last.
        usage.warn_once(now)
        push.send(pushes + board_pushes(now))
        return changed
