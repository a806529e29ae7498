"""Effective settings: exactly what launching a preset sends to Tavus, and what it means.

One function feeds both the preset editor's preview and the launch page, so what staff read is
what Tavus gets. The launch code adds `callback_url` and tags `conversation_name` itself.
"""

import copy
import json
from dataclasses import dataclass, field
from datetime import timedelta

from django.utils import timezone
from django.utils.text import Truncator

from studio.library.models import Persona, Replica
from studio.presets import placeholders
from studio.presets.validators import mask_role_arn

OVERRIDABLE = ("custom_greeting", "conversational_context", "language", "conversation_name")
S3_FIELDS = ("recording_s3_bucket_name", "recording_s3_bucket_region", "aws_assume_role_arn")
# Tavus's own default, and the point past which an unopened link costs real money.
LONG_ABSENT_TIMEOUT = 300
# Less than this and the person can hardly open the link before the call ends (seconds typed
# where minutes were meant, usually).
SHORT_ABSENT_TIMEOUT = 60
# A face not checked against Tavus for this long may have changed or gone.
STALE_AFTER = timedelta(days=7)


@dataclass
class EffectiveSettings:
    body: dict
    redacted_body: dict
    summary: list[str]
    warnings: list[str]
    face: Replica | None
    billable_seconds: int
    # The warnings that make Tavus refuse the launch outright (a subset of `warnings`).
    blockers: list[str] = field(default_factory=list)
    persona: Persona | None = None
    # True when the face comes from the persona's default rather than the preset.
    face_is_default: bool = False
    # Memories on, but no person given yet: the key is added at launch.
    remembers: bool = False
    # What the replica is told, and who contributes each part: (where it comes from, text).
    prompt_parts: list[tuple[str, str]] = field(default_factory=list)

    @property
    def json(self) -> str:
        """The redacted body as shown to people."""
        return json.dumps(self.redacted_body, indent=2, ensure_ascii=False)


def describe_seconds(seconds: int) -> str:
    """60 → "1 minute", 90 → "1 minute 30 seconds", 3600 → "1 hour"."""
    if seconds <= 0:
        return "0 seconds"
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return f"{hours} hour{'s' if hours != 1 else ''}"
    minutes, rest = divmod(seconds, 60)
    parts = []
    if minutes:
        parts.append(f"{minutes} minute{'s' if minutes != 1 else ''}")
    if rest:
        parts.append(f"{rest} second{'s' if rest != 1 else ''}")
    return " ".join(parts)


def _people(count: int) -> str:
    return f"{count} {'person' if count == 1 else 'people'}"


def _clean_overrides(overrides: dict | None) -> dict:
    clean = {}
    for key, value in (overrides or {}).items():
        if key not in OVERRIDABLE or value is None:
            continue
        value = str(value).strip()
        if value:
            clean[key] = value
    return clean


def _documents_of(preset) -> list:
    """The preset's chosen documents, including choices not saved yet (the editor's preview)."""
    chosen = getattr(preset, "chosen_documents", None)
    if chosen is not None:
        return list(chosen)
    return list(preset.documents.all()) if preset.pk else []


