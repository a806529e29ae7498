"""Review: what a conversation achieved, as a scorecard.

Two sources, both Tavus's:

- Objectives, read as studio.conversations.behaviour stores them: each objective event Tavus
  sends in the room (`conversation.objective.activated`, `.pending`, `.completed`) is an Event
  row of that type, the payload the envelope as received, `{"event_type": …, "properties":
  {"objective_name": "…", "output_variables": {"name": "value"}}}`; Tavus's objective callback
  (source "webhook", the same shape, or flat with the names at the top level, tavus-api-2.md
  §2.3) is read the same way. An objective's state is its latest event's, and a completion is
  never undone by a late "activated". A supervisor's yes to a pending objective is the studio's
  own `studio.objective_confirm` row (behaviour.confirm).
  What the conversation should have met comes from its persona's objectives, frozen at launch
  (Conversation.review_plan): the first steps, whatever a met step requires next, and any step
  Tavus said it started. A branch not taken is "not reached", never "not met".
- End-of-call perception answers. A persona's `perception_analysis_queries` shape the
  free-text analysis Tavus sends (`application.perception_analysis`); Tavus gives the answers no
  structure, so each question is found in the text and the words after it, up to the next
  question, are its answer. A question the text never repeats shows as answered only in the
  full analysis, which is always one click away.

`objectives_missed` on the conversation keeps the count of objectives it should have met and
did not, so the history can filter on it; the signals below keep it in step whoever stores an
objective event (the consumer, the webhook receiver, a test).
"""

import re
from dataclasses import dataclass, field

from django.db.models.signals import post_save

from studio.conversations.models import Conversation, Event, conversation_ended
from studio.tavus.events import OBJECTIVE_EVENTS

COMPLETED = "conversation.objective.completed"
PENDING = "conversation.objective.pending"
# A supervisor's yes to an objective waiting for one (written by behaviour.confirm).
CONFIRM = "studio.objective_confirm"
# States an objective the conversation should have met can end in without being met.
UNMET = ("not met", "in progress", "waits for a yes")


def _properties(payload) -> dict:
    if not isinstance(payload, dict):
        return {}
    props = payload.get("properties")
    return props if isinstance(props, dict) else payload


def _name(event: Event) -> str:
    name = _properties(event.payload).get("objective_name")
    return name.strip() if isinstance(name, str) else ""


@dataclass
class ObjectiveResult:
    name: str
    state: str  # "met", "not met", "not reached", "in progress" or "waits for a yes"
    outputs: list[tuple[str, str]] = field(default_factory=list)  # (variable, value)
    at: object = None  # when it was met
    source: str = ""  # "Tavus webhook" or "In-room event"
    note: str = ""  # why, in a few words, when that is not plain from the state

    @property
    def label(self) -> str:
        return self.name.replace("_", " ").capitalize()


@dataclass
class Answer:
    question: str
    answer: str  # "" when the analysis does not answer it on its own


@dataclass
class Scorecard:
    objectives: list[ObjectiveResult]
    answers: list[Answer]
    missed: int | None

    @property
    def met(self) -> int:
        return sum(1 for o in self.objectives if o.state == "met")

    @property
    def expected(self) -> int:
        return sum(1 for o in self.objectives if o.state == "met" or o.state in UNMET)

    def __bool__(self) -> bool:
        return bool(self.objectives or self.answers)


def _text(value) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return str(value)


@dataclass
class _Seen:
    """What the events say of one objective: its latest state and outputs."""

    kind: str
    event: Event
    outputs: dict
    confirmed_by: str | None = None


def _seen(events: list[Event]) -> dict[str, _Seen]:
    """Each objective Tavus spoke of, by its latest state (as behaviour.summary reads them)."""
    seen: dict[str, _Seen] = {}
    for event in events:
        if event.event_type == CONFIRM:
            name = event.payload.get("objective_name") if isinstance(event.payload, dict) else ""
            if name in seen:
                actor = event.actor.get_username() if event.actor_id and event.actor else ""
                seen[name].confirmed_by = actor or "a supervisor"
            continue
        if event.event_type not in OBJECTIVE_EVENTS or not (name := _name(event)):
            continue
        given = _properties(event.payload).get("output_variables")
        given = given if isinstance(given, dict) and given else {}
        now = seen.get(name)
        if now is not None and now.kind == COMPLETED:
            continue  # a late "activated" (or a second completion) never undoes the first
        seen[name] = _Seen(event.event_type, event, given or (now.outputs if now else {}))
    return seen


