import time

import pytest


@pytest.fixture(autouse=True)
def private_files(settings, tmp_path):
    """Uploads go to this test's own folder."""
    settings.KNOWLEDGE_FILES_ROOT = tmp_path / "private"
    return settings.KNOWLEDGE_FILES_ROOT


@pytest.fixture
def quick_reading(settings):
    """The sandbox reads a document in two short steps instead of two 1.5 s ones."""
    settings.SANDBOX_DOCUMENT_STEP_SECONDS = 0.05
    settings.KNOWLEDGE_REFRESH_SECONDS = 0


def wait_until(check, timeout: float = 20.0, what: str = "condition"):
    """Poll `check` until it returns something truthy (the sandbox ticker works in a thread)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
