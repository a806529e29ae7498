import pytest

from studio.library.forms import PersonaForm
from studio.tavus.client import InvalidRequest
from tests.library.helpers import make_persona, make_replica

pytestmark = pytest.mark.django_db

LAYERS = {
    "llm": {"model": "tavus-gpt-4o", "speculative_inference": True},
    "tts": {"tts_engine": "cartesia", "external_voice_id": "voice-1"},
    "stt": {"stt_engine": "tavus-turbo"},
    "perception": {"perception_model": "raven-0", "ambient_awareness_queries": ["Is it dark?"]},
}


def persona_with_layers(**extra):
    make_replica("r1", "Anna")
    make_replica("r2", "Nathan")
    raw = {
        "persona_name": "Coach",
        "system_prompt": "You coach people.",
        "context": "Acme sells anvils.",
        "pipeline_mode": "full",
        "default_replica_id": "r1",
        "layers": LAYERS,
    }
    values = {"context": "Acme sells anvils.", "default_replica_id": "r1", "layers": LAYERS}
    return make_persona("p1", "Coach", raw=raw, **{**values, **extra})


def bound(persona, **changes):
    data = {k: v if v is not None else "" for k, v in PersonaForm.initial_from(persona).items()}
    data.update(changes)
    form = PersonaForm(data, initial=PersonaForm.initial_from(persona), persona=persona)
    assert form.is_valid(), form.errors
    return form


def test_nothing_changed_means_no_operations():
    persona = persona_with_layers()
    assert bound(persona).patch_operations(persona) == []


def test_only_changed_fields_are_sent_with_replace_for_existing_paths():
    persona = persona_with_layers()
    form = bound(
        persona,
        persona_name="Coach 2",
        system_prompt="New prompt",
        default_replica_id="r2",
        llm_model="tavus-gpt-5.2",
        external_voice_id="voice-2",
    )
    assert form.patch_operations(persona) == [
        {"op": "replace", "path": "/persona_name", "value": "Coach 2"},
        {"op": "replace", "path": "/system_prompt", "value": "New prompt"},
        {"op": "replace", "path": "/default_replica_id", "value": "r2"},
        {"op": "replace", "path": "/layers/llm/model", "value": "tavus-gpt-5.2"},
        {"op": "replace", "path": "/layers/tts/external_voice_id", "value": "voice-2"},
    ]


def test_new_keys_in_existing_layers_use_add():
    persona = persona_with_layers()
    form = bound(persona, hotwords="Acme,  Anvil ,", stt_engine="tavus-turbo")
    assert form.patch_operations(persona) == [
        {"op": "add", "path": "/layers/stt/hotwords", "value": "Acme, Anvil"},
    ]


def test_a_layer_that_does_not_exist_is_added_whole():
    persona = persona_with_layers()
    form = bound(persona, turn_detection_model="sparrow-1", replica_interruptibility="low")
    assert form.patch_operations(persona) == [
        {
            "op": "add",
            "path": "/layers/conversational_flow",
            "value": {"turn_detection_model": "sparrow-1", "replica_interruptibility": "low"},
        }
    ]


def test_without_any_layers_the_layers_object_is_added():
    make_replica("r1", "Anna")
    persona = make_persona("p1", "Bare", raw={"persona_name": "Bare", "system_prompt": "Hi"})
    form = bound(persona, llm_model="tavus-gemini-3-flash", perception_model="off")
    assert form.patch_operations(persona) == [
        {
            "op": "add",
            "path": "/layers",
            "value": {
                "llm": {"model": "tavus-gemini-3-flash"},
                "perception": {"perception_model": "off"},
            },
        }
    ]


def test_cleared_fields_are_removed():
    persona = persona_with_layers()
    form = bound(persona, context="", default_replica_id="", external_voice_id="")
    assert form.patch_operations(persona) == [
        {"op": "remove", "path": "/context"},
        {"op": "remove", "path": "/default_replica_id"},
        {"op": "remove", "path": "/layers/tts/external_voice_id"},
    ]


def test_a_top_level_field_tavus_never_had_is_added():
    persona = make_persona("p1", "Bare", raw={"persona_name": "Bare", "system_prompt": "x"})
    form = bound(persona, context="Some facts")
    assert form.patch_operations(persona) == [
        {"op": "add", "path": "/context", "value": "Some facts"}
    ]


def test_changed_fields_keep_layer_settings_the_form_does_not_show():
    persona = persona_with_layers()
    form = bound(persona, llm_model="tavus-gpt-5.2", external_voice_id="")
    fields = form.changed_fields()
    assert fields["layers"]["llm"] == {"model": "tavus-gpt-5.2", "speculative_inference": True}
    assert fields["layers"]["tts"] == {"tts_engine": "cartesia"}
    assert fields["layers"]["perception"]["ambient_awareness_queries"] == ["Is it dark?"]
    assert fields["raw"]["layers"] == fields["layers"]


