"""What an operator meets in the preset editor: a kept picture, one background choice,
contradictions said out loud, and a preview in words first."""

import re

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from studio.presets.forms import KEPT_FOLDER, PresetForm
from studio.presets.models import Preset
from tests.join.conftest import picture
from tests.library.helpers import make_persona, make_replica
from tests.presets.test_form import data_for

pytestmark = pytest.mark.django_db

BAD_ARN = "arn:aws:iam::12:role/x"
GOOD_ARN = "arn:aws:iam::123456789012:role/TavusRecordings"


@pytest.fixture
def coach():
    make_replica("r-anna", "Anna")
    return make_persona("p-coach", "Coach", default_replica_id="r-anna")


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def staff(operator):
    client = Client()
    client.force_login(operator)
    return client


def recording(arn: str) -> dict:
    return {
        "enable_recording": "on",
        "recording_s3_bucket_name": "acme-recordings",
        "recording_s3_bucket_region": "eu-west-1",
        "aws_assume_role_arn": arn,
    }


def kept_token(html: str) -> str:
    return re.search(r'name="background_kept" value="([^"]+)"', html).group(1)


# --- 4. The uploaded picture survives a validation error ----------------------------------


def test_a_picture_uploaded_with_a_bad_arn_is_kept_for_the_fixed_save(staff, coach, media_root):
    upload = SimpleUploadedFile("beach.png", picture(), content_type="image/png")
    first = staff.post("/presets/new/", data_for(
        coach, name="Beach", background="image", background_image=upload, **recording(BAD_ARN)
    ))
    html = first.content.decode()
    assert first.status_code == 200 and not Preset.objects.exists()
    assert 'class="field has-error" id="id_aws_assume_role_arn-field"' in html
    assert "The picture you chose is kept" in html
    token = kept_token(html)
    # The page shows the kept picture itself.
    shown = staff.get(f"/presets/background/kept/{token}/")
    assert b"".join(shown.streaming_content) == picture()
    # Fix the ARN and save, without choosing the file again.
    second = staff.post("/presets/new/", data_for(
        coach, name="Beach", background="image", background_kept=token, **recording(GOOD_ARN)
    ))
    assert second.status_code == 302, second.content.decode()[:3000]
    preset = Preset.objects.get(name="Beach")
    assert preset.background == "image" and preset.apply_greenscreen
    with default_storage.open(preset.background_image.name) as stored:
        assert stored.read() == picture()


def test_a_kept_picture_token_cannot_point_at_another_file(staff, coach, media_root):
    default_storage.save("backgrounds/someone-elses.png", SimpleUploadedFile("x.png", picture()))
    from django.core import signing

    forged = signing.dumps("backgrounds/someone-elses.png", salt="other")
    ours_elsewhere = signing.dumps("backgrounds/someone-elses.png",
                                   salt="studio.presets.kept-background")
    for token in (forged, ours_elsewhere, "garbage"):
        response = staff.post("/presets/new/", data_for(
            coach, name="Beach", background="image", background_kept=token
        ))
        assert "Upload the picture to show behind the replica" in response.content.decode()
        assert staff.get(f"/presets/background/kept/{token}/").status_code == 404
    assert not Preset.objects.exists()


def test_kept_pictures_nobody_saved_are_deleted_a_day_later(staff, coach, media_root):
    import os
    import time

    upload = SimpleUploadedFile("beach.png", picture(), content_type="image/png")
    staff.post("/presets/new/", data_for(coach, name="A", background="image",
                                         background_image=upload, **recording(BAD_ARN)))
    _, files = default_storage.listdir(KEPT_FOLDER)
    (stale,) = files
    path = default_storage.path(f"{KEPT_FOLDER}/{stale}")
    day_ago = time.time() - 25 * 3600
    os.utime(path, (day_ago, day_ago))
    staff.post("/presets/new/", data_for(coach, name="B"))
    assert default_storage.listdir(KEPT_FOLDER)[1] == []


# --- 6. Contradictions are said, not passed silently -------------------------------------


def test_the_background_is_one_choice_without_a_separate_green_checkbox(staff, coach):
    html = staff.get("/presets/new/").content.decode()
    assert 'name="apply_greenscreen"' not in html
    for value in ("none", "green", "image"):
        assert f'name="background" value="{value}"' in html


@pytest.mark.parametrize(("background", "green"), [("none", False), ("green", True)])
def test_the_choice_decides_what_tavus_is_asked_for(coach, background, green):
    form = PresetForm(data_for(coach, background=background), instance=Preset())
    assert form.is_valid(), form.errors
    preset = form.save()
    assert preset.apply_greenscreen is green
    assert preset.effective_settings().body["properties"]["apply_greenscreen"] is green


def test_voice_only_with_a_background_is_refused_in_words(coach):
    form = PresetForm(data_for(coach, audio_only="on", background="green"), instance=Preset())
    assert not form.is_valid()
    assert "nothing appears behind it" in form.errors["background"][0]


def test_the_preview_never_lists_voice_only_and_a_background_together(coach):
    preset = Preset.objects.create(name="X", persona=coach, audio_only=True, background="image",
                                   apply_greenscreen=True)
    effective = preset.effective_settings()
    assert "Voice only: the replica's video is not shown" in effective.summary
    assert not any("picture" in line or "Green" in line for line in effective.summary)
    assert any("Voice only, yet a background is chosen" in w for w in effective.warnings)


def test_a_few_seconds_to_join_gets_a_warning(coach):
    preset = Preset.objects.create(name="X", persona=coach, participant_absent_timeout=5)
    warnings = preset.effective_settings().warnings
    assert any("Ends 5 seconds after launch if nobody joins" in w and "minutes" in w
               for w in warnings)
    preset.participant_absent_timeout = 120
    assert not any("nobody joins" in w for w in preset.effective_settings().warnings)


def test_dry_run_help_promises_no_link(staff, coach):
    html = staff.get("/presets/new/").content.decode()
    assert "there is no room to open" in html
    assert "checking settings and links" not in html


def test_an_old_preset_with_the_green_box_ticked_keeps_its_green():
    from importlib import import_module

    from django.apps import apps

    migration = import_module("studio.presets.migrations.0004_one_background_choice")
    persona = make_persona()
    ticked = Preset.objects.create(name="Ticked", persona=persona, apply_greenscreen=True)
    orphan = Preset.objects.create(name="Orphan", persona=persona, background="image")
    migration.green_is_a_background(apps, None)
    ticked.refresh_from_db()
    orphan.refresh_from_db()
    assert ticked.background == "green" and ticked.apply_greenscreen
    assert orphan.background == "none"  # it did nothing before either: Tavus sent no green


# --- 8. The preview: words first, Tavus's JSON behind a closed disclosure -----------------


def test_the_json_is_closed_and_the_arn_note_only_comes_with_recording(coach):
    from django.template.loader import render_to_string

    plain = Preset.objects.create(name="Plain", persona=coach)
    html = render_to_string("presets/_effective.html", {"effective": plain.effective_settings()})
    assert '<details class="effective-json">' in html  # not open
    assert "role ARN" not in html
    recorded = Preset.objects.create(
        name="Recorded", persona=coach, enable_recording=True,
        recording_s3_bucket_name="acme-recordings", recording_s3_bucket_region="eu-west-1",
        aws_assume_role_arn=GOOD_ARN,
    )
    html = render_to_string("presets/_effective.html",
                            {"effective": recorded.effective_settings()})
    assert "Account digits in the role ARN are hidden here" in html
    assert "123456789012" not in html
