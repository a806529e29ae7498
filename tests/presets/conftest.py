# Shared fixtures from the conversations' tests (imported, so pytest finds them here too):
# a stock persona and face, plain presets on them, and the spy on what is sent to Tavus.
from tests.conversations.conftest import face, make_preset, persona, sent  # noqa: F401
