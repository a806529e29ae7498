import json
from datetime import timedelta

import pytest
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.html import escape

from studio.presets.effective import EffectiveSettings, describe_seconds
from studio.presets.models import Preset
from tests.library.helpers import make_persona, make_replica

pytestmark = pytest.mark.django_db

ARN = "arn:aws:iam::123456789012:role/TavusRecordings"


@pytest.fixture
def anna():
    return make_replica("r-anna", "Anna", synced_at=timezone.now())


@pytest.fixture
def nathan():
    return make_replica("r-nathan", "Nathan", synced_at=timezone.now())


@pytest.fixture
def coach(anna):
    return make_persona("p-coach", "Coach", default_replica_id="r-anna")


def everything(coach, nathan, **extra) -> Preset:
    values = {
        "name": "Everything",
        "persona": coach,
        "replica": nathan,
        "conversation_name": "Onboarding",
        "conversational_context": "The person is a new customer.",
        "custom_greeting": "Hello there!",
        "language": "spanish",
        "audio_only": True,
        "max_call_minutes": 12,
        "participant_left_timeout": 45,
        "participant_absent_timeout": 240,
        "apply_greenscreen": True,
        "enable_closed_captions": True,
        "enable_recording": True,
        "recording_s3_bucket_name": "acme-recordings",
        "recording_s3_bucket_region": "eu-west-1",
        "aws_assume_role_arn": ARN,
        "require_auth": True,
        "max_participants": 3,
        "test_mode": True,
        **extra,
    }
    return Preset.objects.create(**values)


def test_a_preset_with_every_option_gives_the_exact_body(coach, nathan):
    effective = everything(coach, nathan).effective_settings()
    assert isinstance(effective, EffectiveSettings)
    assert effective.body == {
        "persona_id": "p-coach",
        "replica_id": "r-nathan",
        "conversation_name": "Onboarding",
        "conversational_context": "The person is a new customer.",
        "custom_greeting": "Hello there!",
        "audio_only": True,
        "test_mode": True,
        "require_auth": True,
        "max_participants": 3,
        "properties": {
            "max_call_duration": 720,
            "participant_left_timeout": 45,
            "participant_absent_timeout": 240,
            "language": "spanish",
            "apply_greenscreen": True,
            "enable_closed_captions": True,
            "enable_recording": True,
            "recording_s3_bucket_name": "acme-recordings",
            "recording_s3_bucket_region": "eu-west-1",
            "aws_assume_role_arn": ARN,
        },
    }
    assert effective.face == nathan and not effective.face_is_default
    assert effective.billable_seconds == 0  # dry run


def test_the_redacted_body_masks_only_the_account_digits(coach, nathan):
    effective = everything(coach, nathan).effective_settings()
    expected = json.loads(json.dumps(effective.body))
    expected["properties"]["aws_assume_role_arn"] = "arn:aws:iam::********9012:role/TavusRecordings"
    assert effective.redacted_body == expected
    assert effective.body["properties"]["aws_assume_role_arn"] == ARN  # the original is intact


def test_the_partial_renders_the_redacted_json_escaped(coach, nathan):
    effective = everything(
        coach, nathan, custom_greeting="<b>Hi</b> & welcome"
    ).effective_settings()
    html = render_to_string("presets/_effective.html", {"effective": effective})
    assert escape(json.dumps(effective.redacted_body, indent=2, ensure_ascii=False)) in html
    assert "123456789012" not in html and "<b>Hi</b>" not in html
    for line in effective.summary + effective.warnings:
        assert escape(line) in html
    assert "Anna" not in html and "Nathan" in html and "as the “Coach” persona" in html


def test_a_minimal_preset_omits_what_is_not_set(coach):
    preset = Preset.objects.create(name="Plain", persona=coach)
    effective = preset.effective_settings()
    assert effective.body == {
        "persona_id": "p-coach",
        "conversation_name": "Plain",  # the preset name when none is given
        "conversational_context": "",
        "audio_only": False,
        "test_mode": False,
        "require_auth": False,
        "properties": {
            "max_call_duration": 600,
            "participant_left_timeout": 30,
            "participant_absent_timeout": 300,
            "language": "english",
            "apply_greenscreen": False,
            "enable_closed_captions": False,
            "enable_recording": False,
        },
    }
    assert effective.face.name == "Anna"  # the persona's default face
    assert effective.face_is_default and effective.persona == coach
    assert effective.billable_seconds == 600
    assert effective.warnings == [] and effective.blockers == []


def test_dynamic_greeting_is_sent_only_when_on(coach):
    preset = Preset.objects.create(name="Dyn", persona=coach, dynamic_greeting=True)
    body = preset.effective_settings().body
    assert body["enable_dynamic_greeting"] is True and "custom_greeting" not in body


def test_overrides_replace_the_preset_values(coach, nathan):
    preset = everything(coach, nathan)
    body = preset.effective_settings(
        {
            "custom_greeting": "Welcome back",
            "conversational_context": "Returning customer.",
            "language": "French",
            "conversation_name": "Call 7",
        }
    ).body
    assert body["custom_greeting"] == "Welcome back"
    assert body["conversational_context"] == "Returning customer."
    assert body["properties"]["language"] == "french"
    assert body["conversation_name"] == "Call 7"


def test_blank_overrides_keep_the_preset_values(coach, nathan):
    preset = everything(coach, nathan)
    overrides = {"custom_greeting": "  ", "language": None, "conversation_name": "", "x": "y"}
    assert preset.effective_settings(overrides).body == preset.effective_settings().body


