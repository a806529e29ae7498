"""Tavus webhook bodies and in-room (Daily app-message) events, checked and typed.

Tavus runs two naming eras side by side (tavus-api.md §0): era B sends `system.pal_joined`
with `face_id` next to the legacy `system.replica_joined` with `replica_id`, and repeats
utterances with role `pal`. Everything here is normalised to the legacy names, so each fact is
stored once, and every event carries a `dedupe_key` to drop the twin and any redelivery.
"""

import hashlib
import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from studio.tavus.parse import clean_shutdown_reason, parse_timestamp


class EventError(ValueError):
    """An event we refuse; the message says exactly what is wrong with it."""


# --- Webhooks (tavus-api.md §5) ------------------------------------------------------------

EVENT_TYPE_ALIASES = {"system.pal_joined": "system.replica_joined"}
PROPERTY_ALIASES = {"face_id": "replica_id", "pal_id": "persona_id"}

# Each of these happens at most once per conversation, so type + conversation identifies it,
# whatever else differs between the twins. Anything else may repeat (one recording per start,
# one post-call action per tool), so its key also hashes what it says.
ONCE_PER_CONVERSATION = frozenset(
    {
        "system.replica_joined",
        "system.shutdown",
        "application.transcription_ready",
        "application.perception_analysis",
    }
)


@dataclass(frozen=True)
class WebhookEvent:
    conversation_id: str
    event_type: str
    original_event_type: str
    message_type: str
    timestamp: datetime | None
    properties: dict
    dedupe_key: str
    raw: dict = field(default_factory=dict, repr=False)

    @property
    def shutdown_reason(self) -> str | None:
        return clean_shutdown_reason(self.properties.get("shutdown_reason"))


def parse_webhook(data: Any) -> WebhookEvent:
    """A conversation callback body (a dict, or the raw JSON text) as a WebhookEvent."""
    data = _decode(data, keep_nul=True)
    conversation_id = _identifier(data, "conversation_id", limit=100)
    original = _identifier(data, "event_type")
    data = _clean(data)  # the names are clean; NUL elsewhere is dropped
    event_type = EVENT_TYPE_ALIASES.get(original, original)
    message_type = _optional_text(data, "message_type") or event_type.partition(".")[0]
    properties = _normalise_properties(_properties(data))
    if event_type in ONCE_PER_CONVERSATION:
        dedupe_key = f"{conversation_id}:{event_type}"
    else:
        dedupe_key = f"{conversation_id}:{event_type}:{_digest(properties)}"
    return WebhookEvent(
        conversation_id=conversation_id,
        event_type=event_type,
        original_event_type=original,
        message_type=message_type,
        timestamp=_timestamp(data),
        properties=properties,
        dedupe_key=dedupe_key,
        raw=data,
    )


# --- In-room events (tavus-api.md §6.2, §6.3) ----------------------------------------------

STREAMING = "conversation.utterance.streaming"
UTTERANCE = "conversation.utterance"

KNOWN_ROOM_EVENTS = frozenset(
    {
        UTTERANCE,
        STREAMING,
        "conversation.started_speaking",
        "conversation.stopped_speaking",
        "conversation.replica.started_speaking",
        "conversation.replica.stopped_speaking",
        "conversation.user.started_speaking",
        "conversation.user.stopped_speaking",
        "conversation.replica_interrupted",
        "conversation.tool_call",
        "conversation.perception_tool_call",
        "conversation.perception_analysis",
        "conversation.joined",
        "conversation.left",
        "conversation.objective.activated",
        "conversation.objective.completed",
        "conversation.objective.pending",
        # Tavus's app-message name for a triggered guardrail is UNCONFIRMED (tavus-api-2.md
        # §3.3); this is the one the sandbox sends.
        "conversation.guardrail.triggered",
        "system.replica_joined",
        "system.pal_joined",
    }
)

# The legacy speaking events carry the role in their name, not in properties.
_ROLE_FROM_TYPE = {
    "conversation.replica.started_speaking": "replica",
    "conversation.replica.stopped_speaking": "replica",
    "conversation.replica_interrupted": "replica",
    "conversation.user.started_speaking": "user",
    "conversation.user.stopped_speaking": "user",
}
ROLE_ALIASES = {"pal": "replica"}
# The speakers Tavus names in the room (tavus-api.md §6.3; era B's `pal` is the replica). A
# message naming anyone else did not come from Tavus's replica.
ROOM_ROLES = frozenset({"user", "replica"})


