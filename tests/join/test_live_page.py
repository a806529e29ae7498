"""What the staff live page says about the join page: the link to give, and who relays."""

import pytest
from django.test import Client
from django.utils import timezone

from studio.conversations.models import Conversation
from tests.join.conftest import joinable

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(operator):
    client = Client()
    client.force_login(operator)
    return client


def test_the_participant_link_is_the_join_page_and_tavus_link_is_second(staff, operator, settings):
    settings.STUDIO_PUBLIC_URL = "https://studio.example.org"
    conversation = joinable(
        operator, meeting_token="mt-9", settings_snapshot={"require_auth": True}
    )
    html = staff.get(f"/conversations/{conversation.pk}/").content.decode()
    join = f"https://studio.example.org/join/{conversation.join_token}/"
    assert f'data-copy="{join}" data-when="live">Copy participant link</button>' in html
    # The Tavus room link is second, behind "Other link", with what it costs.
    other = html[html.index('<details class="more-links"') :]
    other = other[: other.index("</details>")]
    assert "<summary" in other and "Other link" in other
    assert f'data-copy="{conversation.participant_link()}">Copy Tavus room link' in other
    assert "only while a studio page is in the video" in other


def test_conversations_from_before_join_links_keep_the_tavus_link(staff, operator):
    conversation = joinable(operator, join_token=None)
    html = staff.get(f"/conversations/{conversation.pk}/").content.decode()
    link = conversation.participant_link()
    assert f'data-copy="{link}" data-when="live">Copy participant' in html
    assert "Copy Tavus room link" not in html and "Other link" not in html


@pytest.mark.parametrize(
    ("fields", "relay", "text"),
    [
        ({}, "none", "No captions yet: they start once someone joins the video"),
        ({"host_pages": 1}, "studio", "Captions are coming from a studio page that joined"),
        (
            {"host_pages": 1, "join_page": True},
            "join",
            "Captions are coming from the participant's page.",
        ),
    ],
)
def test_it_says_which_page_relays(staff, operator, fields, relay, text):
    conversation = joinable(operator)
    now = timezone.now()
    updates = {"host_pages": fields.get("host_pages", 0), "page_seen_at": now}
    if fields.get("join_page"):
        updates["join_page_seen_at"] = now
    Conversation.objects.filter(pk=conversation.pk).update(**updates)
    html = staff.get(f"/conversations/{conversation.pk}/").content.decode()
    assert f'data-relay="{relay}">{text}' in html
