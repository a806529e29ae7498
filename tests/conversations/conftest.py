import pytest

from studio.library.models import Persona, Replica


@pytest.fixture
def face(db):
    return Replica.objects.create(
        replica_id="r79e1c033f", name="Anna", status="ready", replica_type="system"
    )


@pytest.fixture
def persona(db, face):
    return Persona.objects.create(
        persona_id="p9a95912",
        name="Demo Persona",
        persona_type="system",
        default_replica_id=face.replica_id,
        system_prompt="You are a friendly demo.",
    )


@pytest.fixture
def make_preset(persona, operator):
    from studio.presets.models import Preset

    def _make(**fields):
        defaults = {
            "name": "Interview practice",
            "persona": persona,
            "conversation_name": "Interview practice",
            "custom_greeting": "Hello! Ready when you are.",
            "language": "english",
            "max_call_minutes": 10,
            "participant_left_timeout": 5,
            "participant_absent_timeout": 60,
            "created_by": operator,
            "updated_by": operator,
        }
        defaults.update(fields)
        return Preset.objects.create(**defaults)

    return _make


@pytest.fixture
def sent(monkeypatch):
    """Record every create_conversation body the studio sends (still calling Tavus)."""
    from studio.tavus import client as tavus

    bodies = []
    original = tavus.create_conversation

    def spy(body):
        bodies.append(body)
        return original(body)

    monkeypatch.setattr(tavus, "create_conversation", spy)
    return bodies
