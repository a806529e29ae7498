# The launch tests' replica, persona and preset factory.
from tests.conversations.conftest import face, make_preset, persona  # noqa: F401
