"""The Users page: who may use the studio, in which role, and their password links.

People are never deleted (history and the audit log name them): they are deactivated, which
signs them out at once and keeps them out. Passwords are never typed by an admin: the admin
gives the person a one-time link to choose their own.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.views.decorators.http import require_POST

from studio.accounts.forms import UserForm
from studio.accounts.models import AuditEntry, audit
from studio.accounts.roles import ADMIN, ROLES, active_admins, role_of, role_required
from studio.connection import current

User = get_user_model()


def _get_user_for_admin(request: HttpRequest, pk: int):
    # Only admins reach these views (role_required); any account may be managed by them.
    return get_object_or_404(User, pk=pk)


def password_link(user) -> str:
    """A link the person opens to choose a password. It works once: setting a password (or
    signing in) changes what the token is made from. It expires after PASSWORD_RESET_TIMEOUT."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    path = reverse("users:set_password", args=[uid, default_token_generator.make_token(user)])
    return current.public_url() + path


@role_required(ADMIN)
def user_list(request: HttpRequest) -> HttpResponse:
    people = User.objects.order_by("-is_active", "username").prefetch_related("groups")
    rows = []
    for person in people:
        # role_of's own query per person, answered from the prefetched groups instead.
        names = {group.name for group in person.groups.all()}
        person._studio_role = next((r for r in reversed(ROLES) if r in names), None)
        rows.append((person, role_of(person)))
    return render(request, "accounts/users.html", {"nav": "users", "rows": rows})


@role_required(ADMIN)
def user_add(request: HttpRequest) -> HttpResponse:
    form = UserForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        person = form.save()
        role = form.cleaned_data["role"]
        audit("user added", request=request, target=person.get_username(), detail=role)
        return _show_password_link(request, person, added=True)
    return render(request, "accounts/user_add.html", {"nav": "users", "form": form})


def _detail(request: HttpRequest, person, form, link: str = "", added: bool = False):
    name = person.get_username()
    history = AuditEntry.objects.filter(Q(actor=person) | Q(target=name)).select_related("actor")
    context = {
        "nav": "users",
        "person": person,
        "role": role_of(person),
        "form": form,
        "link": link,
        "added": added,
        "history": history[:12],
        "is_self": person.pk == request.user.pk,
        "link_days": settings.PASSWORD_RESET_TIMEOUT // 86400,
    }
    return render(request, "accounts/user_detail.html", context)


def _show_password_link(request: HttpRequest, person, added: bool = False) -> HttpResponse:
    # Rendered, not redirected: the link is never kept in a message, a URL or the session.
    link = password_link(person)
    if not added:
        audit("password link made", request=request, target=person.get_username())
    response = _detail(request, person, UserForm(instance=person), link=link, added=added)
    response["Cache-Control"] = "no-store"  # nor in the browser's cache
    return response


@role_required(ADMIN)
def user_detail(request: HttpRequest, pk: int) -> HttpResponse:
    person = _get_user_for_admin(request, pk)
    before = role_of(person)
    form = UserForm(request.POST or None, instance=person)
    if request.method == "POST" and form.is_valid():
        form.save()
        role = form.cleaned_data["role"]
        if role != before:
            audit("role changed", request=request, target=person.get_username(),
                  detail=f"{before or 'none'} → {role}")
        messages.success(request, f"Saved {person.get_username()}.")
        return redirect("users:detail", pk=person.pk)
    return _detail(request, person, form)


@role_required(ADMIN)
@require_POST
def user_password_link(request: HttpRequest, pk: int) -> HttpResponse:
    person = _get_user_for_admin(request, pk)
    if not person.is_active:
        messages.error(request, "Reactivate this account first: a deactivated account can't "
                       "sign in, whatever its password.")
        return redirect("users:detail", pk=person.pk)
    return _show_password_link(request, person)


@role_required(ADMIN)
@require_POST
def user_active(request: HttpRequest, pk: int) -> HttpResponse:
    person = _get_user_for_admin(request, pk)
    active = request.POST.get("active") == "1"
    name = person.get_username()
    if not active:
        if person.pk == request.user.pk:
            raise PermissionDenied("You can't deactivate your own account.")
        if role_of(person) == ADMIN and not active_admins().exclude(pk=person.pk).exists():
            messages.error(request, "This is the only admin left, so it stays active.")
            return redirect("users:detail", pk=person.pk)
    if person.is_active != active:
        person.is_active = active
        person.save(update_fields=["is_active"])
        audit("user reactivated" if active else "user deactivated", request=request, target=name)
    if active:
        messages.success(request, f"{name} can sign in again.")
    else:
        messages.success(request, f"{name} is signed out and can no longer sign in.")
    return redirect("users:detail", pk=person.pk)