def test_create_body_has_only_what_is_set_and_keeps_the_source_layers():
    make_replica("r1", "Anna")
    form = PersonaForm(
        {
            "persona_name": "Tutor",
            "pipeline_mode": "full",
            "system_prompt": "Teach.",
            "default_replica_id": "r1",
            "llm_model": "tavus-gpt-oss",
        }
    )
    assert form.is_valid(), form.errors
    assert form.create_body() == {
        "persona_name": "Tutor",
        "system_prompt": "Teach.",
        "pipeline_mode": "full",
        "default_replica_id": "r1",
        "layers": {"llm": {"model": "tavus-gpt-oss"}},
    }
    body = form.create_body({"perception": {"perception_model": "raven-0", "x": 1}})
    assert body["layers"] == {"llm": {"model": "tavus-gpt-oss"}, "perception": {"x": 1}}


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"persona_name": ""}, "persona_name", "required"),
        ({"system_prompt": ""}, "system_prompt", "needs them to know who it is"),
        ({"external_voice_id": "a b"}, "external_voice_id", "no spaces"),
        ({"external_voice_id": "v1", "tts_engine": ""}, "tts_engine", "voice engine"),
        ({"llm_model": "made-up"}, "llm_model", "Select a valid choice"),
        ({"pipeline_mode": "other"}, "pipeline_mode", "Select a valid choice"),
        ({"default_replica_id": "r-gone"}, "default_replica_id", "Select a valid choice"),
        ({"default_replica_id": "r-broken"}, "default_replica_id", "failed training"),
        ({"hotwords": "x" * 501}, "hotwords", "at most 500"),
    ],
)
def test_validation_rules(data, field, message):
    make_replica("r-gone", "Gone", vanished=True)
    make_replica("r-broken", "Broken", status="error")
    base = {"persona_name": "Tutor", "pipeline_mode": "full", "system_prompt": "Teach."}
    form = PersonaForm({**base, **data})
    assert not form.is_valid()
    assert message in " ".join(form.errors[field])


def test_echo_mode_needs_no_instructions():
    form = PersonaForm({"persona_name": "Echo", "pipeline_mode": "echo"})
    assert form.is_valid(), form.errors


def test_the_current_vanished_face_is_still_listed_but_refused():
    make_replica("r-gone", "Gone", vanished=True)
    persona = make_persona("p1", default_replica_id="r-gone")
    form = PersonaForm(initial=PersonaForm.initial_from(persona), persona=persona)
    assert "r-gone" in [str(v) for v, _ in form.fields["default_replica_id"].choices]
    assert "r-gone" not in [str(v) for v, _ in PersonaForm().fields["default_replica_id"].choices]


def test_keeping_a_face_that_has_vanished_is_refused():
    make_replica("r-gone", "Gone", vanished=True)
    persona = make_persona("p1", default_replica_id="r-gone")
    data = {"persona_name": "Coach", "pipeline_mode": "echo", "default_replica_id": "r-gone"}
    form = PersonaForm(data, persona=persona)
    assert not form.is_valid()
    assert "no longer at Tavus" in form.errors["default_replica_id"][0]


def test_a_model_set_outside_the_studio_stays_selectable():
    persona = make_persona("p1", layers={"llm": {"model": "my-own-llm"}})
    form = PersonaForm(initial=PersonaForm.initial_from(persona), persona=persona)
    assert ("my-own-llm", "my-own-llm (not in Tavus's list: your own or a newer value)") in (
        form.fields["llm_model"].choices
    )


def test_only_current_values_are_offered_for_a_new_persona():
    form = PersonaForm()
    offered = {
        name: {value for value, _ in form.fields[name].choices}
        for name in ("llm_model", "stt_engine", "perception_model", "turn_detection_model")
    }
    # The stale values the issue names, and the deprecated ones, are not offered...
    stale = {"tavus-llama-4", "tavus-turbo", "basic", "tavus-gpt-4o", "tavus-advanced"}
    stale |= {"raven-0", "sparrow-0", "tavus-gpt-4o-mini"}
    assert not stale & set().union(*offered.values())
    # ...and today's are.
    assert {"tavus-gpt-oss", "tavus-gpt-5.2", "tavus-gemini-3-flash"} <= offered["llm_model"]
    assert {"tavus-auto", "tavus-parakeet", "tavus-soniox", "tavus-whisper"} <= (
        offered["stt_engine"]
    )
    assert "tavus-deepgram-medical" in offered["stt_engine"]
    assert offered["perception_model"] == {"", "raven-1", "off"}
    assert "sparrow-1" in offered["turn_detection_model"]


def test_a_deprecated_value_stays_selected_labelled_and_is_never_changed():
    persona = persona_with_layers()  # tavus-gpt-4o, tavus-turbo, raven-0
    form = bound(persona, persona_name="Coach 2")
    labels = dict(form.fields["llm_model"].choices)
    assert labels["tavus-gpt-4o"].startswith("GPT-4o (deprecated:")
    assert "legacy" in dict(form.fields["perception_model"].choices)["raven-0"]
    # Saving another change leaves the deprecated values alone.
    assert form.patch_operations(persona) == [
        {"op": "replace", "path": "/persona_name", "value": "Coach 2"}
    ]


