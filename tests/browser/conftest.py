"""Fixtures for the browser journeys: presets on the sandbox's stock personas."""

import re

import pytest
from playwright.sync_api import expect

from studio.library.models import sync_personas, sync_replicas


@pytest.fixture
def stock_preset(studio_server, operator, settings):
    from studio.presets.models import Preset

    settings.SANDBOX_JOIN_DELAY = 0.3
    sync_replicas()
    sync_personas()
    from studio.library.models import Persona

    persona = Persona.objects.filter(persona_type="system").exclude(default_replica_id="").first()

    def make(**fields):
        values = {
            "name": "Customer call practice",
            "persona": persona,
            "conversation_name": "Customer call practice",
            "custom_greeting": "Hello! Shall we practise a tricky customer call?",
            "language": "english",
            "max_call_minutes": 10,
            "participant_left_timeout": 30,
            "participant_absent_timeout": 120,
            "enable_closed_captions": True,
            "created_by": operator,
            "updated_by": operator,
        }
        values.update(fields)
        return Preset.objects.create(**values)

    return make


def launch_from_ui(page, base_url, preset_name):
    page.goto(base_url + "/launch/")
    page.get_by_role("link", name=re.compile(preset_name)).click()
    page.get_by_role("button", name="Launch conversation").click()
    expect(page).to_have_url(re.compile(r"/conversations/\d+/$"))
    expect(page.locator("#live[data-socket=open]")).to_be_attached()


def steer(page, url, text, action="echo"):
    """A supervisor opens the conversation's live page and sends a steering command."""
    page.goto(url)
    expect(page.locator("#live[data-socket=open]")).to_be_attached()
    page.get_by_label("What should happen").select_option(action)
    page.get_by_label("Words or context").fill(text)
    page.get_by_role("button", name="Send to the room").click()
