"""The objectives builder and the guardrails editor, against the sandbox over real HTTP, and
attaching both to a persona."""

import pytest

from studio.knowledge.models import Guardrail, ObjectiveSet
from studio.library.models import Persona, sync_personas, sync_replicas
from studio.sandbox.models import Guardrail as SandboxGuardrail
from studio.sandbox.models import Objectives as SandboxObjectives
from studio.sandbox.models import Persona as SandboxPersona


def steps(*forms: dict, initial: int = 0) -> dict:
    data = {
        "step-TOTAL_FORMS": str(len(forms)),
        "step-INITIAL_FORMS": str(initial),
        "step-MIN_NUM_FORMS": "0",
        "step-MAX_NUM_FORMS": "1000",
    }
    for index, form in enumerate(forms):
        values = {"confirmation_mode": "auto", "modality": "verbal", **form}
        data.update({f"step-{index}-{k}": v for k, v in values.items()})
    return data


ASK = {
    "objective_name": "ask_if_new",
    "objective_prompt": "Ask whether they have been here before",
    "output_variables": "patient_status",
    "next_conditional": "take_details: if they are new\nfind_record: if they have been before",
}
DETAILS = {"objective_name": "take_details", "objective_prompt": "Take their details"}
RECORD = {
    "objective_name": "find_record",
    "objective_prompt": "Find their record",
    "confirmation_mode": "manual",
}


@pytest.fixture
def sandbox(studio_server):
    return studio_server


def test_an_admin_builds_objectives_saved_at_tavus_and_drawn_as_a_flow(client, admin_user, sandbox):
    client.force_login(admin_user)
    data = {"name": "Clinic intake", **steps(ASK, DETAILS, RECORD, {})}
    response = client.post("/knowledge/objectives/new/", data)
    assert response.status_code == 302, response.context["steps"].errors
    local = ObjectiveSet.objects.get()
    at_tavus = SandboxObjectives.objects.get(pk=local.objectives_id)
    assert at_tavus.objective_name == "Clinic intake"
    assert [i["objective_name"] for i in at_tavus.items] == [
        "ask_if_new",
        "take_details",
        "find_record",
    ]
    assert at_tavus.items[0]["next_conditional_objectives"] == {
        "take_details": "if they are new",
        "find_record": "if they have been before",
    }
    assert at_tavus.items[0]["output_variables"] == ["patient_status"]
    assert at_tavus.items[2]["confirmation_mode"] == "manual"
    html = client.get("/knowledge/objectives/").content.decode()
    assert "Notes down patient_status." in html
    assert '→ <strong>take_details</strong> <span class="muted">if they are new</span>' in html
    assert "A person confirms it." in html and "■ ends here" in html


def test_editing_replaces_the_steps_at_tavus(client, admin_user, sandbox):
    client.force_login(admin_user)
    client.post("/knowledge/objectives/new/", {"name": "Intake", **steps(DETAILS)})
    local = ObjectiveSet.objects.get()
    changed = {**DETAILS, "objective_prompt": "Take their name and date of birth"}
    data = {"name": "Intake", **steps(changed, {}, initial=1)}
    assert client.post(f"/knowledge/objectives/{local.pk}/", data).status_code == 302
    items = SandboxObjectives.objects.get(pk=local.objectives_id).items
    assert items[0]["objective_prompt"] == "Take their name and date of birth"


@pytest.mark.parametrize(
    ("forms", "message"),
    [
        ([DETAILS, DETAILS], "Two steps have the same name"),
        ([{**DETAILS, "next_required": "nowhere"}], "there is no step with that name"),
        ([{**DETAILS, "objective_name": "has space"}], "Letters, digits and underscores"),
        ([{**DETAILS, "next_conditional": "no colon here"}], "step_name: condition"),
        ([{}], "Add at least one step"),
    ],
)
def test_a_broken_flow_is_explained_and_nothing_is_sent(client, admin_user, db, forms, message):
    client.force_login(admin_user)
    response = client.post("/knowledge/objectives/new/", {"name": "X", **steps(*forms)})
    assert response.status_code == 200
    assert message in response.content.decode().replace("&#x27;", "'")
    assert not ObjectiveSet.objects.exists()


