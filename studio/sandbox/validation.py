"""Request checks for the sandbox API, mirroring what Tavus rejects.

Plain functions rather than Django Forms on purpose: Tavus checks JSON *types* ("60" is not a
duration, 1 is not a boolean), while form fields coerce strings into numbers and booleans. Every
failure raises ApiError with the status and body Tavus would send.
"""

import json
from urllib.parse import urlsplit

from django.conf import settings

from studio.sandbox.host import host

# shared/tavus-api.md §8: full language names (era B list plus era A's "filipino"), and
# "multilingual" for automatic detection. Compared case-insensitively.
_LANGUAGE_NAMES = """
    english french german spanish portuguese chinese japanese hindi italian korean dutch polish
    russian swedish turkish tagalog bulgarian romanian arabic czech greek finnish croatian malay
    slovak danish tamil ukrainian hungarian norwegian vietnamese bengali thai hebrew georgian
    indonesian telugu gujarati kannada malayalam marathi punjabi filipino multilingual
"""
LANGUAGES = frozenset(_LANGUAGE_NAMES.split())
MAX_CALL_DURATION = 3600
MAX_TIMEOUT = 86400
MAX_TEXT = 20_000


class ApiError(Exception):
    def __init__(self, status: int, body: dict):
        super().__init__(body)
        self.status = status
        self.body = body


def invalid(message: str) -> ApiError:
    return ApiError(400, {"error": message})


def json_object(raw: bytes) -> dict:
    """The request body as a JSON object, or 400."""
    try:
        data = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise invalid("Invalid request body: it must be JSON.") from None
    if not isinstance(data, dict):
        raise invalid("Invalid request body: it must be a JSON object.")
    return data


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _string(data: dict, key: str, label: str | None = None, limit: int = MAX_TEXT) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise invalid(f"Invalid {label or key}: must be a string.")
    return value


def _boolean(data: dict, key: str, label: str | None = None) -> bool | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise invalid(f"Invalid {label or key}: must be true or false.")
    return value


def _string_list(data: dict, key: str) -> list[str] | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise invalid(f"Invalid {key}: must be a list of strings.")
    return value


def _seconds(props: dict, key: str, low: int, high: int) -> int | None:
    value = props.get(key)
    if value is None:
        return None
    if not _is_int(value) or not low <= value <= high:
        raise invalid(
            f"Invalid properties.{key}: must be a whole number of seconds from {low} to {high}."
        )
    return value


def _url(data: dict, key: str) -> str:
    value = _string(data, key, limit=1000) or ""
    if value:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise invalid(f"Invalid {key}: must be an http(s) URL.")
    return value


def callback_url(data: dict, key: str = "callback_url") -> str:
    """A callback URL the sandbox may call: only the studio it serves (SANDBOX_CALLBACK_PREFIXES).

    Stricter than Tavus on purpose: real Tavus posts anywhere, but a sandbox inside a studio
    that posts anywhere would let whoever reaches it make the studio's server send requests
    to any address (server-side request forgery)."""
    value = _url(data, key)
    allowed = settings.SANDBOX_CALLBACK_PREFIXES or [host().public_url + "/hooks/"]
    if value and not any(value.startswith(prefix) for prefix in allowed):
        raise invalid(
            f"Invalid {key}: the sandbox only calls back the studio it belongs to "
            f"({', '.join(allowed)})."
        )
    return value


def _alias(data: dict, legacy: str, era_b: str) -> None:
    """Accept the era-B name for a field (pal_id for persona_id...); the legacy one wins."""
    if data.get(legacy) is None and data.get(era_b) is not None:
        data[legacy] = data[era_b]


def conversation(body: dict) -> dict:
    """Check a POST /v2/conversations body; returns it with aliases folded in."""
    data = dict(body)
    _alias(data, "replica_id", "face_id")
    _alias(data, "persona_id", "pal_id")
    for key in ("replica_id", "persona_id", "conversation_name"):
        _string(data, key, limit=300)
    for key in ("custom_greeting", "conversational_context"):
        _string(data, key)
    callback_url(data)
    for key in ("audio_only", "test_mode", "require_auth", "enable_dynamic_greeting"):
        _boolean(data, key)
    for key in ("memory_stores", "document_ids", "document_tags"):
        _string_list(data, key)
    strategy = data.get("document_retrieval_strategy")
    if strategy is not None and strategy not in ("speed", "quality", "balanced"):
        raise invalid("Invalid document_retrieval_strategy: use speed, quality or balanced.")
    participants = data.get("max_participants")
    if participants is not None and (not _is_int(participants) or participants < 2):
        raise invalid("Invalid max_participants: must be a whole number of at least 2.")

    props = data.get("properties")
    if props is None:
        props = {}
    if not isinstance(props, dict):
        raise invalid("Invalid properties: must be an object.")
    _seconds(props, "max_call_duration", 1, MAX_CALL_DURATION)
    _seconds(props, "participant_left_timeout", 0, MAX_TIMEOUT)
    _seconds(props, "participant_absent_timeout", 0, MAX_TIMEOUT)
    for key in ("enable_recording", "enable_closed_captions", "apply_greenscreen"):
        _boolean(props, key, f"properties.{key}")
    for key in ("recording_s3_bucket_name", "recording_s3_bucket_region", "aws_assume_role_arn"):
        _string(props, key, f"properties.{key}", limit=300)
    language = _string(props, "language", "properties.language", limit=100)
    if language is not None and language.strip().lower() not in LANGUAGES:
        raise invalid(
            f"Invalid properties.language: {language!r} is not a supported language. Use the "
            'full language name, e.g. "english" or "spanish", or "multilingual".'
        )
    data["properties"] = props
    return data


PERSONA_READ_ONLY = ("persona_id", "persona_type", "created_at", "updated_at")


def persona(body: dict) -> dict:
    """Check a persona document (create body, or the result of a JSON Patch).

    Returns the document as stored: every field except the id, type and timestamps.
    """
    data = dict(body)
    _alias(data, "persona_name", "pal_name")
    _alias(data, "default_replica_id", "default_face_id")
    for key in ("pal_name", "default_face_id", "pal_id", *PERSONA_READ_ONLY):
        data.pop(key, None)
    _string(data, "persona_name", limit=200)
    for key in ("system_prompt", "context"):
        _string(data, key)
    _string(data, "default_replica_id", limit=40)
    mode = data.setdefault("pipeline_mode", "full")
    if mode not in ("full", "echo"):
        raise invalid("Invalid pipeline_mode: use full or echo.")
    if mode == "full" and not data.get("system_prompt"):
        raise invalid("system_prompt is required when pipeline_mode is full.")
    for key in ("document_ids", "document_tags"):
        _string_list(data, key)
    layers = data.get("layers")
    if layers is not None and not isinstance(layers, dict):
        raise invalid("Invalid layers: must be an object.")
    return data
