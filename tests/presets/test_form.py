import pytest

from studio.presets.forms import PresetForm
from studio.presets.models import Preset
from tests.library.helpers import make_persona, make_replica

pytestmark = pytest.mark.django_db

ARN = "arn:aws:iam::123456789012:role/TavusRecordings"


@pytest.fixture
def coach():
    make_replica("r-anna", "Anna")
    return make_persona("p-coach", "Coach", default_replica_id="r-anna")


def data_for(persona_obj, **changes) -> dict:
    data = {
        "name": "Onboarding",
        "persona": persona_obj.pk,
        "replica": "",
        "language": "English",
        "max_call_minutes": 10,
        "participant_absent_timeout": 300,
        "participant_left_timeout": 30,
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def errors_for(persona_obj, instance=None, **changes) -> dict:
    form = PresetForm(data_for(persona_obj, **changes), instance=instance or Preset())
    form.is_valid()
    return form.errors


def test_a_plain_preset_is_valid_and_saves(coach):
    form = PresetForm(data_for(coach), instance=Preset())
    assert form.is_valid(), form.errors
    preset = form.save()
    assert (preset.language, preset.max_participants, preset.replica) == ("english", None, None)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": ""}, "name", "Give the preset a name."),
        ({"name": "   "}, "name", "Give the preset a name."),
        ({"persona": ""}, "persona", "Pick a persona."),
        ({"max_call_minutes": ""}, "max_call_minutes", "Enter a time limit"),
        ({"max_call_minutes": 0}, "max_call_minutes", "at least 1 minute"),
        ({"max_call_minutes": 61}, "max_call_minutes", "at most 60 minutes"),
        ({"participant_absent_timeout": -1}, "participant_absent_timeout", "0 or more"),
        ({"participant_absent_timeout": 3601}, "participant_absent_timeout", "at most 3600"),
        ({"participant_left_timeout": -5}, "participant_left_timeout", "0 or more"),
        ({"participant_left_timeout": 4000}, "participant_left_timeout", "at most 3600"),
        ({"participant_left_timeout": ""}, "participant_left_timeout", "required"),
        (
            {"limit_participants": "on", "max_participants": 1},
            "max_participants",
            "the replica counts as one",
        ),
        ({"limit_participants": "on", "max_participants": ""}, "max_participants", "Enter the"),
        ({"language": "Klingon"}, "language", "doesn't support that language"),
        ({"language": "en"}, "language", "doesn't support that language"),
        ({"language": ""}, "language", "Pick a language"),
        ({"retention_days": 0}, "retention_days", "greater than or equal to 1"),
        (
            {"dynamic_greeting": "on", "custom_greeting": "Hi!"},
            "custom_greeting",
            "Choose one",
        ),
    ],
)
def test_each_rule_is_checked_on_the_server(coach, changes, field, message):
    if "persona" in changes:
        form = PresetForm({**data_for(coach), **changes}, instance=Preset())
        form.is_valid()
        errors = form.errors
    else:
        errors = errors_for(coach, **changes)
    assert message in " ".join(errors[field]), errors


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("recording_s3_bucket_name", "", "Enter the S3 bucket name."),
        ("recording_s3_bucket_name", "Bad_Bucket", "lowercase letters"),
        ("recording_s3_bucket_name", "192.168.1.1", "IP address"),
        ("recording_s3_bucket_region", "", "Pick the bucket's region."),
        ("recording_s3_bucket_region", "mars-1", "Select a valid choice"),
        ("aws_assume_role_arn", "", "Enter the IAM role"),
        ("aws_assume_role_arn", "arn:aws:iam::12345:role/x", "isn't an IAM role ARN"),
    ],
)
def test_recording_needs_a_valid_bucket_region_and_role(coach, field, value, message):
    recording = {
        "enable_recording": "on",
        "recording_s3_bucket_name": "acme-recordings",
        "recording_s3_bucket_region": "eu-west-1",
        "aws_assume_role_arn": ARN,
        field: value,
    }
    errors = errors_for(coach, **recording)
    assert list(errors) == [field]
    assert message in errors[field][0]


def test_valid_recording_settings_are_kept(coach):
    form = PresetForm(
        data_for(
            coach,
            enable_recording="on",
            recording_s3_bucket_name=" acme-recordings ",
            recording_s3_bucket_region="eu-west-1",
            aws_assume_role_arn=ARN,
        ),
        instance=Preset(),
    )
    assert form.is_valid(), form.errors
    preset = form.save()
    assert preset.recording_s3_bucket_name == "acme-recordings"


def test_with_recording_off_the_bucket_fields_are_ignored_and_cleared(coach):
    form = PresetForm(
        data_for(coach, recording_s3_bucket_name="Bad_Bucket", aws_assume_role_arn="nonsense"),
        instance=Preset(),
    )
    assert form.is_valid(), form.errors
    preset = form.save()
    assert preset.recording_s3_bucket_name == "" and preset.aws_assume_role_arn == ""


def test_without_the_limit_box_the_number_is_ignored(coach):
    form = PresetForm(data_for(coach, max_participants=1), instance=Preset())
    assert form.is_valid(), form.errors
    assert form.save().max_participants is None


def test_with_the_limit_box_the_number_is_stored(coach):
    form = PresetForm(
        data_for(coach, limit_participants="on", max_participants=2), instance=Preset()
    )
    assert form.is_valid(), form.errors
    assert form.save().max_participants == 2


