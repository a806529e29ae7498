"""Roles are Django groups. Each role includes everything the roles below it may do."""

from functools import wraps

from django.core.exceptions import PermissionDenied
from django.shortcuts import render

OPERATOR, SUPERVISOR, ADMIN = "Operator", "Supervisor", "Admin"
ROLES = (OPERATOR, SUPERVISOR, ADMIN)
_RANK = {name: i + 1 for i, name in enumerate(ROLES)}


def role_of(user) -> str | None:
    """The user's highest role, or None. Superusers are admins."""
    if not user.is_authenticated:
        return None
    if user.is_superuser:
        return ADMIN
    cached = getattr(user, "_studio_role", False)
    if cached is not False:
        return cached
    names = set(user.groups.values_list("name", flat=True))
    role = max((n for n in names if n in _RANK), key=_RANK.get, default=None)
    user._studio_role = role
    return role


def has_role(user, minimum: str) -> bool:
    role = role_of(user)
    return role is not None and _RANK[role] >= _RANK[minimum]


def is_supervisor(user) -> bool:
    return has_role(user, SUPERVISOR)


def role_required(minimum: str = OPERATOR):
    """View decorator: no role at all → the "ask an admin" page; a lower role → 403."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            role = role_of(request.user)
            if role is None:
                return render(request, "accounts/no_role.html", status=403)
            if _RANK[role] < _RANK[minimum]:
                raise PermissionDenied(f"This page needs the {minimum} role.")
            return view(request, *args, **kwargs)

        wrapped.studio_min_role = minimum
        return wrapped

    return decorator


# What each role may do, in the words the Users page uses.
ROLE_WORDS = {
    OPERATOR: "Launches and ends their own conversations, and manages presets.",
    SUPERVISOR: "Also watches, steers and ends every conversation, sees all history and "
    "looks after the documents.",
    ADMIN: "Also manages personas, replicas, objectives, guardrails, tools, users and "
    "settings.",
}


def set_role(user, role: str) -> None:
    """Give `user` exactly this role (one group). Admins may also open Django's admin pages."""
    from django.contrib.auth.models import Group

    user.groups.remove(*Group.objects.filter(name__in=ROLES))
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    user.is_staff = role == ADMIN
    if role != ADMIN:
        user.is_superuser = False  # a superuser is an admin whatever its groups say
    user.save(update_fields=["is_staff", "is_superuser"])
    user.__dict__.pop("_studio_role", None)


def active_admins():
    """Users who can still sign in and manage the studio."""
    from django.contrib.auth import get_user_model
    from django.db.models import Q

    return (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(Q(is_superuser=True) | Q(groups__name=ADMIN))
        .distinct()
    )
