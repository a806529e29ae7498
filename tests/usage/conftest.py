from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from studio.conversations import usage
from studio.conversations.models import Conversation

# The launch tests' replica, persona and preset factory.
from tests.conversations.conftest import face, make_preset, persona  # noqa: F401
from tests.conversations.factories import make_conversation


@pytest.fixture
def early_in_the_month(_moved_clock):
    """The clock two hours into its month, still ticking: the tightest moment at which the
    minutes a budget test uses (up to 100) fit inside this month, so the test runs and
    asserts the same on any day, the 1st included. Taken after _moved_clock (the three
    clocks of time_window tests); ask for it before fixtures that write rows."""
    start = usage.this_month(timezone.now()).start
    with time_machine.travel(start + timedelta(hours=2), tick=True):
        yield


def used_this_month(user, minutes):
    """An ended conversation of `minutes`, ending a minute ago: inside this month when the
    clock is early_in_the_month's (or later in the month)."""
    start = timezone.now() - timedelta(minutes=minutes + 1)
    assert start >= usage.this_month().start, "ask for early_in_the_month"
    make_conversation(
        user,
        status=Conversation.ENDED,
        created_at=start,
        ended_at=start + timedelta(minutes=minutes),
    )
