from django.apps import AppConfig
from django.db.models.signals import post_migrate


def ensure_roles(sender, **kwargs):
    """The data migration makes the role groups; `flush` (and every transactional test)
    empties them and then sends post_migrate, so make them again."""
    from django.contrib.auth.models import Group, Permission

    for name in ("Operator", "Supervisor", "Admin"):
        Group.objects.get_or_create(name=name)
    admin = Group.objects.get(name="Admin")
    # Users and roles, and reading the audit log, in Django's admin.
    admin.permissions.add(
        *Permission.objects.filter(content_type__app_label__in=("auth", "accounts"))
    )


class AccountsConfig(AppConfig):
    name = "studio.accounts"
    label = "accounts"

    def ready(self):
        from django.contrib.auth.signals import user_logged_in, user_logged_out

        from studio.accounts.models import audit

        post_migrate.connect(ensure_roles, sender=self)
        user_logged_in.connect(
            lambda sender, request, user, **kw: audit("sign-in", user=user, request=request),
            weak=False,
            dispatch_uid="audit-sign-in",
        )
        user_logged_out.connect(
            lambda sender, request, user, **kw: (
                user and audit("sign-out", user=user, request=request)
            ),
            weak=False,
            dispatch_uid="audit-sign-out",
        )
