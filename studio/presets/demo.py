"""First run: demo presets, so a newcomer to the sandbox can launch within a minute."""

from django.db import transaction

from studio.connection import current
from studio.library.models import Persona, Replica, sync_library
from studio.presets.models import Milestone, Preset
from studio.tavus.client import TavusError

DEMO_PRESETS = [
    {
        "name": "Demo: sales coach",
        "persona_ids": ("pdced222244b", "p1af207b8189"),
        "persona_words": ("sales coach", "sales"),
        "max_call_minutes": 10,
        "conversational_context": "The person wants to practise pitching a product to a buyer.",
    },
    {
        "name": "Demo: interviewer",
        "persona_ids": ("pe13ed370726", "pdac61133ac5"),
        "persona_words": ("interviewer", "interview"),
        "max_call_minutes": 15,
        "enable_closed_captions": True,
        "conversational_context": "A short practice job interview for a customer support role.",
    },
]


def _demo_persona(spec: dict, taken: set[int]) -> Persona | None:
    stock = Persona.objects.present().filter(persona_type=Persona.Type.SYSTEM).exclude(pk__in=taken)
    # Stock ids churn at Tavus: the documented id first, then by name, then any stock persona.
    found = stock.filter(persona_id__in=spec["persona_ids"]).first()
    for word in spec["persona_words"]:
        found = found or stock.filter(name__icontains=word).first()
    return found or stock.first()


def ensure_demo_presets() -> list[Preset]:
    """In the sandbox, give a brand-new studio two pinned presets built on stock personas.

    Runs once: never again after any preset exists or the demo presets were made (even if
    they were deleted since). Returns the presets it made, usually none.
    """
    if current.mode() != "sandbox":
        return []
    if Milestone.objects.filter(name=Milestone.DEMO_PRESETS).exists():
        return []
    if Preset.objects.exists():
        Milestone.objects.get_or_create(name=Milestone.DEMO_PRESETS)
        return []
    if not Persona.objects.present().filter(persona_type=Persona.Type.SYSTEM).exists():
        try:
            sync_library()
        except TavusError:
            return []  # the Presets page still offers "New preset"; try again next visit
    made: list[Preset] = []
    with transaction.atomic():
        _, first = Milestone.objects.get_or_create(name=Milestone.DEMO_PRESETS)
        if not first or Preset.objects.exists():
            return []  # someone else got here first
        fallback_face = Replica.objects.present().filter(status=Replica.Status.READY).first()
        used: set[int] = set()
        for spec in DEMO_PRESETS:
            persona = _demo_persona(spec, used)
            if persona is None:
                break
            used.add(persona.pk)
            face = persona.default_replica
            needs_face = face is None or not face.is_ready
            values = {k: v for k, v in spec.items() if k not in ("persona_ids", "persona_words")}
            made.append(
                Preset.objects.create(
                    **values,
                    persona=persona,
                    replica=fallback_face if needs_face else None,
                    pinned=True,
                    participant_left_timeout=30,
                    participant_absent_timeout=300,
                )
            )
    return made
