"""Forms for the knowledge base. Every rule is checked here, not only in the browser."""

import json
import re
from pathlib import PurePath

from django import forms
from django.core.exceptions import ValidationError

from studio.knowledge.endpoints import NotAllowed, check_allowed
from studio.knowledge.models import CONTENT_TYPES, Document
from studio.tavus import knowledge as tavus_kb

MAX_TAGS = 20
MAX_TAG_LENGTH = 50
_TAG = re.compile(r"^[\w][\w .&/-]*$")


def parse_tags(text: str) -> list[str]:
    """ "hr, Onboarding ,hr" → ["hr", "Onboarding"]; raises ValidationError with plain words."""
    tags = list(dict.fromkeys(t.strip() for t in (text or "").split(",") if t.strip()))
    if len(tags) > MAX_TAGS:
        raise ValidationError(f"Use at most {MAX_TAGS} tags.")
    for tag in tags:
        if len(tag) > MAX_TAG_LENGTH:
            raise ValidationError(f"“{tag[:20]}…” is too long: a tag has at most 50 characters.")
        if not _TAG.match(tag):
            raise ValidationError(f"“{tag}”: tags use letters, digits, spaces, - _ . & and /.")
    return tags


class TagsField(forms.CharField):
    """Typed as "a, b, c"; cleaned to a list."""

    def prepare_value(self, value):
        return ", ".join(value) if isinstance(value, list) else value

    def clean(self, value):
        return parse_tags(super().clean(value))


def _tags_field(things: str = "document") -> TagsField:
    return TagsField(
        label="Tags",
        required=False,
        max_length=1100,
        help_text=f"Separate with commas, e.g. “hr, onboarding”. Presets and personas can use "
        f"every {things} with a tag, including ones added later.",
    )


class DocumentForm(forms.Form):
    source = forms.ChoiceField(
        label="What to add",
        choices=Document.Source.choices,
        initial=Document.Source.FILE,
        widget=forms.RadioSelect,
    )
    upload = forms.FileField(
        label="File",
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": ",".join(CONTENT_TYPES)}),
        help_text="PDF, Word (.docx, .doc), slides (.pptx), spreadsheets (.xlsx, .csv), text or "
        "pictures (.png, .jpg), up to 50 MB. The studio keeps it only until Tavus has read it.",
    )
    url = forms.URLField(
        label="Address",
        required=False,
        max_length=2000,
        assume_scheme="https",
        help_text="A public address Tavus can open without signing in, e.g. a page of your "
        "website or a shared file.",
    )
    crawl_depth = forms.IntegerField(
        label="How many links deep to follow",
        min_value=1,
        max_value=tavus_kb.MAX_CRAWL_DEPTH,
        initial=1,
        required=False,
        help_text="1 reads the pages the address links to directly. At most 10.",
    )
    crawl_max_pages = forms.IntegerField(
        label="At most this many pages",
        min_value=1,
        max_value=tavus_kb.MAX_CRAWL_PAGES,
        initial=10,
        required=False,
        help_text="Tavus reads at most 100 pages of one website.",
    )
    name = forms.CharField(
        label="Name",
        max_length=200,
        required=False,
        help_text="What staff see when choosing documents. Blank uses the file name or address.",
    )
    tags = _tags_field()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Needed or not depending on "What to add": never labelled "(optional)".
        for name in ("upload", "url", "crawl_depth", "crawl_max_pages"):
            self.fields[name].hide_optional = True

    def clean_upload(self):
        upload = self.cleaned_data.get("upload")
        if not upload:
            return None
        suffix = PurePath(upload.name).suffix.lower()
        if suffix == ".jpeg":
            suffix = ".jpg"
        if suffix not in CONTENT_TYPES:
            raise ValidationError(
                "Tavus can't read this kind of file. Use PDF, Word, PowerPoint (.pptx), Excel "
                "(.xlsx), CSV, text, PNG or JPG."
            )
        if upload.size > tavus_kb.MAX_BYTES:
            raise ValidationError("The file is larger than 50 MB, the most Tavus reads.")
        if upload.size == 0:
            raise ValidationError("The file is empty.")
        self.original_filename = PurePath(upload.name).name[:255]
        upload.name = f"document{suffix}"  # stored under a random name; the real one is kept
        return upload

    def clean(self):
        data = super().clean()
        source = data.get("source")
        needs = {Document.Source.FILE: ("upload", "Choose the file to upload.")}
        needs[Document.Source.LINK] = ("url", "Enter the address Tavus should read.")
        needs[Document.Source.WEBSITE] = needs[Document.Source.LINK]
        if source in needs:
            name, message = needs[source]
            if not data.get(name) and name not in self.errors:
                self.add_error(name, message)
        if source == Document.Source.WEBSITE:
            for name, default in (("crawl_depth", 1), ("crawl_max_pages", 10)):
                if data.get(name) is None and name not in self.errors:
                    data[name] = default
        return data

    def default_name(self, filename: str) -> str:
        if self.cleaned_data.get("name"):
            return self.cleaned_data["name"]
        if self.cleaned_data.get("source") == Document.Source.FILE:
            return PurePath(filename).stem[:200] or "Document"
        return self.cleaned_data["url"][:200]


