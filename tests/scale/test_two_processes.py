"""Scale-out: two server processes sharing PostgreSQL and Redis behave as one studio.

Run by `make test-scale` (which starts the services); skipped by `make test`.
"""

import json
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone
from websockets.sync.client import connect

from studio.conversations.models import Conversation, Lease
from tests.conftest import make_user
from tests.conversations.factories import make_conversation, webhook
from tests.scale.conftest import ROOT, session_cookie

pytestmark = pytest.mark.scale

STOOD_ASIDE = "Another studio process is reconciling right now; nothing done."


@contextmanager
def watch(server, path: str, user):
    """A browser's websocket to `server`, signed in as `user` (session cookie + Origin)."""
    with connect(
        f"ws://127.0.0.1:{server.port}{path}",
        origin=server.url,
        additional_headers={"Cookie": session_cookie(user)},
        open_timeout=10,
    ) as socket:
        yield socket


def receive_until(socket, wanted, timeout: float = 10) -> str:
    """The first message containing every string in `wanted` (earlier ones are dropped)."""
    deadline = time.monotonic() + timeout
    seen = []
    while (left := deadline - time.monotonic()) > 0:
        try:
            message = socket.recv(timeout=left)
        except TimeoutError:
            break
        if all(w in message for w in wanted):
            return message
        seen.append(message[:200])
    raise AssertionError(f"no message with {wanted} within {timeout} s; got {seen}")


def wait_for(predicate, timeout: float = 20, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := predicate():
            return result
        time.sleep(step)
    return None


@pytest.fixture
def supervisor_sam(transactional_db):
    return make_user("sam", "Supervisor")


@pytest.fixture
def operator_olivia(transactional_db):
    return make_user("olivia", "Operator")


def test_a_webhook_posted_to_one_process_reaches_pages_watching_through_the_other(
    two_servers, supervisor_sam, operator_olivia
):
    a, b = two_servers
    conversation, secret = make_conversation(operator_olivia)
    with (
        watch(b, f"/ws/conversations/{conversation.pk}/", supervisor_sam) as page,
        watch(b, "/ws/monitor/", supervisor_sam) as wall,
    ):
        # Each socket first gets the current state: it is connected and subscribed.
        receive_until(page, ['id="live-status"', 'data-status="active"'])
        receive_until(wall, [f'id="tile-{conversation.pk}"'])
        body = webhook(
            conversation,
            "system.shutdown",
            # Now: the wall's "recently ended" strip shows the last hour's ends.
            timestamp=timezone.now().strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            shutdown_reason="participant_left_timeout",
        )
        response = httpx.post(f"{a.url}/hooks/tavus/{secret}/", json=body, timeout=10)
        assert response.status_code == 200 and response.json() == {"status": "ok"}

        pushed = receive_until(page, ['id="live-status"', 'data-status="ended"'])
        assert "Everyone left" in pushed
        receive_until(wall, [f'id="tile-{conversation.pk}"', 'hx-swap-oob="delete"'])
        # The "recently ended" strip is rendered after the tile goes.
        receive_until(wall, ['id="recent"', "Everyone left"])
    conversation.refresh_from_db()
    assert conversation.status == Conversation.ENDED


def test_an_event_relayed_into_one_process_reaches_a_page_on_the_other(
    two_servers, supervisor_sam, operator_olivia
):
    a, b = two_servers
    conversation, _ = make_conversation(operator_olivia)
    utterance = {
        "type": "room_event",
        "event": {
            "message_type": "conversation",
            "event_type": "conversation.utterance",
            "conversation_id": conversation.tavus_id,
            "inference_id": "inf-1",
            "seq": 1,
            "properties": {"role": "user", "speech": "Can two servers hear me?"},
        },
    }
    with (
        watch(a, f"/ws/conversations/{conversation.pk}/", operator_olivia) as relay,
        watch(b, f"/ws/conversations/{conversation.pk}/", supervisor_sam) as page,
    ):
        receive_until(relay, ['id="live-status"'])
        receive_until(page, ['id="live-status"'])
        relay.send(json.dumps(utterance))
        caption = receive_until(page, ['id="captions"', "Can two servers hear me?"])
        assert 'hx-swap-oob="beforeend"' in caption
    assert conversation.utterances.count() == 1


def test_the_reconciler_runs_one_pass_at_a_time_across_both_processes(two_servers, lease_log):
    pids = {server.pid for server in two_servers}

    def contended():
        rows = lease_log.entries("reconciler")
        took = {r["pid"] for r in rows if r["ev"] == "acquired"}
        aside = [r for r in rows if r["ev"] == "stood-aside"]
        return took == pids and aside and len(lease_log.held("reconciler")) >= 6

    # Both processes try every second; each has won some passes and stood aside from others.
    assert wait_for(contended, timeout=30), lease_log.entries("reconciler")
    # The other jobs (studio.conversations.jobs) take turns the same way, each on its own lease.
    for lease in ("reconciler", "artifacts", "alerts", "search-catch-up"):
        holds = lease_log.held(lease)
        assert holds, lease
        for (_, released, pid), (taken, _, next_pid) in zip(holds, holds[1:], strict=False):
            assert released <= taken, f"{lease}: {next_pid} took it before {pid} let go"
    # The daily purge: both processes ask every second, one of them purged, once.
    purges = [r for r in lease_log.entries("purge-day") if r["ev"] == "acquired"]
    assert len(purges) == 1, purges


def test_manage_py_reconcile_stands_aside_while_another_process_holds_the_lease(
    two_servers, lease_log, server_env
):
    pids = {server.pid for server in two_servers}
    # Somebody else (a third process) holds the lease for the next half-minute.
    Lease.objects.update_or_create(
        name="reconciler",
        defaults={"holder": "elsewhere:1", "expires_at": timezone.now() + timedelta(seconds=30)},
    )
    # A server's acquire that committed just before the takeover may be logged a moment later.
    since = time.monotonic() + 0.1

    def after(event: str) -> list[dict]:
        rows = lease_log.entries("reconciler")
        return [r for r in rows if r["t"] > since and r["ev"] == event]

    result = subprocess.run(
        [sys.executable, "manage.py", "reconcile"],
        cwd=ROOT,
        env=server_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.strip() == STOOD_ASIDE
    # Both servers keep trying and keep standing aside; no pass starts while it is held.
    assert wait_for(lambda: {r["pid"] for r in after("stood-aside")} == pids, timeout=10)
    assert after("acquired") == []

    # Let go: the servers take over again within a couple of intervals.
    Lease.objects.filter(name="reconciler", holder="elsewhere:1").delete()
    assert wait_for(lambda: after("acquired"), timeout=10)