def test_a_greeting_override_replaces_a_dynamic_greeting(coach):
    preset = Preset.objects.create(name="Dyn", persona=coach, dynamic_greeting=True)
    body = preset.effective_settings({"custom_greeting": "Hi Sam"}).body
    assert body["custom_greeting"] == "Hi Sam" and "enable_dynamic_greeting" not in body


def test_recording_fields_are_left_out_when_recording_is_off(coach, nathan):
    preset = everything(coach, nathan, enable_recording=False)
    properties = preset.effective_settings().body["properties"]
    assert properties["enable_recording"] is False
    assert "recording_s3_bucket_name" not in properties and "aws_assume_role_arn" not in properties


def test_the_summary_speaks_plainly(coach, nathan):
    preset = everything(coach, nathan, test_mode=False, max_call_minutes=10)
    preset.participant_absent_timeout = 300
    preset.participant_left_timeout = 30
    preset.max_participants = 2
    summary = preset.effective_settings().summary
    assert "Can run for up to 10 minutes (billed while it runs)" in summary
    assert "Ends 5 minutes after launch if nobody joins" in summary
    assert "Ends 30 seconds after the last person leaves" in summary
    assert "Only people with the private link can join" in summary
    assert "Up to 1 person plus the replica" in summary
    assert "Speaks Spanish" in summary
    assert "Opens with: “Hello there!”" in summary
    assert "Shows live captions" in summary
    assert "Voice only: the replica's video is not shown" in summary
    assert "Can be recorded to the S3 bucket “acme-recordings” (eu-west-1)" in summary


def test_the_summary_for_a_dry_run_and_defaults(coach):
    preset = Preset(name="x", persona=coach, test_mode=True, max_participants=4)
    preset.language = "multilingual"
    summary = preset.effective_settings().summary
    assert summary[0] == "Dry run: no replica joins, nothing billed"
    assert "Dry run: no replica joins, nothing billed" in summary
    assert "Anyone with the link can join" in summary
    assert "Up to 3 people plus the replica" in summary
    assert "Detects the language people speak and answers in it" in summary
    assert "Opens with the persona's usual greeting" in summary


def warnings_for(preset) -> str:
    return " | ".join(preset.effective_settings().warnings)


def test_it_warns_about_recording_without_a_bucket(coach):
    preset = Preset(name="x", persona=coach, enable_recording=True)
    assert "Recording is on but the S3 bucket, region and role are not all set" in warnings_for(
        preset
    )


def test_it_warns_when_nobody_leaving_does_not_end_the_call(coach):
    preset = Preset(name="x", persona=coach, participant_left_timeout=0, max_call_minutes=20)
    text = warnings_for(preset)
    assert "the call keeps running and billing after everyone leaves" in text
    assert "until the max duration (20 minutes)" in text
    assert "Keeps running after everyone leaves, until the time limit" in (
        preset.effective_settings().summary
    )


def test_it_warns_about_a_long_wait_for_someone_to_join(coach):
    assert "Waits 10 minutes for someone to join" in warnings_for(
        Preset(name="x", persona=coach, participant_absent_timeout=600)
    )
    assert warnings_for(Preset(name="x", persona=coach, participant_absent_timeout=300)) == ""


def test_a_dry_run_does_not_warn_about_billing(coach):
    preset = Preset(
        name="x", persona=coach, participant_left_timeout=0, participant_absent_timeout=900
    )
    preset.test_mode = True
    assert warnings_for(preset) == ""


def test_it_warns_that_a_private_link_is_the_key(coach):
    assert "Private room" in warnings_for(Preset(name="x", persona=coach, require_auth=True))


def test_a_vanished_face_blocks(coach, nathan):
    nathan.vanished = True
    effective = Preset(name="x", persona=coach, replica=nathan).effective_settings()
    assert effective.blockers == [
        "The face “Nathan” is no longer at Tavus, so launching will fail. Pick another."
    ]


@pytest.mark.parametrize(
    ("status", "text"), [("training", "still training"), ("error", "failed training")]
)
def test_a_face_that_is_not_ready_blocks(coach, nathan, status, text):
    nathan.status = status
    effective = Preset(name="x", persona=coach, replica=nathan).effective_settings()
    assert text in effective.blockers[0]


def test_a_stale_face_is_a_warning(coach, nathan):
    nathan.synced_at = timezone.now() - timedelta(days=9)
    effective = Preset(name="x", persona=coach, replica=nathan).effective_settings()
    assert "last checked with Tavus 9 days ago" in effective.warnings[0]
    assert effective.blockers == []


def test_a_persona_without_a_face_and_no_replica_blocks(anna):
    faceless = make_persona("p-x", "Faceless")
    effective = Preset(name="x", persona=faceless).effective_settings()
    assert effective.face is None
    assert "has no default face and no replica is chosen" in effective.blockers[0]


def test_a_default_face_missing_from_the_library_is_a_warning(db):
    persona = make_persona("p-x", "X", default_replica_id="r-unknown")
    effective = Preset(name="x", persona=persona).effective_settings()
    assert "isn't in the library" in effective.warnings[0] and effective.blockers == []


def test_a_vanished_persona_blocks(coach):
    coach.vanished = True
    effective = Preset(name="x", persona=coach).effective_settings()
    assert "no longer at Tavus" in effective.blockers[0]


def test_max_call_duration_is_capped_at_an_hour(coach):
    preset = Preset(name="x", persona=coach, max_call_minutes=90)
    assert preset.effective_settings().body["properties"]["max_call_duration"] == 3600


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 seconds"),
        (1, "1 second"),
        (45, "45 seconds"),
        (60, "1 minute"),
        (90, "1 minute 30 seconds"),
        (300, "5 minutes"),
        (3600, "1 hour"),
    ],
)
def test_durations_read_naturally(seconds, text):
    assert describe_seconds(seconds) == text