def build_effective(
    preset,
    overrides: dict | None = None,
    person: str = "",
    person_label: str = "",
    details: dict | None = None,
) -> EffectiveSettings:
    """`person` (who the conversation is with) is needed only for memories: without it no
    memory store is sent, so a conversation never shares one person's memories with another.
    `person_label` names them in the summary ("you", "anna@example.com").

    `details` fills the greeting's and context's placeholders ({name}, {role}, the preset's
    own fields; placeholders.py): None for a preview, which shows examples; a dict for a real
    launch or link, where a detail that is used but has no value blocks it."""
    overrides = _clean_overrides(overrides)
    persona = preset.persona
    face = preset.face

    greeting = overrides.get("custom_greeting", preset.custom_greeting).strip()
    # A greeting written at launch replaces the AI's dynamic one: Tavus gets one or the other.
    dynamic = preset.dynamic_greeting and "custom_greeting" not in overrides
    if dynamic:
        greeting = ""
    context = overrides.get("conversational_context", preset.conversational_context)
    language = overrides.get("language", preset.language).strip().lower()
    name = overrides.get("conversation_name") or preset.conversation_name or preset.name
    greeting, context, detail_lines, detail_blockers = _fill_details(
        preset, greeting, context, details
    )
    seconds = preset.max_call_seconds
    recording_target = {
        key: getattr(preset, key) for key in S3_FIELDS if getattr(preset, key).strip()
    }

    properties = {
        "max_call_duration": seconds,
        "participant_left_timeout": preset.participant_left_timeout,
        "participant_absent_timeout": preset.participant_absent_timeout,
        "language": language,
        "apply_greenscreen": preset.apply_greenscreen,
        "enable_closed_captions": preset.enable_closed_captions,
        "enable_recording": preset.enable_recording,
    }
    if preset.enable_recording:
        properties.update(recording_target)

    body: dict = {"persona_id": persona.persona_id}
    if preset.replica_id:
        body["replica_id"] = preset.replica.replica_id
    body["conversation_name"] = name
    body["conversational_context"] = context
    if greeting:
        body["custom_greeting"] = greeting
    if dynamic:
        body["enable_dynamic_greeting"] = True
    body["audio_only"] = preset.audio_only
    body["test_mode"] = preset.test_mode
    body["require_auth"] = preset.require_auth
    if preset.max_participants:
        body["max_participants"] = preset.max_participants
    documents = _documents_of(preset)
    document_ids = [d.document_id for d in documents if d.document_id]
    if document_ids:
        body["document_ids"] = document_ids
    if preset.document_tags:
        body["document_tags"] = list(preset.document_tags)
    uses_knowledge = bool(document_ids or preset.document_tags)
    uses_knowledge = uses_knowledge or bool(persona.document_ids or persona.document_tags)
    if uses_knowledge:
        body["document_retrieval_strategy"] = preset.document_retrieval_strategy or "balanced"
    if preset.remember_people and person:
        body["memory_stores"] = [preset.memory_store_for(person)]
    body["properties"] = properties

    redacted = copy.deepcopy(body)
    if "aws_assume_role_arn" in redacted["properties"]:
        arn = redacted["properties"]["aws_assume_role_arn"]
        redacted["properties"]["aws_assume_role_arn"] = mask_role_arn(arn)

    summary = _summary(preset, face, greeting, dynamic, context, language, seconds)
    summary += detail_lines
    summary += _knowledge_summary(preset, persona, documents, uses_knowledge, face, person_label)
    warnings, blockers = _warnings(preset, face, seconds, len(recording_target))
    warnings += detail_blockers
    blockers += detail_blockers
    unknown = placeholders.unknown_in([greeting, context], preset.person_fields)
    if unknown:
        braces = ", ".join(f"{{{name}}}" for name in unknown)
        warnings.append(
            f"{braces} is not a detail this preset asks for, so it is sent exactly as typed. "
            "Add it under “Details each person brings”, or remove the braces."
        )
    warnings += _knowledge_warnings(preset, persona, documents, uses_knowledge, language)
    return EffectiveSettings(
        body=body,
        redacted_body=redacted,
        summary=summary,
        warnings=warnings,
        face=face,
        billable_seconds=0 if preset.test_mode else seconds,
        blockers=blockers,
        persona=persona,
        face_is_default=face is not None and not preset.replica_id,
        remembers=preset.remember_people and "memory_stores" not in body,
        prompt_parts=prompt_parts(persona, context),
    )


def _fill_details(preset, greeting, context, details) -> tuple[str, str, list[str], list[str]]:
    """The greeting and context with the person's details filled in; the summary's line about
    them, and what is missing (blockers). A preview (details=None) fills in examples."""
    declared = preset.person_fields
    used = placeholders.used_in([greeting, context], declared)
    if not used:
        return greeting, context, [], []
    words = _joined([f"{{{name}}}" for name in used])
    if details is None:
        values = {name: placeholders.example(name) for name in used}
        shown = ", ".join(values[name] for name in used)
        lines = [f"Fills in {words} for each person (shown here with examples: {shown})"]
        missing = []
    else:
        values = {name: placeholders.clean_value(details.get(name)) for name in used}
        lines = [f"Fills in {words} for this person"]
        missing = [
            f"No {placeholders.label(name).lower()} given for this person: the greeting or "
            f"context says {{{name}}}."
            for name in used
            if not values[name]
        ]
    fill = placeholders.fill
    return fill(greeting, values, declared), fill(context, values, declared), lines, missing


