import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError

from studio.accounts.roles import ROLES


class Command(BaseCommand):
    help = "Create a studio account with a role. Prints a random password unless one is given."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=[r.lower() for r in ROLES])
        parser.add_argument("--password", help="Password to set (default: a random one)")
        parser.add_argument("--email", default="")

    def handle(self, username, role, password, email, **options):
        User = get_user_model()
        if User.objects.filter(username=username).exists():
            raise CommandError(f"An account named {username!r} already exists.")
        password = password or secrets.token_urlsafe(12)
        user = User.objects.create_user(username=username, email=email, password=password)
        user.groups.add(Group.objects.get_or_create(name=role.capitalize())[0])
        if role == "admin":
            user.is_staff = True
            user.save(update_fields=["is_staff"])
        self.stdout.write(f"Created {username} ({role.capitalize()}). Password: {password}")