def test_names_must_be_unique_among_presets_in_use(coach):
    Preset.objects.create(name="Onboarding", persona=coach)
    assert "already has this name" in errors_for(coach, name="onboarding ")["name"][0]


def test_an_archived_preset_frees_its_name(coach):
    Preset.objects.create(name="Onboarding", persona=coach, archived=True)
    assert errors_for(coach) == {}


def test_a_preset_keeps_its_own_name_when_edited(coach):
    preset = Preset.objects.create(name="Onboarding", persona=coach)
    assert errors_for(coach, instance=preset) == {}


def test_spaces_in_names_are_tidied(coach):
    form = PresetForm(data_for(coach, name="  Morning   call "), instance=Preset())
    assert form.is_valid() and form.cleaned_data["name"] == "Morning call"


def test_language_accepts_the_label_or_the_value(coach):
    for typed, stored in (
        ("Spanish", "spanish"),
        ("FRENCH", "french"),
        ("Detect automatically", "multilingual"),
    ):
        form = PresetForm(data_for(coach, language=typed), instance=Preset())
        assert form.is_valid(), form.errors
        assert form.cleaned_data["language"] == stored


def test_the_language_input_shows_the_label_and_offers_a_list(coach):
    preset = Preset.objects.create(name="x", persona=coach, language="spanish")
    html = str(PresetForm(instance=preset)["language"])
    assert 'value="Spanish"' in html and 'list="language-options"' in html


def test_a_face_is_required_when_the_persona_has_no_default(coach):
    faceless = make_persona("p-x", "Faceless")
    errors = errors_for(faceless)
    assert "“Faceless” has no default face" in errors["replica"][0]
    assert errors_for(faceless, replica=coach.default_replica.pk) == {}


def test_a_face_is_required_when_the_default_face_has_vanished(db):
    make_replica("r-gone", "Gone", vanished=True)
    persona = make_persona("p-x", "X", default_replica_id="r-gone")
    assert "is no longer at Tavus" in errors_for(persona)["replica"][0]


def test_a_vanished_persona_is_refused(coach):
    preset = Preset.objects.create(name="Onboarding", persona=coach)
    coach.vanished = True
    coach.save()
    errors = errors_for(coach, instance=preset)
    assert "no longer at Tavus" in errors["persona"][0]


def test_a_vanished_persona_is_not_offered_for_new_presets(coach):
    coach.vanished = True
    coach.save()
    assert coach not in PresetForm(instance=Preset()).fields["persona"].queryset


def test_a_vanished_replica_is_refused(coach):
    nathan = make_replica("r-nathan", "Nathan")
    preset = Preset.objects.create(name="Onboarding", persona=coach, replica=nathan)
    nathan.vanished = True
    nathan.save()
    assert (
        "no longer at Tavus" in errors_for(coach, instance=preset, replica=nathan.pk)["replica"][0]
    )


def test_a_replica_that_failed_training_is_refused(coach):
    broken = make_replica("r-broken", "Broken", status="error")
    assert "failed training" in errors_for(coach, replica=broken.pk)["replica"][0]


@pytest.mark.parametrize(
    ("data", "visible"),
    [
        ({}, {"greeting": True, "participants": False, "recording": False}),
        (
            {"dynamic_greeting": "on"},
            {"greeting": False, "participants": False, "recording": False},
        ),
        ({"limit_participants": "on", "max_participants": 3}, {"participants": True}),
        ({"enable_recording": "on"}, {"recording": True}),
        # A section with an error stays on screen whatever its box says.
        ({"dynamic_greeting": "on", "custom_greeting": "Hi"}, {"greeting": True}),
    ],
)
def test_dependent_sections_follow_their_boxes(coach, data, visible):
    form = PresetForm(data_for(coach, **data), instance=Preset())
    form.is_valid()
    for section, shown in visible.items():
        assert form.visible_sections[section] is shown, section


def test_an_unbound_form_shows_sections_for_the_saved_preset(coach):
    preset = Preset.objects.create(
        name="x", persona=coach, max_participants=4, dynamic_greeting=True
    )
    sections = PresetForm(instance=preset).visible_sections
    assert sections == {"greeting": False, "participants": True, "recording": False}


def test_fields_get_htmx_validation_attributes_when_asked(coach):
    form = PresetForm(instance=Preset(), validate_url="/presets/validate/")
    html = str(form["name"])
    assert 'hx-post="/presets/validate/"' in html and 'hx-trigger="change"' in html
    assert "hx-post" not in str(PresetForm(instance=Preset())["name"])


def test_regions_for_each_trigger(coach):
    form = PresetForm(instance=Preset())
    assert form.regions_for("enable_recording") == [("section", "recording")]
    assert form.regions_for("dynamic_greeting") == [("section", "greeting")]
    assert form.regions_for("limit_participants") == [("section", "participants")]
    assert form.regions_for("persona") == [("field", "persona"), ("field", "replica")]
    assert form.regions_for("name") == [("field", "name")]
    assert form.regions_for("nonsense") == [] and form.regions_for(None) == []


def test_who_talks_is_saved_and_defaults_to_the_launcher(coach):
    form = PresetForm(data_for(coach, talker="link"), instance=Preset())
    assert form.is_valid(), form.errors
    assert form.save().talker == "link"
    unsaid = PresetForm(data_for(coach, name="Another"), instance=Preset())
    assert unsaid.is_valid(), unsaid.errors
    assert unsaid.save().talker == "me"
    assert "talker" in errors_for(coach, talker="everyone")
