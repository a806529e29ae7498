"""The library against the sandbox over real HTTP: sync, create, edit (JSON Patch), delete."""

import pytest

from studio.library.forms import PersonaForm
from studio.library.models import Persona, Replica, sync_personas, sync_replicas
from studio.tavus import client as tavus
from tests.library.helpers import make_replica


@pytest.fixture
def sandbox(studio_server):
    sync_replicas()
    sync_personas()
    return studio_server


@pytest.fixture
def patches(monkeypatch):
    """Every JSON Patch the studio sends, while still sending it."""
    sent = []
    real = tavus.patch_persona

    def spy(persona_id, operations):
        sent.append((persona_id, operations))
        return real(persona_id, operations)

    monkeypatch.setattr(tavus, "patch_persona", spy)
    return sent


def edit_data(persona, **changes):
    data = {
        k: v if isinstance(v, list) else v or ""
        for k, v in PersonaForm.initial_from(persona).items()
    }
    return {**data, **changes}


def create(client, **fields) -> Persona:
    data = {"persona_name": "Onboarding guide", "pipeline_mode": "full", **fields}
    response = client.post("/library/personas/new/", data)
    assert response.status_code == 302, response.context["form"].errors
    return Persona.objects.get(name=data["persona_name"])


def test_sync_brings_in_the_stock_library(sandbox):
    assert Replica.objects.filter(replica_type="system", status="ready").count() >= 10
    coach = Persona.objects.get(persona_id="pdced222244b")
    assert coach.is_stock and coach.perception_model == "raven-0"
    assert coach.default_replica.name == "Nathan"


def test_the_replicas_page_syncs_itself_from_the_sandbox(studio_server, client, operator):
    client.force_login(operator)
    html = client.get("/library/").content.decode()
    assert "Synced 11 replicas" in html and "Sabrina" in html
    # The sandbox's faces have no preview video: each is drawn, as in its room.
    assert 'aria-label="Drawn portrait of Sabrina"' in html


def test_create_edit_and_delete_a_persona_at_the_sandbox(sandbox, client, admin_user, patches):
    client.force_login(admin_user)
    persona = create(
        client,
        system_prompt="Welcome new staff.",
        default_replica_id="r6ae5b6efc9d",
        llm_model="tavus-gpt-oss",
    )
    at_tavus = tavus.get_persona(persona.persona_id)
    assert at_tavus.persona_name == "Onboarding guide" and at_tavus.persona_type == "user"
    assert at_tavus.layers == {"llm": {"model": "tavus-gpt-oss"}}

    changes = {
        "persona_name": "Onboarding buddy",
        "context": "The office opens at 9.",
        "default_replica_id": "rfe12d8b9597",
        "llm_model": "tavus-gemini-3-flash",
        "tts_engine": "elevenlabs",
        "external_voice_id": "voice-7",
        "hotwords": "Acme, Anvil",
        "turn_detection_model": "sparrow-1",
    }
    response = client.post(f"/library/personas/{persona.pk}/edit/", edit_data(persona, **changes))
    assert response.status_code == 302
    assert patches == [
        (
            persona.persona_id,
            [
                {"op": "replace", "path": "/persona_name", "value": "Onboarding buddy"},
                {"op": "add", "path": "/context", "value": "The office opens at 9."},
                {"op": "replace", "path": "/default_replica_id", "value": "rfe12d8b9597"},
                {"op": "replace", "path": "/layers/llm/model", "value": "tavus-gemini-3-flash"},
                {
                    "op": "add",
                    "path": "/layers/tts",
                    "value": {"tts_engine": "elevenlabs", "external_voice_id": "voice-7"},
                },
                {"op": "add", "path": "/layers/stt", "value": {"hotwords": "Acme, Anvil"}},
                {
                    "op": "add",
                    "path": "/layers/conversational_flow",
                    "value": {"turn_detection_model": "sparrow-1"},
                },
            ],
        )
    ]
    at_tavus = tavus.get_persona(persona.persona_id)
    persona.refresh_from_db()
    assert at_tavus.persona_name == persona.name == "Onboarding buddy"
    assert at_tavus.layers == persona.layers
    assert at_tavus.layers["stt"]["hotwords"] == "Acme, Anvil"

    # Clearing fields removes them, and only them.
    patches.clear()
    cleared = edit_data(persona, context="", hotwords="", external_voice_id="", tts_engine="")
    client.post(f"/library/personas/{persona.pk}/edit/", cleared)
    assert patches[0][1] == [
        {"op": "remove", "path": "/context"},
        {"op": "remove", "path": "/layers/tts/tts_engine"},
        {"op": "remove", "path": "/layers/tts/external_voice_id"},
        {"op": "remove", "path": "/layers/stt/hotwords"},
    ]
    at_tavus = tavus.get_persona(persona.persona_id)
    assert "context" not in at_tavus.raw and at_tavus.layers["stt"] == {}

    response = client.post(f"/library/personas/{persona.pk}/delete/")
    assert response["Location"] == "/library/personas/"
    with pytest.raises(tavus.InvalidRequest):
        tavus.get_persona(persona.persona_id)
    assert not Persona.objects.filter(pk=persona.pk).exists()
    # Every change is in the audit log, with who made it.
    from studio.accounts.models import AuditEntry

    log = AuditEntry.objects.filter(action__startswith="persona").order_by("at")
    assert [(e.action, e.actor) for e in log] == [
        ("persona created", admin_user),
        ("persona changed", admin_user),
        ("persona changed", admin_user),
        ("persona deleted", admin_user),
    ]


def test_duplicating_a_stock_persona_keeps_its_layers(sandbox, client, admin_user):
    stock = Persona.objects.get(persona_id="pdced222244b")
    client.force_login(admin_user)
    html = client.get(f"/library/personas/new/?from={stock.pk}").content.decode()
    assert 'value="Copy of Sales Coach"' in html
    data = {**edit_data(stock), "persona_name": "My sales coach", "source": stock.pk}
    persona = create(client, **data)
    at_tavus = tavus.get_persona(persona.persona_id)
    assert at_tavus.layers == stock.layers and at_tavus.system_prompt == stock.system_prompt


def test_a_replica_tavus_does_not_know_is_shown_next_to_the_face_picker(
    sandbox, client, admin_user
):
    make_replica("r-ghost", "Ghost")  # in our library, not at the sandbox
    client.force_login(admin_user)
    data = {
        "persona_name": "Haunted",
        "pipeline_mode": "full",
        "system_prompt": "Boo.",
        "default_replica_id": "r-ghost",
    }
    response = client.post("/library/personas/new/", data)
    assert response.status_code == 200
    assert response.context["form"].errors["default_replica_id"] == [
        "Tavus does not know that replica."
    ]
    assert not Persona.objects.filter(name="Haunted").exists()


def test_a_persona_deleted_elsewhere_is_marked_vanished_on_sync(sandbox, client, admin_user):
    client.force_login(admin_user)
    persona = create(client, system_prompt="Hi.")
    tavus.delete_persona(persona.persona_id)  # someone else, in the Tavus portal
    result = sync_personas()
    assert result.vanished == 1
    persona.refresh_from_db()
    assert persona.vanished
    html = client.get("/library/personas/").content.decode()
    assert "No longer at Tavus" in html
