"""Tavus's documented stock replicas and personas.

Ids and names are the ones Tavus publishes (shared/tavus-api.md §3.4 and §4.3). Stock ids churn on
the real service; these are only the sandbox's fixed cast. `seed()` is used by the data migration
and again after every `flush` (post_migrate), because stock objects always exist on Tavus.
"""

# (replica_id, replica_name, category). Nathan's id comes from Tavus's examples (the stock page
# cuts it off).
REPLICAS = [
    ("r7bc3db0d581", "Sabrina", "Studio"),
    ("rf25acd9e3f5", "Patrick", "Studio"),
    ("re0eae1fbe11", "Lucy", "Studio"),
    ("r1af76e94d00", "Rose", "Office"),
    ("r95fd27b5a37", "Helen", "Office"),
    ("r1a4e22fa0d9", "Benjamin", "Office"),
    ("r90105daccb4", "Isabella", "Casual"),
    ("r6ae5b6efc9d", "Anna", "Casual"),
    ("rb11617de314", "Sandra", "Casual"),
    ("rb67667672ad", "Gloria", "Green-screen background"),
    ("rfe12d8b9597", "Nathan", "Green-screen background"),
]

_RAVEN = {"perception_model": "raven-0"}
_BASIC = {"perception_model": "basic"}


def _layers(perception):
    return {
        "llm": {"model": "tavus-gpt-4o"},
        "tts": {"tts_engine": "cartesia"},
        "stt": {"stt_engine": "tavus-advanced"},
        "perception": perception,
    }


# (persona_id, persona_name, default_replica_id, system_prompt, perception layer). Where the docs
# pair a persona with a replica that is not in the stock list above, it gets a stock replica here.
PERSONAS = [
    (
        "pdced222244b",
        "Sales Coach",
        "rfe12d8b9597",
        "You are a sales coach. Help the user practise discovery calls and handle objections. "
        "Be encouraging, concrete and brief.",
        _RAVEN,
    ),
    (
        "p7fb0be3",
        "Corporate Trainer",
        "r1af76e94d00",
        "You are a corporate trainer. Explain workplace policies and skills clearly, check "
        "understanding with short questions.",
        _BASIC,
    ),
    (
        "pc55154f229a",
        "History Teacher",
        "r6ae5b6efc9d",
        "You are a history teacher. Tell history as vivid stories and invite the student to ask "
        "why things happened.",
        _BASIC,
    ),
    (
        "p88964a7",
        "College Tutor",
        "re0eae1fbe11",
        "You are a patient college tutor. Guide the student to the answer step by step instead of "
        "giving it away.",
        _BASIC,
    ),
    (
        "pb8bb46b",
        "Sales Agent at Tavus",
        "rf25acd9e3f5",
        "You are a sales agent at Tavus. Explain what conversational video can do for the "
        "visitor's business and offer a demo.",
        _BASIC,
    ),
    (
        "p5d11710002a",
        "Healthcare Intake Assistant",
        "r95fd27b5a37",
        "You are a healthcare intake assistant. Collect the patient's reason for visit, symptoms "
        "and history politely. Never give a diagnosis.",
        _RAVEN,
    ),
    (
        "pe13ed370726",
        "AI Interviewer",
        "r1a4e22fa0d9",
        "You are a structured job interviewer. Ask one question at a time and follow up on "
        "vague answers.",
        _RAVEN,
    ),
    (
        "pd43ffef",
        "Technical Co Pilot",
        "r7bc3db0d581",
        "You are a technical co-pilot. Help the user reason about code and systems; ask for "
        "details before suggesting changes.",
        _BASIC,
    ),
    (
        "p2fbd605",
        "Tavus' Personal AI",
        "r90105daccb4",
        "You are a friendly personal assistant. Keep answers short and warm.",
        _RAVEN,
    ),
    (
        "p48fdf065d6b",
        "Tavus Researcher",
        "rb11617de314",
        "You are a researcher who explains conversational AI research in plain words.",
        _BASIC,
    ),
    (
        "p9a95912",
        "Demo Persona",
        "rb67667672ad",
        "You are a demo persona. Show off a natural, friendly conversation.",
        _BASIC,
    ),
    (
        "p3bb4745d4f9",
        "Santa",
        "rfe12d8b9597",
        "You are Santa Claus. Be jolly, kind and ask what the child hopes for this year.",
        _BASIC,
    ),
]


def seed(apps) -> None:
    """Create or refresh the stock replicas and personas (idempotent)."""
    Replica = apps.get_model("sandbox", "Replica")
    Persona = apps.get_model("sandbox", "Persona")
    for replica_id, name, _category in REPLICAS:
        Replica.objects.update_or_create(
            replica_id=replica_id,
            defaults={
                "replica_name": name,
                "replica_type": "system",
                "status": "completed",
                "training_progress": "100/100",
                # No internet in the sandbox and no video to point at: Tavus allows "" here.
                "thumbnail_video_url": "",
            },
        )
    for persona_id, name, replica_id, prompt, perception in PERSONAS:
        Persona.objects.update_or_create(
            persona_id=persona_id,
            defaults={
                "persona_name": name,
                "persona_type": "system",
                "document": {
                    "system_prompt": prompt,
                    "context": "",
                    "pipeline_mode": "full",
                    "default_replica_id": replica_id,
                    "document_ids": [],
                    "document_tags": [],
                    "layers": _layers(perception),
                },
            },
        )
