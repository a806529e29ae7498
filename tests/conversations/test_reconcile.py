import time
from datetime import timedelta

import httpx
import pytest
from django.conf import settings
from django.utils import timezone

from studio.conversations.models import Lease
from studio.conversations.reconcile import reconcile
from studio.tavus import client as tavus
from tests.conversations.factories import make_conversation

# Alerts, rules and windows that count from now: every test here runs on three clocks.
pytestmark = pytest.mark.time_window

# The studio's own hook address with a secret no conversation has: deliveries go nowhere.
DEAD_HOOK = "/hooks/tavus/nowhere/"


@pytest.fixture
def sandbox(studio_server, settings):
    settings.SANDBOX_JOIN_DELAY = 0.1
    settings.SANDBOX_WEBHOOK_RETRIES = 0
    return studio_server


def start_at_tavus(name, **extra):
    dead = settings.STUDIO_PUBLIC_URL + DEAD_HOOK
    body = {"persona_id": "p9a95912", "conversation_name": name, "callback_url": dead}
    body.update(extra)
    return tavus.create_conversation(body)


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def notes(conversation):
    return [e.payload["label"] for e in conversation.events.filter(source="studio")]


def test_an_unknown_launch_found_at_tavus_is_adopted(sandbox, operator):
    local, _ = make_conversation(operator, status="unknown", tavus_id=None, conversation_url="")
    remote = start_at_tavus(local.tavus_name())
    reconcile()
    local.refresh_from_db()
    assert local.status == "active" and local.tavus_id == remote.conversation_id
    assert local.conversation_url == remote.conversation_url
    assert "Found at Tavus: the launch had worked" in notes(local)


def test_an_unknown_launch_the_user_wanted_ended_is_ended_at_tavus(sandbox, operator):
    local, _ = make_conversation(
        operator, status="unknown", tavus_id=None, end_requested_at=timezone.now()
    )
    remote = start_at_tavus(local.tavus_name())
    reconcile()
    assert wait_for(lambda: tavus.get_conversation(remote.conversation_id).status == "ended")
    assert "Found at Tavus and ended, as requested" in notes(local)


def test_an_unknown_launch_never_seen_at_tavus_is_given_up(sandbox, operator):
    local, _ = make_conversation(
        operator, status="unknown", tavus_id=None, created_at=timezone.now() - timedelta(minutes=10)
    )
    reconcile()
    local.refresh_from_db()
    assert local.status == "failed"
    assert "Tavus never started" in local.failure_reason


def test_nobody_joined_is_ended_early(sandbox, operator, settings):
    settings.END_IF_NOBODY_JOINS_SECONDS = 60
    remote = start_at_tavus("Lonely")
    local, _ = make_conversation(operator, tavus_id=remote.conversation_id)
    reconcile(now=timezone.now() + timedelta(seconds=30))
    assert tavus.get_conversation(remote.conversation_id).status == "active"
    reconcile(now=timezone.now() + timedelta(seconds=61))
    assert wait_for(lambda: tavus.get_conversation(remote.conversation_id).status == "ended")
    assert "Ended by the studio: nobody joined within 1 minute" in notes(local)


def test_a_closed_page_with_an_empty_room_is_ended(sandbox, operator, settings):
    settings.PAGE_GONE_SECONDS = 60
    remote = start_at_tavus("Abandoned")
    joined = timezone.now() - timedelta(minutes=5)
    local, _ = make_conversation(
        operator,
        tavus_id=remote.conversation_id,
        created_at=joined,
        person_joined_at=joined,
        people_in_room=0,
        page_seen_at=timezone.now() - timedelta(minutes=3),
    )
    reconcile()
    assert wait_for(lambda: tavus.get_conversation(remote.conversation_id).status == "ended")
    assert "the live page closed and the room is empty" in " ".join(notes(local))


def test_an_open_page_keeps_the_conversation(sandbox, operator, settings):
    remote = start_at_tavus("Busy")
    joined = timezone.now() - timedelta(minutes=5)
    make_conversation(
        operator,
        tavus_id=remote.conversation_id,
        created_at=joined,
        person_joined_at=joined,
        people_in_room=1,
        page_seen_at=timezone.now(),
    )
    reconcile()
    assert tavus.get_conversation(remote.conversation_id).status == "active"


def test_running_at_tavus_but_ended_here_is_stopped(sandbox, operator):
    remote = start_at_tavus("Zombie")
    local, _ = make_conversation(
        operator, tavus_id=remote.conversation_id, status="ended", ended_at=timezone.now()
    )
    reconcile()
    assert wait_for(lambda: tavus.get_conversation(remote.conversation_id).status == "ended")
    assert "Still running at Tavus after it ended here: ended it" in notes(local)


def test_missed_webhooks_are_back_filled(sandbox, operator):
    remote = start_at_tavus("Missed")
    local, _ = make_conversation(operator, tavus_id=remote.conversation_id)
    tavus.end_conversation(remote.conversation_id)
    assert wait_for(
        lambda: any(
            e.get("event_type") == "system.shutdown"
            for e in tavus.get_conversation(remote.conversation_id, True).events
        )
    )
    reconcile()
    local.refresh_from_db()
    assert local.status == "ended"
    assert local.end_reason == "end_conversation_endpoint_hit"
    assert local.events.filter(event_type="system.shutdown", source="webhook").count() == 1
    reconcile()  # a second pass adds nothing
    assert local.events.filter(event_type="system.shutdown").count() == 1


def test_tavus_down_changes_nothing(operator, db):
    local, _ = make_conversation(
        operator, status="unknown", tavus_id=None, created_at=timezone.now() - timedelta(hours=1)
    )
    with tavus.use_transport(httpx.MockTransport(lambda r: httpx.Response(503, text="down"))):
        assert reconcile() == 0
    local.refresh_from_db()
    assert local.status == "unknown"


def test_the_lease_lets_one_worker_run(db):
    now = timezone.now()
    assert Lease.acquire("job", "worker-a", 60, now=now)
    assert not Lease.acquire("job", "worker-b", 60, now=now)
    assert Lease.acquire("job", "worker-a", 60, now=now)  # the holder may renew
    assert Lease.acquire("job", "worker-b", 60, now=now + timedelta(seconds=61))


def test_reconcile_stands_aside_while_another_process_holds_the_lease(db):
    Lease.acquire("reconciler", "other-host:1", 60)
    assert reconcile() == -1


def test_a_long_pass_keeps_its_lease_and_stops_if_it_lost_it(sandbox, operator, monkeypatch):
    from studio.conversations import reconcile as module

    first, _ = make_conversation(operator)
    second, _ = make_conversation(operator)
    checked = []

    def slow_check(conversation, active, now):
        checked.append(conversation.pk)
        lease = Lease.objects.get(name="reconciler")
        assert lease.holder == module.HOLDER and lease.expires_at > timezone.now()
        # Meanwhile the lease runs out and another process takes it.
        Lease.objects.filter(name="reconciler").update(
            holder="other-host:1", expires_at=timezone.now() + timedelta(seconds=60)
        )

    monkeypatch.setattr(module, "_check", slow_check)
    assert reconcile() == -1
    assert len(checked) == 1 and checked[0] in (first.pk, second.pk)  # one left to the other
    assert Lease.objects.get(name="reconciler").holder == "other-host:1"


def test_manage_reconcile_runs_a_pass(sandbox, capsys):
    from django.core.management import call_command

    call_command("reconcile")
    assert "Reconciled 0 running conversation(s)" in capsys.readouterr().out
