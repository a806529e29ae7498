from datetime import timedelta

from django import template

register = template.Library()


@register.filter
def duration(value: timedelta | int | float | None) -> str:
    """12:05 for minutes and seconds, 1:02:05 past an hour."""
    if value is None:
        return "–"
    seconds = int(value.total_seconds() if isinstance(value, timedelta) else value)
    hours, rest = divmod(max(seconds, 0), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"
