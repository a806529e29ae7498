import secrets
import uuid

from django import forms

from studio.conversations.models import RESPOND, Event
from studio.presets import placeholders
from studio.presets.models import Talker
from studio.tavus.events import build_interaction
from studio.tavus.languages import LANGUAGES


class LaunchForm(forms.Form):
    """Per-launch overrides. Blank means "use the preset's"."""

    talker = forms.ChoiceField(
        label="Who will talk to the replica?",
        choices=Talker.choices,
        required=False,  # a form without it (an older page) takes the preset's answer
        widget=forms.RadioSelect,
        help_text="Someone else: send them the participant link. This page then watches "
        "(status, captions and the replica's picture) without joining the video, so it takes "
        "no place in the room. You can still join the video from it.",
    )

    # Only for presets that remember people (removed otherwise): whose memories to use.
    person = forms.CharField(
        label="Who is it with?",
        required=False,
        max_length=200,
        help_text="Their email address, or another id that is theirs alone (not just a first "
        "name): the replica remembers earlier conversations with exactly this person. Not "
        "needed when you talk yourself: then it is you.",
    )
    conversation_name = forms.CharField(
        label="Conversation name",
        required=False,
        max_length=150,
        help_text="Shown in the studio's history. Leave blank to use the preset's name.",
    )
    custom_greeting = forms.CharField(
        label="Greeting",
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="The first thing the replica says when someone joins.",
    )
    conversational_context = forms.CharField(
        label="Context for this conversation",
        required=False,
        max_length=20000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Background the replica should know, e.g. the candidate's name and role.",
    )
    language = forms.ChoiceField(
        label="Language",
        required=False,
        choices=[("", "Use the preset's language"), *LANGUAGES],
    )
    # One key per rendered form: a second submit of the same form finds the first launch.
    launch_key = forms.CharField(widget=forms.HiddenInput, max_length=64, min_length=16)

    def __init__(self, *args, preset=None, **kwargs):
        kwargs.setdefault("initial", {}).setdefault("launch_key", secrets.token_urlsafe(24))
        if preset is not None:
            kwargs["initial"].setdefault("talker", preset.talker)
        super().__init__(*args, **kwargs)
        self.preset = preset
        if preset is None or not preset.remember_people:
            del self.fields["person"]
        if preset is not None:
            # Show what the preset will use when a field is left blank.
            greeting = preset.custom_greeting or (
                "The replica makes up a greeting"
                if preset.dynamic_greeting
                else "The persona's usual greeting"
            )
            hints = {
                "conversation_name": preset.conversation_name or preset.name,
                "custom_greeting": greeting,
                "conversational_context": preset.conversational_context,
            }
            for name, hint in hints.items():
                if hint:
                    self.fields[name].widget.attrs["placeholder"] = hint
            # The person's details the greeting and context use ({name}, {role}, …): asked here
            # so a launch never sends braces; the launch refuses one left blank (a blocker).
            for name in preset.detail_fields():
                self.fields[f"detail_{name}"] = forms.CharField(
                    label=f"Their {placeholders.label(name).lower()}",
                    required=False,
                    max_length=placeholders.MAX_VALUE,
                    help_text=f"Fills in {{{name}}} in the greeting or context.",
                )

    def clean_talker(self) -> str:
        return self.cleaned_data["talker"] or (self.preset.talker if self.preset else Talker.ME)

    def clean_person(self) -> str:
        return " ".join(self.cleaned_data["person"].split())

    def clean(self):
        data = super().clean()
        if "person" in self.fields and data.get("talker") == Talker.LINK and not data.get("person"):
            self.add_error(
                "person",
                "This preset remembers people: say who the conversation is with (their email "
                "address, say), so the replica brings back only their memories.",
            )
        return data

    def memory_person(self, user) -> tuple[str, str]:
        """Whose memories this conversation uses: (who, for the memory key; in words), or
        ("", "") when the preset remembers nobody. The two kinds never meet: a launcher who
        talks is their studio account, a person with the link is what was typed."""
        if "person" not in self.fields:
            return "", ""
        data = getattr(self, "cleaned_data", None) or {}  # an unbound form: the preset's answer
        if (data.get("talker") or self.initial.get("talker")) == Talker.ME:
            return f"studio-user:{user.pk}", "you"
        person = data.get("person", "")
        return (f"person:{person}", person) if person else ("", "")

    def details(self, preview: bool = False) -> dict | None:
        """The person's details as typed, for the preset's placeholders. A preview shows
        examples where nothing is typed yet (None: all examples)."""
        data = getattr(self, "cleaned_data", None) or {}
        names = [key.removeprefix("detail_") for key in self.fields if key.startswith("detail_")]
        typed = {name: data.get(f"detail_{name}", "") for name in names}
        if not preview:
            return typed
        if not any(typed.values()):
            return None
        return {name: value or placeholders.example(name) for name, value in typed.items()}

    def overrides(self) -> dict:
        data = self.cleaned_data
        return {
            k: data[k]
            for k in ("conversation_name", "custom_greeting", "conversational_context", "language")
            if data.get(k)
        }


