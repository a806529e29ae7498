"""Per-person details in a preset's greeting and context: {name}, {role}, the preset's own."""

import html

from studio.conversations.models import Conversation
from studio.presets import placeholders
from studio.presets.models import Preset
from tests.conversations.factories import launch


def _interview(make_preset, **fields):
    values = {
        "custom_greeting": "Hi {name}, welcome to {company}!",
        "conversational_context": "{name} applies for the {role} role. Budget: {\"eur\": 5}",
        "person_fields": ["company"],
    }
    values.update(fields)
    return make_preset(**values)


def test_filling_leaves_other_braces_alone():
    text = 'Hi {name} ({role}) — {"json": {name}} {unknown} {Name}'
    filled = placeholders.fill(text, {"name": "Ana", "role": "Lead"}, ["company"])
    assert filled == 'Hi Ana (Lead) — {"json": Ana} {unknown} {Name}'
    assert placeholders.used_in([text], []) == ["name", "role"]
    assert placeholders.unknown_in([text], []) == ["unknown"]


def test_values_are_one_line_and_bounded():
    assert placeholders.clean_value("  Ana\n\tBerg\x00 ") == "Ana Berg"
    assert len(placeholders.clean_value("x" * 500)) == placeholders.MAX_VALUE


def test_the_preview_fills_in_examples(make_preset):
    preset = _interview(make_preset)
    effective = preset.effective_settings()
    assert effective.body["custom_greeting"] == "Hi Sam Taylor, welcome to example company!"
    assert effective.body["conversational_context"].startswith(
        "Sam Taylor applies for the Sales lead role."
    )
    assert '{"eur": 5}' in effective.body["conversational_context"]  # not a placeholder
    line = next(s for s in effective.summary if s.startswith("Fills in"))
    assert line == (
        "Fills in {name}, {company} and {role} for each person "
        "(shown here with examples: Sam Taylor, example company, Sales lead)"
    )
    assert not effective.blockers


def test_a_missing_value_blocks_and_says_which(make_preset):
    preset = _interview(make_preset)
    effective = preset.effective_settings(details={"name": "Ana", "company": "Acme"})
    assert effective.blockers == [
        "No role given for this person: the greeting or context says {role}."
    ]
    filled = preset.effective_settings(details={"name": "Ana", "company": "Acme", "role": "Lead"})
    assert not filled.blockers
    assert filled.body["custom_greeting"] == "Hi Ana, welcome to Acme!"


def test_an_undeclared_placeholder_is_a_warning(make_preset):
    preset = make_preset(custom_greeting="Hello {nickname}")
    effective = preset.effective_settings()
    assert any("{nickname} is not a detail this preset asks for" in w for w in effective.warnings)
    assert effective.body["custom_greeting"] == "Hello {nickname}"
    assert not effective.blockers


def test_the_editor_declares_details_in_words(client, operator, persona):
    client.force_login(operator)
    data = {
        "name": "Onboarding",
        "persona": persona.pk,
        "custom_greeting": "Welcome, {name}! You start on {start_date}.",
        "person_fields": "Start date, company, Start date, role",
        "language": "english",
        "max_call_minutes": 10,
        "participant_absent_timeout": 300,
        "participant_left_timeout": 30,
        "talker": "me",
        "document_retrieval_strategy": "balanced",
    }
    response = client.post("/presets/new/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    preset = Preset.objects.get(name="Onboarding")
    assert preset.person_fields == ["start_date", "company"]  # role is built in
    data["name"] = "Other"
    data["person_fields"] = "9 lives"
    page = client.post("/presets/new/", data).content.decode()
    assert "a detail's name starts with a letter" in html.unescape(page)


def test_launching_asks_for_the_details_and_refuses_blanks(
    client, operator, make_preset, studio_server, sent
):
    preset = _interview(make_preset)
    client.force_login(operator)
    page = client.get(f"/launch/{preset.pk}/").content.decode()
    assert "Their name" in page and "Their role" in page and "Their company" in page
    response = launch(client, preset, detail_name="Ana", detail_company="Acme")
    assert response.status_code == 400
    assert "No role given" in html.unescape(response.content.decode())
    assert sent == [] and Conversation.objects.count() == 0
    response = launch(client, preset, detail_name="Ana", detail_company="Acme", detail_role="Lead")
    assert response.status_code == 302
    (body,) = sent
    assert body["custom_greeting"] == "Hi Ana, welcome to Acme!"
    assert body["conversational_context"].startswith("Ana applies for the Lead role.")
