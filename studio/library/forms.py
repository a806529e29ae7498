"""The persona editor: a form for people, turned into a Tavus create body or a JSON Patch."""

import copy

from django import forms

from studio.knowledge.forms import TagsField
from studio.knowledge.models import Document, Guardrail, ObjectiveSet
from studio.library.models import Persona, Replica
from studio.tavus import layers as tavus_layers

# Form field → key at the top level of a Tavus persona.
TOP_LEVEL = {
    "persona_name": "persona_name",
    "system_prompt": "system_prompt",
    "context": "context",
    "pipeline_mode": "pipeline_mode",
    "default_replica_id": "default_replica_id",
    "document_ids": "document_ids",
    "document_tags": "document_tags",
    "objectives_id": "objectives_id",
    "guardrail_ids": "guardrail_ids",
    "guardrail_tags": "guardrail_tags",
}
MAX_GUARDRAILS = 50  # per persona (tavus-api-2.md §3.1)
# Form field → (layer, key) inside `layers`. Field names follow Tavus's own names, so an
# InvalidRequest naming e.g. `tts_engine` lands next to the right field.
LAYER_FIELDS = {
    "llm_model": ("llm", "model"),
    "tts_engine": ("tts", "tts_engine"),
    "external_voice_id": ("tts", "external_voice_id"),
    "stt_engine": ("stt", "stt_engine"),
    "hotwords": ("stt", "hotwords"),
    "perception_model": ("perception", "perception_model"),
    "turn_detection_model": ("conversational_flow", "turn_detection_model"),
    "turn_taking_patience": ("conversational_flow", "turn_taking_patience"),
    "replica_interruptibility": ("conversational_flow", "replica_interruptibility"),
    "tts_model_name": ("tts", "tts_model_name"),
    # Built in clean() from the voice_* fields below (an object inside the tts layer).
    "voice_settings": ("tts", "voice_settings"),
    "perception_analysis_queries": ("perception", "perception_analysis_queries"),
}
# Form field → key inside layers.tts.voice_settings; ElevenLabs's ranges (tavus-api-2.md §5.2).
VOICE_SETTINGS = {
    "voice_speed": ("speed", 0.7, 1.2),
    "voice_stability": ("stability", 0.0, 1.0),
    "voice_similarity_boost": ("similarity_boost", 0.0, 1.0),
    "voice_style": ("style", 0.0, 1.0),
}
ELEVENLABS_ONLY = ("voice_stability", "voice_similarity_boost", "voice_style")
MAX_QUERIES = 20
# Words Tavus may use in an error that are not form field names.
FIELD_ALIASES = {
    "model": "llm_model",
    "llm": "llm_model",
    "voice_id": "external_voice_id",
    "default_face_id": "default_replica_id",
    "replica_id": "default_replica_id",
    "name": "persona_name",
    "pal_name": "persona_name",
}

TAVUS_DEFAULT = ("", "Tavus default")
LEVELS = [TAVUS_DEFAULT, ("low", "Low"), ("medium", "Medium"), ("high", "High")]


class LinesField(forms.CharField):
    """One entry per line in a text box; cleaned to a list."""

    widget = forms.Textarea(attrs={"rows": 3})

    def prepare_value(self, value):
        return "\n".join(value) if isinstance(value, list) else value

    def clean(self, value):
        text = super().clean(value)
        return [line.strip() for line in (text or "").splitlines() if line.strip()]


def _voice_number(label: str, help_text: str) -> forms.FloatField:
    return forms.FloatField(label=label, required=False, help_text=help_text)


def _picked(choices: list, current: list) -> list:
    """`choices`, plus any value in use that is no longer listed, so it is never lost unseen."""
    known = {value for value, _ in choices}
    extra = [(v, f"{v} (not in the studio's list)") for v in current if v and v not in known]
    return choices + extra


def _blank(value) -> bool:
    return value is None or value == "" or value == []


