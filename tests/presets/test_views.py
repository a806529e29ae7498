import re

import pytest

from studio.presets.models import Milestone, Preset
from tests.library.helpers import make_persona, make_replica

ARN = "arn:aws:iam::123456789012:role/TavusRecordings"


@pytest.fixture(autouse=True)
def no_demo_presets(db):
    # These tests are about the pages, not the first-run demo (see test_demo.py).
    Milestone.objects.create(name=Milestone.DEMO_PRESETS)


@pytest.fixture
def coach(db):
    make_replica("r-anna", "Anna")
    return make_persona("p-coach", "Coach", default_replica_id="r-anna")


@pytest.fixture
def preset(coach, operator):
    return Preset.objects.create(
        name="Onboarding", persona=coach, created_by=operator, updated_by=operator
    )


def form_data(persona, **changes) -> dict:
    data = {
        "name": "Onboarding call",
        "persona": persona.pk,
        "replica": "",
        "language": "English",
        "max_call_minutes": 10,
        "participant_absent_timeout": 300,
        "participant_left_timeout": 30,
        **changes,
    }
    return {k: v for k, v in data.items() if v is not None}


def htmx_change(client, url, data, trigger):
    return client.post(
        url, data, HTTP_HX_REQUEST="true", HTTP_HX_TRIGGER_NAME=trigger
    ).content.decode()


# --- List ----------------------------------------------------------------------------------


def test_the_list_shows_presets_pinned_first_with_who_changed_them(client, operator, coach):
    Preset.objects.create(name="Alpha", persona=coach, updated_by=operator)
    Preset.objects.create(name="Zulu", persona=coach, pinned=True)
    client.force_login(operator)
    html = client.get("/presets/").content.decode()
    assert html.index("Zulu") < html.index("Alpha")
    assert "Changed by olivia" in html
    assert 'aria-current="page">Presets<' in html


def test_archived_presets_are_hidden_behind_a_filter(client, operator, coach):
    Preset.objects.create(name="Current", persona=coach)
    Preset.objects.create(name="Old", persona=coach, archived=True)
    client.force_login(operator)
    html = client.get("/presets/").content.decode()
    assert "Current" in html and ">Old<" not in html and "Archived (1)" in html
    html = client.get("/presets/?archived=1").content.decode()
    assert ">Old<" in html and "Current" not in html and "Unarchive" in html


def test_the_list_searches_and_answers_htmx_with_the_region(client, operator, coach):
    Preset.objects.create(name="Morning", persona=coach)
    Preset.objects.create(name="Evening", persona=coach)
    client.force_login(operator)
    html = client.get("/presets/?q=morn", HTTP_HX_REQUEST="true").content.decode()
    assert html.lstrip().startswith('<section id="preset-list"')
    assert "Morning" in html and "Evening" not in html and "<html" not in html


def test_the_list_flags_presets_that_cannot_launch(client, operator, coach):
    faceless = make_persona("p-x", "Faceless")
    Preset.objects.create(name="Broken", persona=faceless)
    client.force_login(operator)
    assert "Can't launch" in client.get("/presets/").content.decode()


def test_an_empty_list_says_what_to_do(client, operator, coach):
    client.force_login(operator)
    html = client.get("/presets/").content.decode()
    assert "Make your first preset" in html and 'href="/presets/new/"' in html


def test_an_empty_list_without_personas_points_to_the_library(client, operator):
    client.force_login(operator)
    html = client.get("/presets/").content.decode()
    assert "First, fetch the personas" in html and 'href="/library/personas/"' in html


def test_people_without_a_role_cannot_see_presets(client, outsider):
    client.force_login(outsider)
    assert client.get("/presets/").status_code == 403


# --- Pin, duplicate, archive ---------------------------------------------------------------


def test_pin_and_unpin_without_htmx(client, operator, preset):
    client.force_login(operator)
    response = client.post(f"/presets/{preset.pk}/pin/")
    assert response.status_code == 302 and response["Location"] == "/presets/"
    preset.refresh_from_db()
    assert preset.pinned
    client.post(f"/presets/{preset.pk}/pin/")
    preset.refresh_from_db()
    assert not preset.pinned