OBJECTIVE_EVENTS = frozenset(
    {
        "conversation.objective.activated",
        "conversation.objective.completed",
        "conversation.objective.pending",
    }
)
GUARDRAIL_TRIGGERED = "conversation.guardrail.triggered"
TOOL_CALL = "conversation.tool_call"


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: dict  # Tavus sends a JSON string; read here into an object
    tool_call_id: str | None


@dataclass(frozen=True)
class RoomEvent:
    conversation_id: str
    event_type: str
    role: str | None
    speech: str | None
    final: bool | None
    inference_id: str | None
    seq: int | None
    turn_idx: int | None
    timestamp: datetime | None
    properties: dict
    dedupe_key: str
    raw: dict = field(default_factory=dict, repr=False)

    @property
    def objective_name(self) -> str | None:
        """For objective events: which objective (activated, completed or awaiting a yes)."""
        return (
            self.properties.get("objective_name") if self.event_type in OBJECTIVE_EVENTS else None
        )

    @property
    def output_variables(self) -> dict:
        return self.properties.get("output_variables") or {}

    @property
    def guardrail_name(self) -> str | None:
        return (
            self.properties.get("guardrail_name")
            if self.event_type == GUARDRAIL_TRIGGERED
            else None
        )

    @property
    def tool_call(self) -> ToolCall | None:
        if self.event_type != TOOL_CALL:
            return None
        return ToolCall(
            name=self.properties["name"],
            arguments=_tool_arguments(self.properties.get("arguments")),
            tool_call_id=self.properties.get("tool_call_id"),
        )


def _tool_arguments(value: Any) -> dict:
    if value in (None, ""):
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise EventError("arguments is not valid JSON") from None
    if not isinstance(value, dict):
        raise EventError("arguments must be a JSON object")
    return value


def _check_behaviour(event_type: str, properties: dict) -> None:
    """Objective, guardrail and tool-call events must carry what makes them useful."""
    if event_type in OBJECTIVE_EVENTS:
        _required_text(properties, "objective_name")
        outputs = properties.get("output_variables")
        if outputs is not None and not isinstance(outputs, dict):
            raise EventError("output_variables must be an object")
    elif event_type == GUARDRAIL_TRIGGERED:
        _required_text(properties, "guardrail_name")
    elif event_type == TOOL_CALL:
        _required_text(properties, "name")
        _tool_arguments(properties.get("arguments"))
        _optional_text(properties, "tool_call_id")


