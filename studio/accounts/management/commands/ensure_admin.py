import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Make sure an admin can sign in: with STUDIO_ADMIN_USERNAME/STUDIO_ADMIN_PASSWORD set, "
        "that account exists with that password; otherwise, when there is no admin yet, create "
        "'admin' with a random password and print it once."
    )

    def handle(self, **options):
        User = get_user_model()
        admins, _ = Group.objects.get_or_create(name="Admin")
        username, password = settings.STUDIO_ADMIN_USERNAME, settings.STUDIO_ADMIN_PASSWORD
        if username and password:
            user, created = User.objects.get_or_create(username=username)
            # Only when it changed: a new hash would sign the admin out on every restart.
            if not user.check_password(password):
                user.set_password(password)
            user.is_staff = user.is_superuser = True
            user.save()
            user.groups.add(admins)
            self.stdout.write(f"Admin account {username!r} {'created' if created else 'updated'}.")
            return
        if User.objects.filter(is_superuser=True).exists() or admins.user_set.exists():
            return
        password = secrets.token_urlsafe(12)
        user = User.objects.create_superuser("admin", "", password)
        user.groups.add(admins)
        line = "=" * 64
        self.stdout.write(
            f"{line}\n  First admin account created — this password is shown only once.\n"
            f"  Username: admin\n  Password: {password}\n{line}"
        )