def test_pin_with_htmx_answers_the_list(client, supervisor, preset):
    client.force_login(supervisor)
    html = client.post(f"/presets/{preset.pk}/pin/", HTTP_HX_REQUEST="true").content.decode()
    assert html.lstrip().startswith('<section id="preset-list"') and "Unpin" in html
    preset.refresh_from_db()
    assert preset.updated_by == supervisor


def test_actions_need_post(client, operator, preset):
    client.force_login(operator)
    for action in ("pin", "duplicate", "unarchive"):
        assert client.get(f"/presets/{preset.pk}/{action}/").status_code == 405


def test_actions_are_csrf_protected(operator, preset):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(operator)
    for action in ("pin", "duplicate", "archive", "unarchive"):
        assert strict.post(f"/presets/{preset.pk}/{action}/").status_code == 403
    assert strict.post("/presets/new/", form_data(preset.persona)).status_code == 403


def test_duplicate_makes_an_unpinned_copy_and_opens_it(client, admin_user, preset):
    preset.pinned = True
    preset.save()
    client.force_login(admin_user)
    response = client.post(f"/presets/{preset.pk}/duplicate/")
    copy = Preset.objects.get(name="Copy of Onboarding")
    assert response["Location"] == f"/presets/{copy.pk}/edit/"
    assert not copy.pinned and copy.created_by == admin_user and copy.persona == preset.persona
    client.post(f"/presets/{preset.pk}/duplicate/")
    assert Preset.objects.filter(name="Copy of Onboarding (2)").exists()


def test_archive_asks_first(client, operator, preset):
    client.force_login(operator)
    html = client.get(f"/presets/{preset.pk}/archive/").content.decode()
    assert "Archive “Onboarding”?" in html and 'method="post"' in html
    preset.refresh_from_db()
    assert not preset.archived


def test_archive_then_unarchive(client, operator, preset):
    client.force_login(operator)
    assert client.post(f"/presets/{preset.pk}/archive/")["Location"] == "/presets/"
    preset.refresh_from_db()
    assert preset.archived and not preset.pinned
    client.post(f"/presets/{preset.pk}/unarchive/")
    preset.refresh_from_db()
    assert not preset.archived


def test_unarchive_refuses_a_name_now_in_use(client, operator, preset, coach):
    preset.archived = True
    preset.save()
    Preset.objects.create(name="onboarding", persona=coach)
    client.force_login(operator)
    response = client.post(f"/presets/{preset.pk}/unarchive/", follow=True)
    assert "already called “Onboarding”" in response.content.decode()
    preset.refresh_from_db()
    assert preset.archived


def test_unknown_presets_are_404(client, operator, db):
    client.force_login(operator)
    assert client.get("/presets/999/edit/").status_code == 404
    assert client.post("/presets/999/pin/").status_code == 404


# --- Editor: full page ---------------------------------------------------------------------


def test_new_preset_page_has_the_form_and_an_empty_preview(client, operator, coach):
    client.force_login(operator)
    html = client.get("/presets/new/").content.decode()
    assert '<form id="preset-form" method="post"' in html
    assert "Pick a persona to see what a launch will do" in html
    assert 'hx-post="/presets/validate/"' in html
    assert '<datalist id="language-options">' in html and '<option value="Spanish">' in html
    # Without JavaScript the hidden sections are shown by this style.
    # Without JavaScript every dependent field shows (a <style> the CSP lets in by its nonce).
    assert re.search(
        r'<noscript><style nonce="[^"]+">\.dep-off \{ display: block !important; \}</style>', html
    )


def test_new_preset_can_start_from_a_persona(client, operator, coach):
    client.force_login(operator)
    html = client.get(f"/presets/new/?persona={coach.pk}").content.decode()
    assert f'<option value="{coach.pk}" selected>' in html
    assert "exactly what is sent" in html and "&quot;p-coach&quot;" in html


