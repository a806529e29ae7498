"""Per-person details in a preset's greeting and context: "Hello {name}, about the {role} job".

`{name}` and `{role}` are always understood; a preset declares any others it needs
(`person_fields`, e.g. "company, start date"). The preview fills them with examples; an
invitation link, or a launch, fills them with the person's own values, and a value that is
used but missing is refused then (studio.presets.effective: a blocker), never sent to Tavus as
braces. Braces around anything else are left exactly as typed (a context may quote JSON).
"""

import re

BUILT_IN = ("name", "role")
# Lower-case words joined by underscores, as in the braces: {start_date}.
FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,29}$")
PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]{0,29})\}")
MAX_VALUE = 200
EXAMPLES = {"name": "Sam Taylor", "role": "Sales lead"}


def field_name(text: str) -> str:
    """How a heading or a typed label becomes a field name: "Start date" → "start_date"."""
    return re.sub(r"[^a-z0-9]+", "_", text.strip().lower()).strip("_")


def label(name: str) -> str:
    """A field name in words: "start_date" → "Start date"."""
    return name.replace("_", " ").capitalize()


def known_fields(declared) -> list[str]:
    """Every detail a preset understands: the built-in ones, then its own."""
    return [*BUILT_IN, *(name for name in declared or () if name not in BUILT_IN)]


def used_in(texts, declared) -> list[str]:
    """The known details these texts use, in the order they first appear."""
    known = set(known_fields(declared))
    found: list[str] = []
    for text in texts:
        for name in PLACEHOLDER.findall(text or ""):
            if name in known and name not in found:
                found.append(name)
    return found


def unknown_in(texts, declared) -> list[str]:
    """Brace words that look like details but are not ones the preset understands."""
    known = set(known_fields(declared))
    found: list[str] = []
    for text in texts:
        for name in PLACEHOLDER.findall(text or ""):
            if name not in known and name not in found:
                found.append(name)
    return found


def example(name: str) -> str:
    return EXAMPLES.get(name, f"example {label(name).lower()}")


def fill(text: str, values: dict, declared) -> str:
    """`text` with each known detail replaced by its value (unknown braces stay as typed)."""
    known = set(known_fields(declared))

    def replace(match: re.Match) -> str:
        name = match.group(1)
        return values[name] if name in known and values.get(name) else match.group(0)

    return PLACEHOLDER.sub(replace, text or "")


def clean_value(value) -> str:
    """A value as it is sent: one line, no control characters, not too long."""
    text = "".join(ch if ch.isprintable() else " " for ch in str(value or ""))
    return " ".join(text.split())[:MAX_VALUE]
