"""What the sandbox replica says, and the timing of the in-room events around it.

Deterministic on purpose: tests and demos must be able to predict every line. Offsets are seconds
from the moment a turn starts; the room page replays them as they fall due.
"""

GREETING_DELAY = 0.3  # after the replica and a person are both in the room
REPLY_DELAY = 0.5  # from the user's line to the replica starting to answer (< 1 s)
WORDS_PER_CHUNK = 3
CHUNK_SECONDS = 0.12
TAIL_SECONDS = 0.2  # the last words take a moment to say
MAX_QUOTE = 160


def _short(text: str, limit: int = MAX_QUOTE) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def default_greeting(conversation) -> str:
    if conversation.persona_name:
        return (
            f"Hi, I'm {conversation.replica_name}, your {conversation.persona_name}. "
            "What would you like to talk about?"
        )
    return f"Hi, I'm {conversation.replica_name}. What would you like to talk about?"


def reply(conversation, text: str, documents: list[tuple[str, str]] | None = None) -> str:
    """The replica's answer to `text`: from the knowledge base when a ready document has a
    matching sentence, else naming the persona and the latest context, if any."""
    if documents:
        from studio.sandbox.reading import lookup

        # "quality" reads further than "speed"/"balanced": it gives the two best sentences.
        strategy = conversation.knowledge.get("document_retrieval_strategy") or "balanced"
        found = lookup(text, documents, best=2 if strategy == "quality" else 1)
        if found:
            name = found[0][0]
            said = " ".join(_short(sentence, 300) for _, sentence in found)
            return f"According to “{name}”: {said}"
    quote = _short(text)
    stop = "" if quote.endswith((".", "?", "!", "…")) else "."
    answer = f"{conversation.speaker_name} here. You said: “{quote}”{stop}"
    if conversation.latest_context:
        answer += f" I'm keeping in mind: {_short(conversation.latest_context)}."
    return answer + " Tell me more."


def user_speech(text: str) -> list[tuple[str, dict, float]]:
    """A person's typed line, as the events Tavus emits for speech it heard."""
    return [
        ("conversation.started_speaking", {"role": "user"}, 0.0),
        (
            "conversation.stopped_speaking",
            {"role": "user", "interrupted": False, "duration": 0.1},
            0.1,
        ),
        ("conversation.utterance", {"role": "user", "speech": text}, 0.15),
    ]


def replica_speech(text: str) -> list[tuple[str, dict, float]]:
    """The replica saying `text`: started, the full utterance, streaming chunks, stopped."""
    words = text.split() or [""]
    chunks = [words[i : i + WORDS_PER_CHUNK] for i in range(0, len(words), WORDS_PER_CHUNK)]
    events = [
        ("conversation.started_speaking", {"role": "replica"}, 0.0),
        # Tavus sends the whole intended utterance when the replica starts replying.
        ("conversation.utterance", {"role": "replica", "speech": text}, 0.0),
    ]
    said: list[str] = []
    offset = 0.05
    for index, chunk in enumerate(chunks):
        said.extend(chunk)
        final = index == len(chunks) - 1
        properties = {
            "role": "replica",
            "speech": text if final else " ".join(said),
            "content_index": index,
            "final": final,
            "is_interrupted": False,
        }
        events.append(("conversation.utterance.streaming", properties, round(offset, 3)))
        offset += CHUNK_SECONDS
    end = round(offset + TAIL_SECONDS, 3)
    stopped = {"role": "replica", "interrupted": False, "duration": end}
    events.append(("conversation.stopped_speaking", stopped, end))
    return events


