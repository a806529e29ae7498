"""Run the benchmark suite (`make bench`): each script prints its figures and appends them to
bench/RESULTS.md; at the end, one table of every figure with its floor and target, met or
missed.

    .venv/bin/python bench/run.py [--only fanout webhooks ...] [--quick] [--scale]

--scale runs only the scaled-out variants (PostgreSQL + Redis, two server processes); it needs
DATABASE_URL=postgres://... and REDIS_URL (`make bench-scale` sets them up).
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, scale_services  # noqa: E402

SUITE = {
    "fanout": ["bench/fanout.py"],
    "webhooks": ["bench/webhooks.py", "--only", "sqlite"],
    "wall": ["bench/wall.py"],
    "launch": ["bench/launch.py"],
    "history": ["bench/history.py"],
    "usage": ["bench/usage.py"],
    "pageweight": ["bench/pageweight.py"],
}
QUICK = {
    "fanout": ["--quick"],
    "webhooks": ["--quick"],
    "wall": ["--quick"],
    "launch": ["--launches", "50"],
    "history": ["--runs", "20"],
    "usage": ["--runs", "15"],
}
SCALED = {
    "fanout": ["bench/fanout.py", "--layer", "redis"],
    "webhooks": ["bench/webhooks.py", "--only", "postgres"],
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=list(SUITE), help="run just these")
    parser.add_argument("--quick", action="store_true", help="smaller runs, for a quick look")
    parser.add_argument("--scale", action="store_true", help="the PostgreSQL + Redis variants")
    args = parser.parse_args()
    if args.scale and not scale_services():
        sys.exit("--scale needs DATABASE_URL=postgres://... and REDIS_URL (make bench-scale)")
    suite = SCALED if args.scale else SUITE
    names = [n for n in (args.only or suite) if n in suite]
    failed = []
    with tempfile.NamedTemporaryFile("r", prefix="bench-summary-", suffix=".md") as summary:
        env = {**os.environ, "BENCH_SUMMARY": summary.name}
        for name in names:
            command = [sys.executable, *suite[name], *(QUICK.get(name, []) if args.quick else [])]
            print(f"\n=== {name}: {' '.join(command[1:])}", flush=True)
            started = time.monotonic()
            if subprocess.run(command, cwd=ROOT, env=env, check=False).returncode != 0:
                failed.append(name)
            print(f"=== {name}: {time.monotonic() - started:.0f} s", flush=True)
        # Every figure with its floor and target, met or missed, in one table at the end.
        rows = summary.read().splitlines()
    print(f"\n=== Figures against their targets (load average {os.getloadavg()[0]:.1f})\n")
    print("| figure | floor | studio | target | |\n| --- | --- | --- | --- | --- |")
    print("\n".join(rows) if rows else "(none)")
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
