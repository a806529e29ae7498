"""The Usage page: billed minutes by day, week or month, split by person, preset or persona,
peak concurrency against the plan's limit, dry runs apart; its CSV; and the budgets (admins).

The figures are studio.conversations.usage's; this module only arranges them for people."""

import csv
import io
from datetime import date, timedelta

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import content_disposition_header

from studio.accounts.models import audit
from studio.accounts.roles import ADMIN, SUPERVISOR, has_role, role_required
from studio.connection import current
from studio.conversations import usage
from studio.conversations.export import safe_cell
from studio.conversations.models import MinuteBudget
from studio.usage import chart
from studio.usage.forms import BudgetForm, UsageForm

SHIFT = {"day": 1, "week": 13 * 7, "month": 12}  # months, days, months


def _shifted(grain: str, at: date, direction: int) -> date:
    """`at` moved one page of periods earlier (-1) or later (+1)."""
    if grain == "week":
        return at + timedelta(days=SHIFT["week"] * direction)
    months = SHIFT[grain] * direction
    first = usage._add_months(at.replace(day=1), months)
    return first


def _names(split: str, keys) -> dict:
    """What to call each split key on the page."""
    if split != "person":
        blank = "No preset" if split == "preset" else "No persona"
        return {key: key or blank for key in keys}
    ids = [key for key in keys if key is not None]
    found = dict(get_user_model().objects.filter(pk__in=ids).values_list("pk", "username"))
    return {key: found.get(key, "Someone no longer here") for key in keys}


def _minutes(seconds: float) -> float:
    return round(seconds / 60, 1)


def _report(request: HttpRequest):
    grain, split, at = UsageForm(request.GET).choice()
    chosen = usage.periods(grain, at)
    result = usage.compute(chosen, split)
    names = _names(split, result.by_key)
    return grain, split, at, chosen, result, names


@role_required(SUPERVISOR)
def usage_page(request: HttpRequest) -> HttpResponse:
    grain, split, at, chosen, result, names = _report(request)
    limit = current.concurrency_limit()
    labels = [p.label for p in chosen]
    titles = [p.title for p in chosen]
    series = chart.top_series(
        [(names[key], [s / 60 for s in seconds]) for key, seconds in result.by_key.items()]
    )
    total = result.total_seconds
    keys = [
        {
            "name": names[key],
            "minutes": _minutes(seconds),
            "conversations": count,
            "share": round(100 * seconds / total) if total else 0,
        }
        for key, seconds, count in result.key_totals()
    ]
    rows = [
        {
            "period": period,
            "minutes": _minutes(result.seconds[i]),
            "conversations": result.conversations[i],
            "dry_runs": result.dry_runs[i],
            "peak": result.peaks[i],
        }
        for i, period in enumerate(chosen)
    ]
    today = timezone.localdate()
    later = _shifted(grain, at, +1)
    context = {
        "nav": "usage",
        "form": UsageForm(initial={"grain": grain, "split": split, "at": at}),
        "grain": grain,
        "split": split,
        "split_label": usage.SPLITS[split],
        "grains": usage.GRAINS,
        "splits": usage.SPLITS,
        "at": at,
        "range_title": f"{chosen[0].title} – {chosen[-1].title}"
        if grain != "day"
        else chosen[0].start.astimezone(timezone.get_current_timezone()).strftime("%B %Y"),
        "earlier": _shifted(grain, at, -1),
        "later": later if chosen[-1].end <= usage._midnight(today) or later <= today else None,
        "minutes_chart": chart.stacked(labels, titles, series, "minutes"),
        "peak_chart": chart.stacked(
            labels,
            titles,
            [("Most at once", [float(p) for p in result.peaks])],
            "at once",
            integer=True,
            limit=limit,
            limit_label=f"Plan limit: {limit}" if limit else "",
        ),
        "rows": rows,
        "keys": keys,
        "total_minutes": _minutes(total),
        "total_conversations": sum(result.conversations),
        "total_dry_runs": sum(result.dry_runs),
        "peak": max(result.peaks, default=0),
        "limit": limit,
        "running": result.running,
        "budgets": usage.budget_states(None),
        "can_edit_budgets": has_role(request.user, ADMIN),
        "time_zone": timezone.get_current_timezone_name(),
    }
    return render(request, "usage/usage.html", context)


@role_required(SUPERVISOR)
def usage_csv(request: HttpRequest) -> HttpResponse:
    grain, split, at, chosen, result, names = _report(request)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        [
            "period_start",
            "period_end",
            "split_by",
            "name",
            "billed_minutes",
            "conversations_started",
            "dry_runs",
            "peak_at_once",
        ]
    )
    zone = timezone.get_current_timezone()
    for i, period in enumerate(chosen):
        start = period.start.astimezone(zone).isoformat()
        end = period.end.astimezone(zone).isoformat()
        writer.writerow(
            [
                start,
                end,
                "all",
                "",
                f"{result.seconds[i] / 60:.2f}",
                result.conversations[i],
                result.dry_runs[i],
                result.peaks[i],
            ]
        )
        for key, seconds in sorted(result.by_key.items(), key=lambda kv: str(names[kv[0]])):
            count = result.counts_by_key.get(key, [0] * len(chosen))[i]
            if seconds[i] or count:
                writer.writerow(
                    [
                        start,
                        end,
                        split,
                        safe_cell(names[key]),
                        f"{seconds[i] / 60:.2f}",
                        count,
                        "",
                        "",
                    ]
                )
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    name = f"usage-by-{grain}-{split}-{at:%Y%m%d}.csv"
    response["Content-Disposition"] = content_disposition_header(True, name)
    return response


@role_required(ADMIN)
def budgets(request: HttpRequest) -> HttpResponse:
    initial = {"person": request.GET.get("person")} if request.GET.get("person") else None
    form = BudgetForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        what, whose = form.save(request.user)
        if what != "unchanged":
            audit("budget changed", request=request, target=whose, detail=what)
        messages.success(
            request,
            f"The budget of {whose} is {what}." if what != "unchanged" else "Nothing changed.",
        )
        return redirect("usage:budgets")
    rows = MinuteBudget.objects.select_related("person", "updated_by").order_by("person__username")
    states = {s.person_id: s for s in usage.budget_states(None)}
    return render(
        request,
        "usage/budgets.html",
        {
            "nav": "usage",
            "form": form,
            "rows": [(row, states.get(row.person_id)) for row in rows],
            "month": usage.this_month().title,
        },
    )