@pytest.mark.parametrize(
    ("field", "lands_on"),
    [
        ("tts_engine", "tts_engine"),
        ("default_replica_id", "default_replica_id"),
        ("default_face_id", "default_replica_id"),
        ("model", "llm_model"),
        ("persona_name", "persona_name"),
        ("something_else", None),
        (None, None),
    ],
)
def test_tavus_errors_land_next_to_their_field(field, lands_on):
    form = PersonaForm({"persona_name": "x", "pipeline_mode": "echo"})
    assert form.is_valid()
    form.add_tavus_error(InvalidRequest("Tavus says no.", field=field))
    key = lands_on or "__all__"
    assert form.errors[key] == ["Tavus says no."]


def test_documents_and_tags_are_patched_as_top_level_lists():
    from studio.knowledge.models import Document

    Document.objects.create(document_id="d-1", name="Handbook", status="ready")
    Document.objects.create(document_id="d-2", name="Prices", status="processing")
    persona = persona_with_layers()
    form = bound(persona, document_ids=["d-1", "d-2"], document_tags="clinic")
    labels = dict(form.fields["document_ids"].choices)
    assert labels == {"d-1": "Handbook (Ready)", "d-2": "Prices (Reading)"}
    assert form.patch_operations(persona) == [
        {"op": "add", "path": "/document_ids", "value": ["d-1", "d-2"]},
        {"op": "add", "path": "/document_tags", "value": ["clinic"]},
    ]
    persona.raw = {**persona.raw, "document_ids": ["d-1"], "document_tags": ["clinic"]}
    form = bound(persona, document_ids=[], document_tags="")
    assert form.patch_operations(persona) == [
        {"op": "remove", "path": "/document_ids"},
        {"op": "remove", "path": "/document_tags"},
    ]


def test_voice_settings_go_into_the_tts_layer_as_one_object():
    persona = persona_with_layers()
    form = bound(
        persona,
        tts_engine="elevenlabs",
        tts_model_name="eleven_multilingual_v2",
        voice_speed=1.1,
        voice_stability=0.4,
    )
    assert form.patch_operations(persona) == [
        {"op": "replace", "path": "/layers/tts/tts_engine", "value": "elevenlabs"},
        {"op": "add", "path": "/layers/tts/tts_model_name", "value": "eleven_multilingual_v2"},
        {
            "op": "add",
            "path": "/layers/tts/voice_settings",
            "value": {"speed": 1.1, "stability": 0.4},
        },
    ]
    persona.layers = {
        **persona.layers,
        "tts": {
            "tts_engine": "elevenlabs",
            "voice_settings": {"speed": 1.1, "emotion": ["positivity:high"]},
        },
    }
    initial = PersonaForm.initial_from(persona)
    assert initial["voice_speed"] == 1.1 and initial["voice_stability"] is None
    # Keys the form doesn't show (Cartesia's emotion) are kept.
    form = bound(persona, voice_speed=0.9)
    assert form.cleaned_data["voice_settings"] == {"emotion": ["positivity:high"], "speed": 0.9}


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"tts_engine": "cartesia", "voice_stability": 0.5}, "voice_stability", "Only ElevenLabs"),
        ({"tts_engine": "elevenlabs", "voice_speed": 2}, "voice_speed", "from 0.7 to 1.2"),
        ({"tts_engine": "elevenlabs", "voice_style": 1.5}, "voice_style", "from 0 to 1"),
        (
            {"perception_model": "off", "perception_analysis_queries": "Was it dark?"},
            "perception_analysis_queries",
            "Only Raven-1",
        ),
        (
            {
                "perception_model": "raven-1",
                "perception_analysis_queries": "\n".join(f"Q{n}?" for n in range(21)),
            },
            "perception_analysis_queries",
            "at most 20 questions",
        ),
    ],
)
def test_voice_and_perception_settings_are_checked(changes, field, message):
    persona = persona_with_layers()
    data = {k: v if v is not None else "" for k, v in PersonaForm.initial_from(persona).items()}
    form = PersonaForm(
        {**data, **changes}, initial=PersonaForm.initial_from(persona), persona=persona
    )
    assert not form.is_valid()
    assert message in " ".join(form.errors[field])


def test_perception_analysis_queries_are_a_list_in_the_perception_layer():
    persona = persona_with_layers(layers={"perception": {"perception_model": "raven-1"}})
    form = bound(persona, perception_analysis_queries="Did they smile?\n\nWere they alone?\n")
    assert form.patch_operations(persona) == [
        {
            "op": "add",
            "path": "/layers/perception/perception_analysis_queries",
            "value": ["Did they smile?", "Were they alone?"],
        }
    ]
