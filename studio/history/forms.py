"""The history list's filters and sorts: every GET parameter goes through HistoryFilterForm."""

from datetime import datetime, time, timedelta

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Exists, F, FloatField, Func, OuterRef
from django.utils import timezone

from studio.accounts.roles import ADMIN, OPERATOR, SUPERVISOR, is_supervisor
from studio.conversations import search
from studio.conversations.models import END_REASONS, Conversation, Note, Tag
from studio.library.models import Persona, Replica
from studio.presets.models import Preset


class _Seconds(Func):
    """ended_at − created_at in seconds, computed by the database (for "longest first")."""

    arity = 2
    output_field = FloatField()
    arg_joiner = " - "
    template = "EXTRACT(EPOCH FROM (%(expressions)s))"

    def as_sqlite(self, compiler, connection, **extra):
        # Django's generic datetime subtraction on SQLite calls back into Python per row;
        # julianday() stays in C.
        return self.as_sql(
            compiler,
            connection,
            template="((julianday(%(expressions)s)) * 86400.0)",
            arg_joiner=") - julianday(",
            **extra,
        )


SORTS = {
    "newest": ("Newest first", [F("created_at").desc(), F("pk").desc()]),
    "oldest": ("Oldest first", [F("created_at").asc(), F("pk").asc()]),
    "longest": (
        "Longest first",
        [_Seconds("ended_at", "created_at").desc(nulls_last=True), F("created_at").desc()],
    ),
}
END_REASON_CHOICES = [("", "Any outcome"), *END_REASONS.items(), ("failed", "Failed to start")]


def _persona_choices():
    personas = Persona.objects.order_by("name").values_list("persona_id", "name")
    return [("", "Any persona"), *personas]


def _replica_choices():
    replicas = Replica.objects.order_by("name").values_list("replica_id", "name")
    return [("", "Any replica"), *replicas]


class HistoryFilterForm(forms.Form):
    """The list's filters and sort, all GET parameters so a filtered view can be bookmarked."""

    q = forms.CharField(
        required=False,
        max_length=200,
        label="Search what was said",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "A word or phrase…"}),
    )
    # In words: "launching" and "checking with Tavus" are moments of a running conversation,
    # not kinds of past ones.
    status = forms.ChoiceField(
        required=False,
        choices=[
            ("", "Any status"),
            ("live", "Still running"),
            (Conversation.ENDED, "Ended"),
            (Conversation.FAILED, "Failed to start"),
        ],
    )
    preset = forms.ModelChoiceField(required=False, queryset=None, empty_label="Any preset")
    persona = forms.ChoiceField(required=False)
    replica = forms.ChoiceField(required=False)
    launched_by = forms.ModelChoiceField(
        required=False, queryset=None, empty_label="Anyone", to_field_name="username"
    )
    date_from = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )
    end_reason = forms.ChoiceField(required=False, choices=END_REASON_CHOICES, label="Outcome")
    recording = forms.ChoiceField(
        required=False,
        label="Recording",
        choices=[
            ("", "With or without"),
            ("yes", "Has a recording"),
            ("no", "No recording"),
            ("failed", "Could not be copied"),
        ],
    )
    objectives = forms.ChoiceField(
        required=False,
        label="Objectives",
        choices=[
            ("", "Any"),
            ("missed", "An objective not met"),
            ("met", "Every objective met"),
        ],
    )
    tag = forms.ChoiceField(required=False, label="Tag")
    notes = forms.CharField(
        required=False,
        max_length=200,
        label="Notes mention",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "A word in a note…"}),
    )
    sort = forms.ChoiceField(required=False, choices=[(k, v[0]) for k, v in SORTS.items()])

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        # Archived presets too: their conversations are still history.
        self.fields["preset"].queryset = Preset._base_manager.only("pk", "name").order_by("name")
        self.fields["persona"].choices = _persona_choices()
        self.fields["replica"].choices = _replica_choices()
        if is_supervisor(user):
            names = Tag.objects.order_by("name").values_list("name", flat=True).distinct()
            self.fields["tag"].choices = [("", "Any tag"), *((n, n) for n in names)]
        if is_supervisor(user):
            self.fields["launched_by"].queryset = (
                get_user_model()
                .objects.filter(groups__name__in=[OPERATOR, SUPERVISOR, ADMIN])
                .distinct()
                .only("pk", "username")
                .order_by("username")
            )
        else:
            del self.fields["launched_by"]  # operators only ever see their own
            # Notes and tags are the supervisors' review: operators never see them.
            del self.fields["tag"], self.fields["notes"]

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "The end date is before the start date.")
        return data