def parse_room_event(data: Any, conversation_id: str | None = None) -> RoomEvent:
    """A Tavus app-message payload (Daily's `event.data`) as a RoomEvent.

    Pass `conversation_id` when the caller knows which room the message came from: a payload
    naming another conversation is refused, so one room's browser cannot write into another.
    """
    data = _decode(data)
    # Accept Daily's whole app-message event too, not just its `data`.
    if data.get("action") == "app-message" and "data" in data:
        data = _decode(data["data"])
    original = _required_text(data, "event_type")
    if original not in KNOWN_ROOM_EVENTS:
        raise EventError(f"unknown event_type {original!r}")
    event_type = EVENT_TYPE_ALIASES.get(original, original)
    message_type = data.get("message_type")
    if message_type is None:
        raise EventError("missing message_type")
    # §6.3 reports system.* join events also broadcast in-call, with their own message_type.
    allowed = {"conversation", "system"} if event_type.startswith("system.") else {"conversation"}
    if message_type not in allowed:
        raise EventError('message_type must be "conversation"')

    sent_id = _optional_text(data, "conversation_id")
    if conversation_id and sent_id and sent_id != conversation_id:
        raise EventError("conversation_id does not match this conversation")
    conversation_id = sent_id or conversation_id
    if not conversation_id:
        raise EventError("missing conversation_id")

    properties = _normalise_properties(_properties(data))
    _check_behaviour(event_type, properties)
    role = _optional_text(properties, "role") or _ROLE_FROM_TYPE.get(event_type)
    role = ROLE_ALIASES.get(role, role) if role else None
    if role:
        if role not in ROOM_ROLES:
            raise EventError(f"unknown role {role[:20]!r}: Tavus's speakers are user and replica")
        properties["role"] = role
    speech = _optional_text(properties, "speech")
    final = _optional_bool(properties, "final")
    if event_type == STREAMING:
        final = bool(final)
    elif event_type == UTTERANCE:
        final = True  # a whole utterance is, by definition, finished text
    # Tavus puts inference_id at the top level; some payloads repeat it in properties.
    inference_id = _optional_text(data, "inference_id") or _optional_text(
        properties, "inference_id"
    )
    seq = _optional_int(data, "seq")

    if event_type == UTTERANCE and inference_id:
        # One utterance per role per inference. Checked before seq because era B's `pal`
        # twin of a `replica` utterance may carry its own seq.
        dedupe_key = f"{conversation_id}:{inference_id}:{role}:{event_type}"
    elif seq is not None:
        dedupe_key = f"{conversation_id}:seq:{seq}"
    elif inference_id:
        dedupe_key = f"{conversation_id}:{inference_id}:{role}:{event_type}"
    else:
        dedupe_key = f"{conversation_id}:{event_type}:{_digest(properties)}"

    return RoomEvent(
        conversation_id=conversation_id,
        event_type=event_type,
        role=role,
        speech=speech,
        final=final,
        inference_id=inference_id,
        seq=seq,
        turn_idx=_optional_int(data, "turn_idx"),
        timestamp=_timestamp(data),
        properties=properties,
        dedupe_key=dedupe_key,
        raw=data,
    )


# --- Interactions we send (tavus-api.md §6.4) ----------------------------------------------

# The properties each interaction cannot do without.
INTERACTIONS: dict[str, tuple[str, ...]] = {
    "conversation.echo": (),  # text or audio, checked below
    "conversation.respond": ("text",),
    "conversation.interrupt": (),
    "conversation.overwrite_llm_context": ("context",),
    "conversation.append_llm_context": ("context",),
    "conversation.sensitivity": (),
    "conversation.tool_result": ("tool_call_id",),
    # Manual confirmation of an objective; payload UNCONFIRMED (tavus-api-2.md §2.2).
    "conversation.objective.confirm": ("objective_name",),
}


def app_message_length(envelope: Any) -> int:
    """An app-message's size as daily-js counts it: JSON.stringify(data).length, in UTF-16
    code units (dist/daily.js, sendAppMessage), so a Hindi or Japanese caption is not
    charged three bytes a character. Daily refuses one over 4,096."""
    text = json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))
    return len(text.encode("utf-16-le")) // 2


def build_interaction(event_type: str, conversation_id: str, **properties: Any) -> dict:
    """The app-message payload for one interaction, e.g. ("conversation.respond", id, text=...)."""
    if event_type not in INTERACTIONS:
        raise EventError(f"unknown interaction {event_type!r}")
    if not isinstance(conversation_id, str) or not conversation_id:
        raise EventError("missing conversation_id")
    for name in INTERACTIONS[event_type]:
        if properties.get(name) in (None, ""):
            raise EventError(f"{event_type} needs {name}")
    # An audio echo's closing chunk (done=True) may be empty, so only the key is required.
    if event_type == "conversation.echo" and not ("text" in properties or "audio" in properties):
        raise EventError("conversation.echo needs text or audio")
    return {
        "message_type": "conversation",
        "event_type": event_type,
        "conversation_id": conversation_id,
        "properties": properties,
    }


# --- Shared checks -------------------------------------------------------------------------


# Deeper than any event Tavus documents by far; deeper still would overflow Python's stack while
# parsing, storing or hashing it.
MAX_DEPTH = 32


def _refuse_constant(name: str):
    raise EventError(f"{name} is not a JSON number")


