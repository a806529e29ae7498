"""The Usage page's choices (GET) and the budget form (admins)."""

from datetime import date

from django import forms
from django.contrib.auth import get_user_model
from django.utils import timezone

from studio.accounts.roles import ROLES
from studio.conversations.models import MinuteBudget
from studio.conversations.usage import GRAINS, SPLITS

# A month of minutes a plan could hold, with room: Tavus's largest published plan is far below.
MAX_MONTHLY_MINUTES = 10_000_000


class UsageForm(forms.Form):
    """Which periods and which split; all GET parameters, so a view can be bookmarked."""

    grain = forms.ChoiceField(required=False, choices=list(GRAINS.items()), label="By")
    split = forms.ChoiceField(required=False, choices=list(SPLITS.items()), label="Split by")
    at = forms.DateField(
        required=False,
        label="Up to",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="A day in the last period shown.",
    )

    def clean_at(self) -> date | None:
        at = self.cleaned_data.get("at")
        if at and not date(2000, 1, 1) <= at <= date(2999, 12, 31):
            raise forms.ValidationError("Pick a date between the years 2000 and 2999.")
        return at

    def choice(self) -> tuple[str, str, date]:
        """(grain, split, at), the defaults standing in for anything missing or invalid."""
        self.is_valid()
        data = self.cleaned_data
        at = data.get("at") if "at" not in self.errors else None
        return (
            data.get("grain") or "day",
            data.get("split") or "person",
            at or timezone.localdate(),
        )


class BudgetForm(forms.Form):
    """Set (or with a blank, remove) the organisation's or one person's monthly budget."""

    person = forms.ModelChoiceField(
        queryset=None,
        required=False,
        empty_label="The whole organisation",
        label="Whose budget",
        to_field_name="username",
    )
    monthly_minutes = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_MONTHLY_MINUTES,
        label="Minutes a month",
        help_text="Billed minutes per calendar month. Leave blank to remove the budget.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["person"].queryset = (
            get_user_model()
            .objects.filter(is_active=True, groups__name__in=ROLES)
            .distinct()
            .order_by("username")
        )

    def save(self, user) -> tuple[str, str]:
        """Apply the change; returns (what happened, whose) for the message and the audit."""
        person = self.cleaned_data["person"]
        minutes = self.cleaned_data["monthly_minutes"]
        whose = person.get_username() if person else "the organisation"
        if minutes is None:
            removed, _ = MinuteBudget.objects.filter(person=person).delete()
            return ("removed" if removed else "unchanged", whose)
        MinuteBudget.objects.update_or_create(
            person=person, defaults={"monthly_minutes": minutes, "updated_by": user}
        )
        return (f"set to {minutes:,} minutes a month", whose)
