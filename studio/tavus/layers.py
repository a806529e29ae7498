"""The values Tavus accepts in a persona's layers, in one place, with where they came from.

Source: docs.tavus.io persona layer pages (llm, tts, stt, perception, conversational-flow),
read for shared/tavus-api-2.md §5 (docs as of May 2026; checked here on LISTS_CHECKED). When
Tavus changes a list, change it here and nowhere else: the persona editor, the persona pages
and the preset preview all read these.

A value is `current` (offer it), `deprecated` (Tavus still runs it but advises moving off),
or `legacy` (gone from the current docs; older pages name it). Only current values are offered
for a new choice. A persona that already uses another value keeps it, labelled, until someone
picks a new one: the studio never changes a persona's setting by itself.
"""

from dataclasses import dataclass

LISTS_SOURCE = "docs.tavus.io, persona layer pages (llm, tts, stt, perception, conversational flow)"
LISTS_CHECKED = "2026-05"

CURRENT, DEPRECATED, LEGACY = "current", "deprecated", "legacy"


@dataclass(frozen=True)
class Option:
    value: str
    label: str
    status: str = CURRENT
    note: str = ""  # why it is not current, and what to use instead

    @property
    def is_current(self) -> bool:
        return self.status == CURRENT


LLM_MODELS = [
    Option("tavus-gpt-oss", "GPT-OSS (hosted by Tavus, recommended)"),
    Option("tavus-gemini-2.5-flash", "Gemini 2.5 Flash (hosted by Tavus)"),
    Option("tavus-gemini-3-flash", "Gemini 3 Flash (hosted by Tavus)"),
    Option("tavus-claude-haiku-4.5", "Claude Haiku 4.5 (hosted by Tavus)"),
    Option("tavus-gpt-5.2", "GPT-5.2 (hosted by Tavus)"),
    Option("tavus-gpt-4.1", "GPT-4.1", DEPRECATED, "Tavus recommends GPT-OSS instead."),
    Option("tavus-gpt-4o", "GPT-4o", DEPRECATED, "Tavus recommends GPT-OSS instead."),
    Option("tavus-gpt-4o-mini", "GPT-4o mini", DEPRECATED, "Tavus recommends GPT-OSS instead."),
    Option("tavus-llama-4", "Llama 4", LEGACY, "No longer in Tavus's list of models."),
    Option("tavus-llama", "Llama", LEGACY, "No longer in Tavus's list of models."),
]
TTS_ENGINES = [
    Option("cartesia", "Cartesia (Tavus's default)"),
    Option("elevenlabs", "ElevenLabs"),
    Option("azure", "Azure"),
    Option("playht", "PlayHT", LEGACY, "No longer in Tavus's list of voice engines."),
]
STT_ENGINES = [
    Option("tavus-auto", "Automatic: Tavus picks the best listener (default)"),
    Option("tavus-parakeet", "Parakeet: English and European languages"),
    Option("tavus-soniox", "Soniox: Indian and many other languages"),
    Option("tavus-whisper", "Whisper: the widest range of languages"),
    Option("tavus-deepgram-medical", "Deepgram Medical: English medical vocabulary"),
    Option(
        "tavus-advanced", "Advanced", DEPRECATED, "Still works; Tavus recommends Automatic instead."
    ),
    Option("tavus-turbo", "Turbo", LEGACY, "No longer in Tavus's list of listeners."),
]
PERCEPTION_MODELS = [
    Option("raven-1", "Raven-1: sees and hears the person (default)"),
    Option("off", "Off: the replica sees nothing"),
    Option("raven-0", "Raven-0", LEGACY, "The older model; Tavus recommends Raven-1."),
    Option("basic", "Basic", LEGACY, "No longer in Tavus's list; Tavus recommends Raven-1."),
]
TURN_DETECTION = [
    Option("sparrow-1", "Sparrow-1: understands when someone has finished (default)"),
    Option("sparrow-0", "Sparrow-0", LEGACY, "The older model; Tavus recommends Sparrow-1."),
    Option(
        "time-based",
        "Time-based: waits for a pause of fixed length",
        DEPRECATED,
        "Tavus no longer actively supports it.",
    ),
    Option("timebased", "Time-based", DEPRECATED, "Tavus no longer actively supports it."),
]
TTS_MODELS_HINT = "e.g. sonic-3 (Cartesia) or eleven_multilingual_v2 (ElevenLabs)"

# Persona editor field → the list its values come from.
BY_FIELD = {
    "llm_model": LLM_MODELS,
    "tts_engine": TTS_ENGINES,
    "stt_engine": STT_ENGINES,
    "perception_model": PERCEPTION_MODELS,
    "turn_detection_model": TURN_DETECTION,
}


def find(options: list[Option], value: str) -> Option | None:
    return next((o for o in options if o.value == value), None)


def choices(options: list[Option], keep: str = "", blank: str = "Tavus default") -> list:
    """Form choices: the current values, plus `keep` (the value in use) however it stands."""
    result = [("", blank)] + [(o.value, o.label) for o in options if o.is_current]
    if keep and keep not in {value for value, _ in result}:
        result.append((keep, describe(options, keep)))
    return result


def describe(options: list[Option], value: str) -> str:
    """A value as people read it: its label, and a warning if Tavus has moved on from it."""
    option = find(options, value)
    if option is None:
        return f"{value} (not in Tavus's list: your own or a newer value)"
    if option.is_current:
        return option.label
    return f"{option.label} ({option.status}: {option.note})"


def outdated(field: str, value: str) -> Option | None:
    """The Option if `value` of persona field `field` is deprecated or legacy, else None."""
    option = find(BY_FIELD[field], value) if value else None
    return option if option is not None and not option.is_current else None


# Persona editor field → where it sits in a persona's `layers`.
PATHS = {
    "llm_model": ("llm", "model"),
    "tts_engine": ("tts", "tts_engine"),
    "stt_engine": ("stt", "stt_engine"),
    "perception_model": ("perception", "perception_model"),
    "turn_detection_model": ("conversational_flow", "turn_detection_model"),
}


def outdated_in(persona_layers: dict) -> list[Option]:
    """Every deprecated or legacy value a persona's `layers` object uses."""
    found = []
    for field, (layer, key) in PATHS.items():
        section = persona_layers.get(layer) if isinstance(persona_layers, dict) else None
        value = section.get(key) if isinstance(section, dict) else None
        option = outdated(field, value) if isinstance(value, str) else None
        if option:
            found.append(option)
    return found
