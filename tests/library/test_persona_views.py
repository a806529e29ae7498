import json

import pytest

from studio.library.models import Persona
from studio.presets.models import Preset
from tests.library.helpers import (
    ScriptedTavus,
    make_persona,
    make_replica,
    persona_json,
    tavus_answers,
    tavus_unreachable,
)

LIST = "/library/personas/"


@pytest.fixture
def anna(db):
    return make_replica("r1", "Anna")


@pytest.fixture
def stock(anna):
    return make_persona(
        "p-stock",
        "Sales Coach",
        persona_type="system",
        default_replica_id="r1",
        layers={
            "perception": {"perception_model": "raven-0", "ambient_awareness_queries": ["Tie?"]},
            "llm": {"model": "tavus-gpt-4o"},
        },
    )


@pytest.fixture
def mine(anna):
    raw = {
        "persona_name": "Tutor",
        "system_prompt": "Teach.",
        "pipeline_mode": "full",
        "layers": {"llm": {"model": "tavus-gpt-4o"}},
    }
    return make_persona("p-mine", "Tutor", system_prompt="Teach.", layers=raw["layers"], raw=raw)


def editor_data(persona, **changes):
    from studio.library.forms import PersonaForm

    data = {
        k: v if isinstance(v, list) else v or ""
        for k, v in PersonaForm.initial_from(persona).items()
    }
    return {**data, **changes}


# --- List and detail -----------------------------------------------------------------------


def test_operators_see_the_list_read_only(client, operator, stock, mine):
    client.force_login(operator)
    html = client.get(LIST).content.decode()
    assert "Sales Coach" in html and "Tutor" in html
    assert "Duplicate to edit" not in html and "New persona" not in html
    assert 'aria-current="page">Personas<' in html


def test_admins_get_duplicate_for_stock_and_edit_for_their_own(client, admin_user, stock, mine):
    client.force_login(admin_user)
    html = client.get(LIST).content.decode()
    assert f'href="/library/personas/new/?from={stock.pk}">Duplicate to edit' in html
    assert f'href="/library/personas/{mine.pk}/edit/">Edit' in html
    assert f"/library/personas/{stock.pk}/edit/" not in html


def test_the_list_shows_the_default_face_and_senses(client, operator, stock):
    client.force_login(operator)
    html = client.get(LIST).content.decode()
    assert "Anna" in html and "Sees with Raven-0" in html and "GPT-4o" in html
    assert "raven-0" not in html and "tavus-gpt-4o" not in html  # words, not Tavus's codes


def test_deprecated_settings_are_shown_as_deprecated_on_the_list_and_the_page(
    client, operator, stock
):
    client.force_login(operator)
    assert "Uses settings Tavus is retiring" in client.get(LIST).content.decode()
    html = client.get(f"/library/personas/{stock.pk}/").content.decode()
    assert "settings Tavus has moved on from" in html
    assert (
        "<strong>GPT-4o</strong> is being retired by Tavus: Tavus recommends GPT-OSS instead."
        in html
    )
    assert "<strong>Raven-0</strong> is no longer offered by Tavus" in html
    assert "GPT-4o (deprecated:" in html  # the setting itself, in words
    # Tavus's codes only behind the disclosure, for talking to Tavus's support.
    words, codes = html.split("Tavus's names for these settings")
    assert "tavus-gpt-4o" not in words and "<code>tavus-gpt-4o</code>" in codes
    assert stock.persona_id not in words and f"<code>{stock.persona_id}</code>" in codes


def test_a_persona_on_current_settings_shows_no_deprecation(client, operator, anna):
    persona = make_persona("p-new", "Fresh", layers={"llm": {"model": "tavus-gpt-oss"}})
    client.force_login(operator)
    html = client.get(f"/library/personas/{persona.pk}/").content.decode()
    assert "moved on from" not in html
    assert "GPT-OSS (hosted by Tavus, recommended)" in html


def test_the_editor_names_the_source_and_date_of_its_lists(client, admin_user):
    client.force_login(admin_user)
    html = client.get("/library/personas/new/").content.decode()
    assert "docs.tavus.io, persona layer pages" in html and "checked 2026-05" in html


def test_the_list_filters_and_answers_htmx_with_the_region(client, operator, stock, mine):
    client.force_login(operator)
    html = client.get(LIST, {"type": "system"}, HTTP_HX_REQUEST="true").content.decode()
    assert html.lstrip().startswith('<section id="persona-region"')
    assert "Sales Coach" in html and ">Tutor<" not in html


