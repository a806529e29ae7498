"""Making invitation links: for one person, or for a list (a CSV file or pasted rows).

Every person goes through `check_person`, which builds the preset's settings with their
details filled in: a detail the greeting or context uses but the person lacks is refused here,
when the link is made, never when the person arrives.
"""

import csv
import io
from dataclasses import dataclass, field
from datetime import timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone

from studio.connection import current
from studio.invites.models import MAX_DAYS, MAX_USES, Invitation
from studio.presets import placeholders

MAX_ROWS = 500
MAX_FILE_BYTES = 1_000_000
MAX_NAME = 100


@dataclass
class Person:
    """One person to invite, as typed or as a row of a list."""

    name: str = ""
    email: str = ""
    details: dict = field(default_factory=dict)
    row: int = 0  # the line in the list (0: typed on the form)
    problem: str = ""
    effective: object = None
    cells: list[str] = field(default_factory=list)  # the row as given, to hand back if refused

    @property
    def label(self) -> str:
        return self.name or self.email or f"Row {self.row}"


def conversation_name(preset, person_name: str) -> str:
    base = preset.conversation_name or preset.name
    return f"{base} with {person_name}"[:150] if person_name else base


def check_person(preset, person: Person) -> Person:
    """Fill `person.effective` with the settings their link will hold, or `person.problem`
    with why it cannot be made, in plain words."""
    person.name = placeholders.clean_value(person.name)[:MAX_NAME]
    person.email = person.email.strip()
    if person.email:
        try:
            validate_email(person.email)
        except ValidationError:
            person.problem = f"“{person.email[:60]}” is not an email address."
            return person
    if preset.remember_people and not person.email:
        person.problem = (
            "No email address: this preset remembers people, and tells them apart by it."
        )
        return person
    known = placeholders.known_fields(preset.person_fields)
    details = {
        name: placeholders.clean_value(value)
        for name, value in person.details.items()
        if name in known
    }
    details["name"] = person.name
    person.details = {k: v for k, v in details.items() if v and k != "name"}
    memory = f"person:{person.email}" if preset.remember_people else ""
    effective = preset.effective_settings(
        {"conversation_name": conversation_name(preset, person.name)},
        memory,
        person.email,
        details,
    )
    if effective.blockers:
        person.problem = " ".join(effective.blockers)
        return person
    person.effective = effective
    return person