def perception_analysis(conversation) -> str:
    """A plausible end-of-call visual summary. Raven's analysis is free text, and a persona's
    perception_analysis_queries "shape the summary" (tavus-api-2.md §5.4; Tavus documents no
    structure for the answers): each question the persona asked is repeated in bold with its
    answer under it, as markdown-ish as Tavus's own summaries."""
    turns = sum(1 for item in conversation.transcript if item["role"] == "user")
    minutes = 0.0
    if conversation.ended_at:
        minutes = (conversation.ended_at - conversation.created_at).total_seconds() / 60
    summary = (
        "Sandbox perception analysis (simulated, no camera was used).\n"
        f"- Call length: {minutes:.1f} minutes; the user spoke {turns} time(s).\n"
        "- Appearance: one person, seated, facing the camera, in an indoor room with even light.\n"
        "- Engagement: attentive throughout; no signs of distress or confusion.\n"
        "- Environment: no other people or screens were visible."
    )
    questions = (conversation.behaviour or {}).get("perception_queries") or []
    answers = [f"**{q.strip()}**\n{perception_answer(q)}" for q in questions]
    return "\n\n".join([summary, *answers])


_YES_NO = ("is ", "are ", "was ", "were ", "did ", "does ", "do ", "has ", "have ", "can ")


def perception_answer(question: str) -> str:
    """The sandbox's answer to one end-of-call question: fixed, so tests can predict it."""
    asked = question.strip().lower()
    if "scale" in asked:
        return "7 out of 10: attentive and steady throughout (simulated)."
    if asked.startswith(_YES_NO):
        return "No: nothing of the kind was seen (simulated; the sandbox has no camera)."
    return (
        "The person stayed in view, faced the camera and looked engaged throughout "
        "(simulated; the sandbox has no camera)."
    )


# --- Objectives, guardrails and tools (tavus-api-2.md §2, §3, §6) ----------------------------
# Tavus decides these with an LLM; the sandbox uses plain keyword rules, so a test or a demo
# knows what will happen: a guardrail fires when the person uses one of the words it names, a
# tool is called when the person names what it is for, and any answer completes the objective
# being worked on.

GUARDRAIL_REPLY = "I'm sorry, that's something I can't discuss. Can I help with anything else?"
TOOL_FILLER = "One moment while I check that for you."
TOOL_FAILED = "Sorry, I couldn't get that information right now."
# Words that say what to do rather than what about; they never trigger anything by themselves.
_RULE_TEXT = """never always discuss discussing talk talking mention mentioning avoid share
    sharing give provide allow allowed must don't dont topic topics user users replica respond
    answer answers question questions information anything things thing about anyone someone
    people person get set fetch find look lookup check list create update delete make send"""
_RULE_WORDS = frozenset(_RULE_TEXT.split())


def _stem(word: str) -> str:
    return word[:-1] if len(word) > 4 and word.endswith("s") else word


def _topic_words(text: str) -> set[str]:
    from studio.sandbox.reading import keywords

    return {_stem(w) for w in keywords(text.replace("_", " ")) if w not in _RULE_WORDS}


def guardrail_hit(prompt: str, text: str) -> bool:
    return bool(_topic_words(prompt) & _topic_words(text))


def tool_wanted(tool: dict, text: str) -> bool:
    return bool(_topic_words(tool.get("name", "")) & _topic_words(text))


def tool_arguments(tool: dict, text: str) -> dict:
    """Every text parameter gets what the person said (the sandbox has no LLM to pick it out)."""
    parameters = tool.get("parameters") if isinstance(tool.get("parameters"), dict) else {}
    properties = (
        parameters.get("properties") if isinstance(parameters.get("properties"), dict) else {}
    )
    return {
        name: _short(text, 200)
        for name, schema in properties.items()
        if isinstance(schema, dict) and schema.get("type", "string") == "string"
    }


def next_objectives(objective: dict, text: str) -> list[str]:
    """What follows a completed objective: every required one, plus the conditional one whose
    condition shares most words with the answer (the first if none does)."""
    following = list(objective.get("next_required_objectives") or [])
    conditional = objective.get("next_conditional_objectives") or {}
    if conditional:
        said = _topic_words(text)
        best = max(conditional, key=lambda name: len(_topic_words(conditional[name]) & said))
        following.append(best)
    return following
