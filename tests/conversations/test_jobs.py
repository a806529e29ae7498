"""The background jobs' list (studio.conversations.jobs): what runs, under which lease."""

import asyncio
import dataclasses
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from studio.conversations import jobs
from studio.conversations.models import Lease
from studio.conversations.retention import PurgeSummary, purge_once_a_day
from studio.tavus import client as tavus

# Leases and "once a day" count from now: every test here runs on three clocks.
pytestmark = pytest.mark.time_window


@pytest.fixture
def leases_taken(monkeypatch):
    """The names of the leases asked for, in order."""
    taken = []
    acquire = Lease.acquire.__func__

    def spy(cls, name, *args, **kwargs):
        taken.append(name)
        return acquire(cls, name, *args, **kwargs)

    monkeypatch.setattr(Lease, "acquire", classmethod(spy))
    return taken


@pytest.fixture
def quiet_tavus():
    # Tavus running nothing: the reconciler's pass goes all the way through, on no work.
    answer = httpx.Response(200, json={"data": [], "total_count": 0})
    with tavus.use_transport(httpx.MockTransport(lambda request: answer)):
        yield


def test_every_job_has_its_own_lease():
    names = [job.lease for job in jobs.JOBS]
    assert len(set(names)) == len(names)
    assert {job.name for job in jobs.JOBS} == {
        "reconciler",
        "artifacts",
        "alerts",
        "search",
        "retention",
    }


@pytest.mark.parametrize("job", jobs.JOBS, ids=lambda job: job.name)
def test_a_job_takes_only_its_own_lease_and_lets_it_go(db, job, leases_taken, quiet_tavus):
    # No job quietly runs another at the end of its pass (the reconciler's used to run the
    # artifact watchdog and mark the daily purge): each one touches its own lease alone.
    job.run()
    assert set(leases_taken) == {job.lease}
    kept = set(Lease.objects.values_list("name", flat=True))
    assert kept == ({job.lease} if job.name == "retention" else set())  # the daily mark stays


@pytest.mark.parametrize("job", jobs.JOBS, ids=lambda job: job.name)
def test_a_job_stands_aside_while_another_process_holds_its_lease(db, job, leases_taken):
    Lease.acquire(job.lease, "other-host:1", 600)
    leases_taken.clear()
    result = job.run()
    assert result in (-1, 0, None, {"checked": 0, "backfilled": 0, "errors": 0})
    assert leases_taken == [job.lease]
    assert Lease.objects.get(name=job.lease).holder == "other-host:1"


def test_the_retention_job_purges_at_most_once_a_day(db):
    now = timezone.now()
    assert isinstance(purge_once_a_day(now), PurgeSummary)
    # Not again from this process (nor any other) until the day is over.
    assert purge_once_a_day(now + timedelta(hours=23)) is None
    assert isinstance(purge_once_a_day(now + timedelta(hours=24, seconds=1)), PurgeSummary)


def test_a_lease_taken_without_renewal_is_not_extended_by_its_holder(db):
    now = timezone.now()
    assert Lease.acquire("daily", "me", 60, now=now, renew=False)
    assert not Lease.acquire("daily", "me", 60, now=now + timedelta(seconds=30), renew=False)
    assert Lease.acquire("daily", "me", 60, now=now + timedelta(seconds=61), renew=False)


@pytest.mark.asyncio
async def test_a_failing_pass_does_not_stop_its_job(caplog):
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database is locked")

    job = dataclasses.replace(jobs.JOBS[0], name="flaky", run=flaky, every=lambda: 0)
    task = asyncio.create_task(jobs.run_forever(job))
    for _ in range(200):
        if len(calls) >= 3:
            break
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(calls) >= 3
    assert "flaky pass failed" in caplog.text
