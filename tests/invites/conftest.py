"""Fixtures for invitation links: presets with placeholders, links made as the form makes them."""

from datetime import timedelta

import pytest
from django.utils import timezone

# Shared fixtures (imported, so pytest finds them here too): plain presets on a stock persona,
# the sandbox-backed journeys' presets, and the spy on what is sent to Tavus.
from tests.browser.conftest import stock_preset  # noqa: F401
from tests.conversations.conftest import face, make_preset, persona, sent  # noqa: F401

GREETING = "Hello {name}! Ready to talk about the {role} job?"


@pytest.fixture
def interview(make_preset):  # noqa: F811 (the shared fixture, imported above)
    """A preset whose greeting and context use the person's details."""
    return make_preset(
        name="Screening interview",
        conversation_name="Screening interview",
        custom_greeting=GREETING,
        conversational_context="The candidate, {name}, applies as {role} at {company}.",
        person_fields=["company"],
    )


def make_link(preset, user, *, name="Anna Berg", email="anna@example.com", details=None, **window):
    """A link as the form makes it (checked, with the preset's settings frozen)."""
    from studio.invites.forms import Person, check_person
    from studio.invites.models import Invitation

    details = details or {"role": "Sales lead", "company": "Acme"}
    person = check_person(preset, Person(name=name, email=email, details=details))
    assert not person.problem, person.problem
    now = timezone.now()
    fields = {"valid_from": now - timedelta(minutes=1), "valid_until": now + timedelta(days=1)}
    fields.update(window)
    invitation = Invitation.build(
        preset=preset,
        user=user,
        effective=person.effective,
        person_name=person.name,
        email=person.email,
        details=person.details,
        **fields,
    )
    invitation.save()
    return invitation


def window(days=2) -> dict:
    """The link form's window and use limit, as the browser posts them: from now, for `days`."""
    now = timezone.localtime()
    fmt = "%Y-%m-%dT%H:%M"
    return {
        "valid_from": now.strftime(fmt),
        "valid_until": (now + timedelta(days=days)).strftime(fmt),
        "max_uses": 1,
    }


def start(client, invitation):
    """Press Join on the link's page (its JSON answer)."""
    return client.post(f"/invite/{invitation.token}/start", HTTP_ACCEPT="application/json")
