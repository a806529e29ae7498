"""The preset's background picture: what may be uploaded, and how the editor stores and shows it."""

import os

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from studio.presets.forms import PresetForm
from studio.presets.models import Preset
from tests.join.conftest import picture

pytestmark = pytest.mark.django_db


def data_for(persona, **changes) -> dict:
    data = {
        "name": "Reception",
        "persona": persona.pk,
        "replica": "",
        "language": "English",
        "max_call_minutes": 10,
        "participant_absent_timeout": 300,
        "participant_left_timeout": 30,
        "background": "image",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def upload(content: bytes, name="background.png", content_type="image/png"):
    return SimpleUploadedFile(name, content, content_type=content_type)


def form_with(persona, file=None, instance=None, **changes) -> PresetForm:
    files = {"background_image": file} if file is not None else {}
    form = PresetForm(data_for(persona, **changes), files, instance=instance or Preset())
    form.is_valid()
    return form


def noise_png(size) -> bytes:
    """A PNG that doesn't compress: random pixels."""
    import io

    buffer = io.BytesIO()
    Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("kind", "extension", "content_type"),
    [("PNG", "png", "image/png"), ("JPEG", "jpg", "image/jpeg"), ("WEBP", "webp", "image/webp")],
)
def test_png_jpeg_and_webp_are_accepted(persona, media_root, kind, extension, content_type):
    form = form_with(persona, upload(picture(kind=kind), f"holiday.{extension}", content_type))
    assert form.is_valid(), form.errors
    preset = form.save()
    # Stored under a random name, with the extension of what the file really is.
    assert preset.background_image.name.startswith("backgrounds/")
    assert preset.background_image.name.endswith(f".{extension}")
    assert "holiday" not in preset.background_image.name
    assert (media_root / preset.background_image.name).exists()


def test_the_type_is_judged_by_the_content_not_the_name(persona, media_root):
    jpeg_named_png = upload(picture(kind="JPEG"), "looks-like.png")
    preset = form_with(persona, jpeg_named_png).save()
    assert preset.background_image.name.endswith(".jpg")


@pytest.mark.parametrize(
    ("content", "name"),
    [
        (picture(kind="GIF"), "animated.gif"),
        (picture(kind="BMP"), "old.bmp"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "vector.png"),
        (b"MZ\x90\x00 definitely not a picture", "background.png"),
    ],
)
def test_other_types_are_refused(persona, media_root, content, name):
    form = form_with(persona, upload(content, name))
    assert "isn't a PNG, JPEG or WebP picture" in " ".join(form.errors["background_image"])


def test_more_than_5_mb_is_refused(persona, media_root):
    big = noise_png((1400, 1300))
    assert len(big) > 5 * 1024 * 1024
    form = form_with(persona, upload(big))
    assert "the limit is 5 MB" in " ".join(form.errors["background_image"])


@pytest.mark.parametrize(
    ("size", "message"),
    [
        ((319, 240), "too small to fill the screen"),
        ((320, 239), "too small to fill the screen"),
        ((4097, 2000), "the most is 4096×4096"),
        ((2000, 4097), "the most is 4096×4096"),
    ],
)
def test_dimensions_must_be_sensible(persona, media_root, size, message):
    form = form_with(persona, upload(picture(size=size)))
    assert message in " ".join(form.errors["background_image"])


@pytest.mark.parametrize("size", [(320, 240), (4096, 4096)])
def test_the_limits_themselves_are_allowed(persona, media_root, size):
    assert form_with(persona, upload(picture(size=size))).is_valid()


def test_a_picture_background_needs_a_picture(persona, media_root):
    form = form_with(persona)
    assert "Upload the picture" in " ".join(form.errors["background_image"])


def test_a_stored_picture_is_kept_when_nothing_new_is_uploaded(persona, media_root):
    preset = form_with(persona, upload(picture())).save()
    form = form_with(persona, instance=preset, name="Reception desk")
    assert form.is_valid(), form.errors
    assert form.save().background_image.name == preset.background_image.name


@pytest.mark.parametrize("background", ["image", "green"])
def test_green_and_picture_backgrounds_ask_tavus_for_green(persona, media_root, background):
    form = form_with(persona, upload(picture()), background=background)
    assert form.is_valid(), form.errors
    preset = form.save()
    assert preset.apply_greenscreen
    assert preset.effective_settings().body["properties"]["apply_greenscreen"] is True


def test_no_background_needs_nothing(persona):
    form = form_with(persona, background="none")
    assert form.is_valid(), form.errors
    preset = form.save()
    assert preset.background == "none" and not preset.apply_greenscreen


# --- Through the editor -----------------------------------------------------------------------


@pytest.fixture
def staff(operator):
    client = Client()
    client.force_login(operator)
    return client


def test_the_editor_uploads_and_shows_the_picture(staff, persona, media_root):
    data = data_for(persona, background_image=upload(picture()))
    response = staff.post("/presets/new/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    preset = Preset.objects.get(name="Reception")
    assert preset.background == "image" and preset.background_image

    page = staff.get(f"/presets/{preset.pk}/edit/").content.decode()
    assert 'enctype="multipart/form-data"' in page
    assert f'src="/presets/{preset.pk}/background/"' in page
    served = staff.get(f"/presets/{preset.pk}/background/")
    assert served["Content-Type"] == "image/png"
    assert b"".join(served.streaming_content) == picture()


def test_the_editor_explains_a_refused_upload(staff, persona, media_root):
    data = data_for(persona, background_image=upload(picture(size=(100, 100))))
    response = staff.post("/presets/new/", data)
    assert response.status_code == 200
    assert "too small to fill the screen" in response.content.decode()
    assert not Preset.objects.exists()


def test_the_staff_picture_view_needs_sign_in(client, operator, persona, media_root):
    preset = form_with(persona, upload(picture())).save()
    response = client.get(f"/presets/{preset.pk}/background/")
    assert response.status_code == 302 and "/login" in response["Location"]


def test_a_replaced_picture_leaves_storage(staff, persona, media_root):
    staff.post("/presets/new/", data_for(persona, background_image=upload(picture())))
    preset = Preset.objects.get(name="Reception")
    first = preset.background_image.name
    staff.post(f"/presets/{preset.pk}/edit/", data_for(persona))  # nothing new: kept
    assert (media_root / first).exists()
    new = upload(picture(kind="JPEG"), "new.jpg", "image/jpeg")
    response = staff.post(f"/presets/{preset.pk}/edit/", data_for(persona, background_image=new))
    assert response.status_code == 302
    preset.refresh_from_db()
    assert preset.background_image.name != first
    assert (media_root / preset.background_image.name).exists()
    assert not (media_root / first).exists()


def test_a_picture_a_copy_still_shows_is_kept(staff, persona, media_root, operator):
    staff.post("/presets/new/", data_for(persona, background_image=upload(picture())))
    preset = Preset.objects.get(name="Reception")
    shared = preset.background_image.name
    copy = preset.duplicate(operator)
    assert copy.background_image.name == shared
    new = upload(picture(kind="JPEG"), "new.jpg", "image/jpeg")
    staff.post(f"/presets/{preset.pk}/edit/", data_for(persona, background_image=new))
    assert (media_root / shared).exists()  # the copy still uses it
    copy.refresh_from_db()
    assert staff.get(f"/presets/{copy.pk}/background/").status_code == 200