def _decode(data: Any, keep_nul: bool = False) -> dict:
    """The event as a dict of plain JSON: strict JSON text (no NaN or Infinity), at most
    MAX_DEPTH levels deep, and without NUL characters in its strings (which no database stores
    in text, and which carry no meaning in an event); keep_nul leaves them for the caller to
    refuse in names first."""
    if isinstance(data, bytes | str):
        try:
            data = json.loads(data, parse_constant=_refuse_constant)
        except RecursionError:
            raise EventError(f"nested more than {MAX_DEPTH} levels deep") from None
        except EventError:
            raise
        except ValueError:
            raise EventError("body is not valid JSON") from None
    if not isinstance(data, dict):
        raise EventError("event must be a JSON object")
    return _clean(data, keep_nul=keep_nul)


def _clean(value: Any, depth: int = 0, keep_nul: bool = False) -> Any:
    if depth > MAX_DEPTH:
        raise EventError(f"nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, str):
        return value if keep_nul else value.replace("\x00", "")
    if isinstance(value, float) and not math.isfinite(value):
        raise EventError("NaN and Infinity are not JSON numbers")
    if isinstance(value, dict):
        return {
            _clean(k, depth + 1, keep_nul): _clean(v, depth + 1, keep_nul)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_clean(item, depth + 1, keep_nul) for item in value]
    return value


def _required_text(data: dict, key: str) -> str:
    if key not in data or data[key] is None:
        raise EventError(f"missing {key}")
    value = data[key]
    if not isinstance(value, str):
        raise EventError(f"{key} must be a string")
    if not value.strip():
        raise EventError(f"{key} is empty")
    return value


def _identifier(data: dict, key: str, limit: int = 80) -> str:
    """A name such as an event type: short, printable, no spaces (Tavus's are all dotted words)."""
    value = _required_text(data, key)
    if len(value) > limit or not value.isprintable() or " " in value:
        raise EventError(f"{key} must be a short name without spaces (at most {limit} characters)")
    return value


def _optional_text(data: dict, key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise EventError(f"{key} must be a string")
    return value


def _optional_int(data: dict, key: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise EventError(f"{key} must be a whole number")
    return value


def _optional_bool(data: dict, key: str) -> bool | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise EventError(f"{key} must be true or false")
    return value


def _properties(data: dict) -> dict:
    value = data.get("properties")
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise EventError("properties must be an object")
    return value


def _normalise_properties(properties: dict) -> dict:
    result = dict(properties)
    for alias, name in PROPERTY_ALIASES.items():
        if alias in result:
            value = result.pop(alias)
            result.setdefault(name, value)
    return result


def _timestamp(data: dict) -> datetime | None:
    # Webhooks send ISO-8601 text, room events Unix seconds: both are fine, garbage is not.
    value = data.get("timestamp")
    if value is None:
        return None
    moment = parse_timestamp(value)
    if moment is None:
        raise EventError("timestamp is not a date")
    return moment


def _digest(properties: dict) -> str:
    text = json.dumps(properties, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# --- Knowledge-base document callbacks (tavus-api-2.md §1.2, §1.3) ------------------------------

DOCUMENT_STATUSES = frozenset({"started", "processing", "ready", "error", "recrawling"})


@dataclass(frozen=True)
class DocumentStatus:
    document_id: str
    status: str
    error_message: str
    raw: dict = field(default_factory=dict, repr=False)

    @property
    def finished(self) -> bool:
        return self.status in ("ready", "error")


def parse_document_callback(data: Any) -> DocumentStatus:
    """A document's status callback. Its shape is UNCONFIRMED, so every plausible one is read:
    the document object itself (what GET returns), the same wrapped in `data`, or an envelope
    carrying it in `properties` (as conversation webhooks do). The id may be `document_id`,
    `uuid` or `id`."""
    data = _decode(data)
    body = data
    for key in ("properties", "data"):
        if isinstance(data.get(key), dict):
            body = {**data, **data[key]}
            break
    document_id = next(
        (
            body[k]
            for k in ("document_id", "uuid", "id")
            if isinstance(body.get(k), str) and body[k]
        ),
        None,
    )
    if document_id is None:
        raise EventError("missing document_id")
    status = _required_text(body, "status").strip().lower()
    if status not in DOCUMENT_STATUSES:
        raise EventError(f"unknown document status {status!r}")
    return DocumentStatus(
        document_id=document_id,
        status=status,
        error_message=_optional_text(body, "error_message") or "",
        raw=data,
    )