class DocumentEditForm(forms.Form):
    name = forms.CharField(label="Name", max_length=200)
    tags = _tags_field()


# --- Objectives builder -------------------------------------------------------------------------

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,99}$")
NAME_RULE = "Letters, digits and underscores, starting with a letter, e.g. “ask_for_name”."


def _names(text: str, what: str) -> list[str]:
    names = [n.strip() for n in (text or "").split(",") if n.strip()]
    for name in names:
        if not _NAME.match(name):
            raise ValidationError(f"“{name}” isn't a valid {what}. {NAME_RULE}")
    return list(dict.fromkeys(names))


class StepForm(forms.Form):
    objective_name = forms.CharField(
        label="Step name", max_length=100, help_text=NAME_RULE + " Other steps refer to it."
    )
    objective_prompt = forms.CharField(
        label="What the replica should do",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="e.g. “Ask whether they have been here before.”",
    )
    output_variables = forms.CharField(
        label="What to note down",
        required=False,
        help_text="Names for what the replica learns, separated by commas, e.g. “patient_status”.",
    )
    confirmation_mode = forms.ChoiceField(
        label="Who says it's done",
        choices=[
            ("auto", "The AI decides when the step is done"),
            ("manual", "A person confirms it from the studio"),
        ],
        initial="auto",
        widget=forms.RadioSelect,
    )
    modality = forms.ChoiceField(
        label="Judged by",
        choices=[("verbal", "What is said"), ("visual", "What the camera sees")],
        initial="verbal",
    )
    next_required = forms.CharField(
        label="Then always",
        required=False,
        help_text="Steps that always follow, separated by commas.",
    )
    next_conditional = forms.CharField(
        label="Then, depending on the answer",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One per line: “step_name: when this is true”, e.g. "
        "“new_patient_intake: if they have never been here”.",
    )

    def clean_objective_name(self) -> str:
        name = self.cleaned_data["objective_name"].strip()
        if not _NAME.match(name):
            raise ValidationError(NAME_RULE)
        return name

    def clean_output_variables(self) -> list[str]:
        return _names(self.cleaned_data["output_variables"], "name")

    def clean_next_required(self) -> list[str]:
        return _names(self.cleaned_data["next_required"], "step name")

    def clean_next_conditional(self) -> dict[str, str]:
        result = {}
        for line in (self.cleaned_data["next_conditional"] or "").splitlines():
            if not line.strip():
                continue
            name, colon, condition = line.partition(":")
            if not colon or not condition.strip():
                raise ValidationError(f"Write “step_name: condition” on each line (“{line[:40]}”).")
            result[_names(name, "step name")[0] if name.strip() else ""] = condition.strip()
        if "" in result:
            raise ValidationError("Each line starts with the step it leads to.")
        return result

    def item(self) -> dict:
        data = self.cleaned_data
        item = {
            "objective_name": data["objective_name"],
            "objective_prompt": data["objective_prompt"].strip(),
            "confirmation_mode": data["confirmation_mode"],
            "modality": data["modality"],
        }
        if data["output_variables"]:
            item["output_variables"] = data["output_variables"]
        if data["next_required"]:
            item["next_required_objectives"] = data["next_required"]
        if data["next_conditional"]:
            item["next_conditional_objectives"] = data["next_conditional"]
        return item

    @staticmethod
    def initial_of(item: dict) -> dict:
        conditional = item.get("next_conditional_objectives") or {}
        return {
            "objective_name": item.get("objective_name", ""),
            "objective_prompt": item.get("objective_prompt", ""),
            "output_variables": ", ".join(item.get("output_variables") or []),
            "confirmation_mode": item.get("confirmation_mode") or "auto",
            "modality": item.get("modality") or "verbal",
            "next_required": ", ".join(item.get("next_required_objectives") or []),
            "next_conditional": "\n".join(f"{k}: {v}" for k, v in conditional.items()),
        }