def objective_results(conversation: Conversation, events: list[Event]) -> list[ObjectiveResult]:
    """Every objective of the plan (and any other Tavus reported), met or not."""
    plan = [o for o in (conversation.review_plan or {}).get("objectives", []) if o.get("name")]
    seen = _seen(events)
    done = {name for name, s in seen.items() if s.kind == COMPLETED}
    led_to = {
        n for o in plan for n in [*o.get("next_required", []), *o.get("next_conditional", [])]
    }
    expected = {o["name"] for o in plan if o["name"] not in led_to} if plan else set()
    for o in plan:
        if o["name"] in done:
            expected.update(o.get("next_required", []))
    expected |= set(seen)
    planned = [o["name"] for o in plan]
    names = planned + [n for n in seen if n not in planned]
    declared = {o["name"]: o.get("outputs", []) for o in plan}
    live = conversation.is_live
    results = []
    for name in names:
        found = seen.get(name)
        given = found.outputs if found else {}
        keys = [*declared.get(name, []), *(k for k in given if k not in declared.get(name, []))]
        outputs = [(k, _text(given.get(k))) for k in keys] if given else []
        if found is not None and found.kind == COMPLETED:
            event = found.event
            results.append(
                ObjectiveResult(
                    name, "met", outputs, event.occurred_at, event.get_source_display()
                )
            )
        elif found is not None and found.kind == PENDING:
            if found.confirmed_by:
                note = f"{found.confirmed_by} said yes; Tavus never said it was done."
            else:
                note = "It waited for a supervisor's yes" + ("." if live else " that never came.")
            state = "waits for a yes" if live else "not met"
            results.append(ObjectiveResult(name, state, outputs, note=note))
        elif name in expected:
            results.append(ObjectiveResult(name, "in progress" if live else "not met"))
        else:
            note = "The conversation never got to this step."
            results.append(ObjectiveResult(name, "not reached", note=note))
    return results


def _pattern(question: str) -> re.Pattern:
    """The question as it may appear in the analysis: any case, any spacing, with or without
    markdown around or inside it, with or without its final question mark."""
    words = re.findall(r"\w+|[^\w\s]", question.strip().rstrip("?:. "))
    between = r"[\s*_#>`]*"
    return re.compile(between.join(re.escape(w) for w in words) + r"\s*\??", re.IGNORECASE)


_EDGE = re.compile(r"^[\s*_#>:\-–—.]+|[\s*_#>\-–—]+$")
# The next question's number ("\n2. **"), left at the end of an answer.
_TRAILING_NUMBER = re.compile(r"(?:\n|^)[\s*_#>]*\d+[.)][\s*_#>]*$")


def perception_answers(questions: list[str], analysis: str) -> list[Answer]:
    """Each question with the words the analysis gives after it (up to the next question)."""
    found = []
    for question in questions:
        match = _pattern(question).search(analysis or "")
        found.append((question, match))
    spans = sorted(m.start() for _, m in found if m)
    answers = []
    for question, match in found:
        if not match:
            answers.append(Answer(question, ""))
            continue
        end = next((s for s in spans if s > match.start()), len(analysis))
        text = analysis[match.end() : end]
        text = _TRAILING_NUMBER.sub("", text)
        answers.append(Answer(question, _EDGE.sub("", text).strip()))
    return answers


def _missed(results: list[ObjectiveResult]) -> int | None:
    if not results:
        return None
    return sum(1 for o in results if o.state in UNMET)


def scorecard(conversation: Conversation, events: list[Event]) -> Scorecard:
    questions = (conversation.review_plan or {}).get("questions", [])
    analysis = conversation.perception_analysis
    objectives = objective_results(conversation, events)
    return Scorecard(
        objectives=objectives,
        answers=perception_answers(questions, analysis) if questions and analysis else [],
        missed=_missed(objectives),
    )


def refresh_missed(conversation_id: int) -> None:
    """Recount a conversation's missed objectives from its events (kept for the filters)."""
    conversation = (
        Conversation.objects.only("pk", "status", "review_plan").filter(pk=conversation_id).first()
    )
    if conversation is None:
        return
    events = list(conversation.events.filter(event_type__in=OBJECTIVE_EVENTS))
    missed = _missed(objective_results(conversation, events))
    Conversation.objects.filter(pk=conversation_id).update(objectives_missed=missed)


def _event_saved(sender, instance, created, raw=False, **kwargs):
    if created and not raw and instance.event_type in OBJECTIVE_EVENTS:
        refresh_missed(instance.conversation_id)


def _conversation_ended(sender, conversation, **kwargs):
    # Ended: what was still in progress is now not met.
    if (conversation.review_plan or {}).get("objectives"):
        refresh_missed(conversation.pk)


post_save.connect(_event_saved, sender=Event, dispatch_uid="review-objective-event")
conversation_ended.connect(_conversation_ended, dispatch_uid="review-ended")
