"""Presets choose documents, tags and how hard to look; memories per person and persona.
The preview says it in words, warns about documents that can't be used, and shows the body."""

import pytest
from django.test import override_settings
from django.utils import timezone

from studio.knowledge.models import Document
from studio.presets.models import Milestone, Preset, memory_store_key
from tests.library.helpers import make_persona, make_replica
from tests.presets.test_views import form_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def anna():
    return make_replica("r-anna", "Anna", synced_at=timezone.now())


@pytest.fixture
def coach(anna):
    return make_persona("p-coach", "Coach", default_replica_id="r-anna")


def doc(name, status="ready", **extra) -> Document:
    return Document.objects.create(
        document_id=f"d-{name.lower()}", name=name, status=status, **extra
    )


def preset_with(coach, *documents, **fields) -> Preset:
    name = fields.pop("name", f"Clinic {Preset.objects.count()}")
    preset = Preset.objects.create(name=name, persona=coach, **fields)
    preset.documents.set(documents)
    return preset


def test_chosen_documents_tags_and_strategy_go_to_tavus_and_are_said_in_words(coach):
    handbook, prices = doc("Handbook"), doc("Prices")
    preset = preset_with(
        coach, handbook, prices, document_tags=["clinic"], document_retrieval_strategy="quality"
    )
    effective = preset.effective_settings()
    assert effective.body["document_ids"] == ["d-handbook", "d-prices"]
    assert effective.body["document_tags"] == ["clinic"]
    assert effective.body["document_retrieval_strategy"] == "quality"
    assert (
        "Looks things up in “Handbook” and “Prices” and every document tagged “clinic”, "
        "looking as thoroughly as it can"
    ) in effective.summary
    assert effective.warnings == []


def test_without_knowledge_no_document_fields_are_sent(coach):
    body = preset_with(coach).effective_settings().body
    assert not {"document_ids", "document_tags", "document_retrieval_strategy"} & set(body)


def test_the_persona_s_own_documents_bring_the_strategy_and_a_line(anna):
    persona = make_persona(
        "p-kb", "Desk", default_replica_id="r-anna", raw={"document_ids": ["d-x"]}
    )
    doc("X")
    effective = preset_with(persona, document_retrieval_strategy="speed").effective_settings()
    assert effective.body["document_retrieval_strategy"] == "speed"
    assert "document_ids" not in effective.body  # the persona's stay with the persona
    assert any("the persona's own documents" in line for line in effective.summary)


@pytest.mark.parametrize(
    ("status", "vanished", "words"),
    [
        ("processing", False, "is not ready yet (Tavus is still reading it)"),
        ("error", False, "Tavus could not read the document “Handbook”"),
        ("ready", True, "is no longer at Tavus"),
    ],
)
def test_the_preview_warns_about_a_document_that_cannot_be_used(coach, status, vanished, words):
    preset = preset_with(coach, doc("Handbook", status=status, vanished=vanished))
    assert any(words in warning for warning in preset.effective_settings().warnings)


def test_a_persona_document_that_is_not_ready_is_warned_about_too(anna):
    doc("Intake", status="started")
    persona = make_persona(
        "p-kb", "Desk", default_replica_id="r-anna", raw={"document_ids": ["d-intake"]}
    )
    warnings = preset_with(persona).effective_settings().warnings
    assert any("“Intake” is not ready yet" in w for w in warnings)


@pytest.mark.parametrize("language", ["spanish", "multilingual"])
def test_a_language_other_than_english_is_warned_about(coach, language):
    preset = preset_with(coach, doc("Handbook"), language=language)
    assert any("works in English only" in w for w in preset.effective_settings().warnings)
    english = preset_with(coach, language="english", document_tags=["x"])
    english.name = "x"
    assert not any("English only" in w for w in english.effective_settings().warnings)


# --- Memories ----------------------------------------------------------------------------------


def test_the_memory_key_is_stable_per_person_and_persona_and_private():
    key = memory_store_key("p123", "Anna.Smith@example.com ")
    assert key == memory_store_key("p123", "anna.smith@example.com")
    assert key.startswith("p123-") and "anna" not in key.lower()
    assert key != memory_store_key("p123", "bob@example.com")  # never another person's
    assert key != memory_store_key("p456", "anna.smith@example.com")  # never another persona's
    with override_settings(MEMORY_STORE_SECRET="another"):
        assert key != memory_store_key("p123", "anna.smith@example.com")
    with pytest.raises(ValueError):
        memory_store_key("p123", "  ")