def test_first_visit_of_an_empty_persona_list_syncs(client, operator):
    client.force_login(operator)
    tavus = ScriptedTavus(personas=[persona_json("p1", "Santa")])
    with tavus.installed():
        html = client.get(LIST).content.decode()
    assert "Synced 1 persona" in html and "Santa" in html


def test_first_visit_during_an_outage_explains(client, operator):
    client.force_login(operator)
    with tavus_unreachable():
        response = client.get(LIST)
    assert response.status_code == 200
    assert "Could not reach Tavus" in response.content.decode()


def test_persona_sync_requires_admin_and_reports(client, operator, admin_user, mine):
    client.force_login(operator)
    assert client.post("/library/personas/sync/").status_code == 403
    client.force_login(admin_user)
    with ScriptedTavus(personas=[persona_json("p1", "Santa")]).installed():
        html = client.post("/library/personas/sync/", HTTP_HX_REQUEST="true").content.decode()
    assert "Synced 1 persona (1 no longer at Tavus)" in html
    assert Persona.objects.get(persona_id="p-mine").vanished


def test_detail_of_a_stock_persona_says_it_is_read_only(client, admin_user, stock):
    client.force_login(admin_user)
    html = client.get(f"/library/personas/{stock.pk}/").content.decode()
    assert "Stock personas belong to Tavus" in html
    assert "Duplicate to edit" in html and "Delete…" not in html


def test_detail_of_an_unknown_persona_is_404(client, operator, db):
    client.force_login(operator)
    assert client.get("/library/personas/999/").status_code == 404


# --- Roles ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["new/", "{pk}/edit/", "{pk}/delete/", "sync/"])
def test_only_admins_change_personas(client, operator, supervisor, mine, path):
    url = LIST + path.format(pk=mine.pk)
    for user in (operator, supervisor):
        client.force_login(user)
        assert client.get(url).status_code in (403, 405)
        assert client.post(url).status_code == 403


# --- Create --------------------------------------------------------------------------------


def test_new_persona_form_offers_replica_cards(client, admin_user, anna):
    client.force_login(admin_user)
    html = client.get(LIST + "new/").content.decode()
    assert 'type="radio" name="default_replica_id" value="r1"' in html
    assert "No default" in html and "Anna" in html


def test_duplicate_to_edit_starts_from_a_copy(client, admin_user, stock):
    client.force_login(admin_user)
    html = client.get(LIST + f"new/?from={stock.pk}").content.decode()
    assert 'value="Copy of Sales Coach"' in html
    assert f'name="source" value="{stock.pk}"' in html


def test_creating_sends_the_body_to_tavus_and_stores_the_result(client, admin_user, stock):
    client.force_login(admin_user)
    data = {
        "persona_name": "My coach",
        "pipeline_mode": "full",
        "system_prompt": "Coach kindly.",
        "default_replica_id": "r1",
        "tts_engine": "cartesia",
        "external_voice_id": "v-42",
        "llm_model": "tavus-gpt-4o",
        "perception_model": "raven-1",
        "source": stock.pk,
    }
    with ScriptedTavus().installed() as tavus:
        response = client.post(LIST + "new/", data)
    assert tavus.bodies("POST") == [
        {
            "persona_name": "My coach",
            "system_prompt": "Coach kindly.",
            "pipeline_mode": "full",
            "default_replica_id": "r1",
            # The stock persona's other layer settings come along with the copy.
            "layers": {
                "perception": {
                    "perception_model": "raven-1",
                    "ambient_awareness_queries": ["Tie?"],
                },
                "llm": {"model": "tavus-gpt-4o"},
                "tts": {"tts_engine": "cartesia", "external_voice_id": "v-42"},
            },
        }
    ]
    persona = Persona.objects.get(name="My coach")
    assert (
        response.status_code == 302 and response["Location"] == f"/library/personas/{persona.pk}/"
    )
    assert persona.persona_type == "user" and persona.default_replica_id == "r1"
    assert persona.layers["tts"]["external_voice_id"] == "v-42"


def test_an_invalid_form_is_not_sent(client, admin_user, anna):
    client.force_login(admin_user)
    with ScriptedTavus().installed() as tavus:
        response = client.post(LIST + "new/", {"persona_name": "", "pipeline_mode": "full"})
    assert response.status_code == 200 and tavus.requests == []
    assert "This field is required" in response.content.decode()