class BaseStepFormSet(forms.BaseFormSet):
    def clean(self):
        if any(self.errors):
            return
        steps = [f for f in self.forms if f.has_changed() and not self._should_delete_form(f)]
        if not steps:
            raise ValidationError("Add at least one step.")
        names = [f.cleaned_data["objective_name"] for f in steps]
        if len(set(names)) != len(names):
            raise ValidationError("Two steps have the same name: give each its own.")
        for form in steps:
            for target in [
                *form.cleaned_data["next_required"],
                *form.cleaned_data["next_conditional"],
            ]:
                if target not in names:
                    raise ValidationError(
                        f"“{form.cleaned_data['objective_name']}” leads to “{target}”, "
                        "but there is no step with that name."
                    )

    def items(self) -> list[dict]:
        return [f.item() for f in self.forms if f.has_changed() and not self._should_delete_form(f)]


StepFormSet = forms.formset_factory(StepForm, formset=BaseStepFormSet, extra=1, can_delete=True)


class ObjectiveSetForm(forms.Form):
    name = forms.CharField(
        label="Name",
        max_length=200,
        help_text="e.g. “Clinic intake”. Shown when choosing it for a persona.",
    )


# --- Guardrails ---------------------------------------------------------------------------------


class GuardrailForm(forms.Form):
    name = forms.CharField(
        label="Name",
        max_length=100,
        help_text="Letters, digits and underscores, e.g. “no_competitors”. It can't be changed "
        "later.",
    )
    prompt = forms.CharField(
        label="The rule",
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 4, "maxlength": 1000}),
        help_text="What the replica must never do, in a sentence or two (at most 1,000 "
        "characters), e.g. “Never discuss competitors or their prices.”",
    )
    modality = forms.ChoiceField(
        label="Watch",
        choices=[("verbal", "What is said"), ("visual", "What the camera sees")],
        initial="verbal",
        widget=forms.RadioSelect,
    )
    tags = _tags_field("guardrail")
    app_message = forms.BooleanField(
        label="Show it live when it's triggered",
        required=False,
        initial=True,
        help_text="The live page and the monitor hear about it at once. Untick to keep it quiet.",
    )

    def __init__(self, *args, existing=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.existing = existing
        if existing is not None:
            self.fields["name"].disabled = True
            self.fields["name"].help_text = "Tavus doesn't allow renaming a guardrail."

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not re.match(r"^[A-Za-z0-9_]{1,100}$", name):
            raise ValidationError("Use only letters, digits and underscores (no spaces).")
        return name


# --- Tools ----------------------------------------------------------------------------------------

_TOOL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]{0,63}$")


