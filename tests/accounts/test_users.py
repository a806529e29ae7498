"""The Users page: list, add with a role, change the role, deactivate, and a password link."""

import re

import pytest
from django.contrib.auth.models import User

from studio.accounts.models import AuditEntry
from studio.accounts.roles import role_of
from tests.conftest import make_user


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def link_in(html: str) -> str:
    return re.search(r'id="password-link"[^>]*value="([^"]+)"', html).group(1)


def test_only_admins_manage_people(client, operator, supervisor):
    for person in (operator, supervisor):
        client.force_login(person)
        assert client.get("/users/").status_code == 403
        assert client.post("/users/add/", {"username": "x", "role": "Admin"}).status_code == 403
    assert not User.objects.filter(username="x").exists()


def test_the_list_shows_people_with_their_roles_in_the_studios_words(
    admin_client, operator, django_assert_max_num_queries
):
    make_user("gone", "Supervisor", is_active=False)
    make_user("root", is_superuser=True)
    with django_assert_max_num_queries(8):  # not one query per person
        html = admin_client.get("/users/").content.decode()
    assert "olivia" in html and "Operator" in html
    assert "Deactivated" in html
    for word in ("Django administration", "Staff status", "Superuser", "Groups"):
        assert word not in html


def test_adding_a_person_gives_a_role_and_a_one_time_password_link(admin_client, client, settings):
    settings.STUDIO_PUBLIC_URL_FROM_ENV = False
    settings.STUDIO_PUBLIC_URL = "https://studio.example.org"
    response = admin_client.post(
        "/users/add/",
        {"username": "priya", "first_name": "Priya Shah", "email": "", "role": "Supervisor"},
    )
    assert response.status_code == 200
    person = User.objects.get(username="priya")
    assert role_of(person) == "Supervisor" and not person.is_staff
    assert not person.has_usable_password()
    html = response.content.decode()
    link = link_in(html)
    assert link.startswith("https://studio.example.org/users/password/")
    assert AuditEntry.objects.filter(action="user added", target="priya", detail="Supervisor")
    # The person opens the link (no account needed), chooses a password and can sign in.
    path = link.removeprefix("https://studio.example.org")
    admin_client.logout()
    form_page = client.get(path, follow=True)
    assert "Choose your password" in form_page.content.decode()
    new = "a-long-fresh-passphrase-42"
    done = client.post(form_page.redirect_chain[-1][0],
                       {"new_password1": new, "new_password2": new}, follow=True)
    assert "Your password is set" in done.content.decode()
    assert client.login(username="priya", password=new)
    assert AuditEntry.objects.filter(action="password set", target="priya").exists()
    # Used once: the same link no longer works.
    client.logout()
    assert "This link no longer works" in client.get(path, follow=True).content.decode()


def test_a_taken_username_is_refused_whatever_its_case(admin_client, operator):
    response = admin_client.post("/users/add/", {"username": "OLIVIA", "role": "Operator"})
    assert "Someone already has this username" in response.content.decode()
    assert User.objects.filter(username__iexact="olivia").count() == 1


def test_a_role_must_be_picked(admin_client):
    response = admin_client.post("/users/add/", {"username": "noone"})
    assert "Pick a role" in response.content.decode()
    assert not User.objects.filter(username="noone").exists()


def test_changing_a_role_is_saved_and_audited(admin_client, operator, admin_user):
    response = admin_client.post(
        f"/users/{operator.pk}/", {"first_name": "Olivia", "email": "", "role": "Admin"}
    )
    assert response.status_code == 302
    operator.refresh_from_db()
    assert role_of(User.objects.get(pk=operator.pk)) == "Admin" and operator.is_staff
    entry = AuditEntry.objects.get(action="role changed")
    assert entry.target == "olivia" and entry.detail == "Operator → Admin"
    assert entry.actor == admin_user


def test_the_last_admin_cannot_be_demoted_or_deactivated(admin_client, admin_user):
    response = admin_client.post(
        f"/users/{admin_user.pk}/", {"first_name": "", "email": "", "role": "Operator"}
    )
    assert "This is the only admin left" in response.content.decode()
    assert role_of(User.objects.get(pk=admin_user.pk)) == "Admin"
    other = make_user("root", is_superuser=True)
    other.is_superuser = True
    other.save()
    # Another admin may deactivate this one only while someone else stays an admin.
    admin_client.force_login(other)
    admin_client.post(f"/users/{admin_user.pk}/active/", {"active": "0"})
    assert not User.objects.get(pk=admin_user.pk).is_active
    response = admin_client.post(f"/users/{other.pk}/active/", {"active": "0"})
    assert response.status_code == 403  # not yourself
    assert User.objects.get(pk=other.pk).is_active


def test_a_superuser_demoted_here_really_loses_admin(admin_client, admin_user):
    boss = make_user("boss", is_superuser=True)
    admin_client.post(f"/users/{boss.pk}/", {"first_name": "", "email": "", "role": "Operator"})
    boss.refresh_from_db()
    assert not boss.is_superuser and role_of(boss) == "Operator"


def test_deactivating_signs_the_person_out_at_once(admin_client, client, operator):
    from django.test import Client

    theirs = Client()
    theirs.force_login(operator)
    assert theirs.get("/launch/").status_code == 200
    response = admin_client.post(f"/users/{operator.pk}/active/", {"active": "0"}, follow=True)
    assert "can no longer sign in" in response.content.decode()
    assert theirs.get("/launch/").status_code == 302  # back to sign-in
    assert AuditEntry.objects.filter(action="user deactivated", target="olivia").exists()
    admin_client.post(f"/users/{operator.pk}/active/", {"active": "1"})
    assert User.objects.get(pk=operator.pk).is_active
    assert AuditEntry.objects.filter(action="user reactivated", target="olivia").exists()


def test_a_reset_link_is_made_on_request_and_never_stored(admin_client, operator, client):
    response = admin_client.post(f"/users/{operator.pk}/password-link/")
    html = response.content.decode()
    link = link_in(html)
    assert "Give them this link" in html
    assert response["Cache-Control"] == "no-store"
    assert AuditEntry.objects.filter(action="password link made", target="olivia").exists()
    assert link not in admin_client.get(f"/users/{operator.pk}/").content.decode()
    assert not AuditEntry.objects.filter(detail__contains=link.rsplit("/", 2)[-2]).exists()


def test_no_link_for_a_deactivated_account(admin_client):
    gone = make_user("gone", "Operator", is_active=False)
    response = admin_client.post(f"/users/{gone.pk}/password-link/", follow=True)
    assert "Reactivate this account first" in response.content.decode()
    assert 'id="password-link"' not in response.content.decode()


def test_the_person_page_shows_their_recent_activity(admin_client, operator):
    AuditEntry.objects.create(actor=operator, actor_name="olivia", action="conversation launched",
                              target="Demo")
    html = admin_client.get(f"/users/{operator.pk}/").content.decode()
    assert "Conversation launched" in html and "Demo" in html