class PersonaForm(forms.Form):
    persona_name = forms.CharField(
        label="Name",
        max_length=200,
        help_text="What staff see in the library and when picking a persona for a preset.",
    )
    system_prompt = forms.CharField(
        label="Instructions (system prompt)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=(
            "Who the replica is and how it behaves, written as you would brief a new colleague: "
            "its role, tone, what it must and must not do. Needed for a full conversation."
        ),
    )
    context = forms.CharField(
        label="Background knowledge",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=(
            "Facts the replica should know in every conversation (products, prices, policies). "
            "A preset can add more for its own conversations."
        ),
    )
    pipeline_mode = forms.ChoiceField(
        label="Mode",
        choices=Persona.PipelineMode.choices,
        initial=Persona.PipelineMode.FULL,
        widget=forms.RadioSelect,
        help_text=(
            "Full: the replica listens, thinks and answers by itself (almost always what you "
            "want). Echo: it only says what your own software sends it."
        ),
    )
    default_replica_id = forms.ModelChoiceField(
        label="Default face",
        queryset=Replica.objects.none(),
        to_field_name="replica_id",
        required=False,
        empty_label="No default: each preset picks a face",
        # The template draws these radio buttons as cards with each face's thumbnail.
        widget=forms.RadioSelect,
        blank=True,  # radio buttons get the "no default" choice only when asked
        help_text=(
            "The replica that appears when a preset does not choose one. Presets can still "
            "pick a different face."
        ),
    )
    llm_model = forms.ChoiceField(
        label="Language model (the brain)",
        choices=tavus_layers.choices(tavus_layers.LLM_MODELS),
        required=False,
        help_text="Bigger models answer more carefully; smaller ones answer faster.",
    )
    tts_engine = forms.ChoiceField(
        label="Voice engine",
        choices=tavus_layers.choices(tavus_layers.TTS_ENGINES),
        required=False,
        help_text="The service that turns the replica's words into speech.",
    )
    external_voice_id = forms.CharField(
        label="Voice id",
        max_length=100,
        required=False,
        help_text=(
            "Copy it from the voice engine's library to give the replica a different voice. "
            "Leave blank to use the face's own voice."
        ),
    )
    stt_engine = forms.ChoiceField(
        label="Listening engine",
        choices=tavus_layers.choices(tavus_layers.STT_ENGINES),
        required=False,
        help_text="The service that turns what the person says into text.",
    )
    hotwords = forms.CharField(
        label="Words to listen out for",
        max_length=500,
        required=False,
        help_text=(
            "Names and jargon the listener might mishear, separated by commas, "
            "e.g. “Tavus, Raven, Acme Pro”."
        ),
    )
    perception_model = forms.ChoiceField(
        label="Perception (what the replica sees)",
        choices=tavus_layers.choices(tavus_layers.PERCEPTION_MODELS),
        required=False,
        help_text=(
            "Lets the replica notice the person's expressions and surroundings, and produces a "
            "short visual summary after the call."
        ),
    )
    turn_detection_model = forms.ChoiceField(
        label="Knowing when to speak",
        choices=tavus_layers.choices(tavus_layers.TURN_DETECTION),
        required=False,
        help_text="How the replica decides the person has finished speaking.",
    )
    turn_taking_patience = forms.ChoiceField(
        label="Patience",
        choices=LEVELS,
        required=False,
        help_text="High waits longer before answering, good for people who pause to think.",
    )
    replica_interruptibility = forms.ChoiceField(
        label="Can be interrupted",
        choices=LEVELS,
        required=False,
        help_text=(
            "High stops talking as soon as the person speaks; low finishes its sentence. "
            "The opening greeting is never interrupted."
        ),
    )

    document_ids = forms.MultipleChoiceField(
        label="Documents it can look things up in",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="In every conversation with this persona, on top of what a preset adds. "
        "Documents are added under Knowledge.",
    )
    document_tags = TagsField(
        label="…and every document tagged",
        required=False,
        max_length=1100,
        help_text="Separate tags with commas. Documents given a tag later are included too.",
    )

    tts_model_name = forms.CharField(
        label="Voice model",
        max_length=100,
        required=False,
        help_text="The engine's model, e.g. sonic-3 (Cartesia) or eleven_multilingual_v2 "
        "(ElevenLabs). Blank lets Tavus choose.",
    )
    voice_speed = _voice_number(
        "Speaking speed", "1 is normal. ElevenLabs takes 0.7 (slower) to 1.2 (faster)."
    )
    voice_stability = _voice_number(
        "Steadiness (ElevenLabs)", "0 to 1: higher sounds steadier, lower more expressive."
    )
    voice_similarity_boost = _voice_number(
        "Closeness to the original voice (ElevenLabs)", "0 to 1: higher keeps closer to it."
    )
    voice_style = _voice_number(
        "Style exaggeration (ElevenLabs)", "0 to 1: 0 is plain; higher is more dramatic."
    )
    perception_analysis_queries = LinesField(
        label="Questions to answer after the call",
        required=False,
        max_length=6000,
        help_text="One per line, e.g. “Did the person seem confused at any point?”. Raven-1 "
        "answers them from what it saw, in the summary after the call.",
    )
    objectives_id = forms.ChoiceField(
        label="Objectives to work through",
        required=False,
        help_text="Steps the replica follows in every conversation. Built under Knowledge.",
    )
    guardrail_ids = forms.MultipleChoiceField(
        label="Guardrails to keep",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Rules the replica must never break (up to 50). Written under Knowledge.",
    )
    guardrail_tags = TagsField(
        label="…and every guardrail tagged",
        required=False,
        max_length=1100,
        help_text="Separate tags with commas. Guardrails given a tag later are included too.",
    )

    def __init__(self, *args, persona: Persona | None = None, **kwargs):
        self.persona = persona
        super().__init__(*args, **kwargs)
        # Optional only in echo mode: don't label it "(optional)".
        self.fields["system_prompt"].hide_optional = True
        replicas = Replica.objects.present()
        current = persona.default_replica_id if persona else ""
        if current:
            # Keep showing the current face even when it has gone, so the editor can say so.
            replicas = Replica.objects.filter(vanished=False) | Replica.objects.filter(
                replica_id=current
            )
        self.fields["default_replica_id"].queryset = replicas.order_by(
            "vanished", "-replica_type", "name"
        )
        # Ready or not (the preview says so); a document already chosen stays listed.
        documents = Document.objects.present().exclude(document_id=None).order_by("name")
        choices = [(d.document_id, f"{d.name} ({d.get_status_display()})") for d in documents]
        for chosen in self.initial.get("document_ids") or []:
            if chosen not in {value for value, _ in choices}:
                choices.append((chosen, f"{chosen} (not in the knowledge base here)"))
        self.fields["document_ids"].choices = choices
        self.fields["objectives_id"].choices = _picked(
            [("", "None")]
            + [(o.objectives_id, o.name) for o in ObjectiveSet.objects.filter(vanished=False)],
            [self.initial.get("objectives_id")],
        )
        self.fields["guardrail_ids"].choices = _picked(
            [
                (g.guardrail_id, f"{g.name}: {g.prompt[:60]}")
                for g in Guardrail.objects.filter(vanished=False)
            ],
            self.initial.get("guardrail_ids") or [],
        )
        # Only today's values are offered; the value a persona already has (deprecated, or set
        # outside the studio, e.g. a bring-your-own model) stays selected and says what it is.
        for name, options in tavus_layers.BY_FIELD.items():
            keep = self.initial.get(name) or ""
            self.fields[name].choices = tavus_layers.choices(options, keep=keep)

    @classmethod
    def initial_from(cls, persona: Persona, copy_of: bool = False) -> dict:
        initial = {
            "persona_name": f"Copy of {persona.name}" if copy_of else persona.name,
            "system_prompt": persona.system_prompt,
            "context": persona.context,
            "pipeline_mode": persona.pipeline_mode or Persona.PipelineMode.FULL,
            "default_replica_id": persona.default_replica_id or None,
            "document_ids": persona.document_ids,
            "document_tags": persona.document_tags,
            "objectives_id": (persona.raw or {}).get("objectives_id") or "",
            "guardrail_ids": persona._raw_strings("guardrail_ids"),
            "guardrail_tags": persona._raw_strings("guardrail_tags"),
        }
        for name, (layer, key) in LAYER_FIELDS.items():
            initial[name] = persona.layer(layer).get(key) or ""
        settings = initial.pop("voice_settings") or {}
        for name, (key, _, _) in VOICE_SETTINGS.items():
            value = settings.get(key) if isinstance(settings, dict) else None
            initial[name] = value if isinstance(value, int | float) else None
        return initial

    def clean_default_replica_id(self) -> str:
        replica = self.cleaned_data.get("default_replica_id")
        if replica is None:
            return ""
        if replica.vanished:
            raise forms.ValidationError(
                "This face is no longer at Tavus. Pick another, or no default."
            )
        if replica.status == Replica.Status.ERROR:
            raise forms.ValidationError("This face failed training at Tavus. Pick another.")
        return replica.replica_id

    def clean_external_voice_id(self) -> str:
        value = self.cleaned_data["external_voice_id"].strip()
        if any(c.isspace() for c in value):
            raise forms.ValidationError("A voice id has no spaces. Copy it exactly as given.")
        return value

    def clean_guardrail_ids(self) -> list[str]:
        chosen = self.cleaned_data["guardrail_ids"]
        if len(chosen) > MAX_GUARDRAILS:
            raise forms.ValidationError(
                f"Tavus allows at most {MAX_GUARDRAILS} guardrails a persona."
            )
        return chosen

    def clean_hotwords(self) -> str:
        words = [w.strip() for w in self.cleaned_data["hotwords"].split(",")]
        return ", ".join(w for w in words if w)

    def clean(self):
        data = super().clean()
        if (
            data.get("pipeline_mode") == Persona.PipelineMode.FULL
            and not (data.get("system_prompt") or "").strip()
        ):
            self.add_error(
                "system_prompt",
                "Write the instructions: in full mode the replica needs them to know who it is.",
            )
        if data.get("external_voice_id") and not data.get("tts_engine"):
            self.add_error("tts_engine", "Pick the voice engine this voice id belongs to.")
        self._clean_voice_settings(data)
        self._clean_queries(data)
        return data

    def _clean_voice_settings(self, data) -> None:
        existing = {}
        if self.persona is not None:
            existing = dict(self.persona.layer("tts").get("voice_settings") or {})
        elevenlabs = data.get("tts_engine") == "elevenlabs"
        for name, (key, low, high) in VOICE_SETTINGS.items():
            value = data.get(name)
            existing.pop(key, None)
            if value is None:
                continue
            if name in ELEVENLABS_ONLY and not elevenlabs:
                self.add_error(
                    name, "Only ElevenLabs voices take this: pick ElevenLabs above, or clear it."
                )
            elif (elevenlabs or name != "voice_speed") and not low <= value <= high:
                self.add_error(name, f"Use a number from {low:g} to {high:g}.")
            else:
                existing[key] = value
        data["voice_settings"] = existing or ""

    def _clean_queries(self, data) -> None:
        queries = data.get("perception_analysis_queries") or []
        if not queries:
            return
        if data.get("perception_model") in ("off", "raven-0", "basic"):
            self.add_error(
                "perception_analysis_queries",
                "Only Raven-1 answers these: choose Raven-1 (or Tavus default) above, or clear "
                "them.",
            )
        elif len(queries) > MAX_QUERIES or any(len(q) > 300 for q in queries):
            self.add_error(
                "perception_analysis_queries",
                f"Use at most {MAX_QUERIES} questions of at most 300 characters each.",
            )

    # --- What to send to Tavus -------------------------------------------------------------

    def layers_from(self, base: dict | None = None) -> dict:
        """`base` layers (e.g. of the persona being duplicated) with this form's values on top."""
        layers = copy.deepcopy(base or {})
        for name, (layer, key) in LAYER_FIELDS.items():
            value = self.cleaned_data.get(name)
            if _blank(value):
                if isinstance(layers.get(layer), dict):
                    layers[layer].pop(key, None)
                continue
            if not isinstance(layers.get(layer), dict):
                layers[layer] = {}
            layers[layer][key] = value
        return {name: layer for name, layer in layers.items() if layer != {}}

    def create_body(self, base_layers: dict | None = None) -> dict:
        """The POST /v2/personas body."""
        body = {}
        for name, key in TOP_LEVEL.items():
            value = self.cleaned_data.get(name)
            if not _blank(value):
                body[key] = value
        layers = self.layers_from(base_layers)
        if layers:
            body["layers"] = layers
        return body

    def patch_operations(self, persona: Persona) -> list[dict]:
        """A JSON Patch (RFC 6902) of only what changed against the local copy of `persona`."""
        ops: list[dict] = []
        raw = persona.raw or {}
        current = {
            "persona_name": persona.name,
            "system_prompt": persona.system_prompt,
            "context": persona.context,
            "pipeline_mode": persona.pipeline_mode,
            "default_replica_id": persona.default_replica_id,
            "document_ids": persona.document_ids,
            "document_tags": persona.document_tags,
            "objectives_id": (persona.raw or {}).get("objectives_id") or "",
            "guardrail_ids": persona._raw_strings("guardrail_ids"),
            "guardrail_tags": persona._raw_strings("guardrail_tags"),
        }
        for name, key in TOP_LEVEL.items():
            old, new = current[name], self.cleaned_data.get(name)
            if (_blank(old) and _blank(new)) or old == new:
                continue
            exists = not _blank(old) or raw.get(key) is not None
            path = f"/{key}"
            if _blank(new):
                if exists:
                    ops.append({"op": "remove", "path": path})
            else:
                ops.append({"op": "replace" if exists else "add", "path": path, "value": new})

        layers = persona.layers if isinstance(persona.layers, dict) else {}
        new_layers: dict[str, dict] = {}  # layers that do not exist yet: added whole
        for name, (layer, key) in LAYER_FIELDS.items():
            section = layers.get(layer) if isinstance(layers.get(layer), dict) else None
            old = section.get(key) if section is not None else None
            new = self.cleaned_data.get(name)
            if (_blank(old) and _blank(new)) or old == new:
                continue
            path = f"/layers/{layer}/{key}"
            if _blank(new):
                if section is not None and key in section:
                    ops.append({"op": "remove", "path": path})
            elif section is not None and key in section:
                ops.append({"op": "replace", "path": path, "value": new})
            elif section is not None:
                ops.append({"op": "add", "path": path, "value": new})
            else:
                # JSON Patch cannot add a member to an object that does not exist: add the
                # layer itself (RFC 6902 §4.1).
                new_layers.setdefault(layer, {})[key] = new
        if new_layers:
            if "layers" in raw or layers:
                for layer, value in new_layers.items():
                    ops.append({"op": "add", "path": f"/layers/{layer}", "value": value})
            else:
                ops.append({"op": "add", "path": "/layers", "value": new_layers})
        return ops

    def changed_fields(self) -> dict:
        """The local fields (as in Persona.fields_from_tavus) after Tavus accepted the form."""
        layers = self.layers_from(self.persona.layers if self.persona else None)
        values = {
            "name": self.cleaned_data["persona_name"],
            "system_prompt": self.cleaned_data.get("system_prompt") or "",
            "context": self.cleaned_data.get("context") or "",
            "pipeline_mode": self.cleaned_data["pipeline_mode"],
            "default_replica_id": self.cleaned_data.get("default_replica_id") or "",
            "layers": layers,
        }
        raw = dict(self.persona.raw or {}) if self.persona else {}
        raw.update(self.create_body())
        raw["layers"] = layers
        for name, key in TOP_LEVEL.items():
            if _blank(self.cleaned_data.get(name)):
                raw.pop(key, None)
        values["raw"] = raw
        return values

    def add_tavus_error(self, error) -> None:
        """Put an InvalidRequest next to the field it concerns, or at the top of the form."""
        field = getattr(error, "field", None)
        field = FIELD_ALIASES.get(field, field)
        if field in self.fields:
            self.add_error(field, error.message)
        else:
            self.add_error(None, error.message)
