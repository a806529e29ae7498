from datetime import timedelta

from django import template

from studio.conversations.models import clock_text, whole_seconds

register = template.Library()


@register.filter
def duration(value: timedelta | int | float | None) -> str:
    """12:05 for minutes and seconds, 1:02:05 past an hour."""
    if value is None:
        return "–"
    return clock_text(whole_seconds(value) if isinstance(value, timedelta) else int(value))