class ToolForm(forms.Form):
    name = forms.CharField(
        label="Name",
        max_length=64,
        help_text="What the replica asks for, e.g. “get_order_status”: letters, digits and "
        "underscores, not starting with a digit.",
    )
    description = forms.CharField(
        label="What it does, and when to use it",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="The replica reads this to decide when to call it, e.g. “Looks up an order by "
        "its number when the person asks where their order is.”",
    )
    parameters = forms.CharField(
        label="What it needs (JSON Schema)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false", "class": "code"}),
        help_text='e.g. {"type": "object", "properties": {"order_number": {"type": "string"}}, '
        '"required": ["order_number"]}. Blank: it needs nothing.',
    )
    trigger_type = forms.ChoiceField(
        label="When it runs",
        choices=[
            ("in_call", "During the call, when the replica needs it"),
            ("post_call", "After the call, once (a post-call action)"),
        ],
        initial="in_call",
        widget=forms.RadioSelect,
    )
    api_url = forms.URLField(
        label="Address to call after the call",
        required=False,
        max_length=2000,
        assume_scheme="https",
        help_text="Post-call actions only: the public HTTPS address Tavus sends the result to.",
    )
    api_method = forms.ChoiceField(
        label="Method",
        choices=[("POST", "POST"), ("PUT", "PUT"), ("PATCH", "PATCH")],
        initial="POST",
    )
    answer_url = forms.URLField(
        label="Answer automatically from",
        required=False,
        max_length=2000,
        assume_scheme="https",
        help_text="During-the-call tools only, optional: an HTTPS address of yours. The studio "
        "sends it each call (name, arguments, call id) and passes its JSON answer to the "
        "replica; if it fails, a supervisor answers instead. Blank: a supervisor always "
        "answers, from the live page. Only hosts the studio's TOOL_ENDPOINT_ALLOWLIST names.",
    )

    def __init__(self, *args, existing=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["api_url"].hide_optional = True
        self.fields["answer_url"].hide_optional = True
        if existing is not None:
            self.fields["trigger_type"].disabled = True

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not _TOOL_NAME.match(name):
            raise ValidationError(
                "Letters, digits and underscores only, not starting with a digit."
            )
        return name

    def clean_parameters(self) -> dict:
        text = (self.cleaned_data.get("parameters") or "").strip()
        if not text:
            return {}
        try:
            schema = json.loads(text)
        except ValueError as error:
            raise ValidationError(
                f"This isn't valid JSON ({error.msg}, line {error.lineno})."
            ) from None
        if not isinstance(schema, dict):
            raise ValidationError("Write a JSON object, starting with {.")
        properties = schema.get("properties", {})
        if not isinstance(properties, dict) or not all(
            isinstance(v, dict) for v in properties.values()
        ):
            raise ValidationError("“properties” maps each name to its own schema object.")
        reserved = [name for name in properties if str(name).startswith("tavus_")]
        if reserved:
            raise ValidationError(
                f"Names starting with tavus_ are Tavus's own: rename {reserved[0]}."
            )
        return schema

    def clean(self):
        data = super().clean()
        size = len(data.get("description") or "") + len(json.dumps(data.get("parameters") or {}))
        if size > 10_000:
            self.add_error(
                "parameters",
                "The description and parameters together must stay under 10,000 characters.",
            )
        if data.get("trigger_type") == "post_call":
            url = data.get("api_url") or ""
            if not url and "api_url" not in self.errors:
                self.add_error("api_url", "A post-call action needs the address to call.")
            elif url and not url.startswith("https://"):
                self.add_error("api_url", "Tavus calls only https:// addresses.")
            data["answer_url"] = ""  # nothing to answer after the call
        elif data.get("answer_url"):
            try:
                check_allowed(data["answer_url"])
            except NotAllowed as error:
                self.add_error("answer_url", f"{error.message} Ask whoever runs the studio.")
        return data

    def body(self) -> dict:
        """The Tavus create body (also what a PATCH sends)."""
        data = self.cleaned_data
        body = {
            "name": data["name"],
            "description": data["description"].strip(),
            "parameters": data["parameters"],
            "trigger_type": data["trigger_type"],
        }
        if data["trigger_type"] == "post_call":
            body["delivery"] = {
                "app_message": False,
                "api": {"url": data["api_url"], "method": data["api_method"]},
            }
        else:
            # Answered in the room: by a supervisor, or the studio's call to `answer_url`.
            body["origin"] = "llm"
            body["delivery"] = {"app_message": True}
        return body