def test_memories_are_said_in_words_and_the_key_is_sent_only_for_a_known_person(coach):
    preset = preset_with(coach, remember_people=True)
    effective = preset.effective_settings()
    assert (
        "Anna will remember earlier conversations with this person (and only this person's) "
        "as the “Coach” persona"
    ) in effective.summary
    assert "memory_stores" not in effective.body and effective.remembers
    with_person = preset.effective_settings(person="anna@example.com")
    assert with_person.body["memory_stores"] == [memory_store_key("p-coach", "anna@example.com")]
    assert not preset_with(coach).effective_settings(person="x").body.get("memory_stores")


# --- The editor ----------------------------------------------------------------------------------


@pytest.fixture
def signed_in(client, operator):
    Milestone.objects.create(name=Milestone.DEMO_PRESETS)
    client.force_login(operator)
    return client


def test_the_editor_saves_documents_tags_strategy_and_memory(signed_in, coach):
    handbook = doc("Handbook")
    data = form_data(
        coach,
        documents=[handbook.pk],
        document_tags="clinic, hr",
        document_retrieval_strategy="speed",
        remember_people="on",
    )
    response = signed_in.post("/presets/new/", data)
    assert response.status_code == 302, response.context["form"].errors
    preset = Preset.objects.get()
    assert list(preset.documents.all()) == [handbook]
    assert preset.document_tags == ["clinic", "hr"]
    assert preset.document_retrieval_strategy == "speed" and preset.remember_people


def test_the_editor_lists_documents_with_their_status(signed_in, coach):
    doc("Handbook")
    doc("Prices", status="processing")
    html = signed_in.get("/presets/new/").content.decode()
    assert "Handbook" in html and "Prices" in html
    assert "Ready" in html and "Reading" in html


def test_the_live_preview_shows_documents_chosen_before_saving(signed_in, coach):
    pending = doc("Handbook", status="processing")
    data = form_data(coach, documents=[pending.pk])
    html = signed_in.post(
        "/presets/validate/", data, HTTP_HX_REQUEST="true", HTTP_HX_TRIGGER_NAME="documents"
    ).content.decode()
    assert "d-handbook" in html
    assert "is not ready yet" in html


def test_a_bad_tag_is_explained(signed_in, coach):
    response = signed_in.post("/presets/new/", form_data(coach, document_tags="ok, <b>"))
    assert "tags use letters" in response.context["form"].errors["document_tags"][0]
    assert not Preset.objects.exists()


def test_a_duplicate_keeps_the_documents(coach, operator):
    preset = preset_with(coach, doc("Handbook"))
    assert list(preset.duplicate(operator).documents.all()) == list(preset.documents.all())


# --- The effective prompt --------------------------------------------------------------------


def test_the_effective_prompt_says_what_a_stock_persona_contributes(anna):
    stock = make_persona(
        "p-stock",
        "Sales Coach",
        persona_type="system",
        default_replica_id="r-anna",
        system_prompt="You are a sales coach.",
        context="Sales calls.",
    )
    preset = preset_with(stock, conversational_context="The person sells kettles.")
    effective = preset.effective_settings({"conversational_context": "Sells toasters today."})
    assert effective.prompt_parts == [
        (
            "Instructions from the stock persona “Sales Coach” (Tavus's own words)",
            "You are a sales coach.",
        ),
        ("Background from the stock persona “Sales Coach” (Tavus's own words)", "Sales calls."),
        ("Context added by this preset (or at launch)", "Sells toasters today."),
    ]
    from django.template.loader import render_to_string

    html = render_to_string("presets/_effective.html", {"effective": effective})
    assert "What the replica is told" in html and "You are a sales coach." in html


def test_the_effective_prompt_of_the_team_s_own_persona(coach):
    parts = preset_with(coach).effective_settings().prompt_parts
    assert parts == [("Instructions from the persona “Coach”", "You coach people.")]
