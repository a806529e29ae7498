"""`uvicorn ...` as `make run` starts it, plus a record of every lease this process takes.

    python tests/scale/serve.py studio.asgi:application --port 8001 --lifespan on ...

The arguments go to uvicorn's own command line unchanged. When SCALE_LEASE_LOG names a file,
each Lease.acquire() is appended to it as one JSON line — taken (and then, just before the
release, released) or stood aside — with this process's id and the system-wide monotonic clock,
so the test can check that two processes never held the reconciler's lease at once.
SCALE_LEASE_HOLD (seconds) keeps each lease a little longer, to widen the window a second
process could slip through if the lease did not work.
"""

import json
import os
import sys
import time


def _record_leases(path: str, hold: float) -> None:
    from studio.conversations.models import Lease

    acquire, release = Lease.acquire, Lease.release

    def record(name: str, what: str) -> None:
        line = json.dumps({"t": time.monotonic(), "pid": os.getpid(), "lease": name, "ev": what})
        # One short O_APPEND write per line: lines from both processes never interleave.
        with open(path, "a", encoding="utf-8") as out:
            out.write(line + "\n")

    def recorded_acquire(name, holder, seconds, now=None, **options):
        taken = acquire(name, holder, seconds, now=now, **options)
        record(name, "acquired" if taken else "stood-aside")
        if taken and hold:
            time.sleep(hold)
        return taken

    def recorded_release(name, holder):
        record(name, "released")
        return release(name, holder)

    Lease.acquire = recorded_acquire
    Lease.release = recorded_release


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")
    sys.path.insert(0, os.getcwd())
    import studio.asgi  # noqa: F401 - sets Django up, exactly as uvicorn's import would

    if os.environ.get("SCALE_LEASE_LOG"):
        _record_leases(os.environ["SCALE_LEASE_LOG"], float(os.environ.get("SCALE_LEASE_HOLD", 0)))
    from uvicorn.main import main as uvicorn_main

    sys.argv[0] = "uvicorn"
    uvicorn_main()


if __name__ == "__main__":
    main()
