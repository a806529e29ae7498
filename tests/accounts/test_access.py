import pytest

from studio.accounts.roles import ADMIN, OPERATOR, SUPERVISOR
from tests.urlwalk import studio_pages

PAGES = studio_pages()


def test_the_walk_finds_the_main_sections():
    paths = {path for path, _, _ in PAGES}
    for section in ("/launch/", "/live/", "/monitor/", "/presets/", "/library/", "/history/"):
        assert section in paths


@pytest.mark.parametrize(("path", "name", "view"), PAGES, ids=[p for p, _, _ in PAGES])
def test_every_page_requires_login(client, db, path, name, view):
    for method in (client.get, client.post):
        response = method(path)
        assert response.status_code == 302, f"{path} answered {response.status_code} anonymously"
        assert response["Location"].startswith("/login/")


@pytest.mark.parametrize(("path", "name", "view"), PAGES, ids=[p for p, _, _ in PAGES])
def test_every_page_declares_a_role(path, name, view):
    # Each studio view is wrapped by role_required, so a user without a role never gets in.
    assert getattr(view, "studio_min_role", None) in (OPERATOR, SUPERVISOR, ADMIN), path


@pytest.mark.parametrize(("path", "name", "view"), PAGES, ids=[p for p, _, _ in PAGES])
def test_user_without_role_is_told_to_ask_an_admin(client, outsider, path, name, view):
    client.force_login(outsider)
    response = client.get(path)
    assert response.status_code == 403
    assert b"ask a studio admin" in response.content


def _pages_above(role):
    return [(p, n, v) for p, n, v in PAGES if v.studio_min_role in role]


@pytest.mark.parametrize(
    ("path", "name", "view"),
    _pages_above((SUPERVISOR, ADMIN)) or [pytest.param(None, None, None, marks=pytest.mark.skip)],
)
def test_operator_gets_403_on_supervisor_and_admin_pages(client, operator, path, name, view):
    client.force_login(operator)
    assert client.get(path).status_code == 403


@pytest.mark.parametrize(
    ("path", "name", "view"),
    _pages_above((ADMIN,)) or [pytest.param(None, None, None, marks=pytest.mark.skip)],
)
def test_supervisor_gets_403_on_admin_pages(client, supervisor, path, name, view):
    client.force_login(supervisor)
    assert client.get(path).status_code == 403


def test_operator_sees_the_shell_with_navigation(client, operator):
    client.force_login(operator)
    response = client.get("/launch/")
    assert response.status_code == 200
    html = response.content.decode()
    for label in ("Launch", "Live", "Monitor", "Presets", "Library", "History", "Sign out"):
        assert label in html
    assert "Sandbox — no real Tavus calls" in html
    assert ">Users<" not in html  # user management is for admins


def test_admin_sees_users_and_settings_in_the_studio(client, admin_user):
    client.force_login(admin_user)
    html = client.get("/launch/").content.decode()
    assert 'href="/users/"' in html and ">Users<" in html
    assert 'href="/settings/"' in html and ">Settings<" in html
    assert "/admin/" not in html  # Django's admin is no longer where people are managed


def test_banner_is_gone_with_a_real_key(client, operator, settings):
    settings.TAVUS_API_KEY = "a-real-key"
    client.force_login(operator)
    assert "Sandbox — no real Tavus calls" not in client.get("/launch/").content.decode()


def test_home_sends_signed_in_users_to_launch(client, operator):
    client.force_login(operator)
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == "/launch/"


def test_login_with_wrong_password_explains(client, operator):
    response = client.post("/login/", {"username": "olivia", "password": "nope"})
    assert response.status_code == 200
    assert b"enter a correct username and password" in response.content


def test_login_then_logout(client, operator):
    from tests.conftest import PASSWORD

    response = client.post("/login/", {"username": "olivia", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/launch/").status_code == 200
    client.post("/logout/")
    assert client.get("/launch/").status_code == 302
