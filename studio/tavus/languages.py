"""Values for `properties.language` (tavus-api.md §8).

Tavus wants the full language name, not a code ("english", never "en"). The list is the union
of both documentation eras: era B's 42 names plus era A's "filipino". Era A's regional variants
(French Canada, Spanish Mexico...) have no separate value documented, so they are not invented.
"""

MULTILINGUAL = "multilingual"

_NAMES = [
    # Era B (2026), in the order the docs give them.
    "English", "French", "German", "Spanish", "Portuguese", "Chinese", "Japanese", "Hindi",
    "Italian", "Korean", "Dutch", "Polish", "Russian", "Swedish", "Turkish", "Tagalog",
    "Bulgarian", "Romanian", "Arabic", "Czech", "Greek", "Finnish", "Croatian", "Malay",
    "Slovak", "Danish", "Tamil", "Ukrainian", "Hungarian", "Norwegian", "Vietnamese", "Bengali",
    "Thai", "Hebrew", "Georgian", "Indonesian", "Telugu", "Gujarati", "Kannada", "Malayalam",
    "Marathi", "Punjabi",
    # Era A (2025) only.
    "Filipino",
]  # fmt: skip

# "Detect automatically" first: it is the safe choice when the operator does not know.
LANGUAGES: list[tuple[str, str]] = [(MULTILINGUAL, "Detect automatically")] + sorted(
    ((name.lower(), name) for name in _NAMES), key=lambda choice: choice[1]
)

_VALUES = frozenset(value for value, _ in LANGUAGES)


def is_supported(value: object) -> bool:
    """True if Tavus documents `value` as a language name (any case) or "multilingual"."""
    return isinstance(value, str) and value.strip().lower() in _VALUES