def prompt_parts(persona, context: str) -> list[tuple[str, str]]:
    """The instructions the replica's language model starts from, in Tavus's order (the
    persona's system prompt and context, then the conversation's context), each with where it
    comes from: a stock persona's part is Tavus's text, not the team's."""
    owner = (
        f"the stock persona “{persona}” (Tavus's own words)"
        if persona.is_stock
        else (f"the persona “{persona}”")
    )
    parts = []
    if persona.system_prompt.strip():
        parts.append((f"Instructions from {owner}", persona.system_prompt.strip()))
    if persona.context.strip():
        parts.append((f"Background from {owner}", persona.context.strip()))
    if context.strip():
        parts.append(("Context added by this preset (or at launch)", context.strip()))
    return parts


def _summary(preset, face, greeting, dynamic, context, language, seconds) -> list[str]:
    from studio.tavus.languages import LANGUAGES

    lines = []
    if preset.test_mode:
        lines.append("Dry run: no replica joins, nothing billed")
    lines.append(f"Can run for up to {describe_seconds(seconds)} (billed while it runs)")
    lines.append(
        f"Ends {describe_seconds(preset.participant_absent_timeout)} after launch if nobody joins"
        if preset.participant_absent_timeout
        else "Doesn't wait for anyone to join"
    )
    if preset.participant_left_timeout:
        left = describe_seconds(preset.participant_left_timeout)
        lines.append(f"Ends {left} after the last person leaves")
    else:
        lines.append("Keeps running after everyone leaves, until the time limit")
    if preset.require_auth:
        lines.append("Only people with the private link can join")
    else:
        lines.append("Anyone with the link can join")
    if preset.max_participants:
        lines.append(f"Up to {_people(preset.max_participants - 1)} plus the replica")
    if language == "multilingual":
        lines.append("Detects the language people speak and answers in it")
    else:
        label = dict(LANGUAGES).get(language, language.title())
        lines.append(f"Speaks {label}")
    if greeting:
        lines.append(f"Opens with: “{Truncator(greeting).chars(90)}”")
    elif dynamic:
        lines.append("Opens with a greeting the AI writes for the moment")
    else:
        lines.append("Opens with the persona's usual greeting")
    if context.strip():
        words = len(context.split())
        lines.append(f"Adds {words} word{'s' if words != 1 else ''} of context for this call")
    if preset.audio_only:
        lines.append("Voice only: the replica's video is not shown")
    elif preset.background == preset.Background.GREEN:
        lines.append("Green screen behind the replica, ready to key out")
    elif preset.background == preset.Background.IMAGE:
        lines.append("Your picture behind the replica on the participant's page")
    if preset.enable_closed_captions:
        lines.append("Shows live captions")
    if preset.enable_recording:
        if preset.recording_s3_bucket_name:
            region = preset.recording_s3_bucket_region or "region not set"
            lines.append(
                f"Can be recorded to the S3 bucket “{preset.recording_s3_bucket_name}” ({region})"
            )
        else:
            lines.append("Recording is allowed")
    return lines


