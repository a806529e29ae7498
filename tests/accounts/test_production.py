"""`make run` is what staff start: it runs production-like, with the studio's own pages."""

import stat

import pytest

from tests.instance import Instance, run_command

SHOW_KEY = "from django.conf import settings; print(settings.SECRET_KEY)"


@pytest.fixture(scope="module")
def instance(tmp_path_factory):
    started = Instance(tmp_path_factory.mktemp("instance")).start()
    yield started
    started.stop()


def test_make_run_serves_with_debug_off():
    command = run_command(8123)
    assert "DEBUG=false" in command
    assert "--port" in command and "8123" in command


def test_a_missing_page_is_the_studios_own_not_a_list_of_url_patterns(instance):
    client = instance.signed_in()
    response = client.get("/conversations/999999/")
    assert response.status_code == 404
    assert "This page doesn't exist, or it isn't yours to see." in response.text
    assert "URLconf" not in response.text and "Traceback" not in response.text
    assert "Back to the studio" in response.text


def test_static_files_are_served_fingerprinted_and_compressed(instance):
    client = instance.signed_in()
    page = client.get("/launch/").text
    css = next(part for part in page.split('"') if part.startswith("/static/studio/studio."))
    assert css != "/static/studio/studio.css"  # the manifest's hashed name
    response = client.get(css, headers={"accept-encoding": "gzip"})
    assert response.status_code == 200 and response.headers["content-encoding"] == "gzip"


def test_the_secret_key_is_generated_once_and_kept_private(instance):
    key_file = instance.data_dir / ".secret-key"
    assert len(key_file.read_text().strip()) >= 50
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    printed = instance.manage("shell", "-c", SHOW_KEY)
    assert printed.stdout.strip().splitlines()[-1] == key_file.read_text().strip()


def test_a_signed_session_survives_a_restart(instance):
    client = instance.signed_in()
    instance.stop()
    instance.start()
    assert client.get("/launch/").status_code == 200


def test_another_instance_gets_another_key(instance, tmp_path):
    other = Instance(tmp_path)
    printed = other.manage("shell", "-c", SHOW_KEY)
    assert printed.returncode == 0, printed.stderr
    first = (instance.data_dir / ".secret-key").read_text().strip()
    assert printed.stdout.strip().splitlines()[-1] != first


# db: the 400 page has the shell, whose sandbox banner asks the Settings page's row (which
# reads as "nothing saved" when the database is down).
def test_a_server_error_shows_the_studios_page_without_needing_the_request(rf, db):
    from django.views.defaults import bad_request, server_error

    response = server_error(rf.get("/anything/"))
    assert response.status_code == 500
    assert "Something went wrong on our side" in response.content.decode()
    response = bad_request(rf.get("/anything/"), exception=ValueError("x"))
    assert "The studio couldn't read that request" in response.content.decode()


def test_an_expired_form_is_explained_in_plain_words(client, operator):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(operator)
    response = strict.post("/presets/new/", {"name": "x"})
    assert response.status_code == 403
    assert "This form had expired" in response.content.decode()


@pytest.mark.parametrize(
    ("proxies", "seen"), [("10.0.0.5", "127.0.0.1"), ("127.0.0.1", "198.51.100.7")]
)
def test_the_container_believes_forwarded_addresses_only_from_its_proxies(tmp_path, proxies, seen):
    import sqlite3

    import httpx

    from tests.instance import container_command

    instance = Instance(tmp_path, FORWARDED_ALLOW_IPS=proxies)
    command = [part.replace("0.0.0.0", "127.0.0.1") for part in container_command(instance.port)]
    instance.start(command)
    try:
        client = httpx.Client(base_url=instance.url)
        client.get("/login/")
        client.post(
            "/login/",
            data={"username": "ines", "password": "wrong",
                  "csrfmiddlewaretoken": client.cookies["csrftoken"]},
            headers={"x-forwarded-for": "198.51.100.7"},
        )
    finally:
        instance.stop()
    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        assert db.execute("SELECT ip FROM accounts_signinfailure").fetchall() == [(seen,)]