def test_the_sections_start_hidden_or_shown_from_the_saved_preset(client, operator, preset):
    preset.enable_recording = True
    preset.recording_s3_bucket_name = "acme-recordings"
    preset.recording_s3_bucket_region = "eu-west-1"
    preset.aws_assume_role_arn = ARN
    preset.save()
    client.force_login(operator)
    html = client.get(f"/presets/{preset.pk}/edit/").content.decode()
    assert 'id="section-recording" class="dependent"' in html
    assert 'id="section-participants" class="dependent dep-off"' in html
    assert 'id="section-greeting" class="dependent"' in html
    assert "Last changed by olivia" in html


def test_creating_a_preset_redirects_with_a_message(client, operator, coach):
    client.force_login(operator)
    response = client.post("/presets/new/", form_data(coach), follow=True)
    assert response.redirect_chain == [("/presets/", 302)]
    assert "Saved “Onboarding call”." in response.content.decode()
    preset = Preset.objects.get(name="Onboarding call")
    assert preset.created_by == operator and preset.updated_by == operator


def test_an_invalid_post_rerenders_the_whole_page_with_errors(client, operator, coach):
    client.force_login(operator)
    data = form_data(coach, max_call_minutes=90, enable_recording="on")
    response = client.post("/presets/new/", data)
    html = response.content.decode()
    assert response.status_code == 200 and "<html" in html
    assert "Tavus allows at most 60 minutes per conversation." in html
    assert "Needed for recording. Enter the S3 bucket name." in html
    assert not Preset.objects.exists()


def test_editing_saves_and_records_who(client, supervisor, preset):
    client.force_login(supervisor)
    data = form_data(preset.persona, name="Onboarding v2", dynamic_greeting="on")
    client.post(f"/presets/{preset.pk}/edit/", data)
    preset.refresh_from_db()
    assert preset.name == "Onboarding v2" and preset.dynamic_greeting
    assert preset.updated_by == supervisor and preset.created_by.username == "olivia"


def test_the_no_script_preview_button_does_not_save(client, operator, preset):
    client.force_login(operator)
    data = form_data(preset.persona, name="Renamed", max_call_minutes=25, _preview="1")
    html = client.post(f"/presets/{preset.pk}/edit/", data).content.decode()
    assert "Can run for up to 25 minutes" in html
    preset.refresh_from_db()
    assert preset.name == "Onboarding"


# --- Editor: htmx validation as fields are left ---------------------------------------------


def test_leaving_a_field_answers_its_region_and_the_preview_out_of_band(client, operator, coach):
    client.force_login(operator)
    html = htmx_change(client, "/presets/validate/", form_data(coach, name=""), "name")
    assert re.match(r'\s*<div class="field has-error" id="id_name-field" hx-swap-oob="true">', html)
    assert "Give the preset a name." in html
    assert 'id="effective-preview" class="card preview" aria-live="polite" hx-swap-oob' in html
    assert "<html" not in html and "id_max_call_minutes" not in html


def test_only_the_field_left_shows_its_errors(client, operator, coach):
    client.force_login(operator)
    data = form_data(coach, name="", max_call_minutes=99)
    html = htmx_change(client, "/presets/validate/", data, "max_call_minutes")
    assert "at most 60 minutes" in html and "Give the preset a name." not in html


def test_a_bad_arn_is_refused_in_place(client, operator, coach):
    client.force_login(operator)
    data = form_data(coach, enable_recording="on", aws_assume_role_arn="arn:aws:iam::1:role/x")
    html = htmx_change(client, "/presets/validate/", data, "aws_assume_role_arn")
    assert 'id="id_aws_assume_role_arn-field" hx-swap-oob="true"' in html
    assert "isn&#x27;t an IAM role ARN" in html