def _warnings(preset, face, seconds, s3_fields_set) -> tuple[list[str], list[str]]:
    persona = preset.persona
    warnings: list[str] = []
    blockers: list[str] = []

    def block(text: str) -> None:
        warnings.append(text)
        blockers.append(text)

    if persona.vanished:
        block(f"The persona “{persona}” is no longer at Tavus, so Tavus will refuse to start.")
    if face is None:
        if persona.default_replica_id:
            warnings.append(
                f"The persona's default face ({persona.default_replica_id}) isn't in the "
                "library. Sync the library to check that it still exists."
            )
        else:
            block(
                f"The persona “{persona}” has no default face and no replica is chosen, "
                "so Tavus will refuse to start. Pick a face."
            )
    elif face.vanished:
        block(f"The face “{face}” is no longer at Tavus, so launching will fail. Pick another.")
    elif face.status == Replica.Status.TRAINING:
        block(f"The face “{face}” is still training: it can't join until it's ready.")
    elif face.status == Replica.Status.ERROR:
        block(f"The face “{face}” failed training at Tavus and can't join. Pick another.")
    elif face.synced_at and timezone.now() - face.synced_at > STALE_AFTER:
        days = (timezone.now() - face.synced_at).days
        warnings.append(
            f"The face “{face}” was last checked with Tavus {days} days ago. "
            "Sync the library to be sure it is still there."
        )
    if preset.enable_recording and s3_fields_set < len(S3_FIELDS):
        warnings.append(
            "Recording is on but the S3 bucket, region and role are not all set, "
            "so Tavus has nowhere to save it."
        )
    if preset.audio_only and preset.background != preset.Background.NONE:
        warnings.append(
            "Voice only, yet a background is chosen: nobody sees the replica, so nothing "
            "appears behind it."
        )
    if not preset.test_mode:
        if 0 < preset.participant_absent_timeout < SHORT_ABSENT_TIMEOUT:
            warnings.append(
                f"Ends {describe_seconds(preset.participant_absent_timeout)} after launch if "
                "nobody joins: hardly time to open the link. Did you mean minutes? "
                "Tavus's usual wait is 5 minutes (300 seconds)."
            )
        if preset.participant_left_timeout == 0:
            warnings.append(
                "No participant-left timeout: the call keeps running and billing after "
                f"everyone leaves, until the max duration ({describe_seconds(seconds)})."
            )
        if preset.participant_absent_timeout > LONG_ABSENT_TIMEOUT:
            warnings.append(
                f"Waits {describe_seconds(preset.participant_absent_timeout)} for someone to "
                "join: a link nobody opens keeps billing that long."
            )
    if preset.require_auth:
        warnings.append(
            "Private room: the participant link carries its own access pass, so anyone you "
            "share that link with can join. Share it only with the person meant to join."
        )
    return warnings, blockers


STRATEGY_WORDS = {
    "speed": "looking quickly rather than deeply",
    "balanced": "balancing speed and depth",
    "quality": "looking as thoroughly as it can",
}


def _names(items, limit: int = 3) -> str:
    names = [f"“{item}”" for item in items]
    if len(names) > limit:
        names = [*names[:limit], f"{len(items) - limit} more"]
    return _joined(names)


def _joined(words: list[str]) -> str:
    """["a", "b", "c"] → "a, b and c"."""
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _knowledge_summary(preset, persona, documents, uses_knowledge, face, person="") -> list[str]:
    lines = []
    if uses_knowledge:
        parts = []
        if documents:
            parts.append(_names(documents))
        if preset.document_tags:
            tags = ", ".join(f"“{t}”" for t in preset.document_tags)
            parts.append(f"every document tagged {tags}")
        if persona.document_ids or persona.document_tags:
            parts.append("the persona's own documents")
        strategy = STRATEGY_WORDS.get(preset.document_retrieval_strategy, "")
        lines.append(f"Looks things up in {' and '.join(parts)}, {strategy}")
    if preset.remember_people:
        who = face.name if face is not None and face.name else "The replica"
        if person == "you":
            whom, whose = "you", "yours"
        else:
            whom, whose = (person, "theirs") if person else ("this person", "this person's")
        lines.append(
            f"{who} will remember earlier conversations with {whom} (and only {whose}) as the "
            f"“{persona}” persona"
        )
    return lines


def _knowledge_warnings(preset, persona, documents, uses_knowledge, language) -> list[str]:
    from studio.knowledge.models import Document

    warnings = []
    known = {
        d.document_id: d for d in Document.objects.filter(document_id__in=persona.document_ids)
    }
    for document in [*documents, *known.values()]:
        if document.vanished:
            warnings.append(
                f"The document “{document}” is no longer at Tavus: nothing in it can be found."
            )
        elif document.status == Document.Status.ERROR:
            warnings.append(
                f"Tavus could not read the document “{document}”, so the replica "
                "can't use it. See Knowledge."
            )
        elif document.status != Document.Status.READY:
            warnings.append(
                f"The document “{document}” is not ready yet (Tavus is still "
                "reading it): until it is, the replica can't use it."
            )
    if uses_knowledge and language != "english":
        warnings.append(
            "The knowledge base works in English only: in conversations in other languages "
            "the replica may not find answers in the documents."
        )
    return warnings