class LinkSettingsForm(forms.Form):
    """When the links work, how often, and whether to email them."""

    valid_from = forms.DateTimeField(
        label="Works from",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    valid_until = forms.DateTimeField(
        label="Until",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    max_uses = forms.IntegerField(
        label="Conversations per link",
        min_value=1,
        max_value=MAX_USES,
        initial=1,
        help_text="How many conversations the link may start, one after the other. Usually "
        "one: the link then stops working once its conversation has taken place.",
        error_messages={"min_value": "At least 1.", "max_value": f"At most {MAX_USES}."},
    )
    send_email = forms.BooleanField(
        label="Email each person their link now",
        required=False,
        help_text="Only people with an email address get one.",
    )

    def __init__(self, *args, **kwargs):
        start, end = Invitation.default_window()
        initial = kwargs.setdefault("initial", {})
        initial.setdefault("valid_from", timezone.localtime(start))
        initial.setdefault("valid_until", timezone.localtime(end))
        super().__init__(*args, **kwargs)
        self.mail = current.email()
        if self.mail is None:
            # No mail server: no promise of email. The links are there to copy.
            del self.fields["send_email"]
        zone = timezone.get_current_timezone_name()
        self.fields["valid_from"].help_text = f"Times are in {zone}."

    def clean(self):
        data = super().clean()
        start, end = data.get("valid_from"), data.get("valid_until")
        if start and end:
            if end <= start:
                self.add_error("valid_until", "Make it end after it starts.")
            elif end <= timezone.now():
                self.add_error("valid_until", "This time has passed: the link would never work.")
            elif end - start > timedelta(days=MAX_DAYS):
                self.add_error(
                    "valid_until",
                    f"A link may work for at most {MAX_DAYS} days: an old link is a key lying "
                    "around. Make a new one later if needed.",
                )
        return data

    def link_fields(self) -> dict:
        data = self.cleaned_data
        return {k: data[k] for k in ("valid_from", "valid_until", "max_uses")}

    @property
    def wants_email(self) -> bool:
        return bool(self.cleaned_data.get("send_email"))


class PersonForm(LinkSettingsForm):
    """One link, for one person."""

    person_name = forms.CharField(
        label="Their name",
        required=False,
        max_length=MAX_NAME,
        help_text="Shown to them on the link's page, and in the conversation's history.",
    )
    email = forms.EmailField(label="Their email address", required=False, max_length=254)

    def __init__(self, *args, preset, **kwargs):
        super().__init__(*args, **kwargs)
        self.preset = preset
        self.person = None
        for name in preset.detail_fields():
            # Each detail the greeting or context uses is needed, and says why.
            needed = {"required": f"Give their {placeholders.label(name).lower()}: the "
                      f"greeting or context says {{{name}}}."}
            if name == "name":
                self.fields["person_name"].required = True
                self.fields["person_name"].error_messages.update(needed)
                continue
            self.fields[f"detail_{name}"] = forms.CharField(
                label=f"Their {placeholders.label(name).lower()}",
                max_length=placeholders.MAX_VALUE,
                help_text=f"Fills in {{{name}}} in the greeting or context.",
                error_messages=needed,
            )
        if preset.remember_people:
            self.fields["email"].help_text = (
                "Needed: this preset remembers people, and tells them apart by it."
            )
        details = [name for name in self.fields if name.startswith("detail_")]
        self.order_fields(["person_name", "email", *details])

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        person = Person(
            name=data.get("person_name", ""),
            email=data.get("email", ""),
            details={
                key.removeprefix("detail_"): value
                for key, value in data.items()
                if key.startswith("detail_")
            },
        )
        check_person(self.preset, person)
        if person.problem:
            self.add_error(None, person.problem)
        elif self.wants_email and not person.email:
            self.add_error("email", "Give their email address, or untick “Email … now”.")
        else:
            self.person = person
        return data


class ListForm(LinkSettingsForm):
    """One link per person of a list: a CSV file, or rows pasted from a spreadsheet."""

    upload = forms.FileField(
        label="A CSV file",
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv,text/plain"}),
    )
    rows = forms.CharField(
        label="…or paste the rows",
        required=False,
        max_length=MAX_FILE_BYTES,
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
        help_text="Copied from a spreadsheet or typed, with the column names on the first line.",
    )
    field_order = ["upload", "rows"]

    def __init__(self, *args, preset, **kwargs):
        super().__init__(*args, **kwargs)
        self.preset = preset
        self.parsed: ParsedList | None = None
        columns = ["name", "email", *(n for n in preset.detail_fields() if n != "name")]
        self.columns = columns
        self.fields["upload"].help_text = (
            f"The first line names the columns: {', '.join(columns)}. Up to {MAX_ROWS} people."
        )

    def clean_upload(self):
        upload = self.cleaned_data.get("upload")
        if upload and upload.size > MAX_FILE_BYTES:
            raise ValidationError("This file is over 1 MB: split the list into smaller ones.")
        return upload

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        upload = data.get("upload")
        text = decode(upload.read()) if upload else data.get("rows", "")
        if not text.strip():
            raise ValidationError("Choose a CSV file, or paste the rows.")
        self.parsed = parse_people(text, self.preset)
        if self.wants_email:
            for person in self.parsed.people:
                if not person.problem and not person.email:
                    person.problem = "No email address, and the links are to be emailed."
        return data

    @property
    def good(self) -> list[Person]:
        return [p for p in self.parsed.people if not p.problem] if self.parsed else []

    @property
    def bad(self) -> list[Person]:
        return [p for p in self.parsed.people if p.problem] if self.parsed else []

    def bad_rows_text(self) -> str:
        """The refused rows again, under their header line, ready to fix and send again."""
        if not self.bad:
            return ""
        return "\n".join([_row(self.parsed.header), *(_row(p.cells) for p in self.bad)])


def decode(raw: bytes) -> str:
    """A spreadsheet's CSV as text: UTF-8 (with or without Excel's BOM), else Windows-1252,
    which is what Excel on Windows writes otherwise."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def _delimiter(text: str) -> str:
    """Tabs (pasted from a spreadsheet), semicolons (Excel where the comma is a decimal
    mark) or commas, told from the header line: column names hold none of them, whereas
    csv.Sniffer gives up on a list whose last row is short (a spreadsheet's empty last cell)."""
    header = text.lstrip("\ufeff").splitlines()[0] if text.strip() else ""
    return max("\t;,", key=lambda d: (header.count(d), d == ","))


@dataclass
class ParsedList:
    header: list[str]
    people: list[Person]
    ignored: list[str]  # columns that are no detail of the preset's


def parse_people(text: str, preset) -> ParsedList:
    """The people of a list, each checked (`check_person`): bad rows carry their problem."""
    reader = csv.reader(io.StringIO(text.strip("\ufeff")), delimiter=_delimiter(text))
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        raise ValidationError("The list is empty.") from None
    names = [placeholders.field_name(cell) for cell in header]
    if "name" not in names and "email" not in names:
        raise ValidationError(
            "The first line must name the columns, e.g. “name,email”: it reads "
            f"“{','.join(header)[:80]}”."
        )
    known = set(placeholders.known_fields(preset.person_fields)) | {"email"}
    people: list[Person] = []
    emails: dict[str, int] = {}
    for number, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue  # a blank line
        if len(people) >= MAX_ROWS:
            raise ValidationError(f"The list has more than {MAX_ROWS} people: split it.")
        values = dict(zip(names, (cell.strip() for cell in cells), strict=False))
        person = Person(
            name=values.get("name", ""),
            email=values.get("email", ""),
            details={k: v for k, v in values.items() if k in known and k not in ("name", "email")},
            row=number,
            cells=cells,
        )
        if len(cells) > len(names):
            person.problem = f"{len(cells)} values for {len(names)} columns."
        else:
            check_person(preset, person)
        key = person.email.lower()
        if not person.problem and key:
            if key in emails:
                person.problem = f"The same email address as row {emails[key]}."
            else:
                emails[key] = number
        people.append(person)
    if not people:
        raise ValidationError("The list has a header line but nobody in it.")
    ignored = [cell for cell, name in zip(header, names, strict=True) if name not in known]
    return ParsedList(header=header, people=people, ignored=ignored)


def _row(cells: list[str]) -> str:
    """Cells as one line of CSV."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(cells)
    return buffer.getvalue()
