from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.timesince import timesince

register = template.Library()


@register.filter
def ago(moment: datetime | None) -> str:
    """ "just now", "5 minutes ago", "2 days ago"; "never" for no time at all."""
    if moment is None:
        return "never"
    if (timezone.now() - moment).total_seconds() < 60:
        return "just now"
    return f"{timesince(moment, depth=1)} ago"


@register.simple_tag
def layer_value(field: str, value: str, default: str = "Tavus default") -> str:
    """A persona layer value in words; deprecated ones say so (they are never changed for you)."""
    from studio.tavus import layers

    return layers.describe(layers.BY_FIELD[field], value) if value else default


@register.filter
def outdated_layer(value: str, field: str):
    """The layers.Option when `value` of persona field `field` is deprecated or legacy."""
    from studio.tavus import layers

    return layers.outdated(field, value)
