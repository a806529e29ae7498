import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from studio.accounts.roles import role_of


def test_adduser_creates_an_account_with_the_role(db, capsys):
    call_command("adduser", "rita", "--role", "supervisor", "--password", "s3cret-pass-42")
    user = User.objects.get(username="rita")
    assert role_of(user) == "Supervisor"
    assert user.check_password("s3cret-pass-42")


def test_adduser_prints_a_random_password_when_none_given(db, capsys):
    call_command("adduser", "rob", "--role", "operator")
    out = capsys.readouterr().out
    password = out.rsplit("Password: ", 1)[1].strip()
    assert len(password) >= 12
    assert User.objects.get(username="rob").check_password(password)


def test_adduser_refuses_a_duplicate(db, operator):
    with pytest.raises(CommandError, match="already exists"):
        call_command("adduser", "olivia", "--role", "operator")


def test_ensure_admin_creates_first_admin_once(db, capsys, settings):
    settings.STUDIO_ADMIN_USERNAME = settings.STUDIO_ADMIN_PASSWORD = ""
    call_command("ensure_admin")
    out = capsys.readouterr().out
    password = out.split("Password: ", 1)[1].split()[0]
    assert User.objects.get(username="admin").check_password(password)
    call_command("ensure_admin")
    assert "Password" not in capsys.readouterr().out
    assert User.objects.filter(username="admin").count() == 1


def test_ensure_admin_honours_environment_credentials(db, settings):
    settings.STUDIO_ADMIN_USERNAME, settings.STUDIO_ADMIN_PASSWORD = "boss", "very-long-pass-1"
    call_command("ensure_admin")
    settings.STUDIO_ADMIN_PASSWORD = "changed-pass-2"
    call_command("ensure_admin")
    boss = User.objects.get(username="boss")
    assert boss.check_password("changed-pass-2") and role_of(boss) == "Admin"
