"""Small helpers shared by the sandbox tests (Django test client, controlled clock)."""

from datetime import timedelta

from django.conf import settings
from django.test import Client
from django.utils import timezone

from studio.sandbox.models import Conversation

NATHAN = "rfe12d8b9597"
SALES_COACH = "pdced222244b"  # stock persona with raven-0 perception
HISTORY_TEACHER = "pc55154f229a"  # stock persona with basic perception


def api_client() -> Client:
    return Client(headers={"x-api-key": settings.SANDBOX_API_KEY})


def create(api: Client, **body) -> dict:
    if "persona_id" not in body:
        body.setdefault("replica_id", NATHAN)
    response = api.post("/sandbox/v2/conversations", body, content_type="application/json")
    assert response.status_code == 200, response.content
    return response.json()


def conversation(conversation_id: str) -> Conversation:
    return Conversation.objects.get(pk=conversation_id)


def at(conversation_id: str, seconds: float):
    """The moment `seconds` after the conversation was created."""
    return conversation(conversation_id).created_at + timedelta(seconds=seconds)


def room_path(conversation_id: str, suffix: str = "", token: str = "") -> str:
    path = f"/sandbox/rooms/{conversation_id}/{suffix}"
    return path + (f"?t={token}" if token else "")


class Person:
    """One browser's seat in a room: its own cookie jar and page session."""

    def __init__(self, conversation_id: str, token: str = "", name: str = "Pat"):
        self.client = Client()
        self.conversation_id = conversation_id
        self.token = token
        self.name = name
        self.session = "s-" + name

    def open(self):
        return self.client.get(room_path(self.conversation_id, token=self.token))

    def post(self, suffix: str, body: dict):
        return self.client.post(
            room_path(self.conversation_id, suffix, self.token),
            body,
            content_type="application/json",
        )

    def join(self) -> dict:
        page = self.open()
        assert page.status_code == 200, page.content
        response = self.presence("join", name=self.name)
        assert response.status_code == 200, response.content
        return response.json()

    def presence(self, action: str, **extra):
        return self.post("presence", {"action": action, "session": self.session, **extra})

    def say(self, text: str):
        return self.post("say", {"text": text})

    def command(self, message: dict):
        return self.post("command", message)

    def events(self, after: int = 0) -> list[dict]:
        response = self.client.get(
            room_path(self.conversation_id, "events", self.token)
            + ("&" if self.token else "?")
            + f"after={after}"
        )
        assert response.status_code == 200, response.content
        return response.json()["events"]


def events_until(conversation_id: str, seconds_ahead: float = 30, after: int = 0) -> list[dict]:
    """Every in-room event, as if `seconds_ahead` had passed (assigns seqs like a poll does)."""
    with Conversation.objects.locked(conversation_id) as locked:
        locked.assign_due(timezone.now() + timedelta(seconds=seconds_ahead))
        return locked.events_after(after)