class SteerForm(forms.Form):
    """A supervisor stepping in: what the replica should do next."""

    ACTIONS = {
        "echo": ("Make the replica say…", "conversation.echo", "text", "said"),
        # The replica answers words the person never said: the timeline and the captions say
        # whose they are.
        "respond": ("Answer as if the person said…", RESPOND, "text", "spoke as the person"),
        "interrupt": ("Interrupt the replica", "conversation.interrupt", None, "interrupted"),
        "append": ("Add context", "conversation.append_llm_context", "context", "added context"),
        "overwrite": (
            "Replace context",
            "conversation.overwrite_llm_context",
            "context",
            "replaced the context with",
        ),
    }
    action = forms.ChoiceField(
        label="What should happen", choices=[(k, v[0]) for k, v in ACTIONS.items()]
    )
    # Daily app messages are limited to about 4 KB, envelope included.
    text = forms.CharField(
        label="Words or context",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def clean(self):
        data = super().clean()
        action = data.get("action")
        if action and self.ACTIONS[action][2] and not data.get("text", "").strip():
            self.add_error("text", "Type what the replica should use.")
        return data

    def record(self, conversation, user) -> tuple[Event, dict]:
        """Write the command on the timeline; returns its event and the in-room envelope for
        the pages in the room to carry in (studio.conversations.push.send_command)."""
        label, event_type, key, verb = self.ACTIONS[self.cleaned_data["action"]]
        text = self.cleaned_data.get("text", "").strip()
        properties = {key: text} if key else {}
        envelope = build_interaction(event_type, conversation.tavus_id or "", **properties)
        what = f"{user.get_username()} {verb}" + (f": “{text}”" if text else "")
        event = conversation.record_event(
            source=Event.STUDIO,
            event_type="studio.steer",
            dedupe_key=f"steer:{uuid.uuid4()}",
            payload={"label": what, "command": event_type, "text": text, "delivered": False},
            actor=user,
        )
        return event, envelope


class ToolAnswerForm(forms.Form):
    """A supervisor answers a tool call the replica made (studio.conversations.behaviour)."""

    STATUSES = [("success", "Send the answer"), ("error", "Say it failed")]
    tool_call_id = forms.CharField(widget=forms.HiddenInput, max_length=180)
    # Daily app messages are limited to about 4 KB, envelope included.
    output = forms.CharField(
        label="Answer",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    status = forms.ChoiceField(choices=STATUSES, initial="success")

    def clean(self):
        data = super().clean()
        if data.get("status") == "success" and not data.get("output", "").strip():
            self.add_error("output", "Type the answer the replica should use.")
        return data

    def problems(self) -> list[str]:
        """Errors not shown beside the answer box (the call and the button are not typed)."""
        return [*self.non_field_errors(), *self["tool_call_id"].errors, *self["status"].errors]

    def output_value(self) -> str:
        text = self.cleaned_data.get("output", "").strip()
        if self.cleaned_data["status"] == "error":
            return text or "The tool could not answer."
        return text


class ObjectiveConfirmForm(forms.Form):
    """A supervisor says yes to an objective waiting for one."""

    objective_name = forms.CharField(widget=forms.HiddenInput, max_length=200)

    def problems(self) -> list[str]:
        return [*self.non_field_errors(), *self["objective_name"].errors]