def test_tavus_refusing_a_field_shows_next_to_it(client, admin_user, anna):
    client.force_login(admin_user)
    data = {"persona_name": "X", "pipeline_mode": "echo", "tts_engine": "cartesia"}
    with tavus_answers(400, {"error": "Invalid tts_engine for this voice"}):
        response = client.post(LIST + "new/", data)
    form = response.context["form"]
    assert "Invalid tts_engine" in form.errors["tts_engine"][0]
    assert not Persona.objects.filter(name="X").exists()


def test_an_outage_on_create_says_nothing_was_created(client, admin_user, anna):
    client.force_login(admin_user)
    with tavus_unreachable():
        response = client.post(LIST + "new/", {"persona_name": "X", "pipeline_mode": "echo"})
    html = response.content.decode()
    assert "Could not reach Tavus" in html and "Nothing was created." in html
    assert 'value="X"' in html  # what they typed is kept


# --- Edit ----------------------------------------------------------------------------------


def test_saving_sends_only_the_changed_fields(client, admin_user, mine):
    client.force_login(admin_user)
    data = editor_data(mine, system_prompt="Teach gently.", hotwords="Acme")
    with ScriptedTavus().installed() as tavus:
        response = client.post(f"{LIST}{mine.pk}/edit/", data)
    assert response.status_code == 302
    assert tavus.bodies("PATCH") == [
        [
            {"op": "replace", "path": "/system_prompt", "value": "Teach gently."},
            {"op": "add", "path": "/layers/stt", "value": {"hotwords": "Acme"}},
        ]
    ]
    mine.refresh_from_db()
    assert mine.system_prompt == "Teach gently."
    assert mine.layers == {"llm": {"model": "tavus-gpt-4o"}, "stt": {"hotwords": "Acme"}}


def test_saving_without_changes_sends_nothing(client, admin_user, mine):
    client.force_login(admin_user)
    with ScriptedTavus().installed() as tavus:
        response = client.post(f"{LIST}{mine.pk}/edit/", editor_data(mine), follow=True)
    assert tavus.requests == []
    assert "Nothing changed" in response.content.decode()


def test_tavus_saying_no_change_is_reported(client, admin_user, mine):
    client.force_login(admin_user)
    data = editor_data(mine, context="New")
    with tavus_answers(304, {"message": "No changes were made to the persona"}):
        response = client.post(f"{LIST}{mine.pk}/edit/", data, follow=True)
    assert "Tavus says nothing changed" in response.content.decode()


def test_an_invalid_patch_lands_on_its_field(client, admin_user, mine):
    client.force_login(admin_user)
    data = editor_data(mine, persona_name="Bad name")
    with tavus_answers(400, {"error": "persona_name is too long"}):
        response = client.post(f"{LIST}{mine.pk}/edit/", data)
    assert "persona_name is too long" in response.context["form"].errors["persona_name"][0]
    mine.refresh_from_db()
    assert mine.name == "Tutor"


def test_an_outage_on_save_leaves_the_local_copy_and_says_so(client, admin_user, mine):
    client.force_login(admin_user)
    data = editor_data(mine, system_prompt="Changed")
    with tavus_answers(502, {}):
        response = client.post(f"{LIST}{mine.pk}/edit/", data)
    html = response.content.decode()
    assert "Nothing was saved, here or at Tavus." in html
    mine.refresh_from_db()
    assert mine.system_prompt == "Teach."


def test_stock_personas_cannot_be_edited(client, admin_user, stock):
    client.force_login(admin_user)
    with ScriptedTavus().installed() as tavus:
        response = client.post(f"{LIST}{stock.pk}/edit/", editor_data(stock), follow=True)
    assert tavus.requests == []
    assert "Duplicate it to edit a copy" in response.content.decode()


# --- Delete --------------------------------------------------------------------------------


def test_delete_confirmation_names_the_presets_using_it(client, admin_user, mine):
    Preset.objects.create(name="Morning tutoring", persona=mine)
    Preset.objects.create(name="Old one", persona=mine, archived=True)
    client.force_login(admin_user)
    html = client.get(f"{LIST}{mine.pk}/delete/").content.decode()
    assert "Morning tutoring" in html and "Old one" in html and "(archived)" in html
    assert "2 presets use this persona" in html


def test_deleting_an_unused_persona_removes_it(client, admin_user, mine):
    client.force_login(admin_user)
    with ScriptedTavus().installed() as tavus:
        response = client.post(f"{LIST}{mine.pk}/delete/")
    assert [r.method for r in tavus.requests] == ["DELETE"]
    assert tavus.requests[0].url.path.endswith("/v2/personas/p-mine")
    assert response["Location"] == LIST
    assert not Persona.objects.filter(pk=mine.pk).exists()