def test_the_preview_follows_the_form_as_it_is_now(client, operator, coach):
    client.force_login(operator)
    data = form_data(coach, max_call_minutes=25, participant_left_timeout=0)
    html = htmx_change(client, "/presets/validate/", data, "max_call_minutes")
    assert "Can run for up to 25 minutes" in html
    assert "keeps running and billing after everyone leaves" in html
    assert "&quot;max_call_duration&quot;: 1500" in html


def test_an_invalid_value_does_not_reach_the_preview(client, operator, coach):
    client.force_login(operator)
    html = htmx_change(client, "/presets/validate/", form_data(coach, max_call_minutes=99), "x")
    assert "&quot;max_call_duration&quot;: 600" in html  # the model default, not 99 minutes


def test_ticking_recording_reveals_its_section_without_nagging(client, operator, coach):
    client.force_login(operator)
    data = form_data(coach, enable_recording="on")
    html = htmx_change(client, "/presets/validate/", data, "enable_recording")
    assert '<div id="section-recording" class="dependent" hx-swap-oob="true">' in html
    assert "S3 bucket name" in html and "Needed for recording" not in html
    assert "account 291871421005 with external id “tavus”" in html  # how to set up the role
    # Inner fields carry no out-of-band marker of their own (the section swaps as one).
    assert html.count('hx-swap-oob="true"') == 2


def test_unticking_recording_hides_its_section(client, operator, coach):
    client.force_login(operator)
    html = htmx_change(client, "/presets/validate/", form_data(coach), "enable_recording")
    assert '<div id="section-recording" class="dependent dep-off" hx-swap-oob="true">' in html


def test_ticking_the_limit_reveals_the_participant_number(client, operator, coach):
    client.force_login(operator)
    data = form_data(coach, limit_participants="on")
    html = htmx_change(client, "/presets/validate/", data, "limit_participants")
    assert '<div id="section-participants" class="dependent" hx-swap-oob="true">' in html
    assert "Enter the most people" not in html  # not nagged before they type


def test_dynamic_greeting_hides_the_written_greeting(client, operator, coach):
    client.force_login(operator)
    data = form_data(coach, dynamic_greeting="on")
    html = htmx_change(client, "/presets/validate/", data, "dynamic_greeting")
    assert '<div id="section-greeting" class="dependent dep-off" hx-swap-oob="true">' in html
    assert "Opens with a greeting the AI writes" in html


def test_dynamic_greeting_with_a_written_one_says_choose_one(client, operator, coach):
    client.force_login(operator)
    data = form_data(coach, dynamic_greeting="on", custom_greeting="Hi!")
    html = htmx_change(client, "/presets/validate/", data, "dynamic_greeting")
    assert '<div id="section-greeting" class="dependent" hx-swap-oob="true">' in html
    assert "Choose one" in html


def test_changing_persona_refreshes_the_face_picker(client, operator, coach):
    faceless = make_persona("p-x", "Faceless")
    client.force_login(operator)
    html = htmx_change(client, "/presets/validate/", form_data(faceless), "persona")
    assert 'id="id_persona-field" hx-swap-oob="true"' in html
    assert 'id="id_replica-field" hx-swap-oob="true"' in html
    assert "“Faceless” has no default face" in html
    html = htmx_change(client, "/presets/validate/", form_data(coach), "persona")
    assert "Persona's default" in html and "Anna" in html


def test_validating_an_existing_preset_ignores_its_own_name(client, operator, preset):
    client.force_login(operator)
    url = f"/presets/{preset.pk}/validate/"
    html = htmx_change(client, url, form_data(preset.persona, name="Onboarding"), "name")
    assert "already has this name" not in html


def test_validate_never_saves(client, operator, preset):
    client.force_login(operator)
    url = f"/presets/{preset.pk}/validate/"
    htmx_change(client, url, form_data(preset.persona, name="Changed"), "name")
    preset.refresh_from_db()
    assert preset.name == "Onboarding"


def test_validate_only_takes_post(client, operator, db):
    client.force_login(operator)
    assert client.get("/presets/validate/").status_code == 405
