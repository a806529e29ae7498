"""Forms for the knowledge base. Every rule is checked here, not only in the browser."""

import re
from pathlib import PurePath

from django import forms
from django.core.exceptions import ValidationError

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


def _tags_field() -> TagsField:
    return TagsField(
        label="Tags",
        required=False,
        max_length=1100,
        help_text="Separate with commas, e.g. “hr, onboarding”. Presets and personas can use "
        "every document with a tag, including ones added later.",
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
