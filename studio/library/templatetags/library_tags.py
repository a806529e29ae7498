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


@register.simple_tag
def layer_name(field: str, value: str, default: str = "Tavus's default") -> str:
    """A persona layer value's short name ("Llama 4", "Sparrow-1", "ElevenLabs"), for lists."""
    from studio.tavus import layers

    if not value:
        return default
    option = layers.find(layers.BY_FIELD[field], value)
    if option is None:
        return value
    return option.label.split(":")[0].split(" (")[0]


# layers.tts.voice_settings keys in the persona editor's words (library/forms.py).
VOICE_WORDS = {
    "speed": "speaking speed",
    "stability": "steadiness",
    "similarity_boost": "closeness to the original voice",
    "style": "style exaggeration",
}


@register.filter
def voice_settings_words(values) -> str:
    """{"speed": 1.1, "stability": 0.5} → "speaking speed 1.1, steadiness 0.5"."""
    if not isinstance(values, dict):
        return ""
    return ", ".join(f"{VOICE_WORDS.get(k, k.replace('_', ' '))} {v}" for k, v in values.items())
