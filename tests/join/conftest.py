"""Fixtures for the join page: pictures made on the spot, conversations with join links."""

import io
import secrets

import pytest
from PIL import Image

# Shared fixtures from the neighbouring folders (imported, so pytest finds them here too): the
# browser journeys' presets on the sandbox's stock personas, and plain presets for unit tests.
from tests.browser.conftest import stock_preset  # noqa: F401
from tests.conversations.conftest import face, make_preset, persona  # noqa: F401

MAGENTA = (255, 0, 255)


def picture(size=(640, 360), colour=MAGENTA, kind="PNG") -> bytes:
    """A solid-colour picture, encoded as `kind`."""
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, kind)
    return buffer.getvalue()


@pytest.fixture
def media_root(settings, tmp_path):
    """Uploads go to a throw-away folder, never into the checkout."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def joinable(user, **fields):
    """A live conversation with a join link, as launch leaves it."""
    from tests.conversations.factories import make_conversation

    fields.setdefault("join_token", secrets.token_urlsafe(24))
    conversation, _ = make_conversation(user, **fields)
    return conversation
