import re
from datetime import timedelta
from itertools import groupby

from django import template
from django.utils.html import escape
from django.utils.safestring import mark_safe

from studio.conversations.models import clock_text, whole_seconds

register = template.Library()


@register.filter
def duration(value: timedelta | int | float | None) -> str:
    """12:05 for minutes and seconds, 1:02:05 past an hour."""
    if value is None:
        return "–"
    return clock_text(whole_seconds(value) if isinstance(value, timedelta) else int(value))


_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_BULLET = re.compile(r"^\s*[-*]\s+")


def _inline(line: str) -> str:
    # Escaped first: `*` survives escaping and `<`, `&` can't, so the only tags that come
    # out are the <strong> pairs added here.
    return _BOLD.sub(r"<strong>\1</strong>", escape(line.strip()))


@register.filter
def analysis(text: str | None) -> str:
    """Tavus's perception analysis (free, markdown-ish text) as people read it: **bold**,
    blank-line paragraphs, line breaks, and `-`/`*` lines as lists. Only those patterns:
    anything else shows as written, escaped (the text comes from outside)."""
    html = []
    for block in re.split(r"\n\s*\n", (text or "").strip()):
        lines = [line for line in block.splitlines() if line.strip()]
        for bullets, run in groupby(lines, key=lambda line: _BULLET.match(line) is not None):
            if bullets:
                items = "".join(f"<li>{_inline(_BULLET.sub('', line))}</li>" for line in run)
                html.append(f"<ul>{items}</ul>")
            else:
                html.append(f"<p>{'<br>'.join(_inline(line) for line in run)}</p>")
    return mark_safe("".join(html))  # noqa: S308 - built above from escaped pieces only