def test_guardrails_are_written_edited_and_deleted_at_tavus(client, admin_user, sandbox):
    client.force_login(admin_user)
    data = {
        "name": "no_competitors",
        "prompt": "Never discuss competitors.",
        "modality": "verbal",
        "tags": "compliance",
        "app_message": "on",
    }
    assert client.post("/knowledge/guardrails/new/", data).status_code == 302
    rule = Guardrail.objects.get()
    at_tavus = SandboxGuardrail.objects.get(pk=rule.guardrail_id)
    assert (at_tavus.guardrail_prompt, at_tavus.tags) == (
        "Never discuss competitors.",
        ["compliance"],
    )
    changed = {**data, "name": "renamed", "prompt": "Never name rivals.", "tags": "legal"}
    assert client.post(f"/knowledge/guardrails/{rule.pk}/", changed).status_code == 302
    at_tavus.refresh_from_db()
    assert (at_tavus.guardrail_name, at_tavus.guardrail_prompt) == (
        "no_competitors",
        "Never name rivals.",
    )
    assert at_tavus.tags == ["legal"]
    assert client.post(f"/knowledge/guardrails/{rule.pk}/delete/").status_code == 302
    assert not SandboxGuardrail.objects.exists() and not Guardrail.objects.exists()


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"prompt": "x" * 1001}, "prompt", "at most 1000 characters"),
        ({"name": "no spaces"}, "name", "no spaces"),
        ({"prompt": ""}, "prompt", "required"),
    ],
)
def test_a_bad_guardrail_is_explained(client, admin_user, db, changes, field, message):
    client.force_login(admin_user)
    data = {"name": "rule", "prompt": "Be kind.", "modality": "verbal", **changes}
    response = client.post("/knowledge/guardrails/new/", data)
    assert message in " ".join(response.context["form"].errors[field])
    assert not Guardrail.objects.exists()


def test_operators_may_look_but_not_change(client, operator, db):
    ObjectiveSet.objects.create(objectives_id="o1", name="Intake", items=[DETAILS])
    rule = Guardrail.objects.create(guardrail_id="g1", name="kind", prompt="Be kind.")
    client.force_login(operator)
    assert "Intake" in client.get("/knowledge/objectives/").content.decode()
    assert "Be kind." in client.get("/knowledge/guardrails/").content.decode()
    assert client.get("/knowledge/objectives/new/").status_code == 403
    assert client.post(f"/knowledge/guardrails/{rule.pk}/delete/").status_code == 403


def test_a_persona_takes_objectives_and_guardrails_and_deleting_one_warns(
    client, admin_user, sandbox
):
    client.force_login(admin_user)
    client.post("/knowledge/objectives/new/", {"name": "Intake", **steps(DETAILS)})
    rule = {"name": "kind", "prompt": "Be kind.", "modality": "verbal", "app_message": "on"}
    client.post("/knowledge/guardrails/new/", rule)
    objectives, guardrail = ObjectiveSet.objects.get(), Guardrail.objects.get()
    sync_replicas()
    sync_personas()
    data = {
        "persona_name": "Front desk",
        "pipeline_mode": "full",
        "system_prompt": "Welcome visitors.",
        "default_replica_id": "r6ae5b6efc9d",
        "objectives_id": objectives.objectives_id,
        "guardrail_ids": [guardrail.guardrail_id],
        "guardrail_tags": "compliance",
    }
    response = client.post("/library/personas/new/", data)
    assert response.status_code == 302, response.context["form"].errors
    persona = Persona.objects.get(name="Front desk")
    at_tavus = SandboxPersona.objects.get(pk=persona.persona_id).document
    assert at_tavus["objectives_id"] == objectives.objectives_id
    assert at_tavus["guardrail_ids"] == [guardrail.guardrail_id]
    assert at_tavus["guardrail_tags"] == ["compliance"]
    html = client.get(f"/knowledge/guardrails/{guardrail.pk}/delete/").content.decode()
    assert "<strong>Front desk</strong>" in html
    html = client.get(f"/knowledge/objectives/{objectives.pk}/delete/").content.decode()
    assert "<strong>Front desk</strong>" in html
