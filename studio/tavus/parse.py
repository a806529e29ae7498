"""Reading Tavus's values: the small parsers the API client and the event parsers share."""

from datetime import UTC, datetime
from typing import Any


def parse_timestamp(value: Any) -> datetime | None:
    """ISO-8601 text (with `Z`) or Unix seconds as an aware UTC datetime; None if unreadable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    # Tavus writes UTC; some older payloads drop the zone marker.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def clean_shutdown_reason(value: Any) -> str | None:
    """A shutdown reason by its bare name ("max_call_duration"), or None when there is none.

    The docs list "max_call_duration reached" but their examples send the bare name; the webhook,
    the verbose GET and the stored events are all read through here."""
    if not isinstance(value, str) or not value:
        return None
    return value.removesuffix(" reached")