def test_deleting_a_persona_presets_use_keeps_it_as_vanished(client, admin_user, mine):
    Preset.objects.create(name="Morning tutoring", persona=mine)
    client.force_login(admin_user)
    with ScriptedTavus().installed():
        response = client.post(f"{LIST}{mine.pk}/delete/", follow=True)
    mine.refresh_from_db()
    assert mine.vanished
    assert "1 preset(s) still name it" in response.content.decode()


def test_deleting_during_an_outage_keeps_everything(client, admin_user, mine):
    client.force_login(admin_user)
    with tavus_unreachable():
        response = client.post(f"{LIST}{mine.pk}/delete/")
    assert response.status_code == 200
    assert "The persona was not deleted." in response.content.decode()
    assert Persona.objects.filter(pk=mine.pk, vanished=False).exists()


def test_deleting_a_persona_tavus_no_longer_has_still_cleans_up(client, admin_user, mine):
    client.force_login(admin_user)
    with tavus_answers(400, {"error": "Invalid persona_id"}):
        client.post(f"{LIST}{mine.pk}/delete/")
    assert not Persona.objects.filter(pk=mine.pk).exists()


def test_stock_personas_cannot_be_deleted(client, admin_user, stock):
    client.force_login(admin_user)
    with ScriptedTavus().installed() as tavus:
        client.post(f"{LIST}{stock.pk}/delete/")
    assert tavus.requests == [] and Persona.objects.filter(pk=stock.pk).exists()


def test_request_bodies_are_json(db):
    # A guard for the helper itself: bodies() decodes what the client sent.
    tavus = ScriptedTavus()
    with tavus.installed():
        from studio.tavus import client

        client.patch_persona("p1", [{"op": "remove", "path": "/context"}])
    assert tavus.bodies("PATCH") == [[{"op": "remove", "path": "/context"}]]
    assert json.loads(tavus.requests[0].content)[0]["op"] == "remove"


def test_the_list_is_in_order_own_first_then_by_name(client, operator, stock, mine):
    make_persona("p-a", "Alpha", persona_type="system")
    make_persona("p-z", "Zeta")
    client.force_login(operator)
    html = client.get(LIST).content.decode()
    positions = [html.index(f"<strong>{name}</strong>") for name in ("Tutor", "Zeta", "Alpha")]
    positions.append(html.index("<strong>Sales Coach</strong>"))
    assert positions == sorted(positions)


def test_the_editor_opens_with_the_current_values(client, admin_user, mine):
    client.force_login(admin_user)
    html = client.get(f"{LIST}{mine.pk}/edit/").content.decode()
    assert 'value="Tutor"' in html and "Teach.</textarea>" in html
    assert '<option value="tavus-gpt-4o" selected>' in html


def test_a_vanished_persona_cannot_be_edited(client, admin_user, mine):
    mine.vanished = True
    mine.save()
    client.force_login(admin_user)
    response = client.get(f"{LIST}{mine.pk}/edit/", follow=True)
    assert "no longer at Tavus, so it can" in response.content.decode()


def test_the_persona_page_shows_its_knowledge_behaviour_voice_and_queries(client, operator, anna):
    from studio.knowledge.models import Document, Guardrail, ObjectiveSet

    Document.objects.create(document_id="d-1", name="Handbook", status="processing")
    ObjectiveSet.objects.create(objectives_id="o1", name="Intake", items=[{}, {}])
    Guardrail.objects.create(guardrail_id="g1", name="no_competitors", prompt="x", tags=["legal"])
    layers = {
        "tts": {"tts_model_name": "sonic-3", "voice_settings": {"speed": 1.1}},
        "perception": {"perception_analysis_queries": ["Did they smile?"]},
    }
    raw = {"document_ids": ["d-1"], "objectives_id": "o1", "guardrail_tags": ["legal"]}
    persona = make_persona("p-kb", "Desk", layers=layers, raw=raw)
    client.force_login(operator)
    html = client.get(f"/library/personas/{persona.pk}/").content.decode()
    assert 'Handbook</a> <span class="badge badge-warn">Reading</span>' in html
    assert "Intake</a> (2 steps)" in html and "no_competitors" in html
    assert "Speaking speed 1.1" in html and "“Did they smile?”" in html
    assert "<code>sonic-3</code>" in html.split("Tavus's names for these settings")[1]
