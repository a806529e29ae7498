"""The language choices offered in forms (tavus-api.md §8)."""

from studio.tavus.languages import LANGUAGES, is_supported


def test_it_offers_automatic_detection_first():
    assert LANGUAGES[0] == ("multilingual", "Detect automatically")


def test_it_sorts_the_languages_by_label():
    labels = [label for _, label in LANGUAGES[1:]]
    assert labels == sorted(labels)


def test_it_uses_full_lowercase_names_as_values():
    values = [value for value, _ in LANGUAGES]
    assert all(value == value.lower() and len(value) > 2 for value in values)
    assert len(values) == len(set(values))
    assert dict(LANGUAGES)["english"] == "English"


def test_it_covers_both_documentation_eras():
    values = dict(LANGUAGES)
    assert len(values) == 1 + 42 + 1  # multilingual, era B's 42, era A's Filipino
    for name in ("english", "portuguese", "punjabi", "tagalog", "filipino", "hebrew"):
        assert name in values


def test_it_invents_no_regional_variants():
    assert not any("(" in label or "mexico" in value for value, label in LANGUAGES)


def test_it_checks_support_without_caring_about_case():
    assert is_supported("English")
    assert is_supported(" SPANISH ")
    assert is_supported("multilingual")
    assert not is_supported("en")
    assert not is_supported("klingon")
    assert not is_supported(None)
