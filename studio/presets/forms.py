"""The preset editor. Every rule lives here (and in validators.py), never only in the browser."""

import uuid
from pathlib import PurePath

from django import forms
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile

from studio.knowledge.forms import TagsField
from studio.knowledge.models import Document
from studio.library.models import Persona, Replica
from studio.presets import placeholders
from studio.presets.models import MAX_CALL_MINUTES, MAX_TIMEOUT_SECONDS, Preset
from studio.presets.validators import (
    AWS_REGION_CHOICES,
    TAVUS_AWS_ACCOUNT,
    TAVUS_EXTERNAL_ID,
    validate_aws_region,
    validate_background_image,
    validate_role_arn,
    validate_s3_bucket_name,
)
from studio.tavus.languages import LANGUAGES, is_supported

# A picture that passed its checks on a save that failed for another reason is kept here, and
# the form carries a signed reference to it, so the next try does not need the file again.
KEPT_FOLDER = "backgrounds/kept"
KEPT_SALT = "studio.presets.kept-background"
KEPT_SECONDS = 24 * 3600


def kept_picture(token: str) -> str | None:
    """The stored name a `background_kept` token stands for, if it is ours, recent and there."""
    try:
        name = signing.loads(token, salt=KEPT_SALT, max_age=KEPT_SECONDS)
    except signing.BadSignature:
        return None
    if not isinstance(name, str) or not name.startswith(KEPT_FOLDER + "/"):
        return None
    return name if default_storage.exists(name) else None


_LABEL_TO_VALUE = {label.lower(): value for value, label in LANGUAGES}
_VALUE_TO_LABEL = dict(LANGUAGES)

# A checkbox and the fields it brings on screen. "greeting" is shown when its box is OFF.
SECTIONS = {
    "greeting": ("dynamic_greeting", ("custom_greeting",)),
    "participants": ("limit_participants", ("max_participants",)),
    "recording": (
        "enable_recording",
        ("recording_s3_bucket_name", "recording_s3_bucket_region", "aws_assume_role_arn"),
    ),
}
CONTROLLERS = {controller: section for section, (controller, _) in SECTIONS.items()}


class LanguageField(forms.CharField):
    """Typed or picked from a list; shows "Spanish", stores Tavus's "spanish"."""

    def prepare_value(self, value):
        return _VALUE_TO_LABEL.get(value, value)

    def to_python(self, value):
        value = super().to_python(value).strip()
        return _LABEL_TO_VALUE.get(value.lower(), value.lower())

    def validate(self, value):
        super().validate(value)
        if value and not is_supported(value):
            raise ValidationError(
                "Tavus doesn't support that language. Pick one from the list, or “Detect "
                "automatically”."
            )


class DetailFieldsField(forms.CharField):
    """Typed as "company, start date"; cleaned to field names, ["company", "start_date"]."""

    MAX = 10

    def prepare_value(self, value):
        return ", ".join(value) if isinstance(value, list) else value

    def clean(self, value):
        names = []
        for typed in (super().clean(value) or "").split(","):
            if not typed.strip():
                continue
            name = placeholders.field_name(typed)
            if not placeholders.FIELD_NAME.match(name):
                raise ValidationError(
                    f"“{typed.strip()[:30]}”: a detail's name starts with a letter and uses "
                    "letters, digits and spaces, up to 30 characters."
                )
            if name not in names and name not in placeholders.BUILT_IN:
                names.append(name)
        if len(names) > self.MAX:
            raise ValidationError(f"Ask for at most {self.MAX} details.")
        return names


class PersonaChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, persona: Persona) -> str:
        label = persona.name or persona.persona_id
        if persona.vanished:
            return f"{label} (no longer at Tavus)"
        return f"{label} (stock)" if persona.is_stock else label


def _seconds_field(label: str, help_text: str) -> forms.IntegerField:
    return forms.IntegerField(
        label=label,
        min_value=0,
        max_value=MAX_TIMEOUT_SECONDS,
        help_text=help_text,
        error_messages={
            "min_value": "Use 0 or more seconds.",
            "max_value": f"Tavus allows at most {MAX_TIMEOUT_SECONDS} seconds (an hour).",
        },
    )


