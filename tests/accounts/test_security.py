from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from studio.accounts.models import AuditEntry, SignInFailure
from tests.conftest import PASSWORD

pytestmark = pytest.mark.time_window


def sign_in(client, username, password, ip="10.0.0.1"):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_after_five_failures_this_device_waits_and_is_told_how_long(client, operator):
    for _ in range(5):
        assert sign_in(client, "olivia", "wrong").status_code == 200
    response = sign_in(client, "olivia", PASSWORD)  # even the right password, for a moment
    assert response.status_code == 200
    assert "Too many failed sign-ins from this device. Wait 2 seconds" in response.content.decode()
    assert "_auth_user_id" not in client.session
    with time_machine.travel(timezone.now() + timedelta(seconds=3)):
        assert sign_in(client, "olivia", PASSWORD).status_code == 302


def test_each_further_failure_doubles_the_wait(client, operator):
    waits = []
    for n in range(9):
        with time_machine.travel(timezone.now() + timedelta(hours=n / 100)):
            sign_in(client, "olivia", "wrong")
            waits.append(SignInFailure.wait_seconds("olivia", "10.0.0.1"))
    assert waits == [0, 0, 0, 0, 2, 4, 8, 16, 32]


def test_an_attacker_elsewhere_cannot_lock_a_colleague_out(client, operator):
    for _ in range(30):
        sign_in(client, "olivia", "wrong", ip="203.0.113.9")
    assert sign_in(client, "olivia", PASSWORD, ip="10.1.1.1").status_code == 302


def test_many_names_tried_from_one_device_slow_it_down_for_every_name(client, operator, settings):
    settings.SIGNIN_FREE_FAILURES_PER_CLIENT = 3
    for name in ("a", "b", "c"):
        sign_in(client, name, "wrong", ip="10.9.9.9")
    assert "Too many failed" in sign_in(client, "olivia", PASSWORD, ip="10.9.9.9").content.decode()
    assert sign_in(client, "olivia", PASSWORD, ip="10.1.1.1").status_code == 302


def test_failures_are_forgotten_after_the_window_and_after_a_sign_in(client, operator, settings):
    for _ in range(6):
        sign_in(client, "olivia", "wrong")
    later = timezone.now() + timedelta(seconds=settings.SIGNIN_WINDOW_SECONDS + 1)
    with time_machine.travel(later):
        assert sign_in(client, "olivia", PASSWORD).status_code == 302
        assert not SignInFailure.objects.filter(username="olivia").exists()


def test_sign_ins_and_failures_are_audited(client, operator):
    sign_in(client, "olivia", "wrong")
    assert SignInFailure.objects.get().ip == "10.0.0.1"
    sign_in(client, "olivia", PASSWORD)
    actions = list(AuditEntry.objects.order_by("at").values_list("action", "actor_name"))
    assert actions == [("sign-in failed", ""), ("sign-in", "olivia")]


def test_admins_can_read_but_not_write_the_audit_log(client, admin_user, operator):
    sign_in(client, "olivia", PASSWORD)
    client.force_login(admin_user)
    assert client.get("/admin/accounts/auditentry/").status_code == 200
    assert client.get("/admin/accounts/auditentry/add/").status_code == 403


def test_csp_header_allows_only_this_site(client, operator):
    client.force_login(operator)
    policy = client.get("/launch/")["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "frame-src 'self';" in policy
    assert "object-src 'none'" in policy
    assert "'unsafe-eval'" not in policy
    # Only the pages that join a real room allow Daily's hosts (tests/server/test_daily_js.py).
    assert "daily" not in policy and "unpkg" not in policy


def test_preset_changes_are_audited(admin_user):
    from studio.library.models import Persona
    from studio.presets.models import Preset

    persona = Persona.objects.create(persona_id="p1", name="Coach", persona_type="user")
    preset = Preset.objects.create(name="Weekly check-in", persona=persona,
                                   created_by=admin_user, updated_by=admin_user)
    preset.pinned = True
    preset.save()
    log = list(AuditEntry.objects.filter(action__startswith="preset").order_by("at")
               .values_list("action", "actor_name", "target"))
    assert log == [("preset created", "ada", "Weekly check-in"),
                   ("preset changed", "ada", "Weekly check-in")]