def _day_start(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def filtered_history(user, form: HistoryFilterForm):
    """The user's visible conversations narrowed by the form's valid fields, in its sort order.
    Invalid fields are ignored (and shown as errors), so an old bookmark still works."""
    form.is_valid()
    data = form.cleaned_data
    qs = Conversation.objects.visible_to(user)
    if data.get("status") == "live":
        qs = qs.live()
    elif data.get("status"):
        qs = qs.filter(status=data["status"])
    if data.get("preset"):
        qs = qs.filter(preset=data["preset"])
    if data.get("persona"):
        qs = qs.filter(persona_id=data["persona"])
    if data.get("replica"):
        qs = qs.filter(replica_id=data["replica"])
    if data.get("launched_by"):
        qs = qs.filter(launched_by=data["launched_by"])
    if data.get("date_from"):
        qs = qs.filter(created_at__gte=_day_start(data["date_from"]))
    if data.get("date_to") and "date_to" not in form.errors:
        qs = qs.filter(created_at__lt=_day_start(data["date_to"] + timedelta(days=1)))
    if data.get("end_reason") == "failed":
        qs = qs.filter(status=Conversation.FAILED)
    elif data.get("end_reason"):
        qs = qs.filter(end_reason=data["end_reason"])
    if data.get("recording") == "yes":
        qs = qs.filter(recording__isnull=False)
    elif data.get("recording") == "no":
        qs = qs.filter(recording__isnull=True)
    elif data.get("recording") == "failed":
        qs = qs.exclude(recording_error="")
    # Objectives are judged once a conversation is over (live ones are still working on them).
    if data.get("objectives") == "missed":
        qs = qs.filter(status=Conversation.ENDED, objectives_missed__gt=0)
    elif data.get("objectives") == "met":
        qs = qs.filter(status=Conversation.ENDED, objectives_missed=0)
    if data.get("tag"):
        qs = qs.filter(Exists(Tag.objects.filter(conversation=OuterRef("pk"), name=data["tag"])))
    if data.get("notes"):
        notes = Note.objects.filter(conversation=OuterRef("pk"), text__icontains=data["notes"])
        qs = qs.filter(Exists(notes))
    if data.get("q"):
        qs = search.search(qs, data["q"], snippets=False)
    return qs.order_by(*SORTS[data.get("sort") or "newest"][1])


class NoteForm(forms.Form):
    text = forms.CharField(
        label="Add a note",
        max_length=5000,
        error_messages={"required": "Write something first."},
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "What should others know?"}),
    )

    def clean_text(self) -> str:
        text = self.cleaned_data["text"].strip()
        if not text:
            raise forms.ValidationError("Write something first.")
        return text


class TagForm(forms.Form):
    name = forms.CharField(
        label="Add a tag",
        max_length=40,
        error_messages={"required": "A tag needs a word or two."},
        widget=forms.TextInput(
            attrs={"placeholder": "good example, follow up…", "list": "known-tags"}
        ),
    )

    def clean_name(self) -> str:
        # One spelling per tag: "Follow  up" and "follow up" are the same tag.
        name = " ".join(self.cleaned_data["name"].split()).lower()
        if not name:
            raise forms.ValidationError("A tag needs a word or two.")
        return name