class PresetForm(forms.ModelForm):
    name = forms.CharField(
        label="Preset name",
        max_length=120,
        help_text="What operators pick on the Launch page, e.g. “Onboarding call, Spanish”.",
        error_messages={"required": "Give the preset a name."},
    )
    persona = PersonaChoiceField(
        label="Persona",
        queryset=Persona.objects.none(),
        empty_label="Pick a persona…",
        help_text=(
            "Who the replica is: its instructions, voice and senses. Personas live in the Library."
        ),
        error_messages={"required": "Pick a persona."},
    )
    replica = forms.ModelChoiceField(
        label="Face",
        queryset=Replica.objects.none(),
        required=False,
        empty_label="The persona's default face",
        widget=forms.RadioSelect,
        blank=True,  # radio buttons get the "persona's default" choice only when asked
        help_text="The replica people see. Leave it on the persona's default unless you want "
        "someone else.",
    )
    dynamic_greeting = forms.BooleanField(
        label="Let the AI write the greeting",
        required=False,
        help_text="The replica opens with a greeting suited to the context instead of a fixed "
        "line.",
    )
    custom_greeting = forms.CharField(
        label="Greeting",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="The first thing the replica says when someone joins. Blank uses the "
        "persona's usual greeting.",
    )
    person_fields = DetailFieldsField(
        label="Details each person brings",
        required=False,
        max_length=400,
        help_text="Beyond {name} and {role}, e.g. “company, start date”. Write them in braces in "
        "the greeting or context ({company}, {start_date}); each invitation link fills them in "
        "for its person.",
    )
    language = LanguageField(
        label="Language",
        max_length=40,
        initial="english",
        widget=forms.TextInput(attrs={"list": "language-options", "autocomplete": "off"}),
        help_text="The language the replica listens and speaks in. Type to search. “Detect "
        "automatically” follows whatever the person speaks.",
        error_messages={"required": "Pick a language, or “Detect automatically”."},
    )
    max_call_minutes = forms.IntegerField(
        label="Time limit (minutes)",
        min_value=1,
        max_value=MAX_CALL_MINUTES,
        help_text="The call ends after this long whatever happens, and is billed while it runs. "
        "Tavus allows at most 60 minutes.",
        error_messages={
            "required": "Enter a time limit in minutes.",
            "min_value": "Allow at least 1 minute.",
            "max_value": "Tavus allows at most 60 minutes per conversation.",
        },
    )
    participant_absent_timeout = _seconds_field(
        "If nobody joins, end after (seconds)",
        "Counted from launch. Tavus's default is 300 (5 minutes). The replica waits, and "
        "bills, until then.",
    )
    participant_left_timeout = _seconds_field(
        "After the last person leaves, end after (seconds)",
        "0 means the call keeps running, and billing, until the time limit.",
    )
    limit_participants = forms.BooleanField(
        label="Limit how many can join",
        required=False,
        help_text="Turn on, then set the number below. Extra people are turned away.",
    )
    max_participants = forms.IntegerField(
        label="Most people in the room, counting the replica",
        min_value=2,
        max_value=100,
        required=False,
        help_text="The replica counts as one: 2 means one person plus the replica.",
        error_messages={
            "min_value": "At least 2: the replica counts as one participant.",
            "max_value": "At most 100.",
        },
    )
    recording_s3_bucket_name = forms.CharField(
        label="S3 bucket name",
        max_length=63,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text="Exactly as in the AWS console, e.g. “acme-call-recordings”.",
    )
    recording_s3_bucket_region = forms.ChoiceField(
        label="Bucket region",
        choices=[("", "Pick the bucket's region…"), *AWS_REGION_CHOICES],
        required=False,
    )
    aws_assume_role_arn = forms.CharField(
        label="IAM role ARN",
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text=(
            f"Tavus assumes this role to write into the bucket: its trust policy must allow AWS "
            f"account {TAVUS_AWS_ACCOUNT} with external id “{TAVUS_EXTERNAL_ID}”."
        ),
    )
    background = forms.ChoiceField(
        label="Behind the replica",
        choices=Preset.Background.choices,
        initial=Preset.Background.NONE,
        required=False,  # a form without it (older pages, scripts) keeps the plain video
        widget=forms.RadioSelect,
        help_text="A green screen replaces the replica's background with plain green. Your "
        "picture is shown instead of that green to people who join with the studio's "
        "participant link.",
    )
    background_image = forms.ImageField(
        label="Background picture",
        required=False,
        widget=forms.FileInput(attrs={"accept": "image/png,image/jpeg,image/webp"}),
        help_text="PNG, JPEG or WebP, up to 5 MB, between 320×240 and 4096×4096 pixels. "
        "Replaces the green behind the replica.",
        error_messages={
            "invalid_image": "This file isn't a PNG, JPEG or WebP picture. Save it as one of "
            "those and upload it again."
        },
    )
    documents = forms.ModelMultipleChoiceField(
        label="Documents to look things up in",
        queryset=Document.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="The replica answers from these (once Tavus has read them), on top of any "
        "the persona has. Documents are added under Knowledge.",
    )
    document_tags = TagsField(
        label="…and every document tagged",
        required=False,
        max_length=1100,
        help_text="Separate tags with commas. Documents given a tag later are included too.",
    )
    document_retrieval_strategy = forms.ChoiceField(
        label="How hard to look",
        choices=[
            ("speed", "Fastest: answers soonest, looks less deeply"),
            ("balanced", "Balanced: Tavus's usual choice"),
            ("quality", "Most thorough: looks hardest, answers a little later"),
        ],
        initial="balanced",
        widget=forms.RadioSelect,
        required=False,  # older forms and scripts without it keep "balanced"
    )
    remember_people = forms.BooleanField(
        label="Remember people between conversations",
        required=False,
        help_text="The replica remembers what each person said in earlier conversations with "
        "this persona, and only that person's: memories are kept apart per person and persona.",
    )
    retention_days = forms.IntegerField(
        label="Keep conversation records for (days)",
        min_value=1,
        max_value=3650,
        required=False,
        help_text="Transcripts and details of conversations from this preset are deleted from "
        "the studio after this many days. Blank keeps them.",
    )

    class Meta:
        model = Preset
        fields = [
            "name",
            "persona",
            "replica",
            "dynamic_greeting",
            "custom_greeting",
            "conversational_context",
            "person_fields",
            "language",
            "conversation_name",
            "max_call_minutes",
            "participant_absent_timeout",
            "participant_left_timeout",
            "require_auth",
            "talker",
            "limit_participants",
            "max_participants",
            "audio_only",
            "enable_closed_captions",
            "background",
            "background_image",
            "enable_recording",
            "recording_s3_bucket_name",
            "recording_s3_bucket_region",
            "aws_assume_role_arn",
            "test_mode",
            "documents",
            "document_tags",
            "document_retrieval_strategy",
            "remember_people",
            "pinned",
            "retention_days",
        ]
        labels = {
            "conversational_context": "Context for these conversations",
            "conversation_name": "Conversation name",
            "require_auth": "Private room",
            "talker": "Who talks to the replica, unless the launcher says otherwise",
            "audio_only": "Voice only (no video of the replica)",
            "enable_closed_captions": "Live captions",
            "enable_recording": "Allow recording to your S3 bucket",
            "test_mode": "Dry run",
            "pinned": "Pin to the top of the preset list",
        }
        help_texts = {
            "conversational_context": "Added to the persona's background for every conversation "
            "from this preset: who the person is, why they're here. Operators can change it at "
            "launch. {name} and {role} are filled in with each person's own.",
            "conversation_name": "Shown in Tavus and in History. Blank uses the preset name.",
            "require_auth": "Only people with the private link (it carries an access pass) can "
            "join.",
            "audio_only": "People hear the replica but don't see it.",
            "enable_closed_captions": "Shows what is said as text during the call.",
            "enable_recording": "Tavus saves recordings into your own AWS S3 bucket. Recording "
            "is started from within the call.",
            "test_mode": "Tavus checks the settings and starts nothing: no replica joins, there "
            "is no room to open and nothing is billed.",
            "talker": "Someone else: the launcher's page watches without joining the video, so "
            "it takes no place in the room.",
        }
        widgets = {
            "conversational_context": forms.Textarea(attrs={"rows": 3}),
            "talker": forms.RadioSelect,
        }

    def __init__(self, *args, validate_url: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        instance = self.instance
        personas = Persona.objects.filter(vanished=False)
        replicas = Replica.objects.filter(vanished=False)
        # A preset pointing at something that vanished still shows it, so the error makes sense.
        if instance.persona_id:
            personas = personas | Persona.objects.filter(pk=instance.persona_id)
        if instance.replica_id:
            replicas = replicas | Replica.objects.filter(pk=instance.replica_id)
        self.fields["persona"].queryset = personas.order_by("vanished", "-persona_type", "name")
        self.fields["replica"].queryset = replicas.order_by("vanished", "-replica_type", "name")
        documents = Document.objects.present().exclude(document_id=None)
        if instance.pk:
            documents = documents | instance.documents.all()  # a gone one stays visible
        self.fields["documents"].queryset = documents.distinct().order_by("vanished", "name")
        if not self.is_bound:
            self.initial.setdefault("limit_participants", instance.max_participants is not None)
        # A form posted without it (an older page, a script) keeps the preset's answer.
        self.fields["talker"].required = False
        self.fields["talker"].hide_optional = True
        # Needed once their box is ticked, so not labelled "(optional)".
        for section in ("recording", "participants"):
            for name in SECTIONS[section][1]:
                self.fields[name].hide_optional = True
        if validate_url:
            # Each field checks itself as the person leaves it; the answer swaps the regions it
            # concerns and the preview out-of-band (the form carries hx-swap="none"). The
            # picture is checked when the form is saved, not uploaded on every change.
            for name, field in self.fields.items():
                if name == "background_image":
                    continue
                field.widget.attrs.update(
                    {
                        "hx-post": validate_url,
                        "hx-trigger": "change",
                        "hx-sync": "closest form:queue all",
                    }
                )

    # --- Single fields ---------------------------------------------------------------------

    def clean_name(self) -> str:
        name = " ".join(self.cleaned_data["name"].split())
        if not name:
            raise ValidationError("Give the preset a name.")
        if not self.instance.archived and Preset.objects.name_taken(name, self.instance.pk):
            raise ValidationError("Another preset already has this name. Pick a different one.")
        return name

    def clean_persona(self) -> Persona:
        persona = self.cleaned_data["persona"]
        if persona.vanished:
            raise ValidationError("This persona is no longer at Tavus. Pick another.")
        return persona

    def clean_document_retrieval_strategy(self) -> str:
        return self.cleaned_data.get("document_retrieval_strategy") or "balanced"

    def _post_clean(self):
        super()._post_clean()
        # Many-to-many choices reach the instance only on save; the preview needs them now.
        if "documents" in self.cleaned_data:
            self.instance.chosen_documents = list(self.cleaned_data["documents"])
        # Green and a picture both need Tavus's green; the choice is the one place to say so.
        self.instance.apply_greenscreen = self.instance.background != Preset.Background.NONE

    def clean_background(self) -> str:
        return self.cleaned_data.get("background") or Preset.Background.NONE

    def clean_background_image(self):
        image = self.cleaned_data.get("background_image")
        if isinstance(image, UploadedFile):  # a new upload, not the one already stored
            extension = validate_background_image(image)
            image.name = f"background.{extension}"  # stored under the type it really is
            return image
        kept = kept_picture(self.data.get("background_kept", ""))
        return kept or image

    @property
    def kept_background(self) -> str:
        """The signed reference the page carries for a picture kept by `keep_background`."""
        return getattr(self, "_kept_token", "") or (
            self.data.get("background_kept", "")
            if kept_picture(self.data.get("background_kept", ""))
            else ""
        )

    def keep_background(self) -> None:
        """The form did not save: store a new picture that passed its checks anyway, so the
        person does not have to choose the file again (a browser empties a file field on
        every page)."""
        image = (self.cleaned_data or {}).get("background_image")
        if isinstance(image, UploadedFile):
            name = f"{KEPT_FOLDER}/{uuid.uuid4().hex}{PurePath(image.name).suffix.lower()}"
            name = default_storage.save(name, image)
            self._kept_token = signing.dumps(name, salt=KEPT_SALT)

    def clean_replica(self) -> Replica | None:
        replica = self.cleaned_data.get("replica")
        if replica is None:
            return None
        if replica.vanished:
            raise ValidationError("This face is no longer at Tavus. Pick another.")
        if replica.status == Replica.Status.ERROR:
            raise ValidationError("This face failed training at Tavus. Pick another.")
        return replica

    # --- Rules across fields ---------------------------------------------------------------

    def clean(self):
        data = super().clean()
        self._clean_face(data)
        if data.get("dynamic_greeting") and (data.get("custom_greeting") or "").strip():
            self.add_error(
                "custom_greeting",
                "Choose one: clear this greeting, or untick “Let the AI write the greeting”.",
            )
        if data.get("limit_participants"):
            if data.get("max_participants") is None and "max_participants" not in self.errors:
                self.add_error(
                    "max_participants", "Enter the most people allowed, or untick the limit."
                )
        else:
            # The number only counts while the limit is on (the box hides it on screen).
            self._forget("max_participants", None)
        self._clean_background(data)
        if data.get("enable_recording"):
            self._clean_recording(data)
        else:
            for name in SECTIONS["recording"][1]:
                self._forget(name, "")
        return data

    def _forget(self, name: str, empty) -> None:
        self.cleaned_data[name] = empty
        self._errors.pop(name, None)

    def _clean_face(self, data) -> None:
        persona, replica = data.get("persona"), data.get("replica")
        if persona is None or replica is not None or "replica" in self.errors:
            return
        default = persona.default_replica
        if not persona.default_replica_id:
            self.add_error(
                "replica", f"“{persona}” has no default face, so pick the face to use here."
            )
        elif default is not None and default.vanished:
            self.add_error(
                "replica",
                f"The persona's default face, {default}, is no longer at Tavus. Pick one here.",
            )
        elif default is not None and default.status == Replica.Status.ERROR:
            self.add_error(
                "replica", f"The persona's default face, {default}, failed training. Pick one."
            )

    def _clean_background(self, data) -> None:
        background = data.get("background")
        if background != Preset.Background.NONE and data.get("audio_only"):
            self.add_error(
                "background",
                "Voice only shows no video of the replica, so nothing appears behind it. "
                "Choose “The replica's own background”, or untick “Voice only”.",
            )
            return
        if (
            background == Preset.Background.IMAGE
            and not data.get("background_image")
            and "background_image" not in self.errors
        ):
            self.add_error("background_image", "Upload the picture to show behind the replica.")

    def _clean_recording(self, data) -> None:
        rules = {
            "recording_s3_bucket_name": (validate_s3_bucket_name, "Enter the S3 bucket name."),
            "recording_s3_bucket_region": (validate_aws_region, "Pick the bucket's region."),
            "aws_assume_role_arn": (validate_role_arn, "Enter the IAM role Tavus should use."),
        }
        for name, (validator, missing) in rules.items():
            if name in self.errors:
                continue
            value = (data.get(name) or "").strip()
            data[name] = value
            if not value:
                self.add_error(name, f"Needed for recording. {missing}")
                continue
            try:
                validator(value)
            except ValidationError as error:
                self.add_error(name, error)

    def validate_constraints(self):
        # clean_name already explains a clash in plain words; the database constraint stays
        # as the backstop for two people saving at the same moment.
        pass

    # --- For the template ------------------------------------------------------------------

    def _current(self, name: str):
        bound = self[name]
        return bound.field.to_python(bound.value()) if name in CONTROLLERS else bound.value()

    @property
    def visible_sections(self) -> dict[str, bool]:
        """Which dependent sections are on screen (without JS every section always is)."""
        errors = self.errors if self.is_bound else {}
        visible = {}
        for section, (controller, names) in SECTIONS.items():
            on = bool(self._current(controller))
            wanted = not on if section == "greeting" else on
            visible[section] = wanted or any(name in errors for name in names)
        return visible

    @property
    def persona_default_face(self) -> Replica | None:
        try:
            persona = self.fields["persona"].to_python(self["persona"].value())
        except ValidationError:
            return None
        return persona.default_replica if persona else None

    @property
    def selected_persona(self) -> Persona | None:
        try:
            return self.fields["persona"].to_python(self["persona"].value())
        except ValidationError:
            return None

    def regions_for(self, trigger: str | None) -> list[tuple[str, str]]:
        """The parts of the page to re-render after `trigger` changed."""
        if trigger in CONTROLLERS:
            return [("section", CONTROLLERS[trigger])]
        if trigger == "persona":
            return [("field", "persona"), ("field", "replica")]
        if trigger in self.fields:
            return [("field", trigger)]
        return []

    def quiet_untouched(self, section: str) -> None:
        """A section that just appeared shows no "required" errors on its empty fields."""
        for name in SECTIONS[section][1]:
            if not self.data.get(name):
                self._errors.pop(name, None)
