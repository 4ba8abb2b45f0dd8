"""Peak memory of the compliance report's CSV for a year, as tickets grow.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/watchdog \\
        .venv/bin/python bench/report_csv_memory.py --tickets 10000 100000 1000000 \\
        [--pg-prefix sla_bench_csv] [--baseline ../base-worktree] [--reuse]

Each size is bench/reports.py's table (tickets with responses, pauses and an office-hours
policy) in its own database, `<pg-prefix>_<size>`, with the report's days rolled up (as
the checks keep them): a staff year's CSV is read from the roll-up. For each size, and
for each code tree (this one, and `--baseline` when given: another checkout, e.g. a `git
worktree` of main, run on the same data in the same run), a fresh process signs a staff
user in, warms up with the CSV of one day, then downloads the CSV of a year (2025-03-01
to 2026-03-01, every ticket, by priority) through Django's test client, draining the stream:

- RSS: the peak resident set size during the request (sampled every 5 ms by a thread)
  minus the RSS just before it;
- tracemalloc: the peak of Python allocations during the request (a second process).

"Flat" means the largest size stays within 25% (+1 MiB) of the smallest.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
QUERY = "period=custom&start=2025-03-01&end=2026-03-01&group_by=priority&format=csv"
WARM_UP = "period=custom&start=2026-02-01&end=2026-02-02&group_by=priority&format=csv"


def drained(response: Any) -> bytes:
    """The whole body of a streaming response, read as a client reads it."""
    return b"".join(response.streaming_content)


def measure(kind: str) -> dict[str, float]:
    """In the child: one year's CSV, its peak memory of `kind` (rss or tracemalloc)."""
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.test import Client

    from bench.sla_engine import RssSampler, current_rss

    staff, _ = User.objects.get_or_create(username="bench-staff", defaults={"is_staff": True})
    client = Client()
    client.force_login(staff)
    for query in (WARM_UP,):
        response = client.get(f"/reports/compliance/?{query}", secure=True)
        assert response.status_code == 200, response.status_code
        drained(response)
    result: dict[str, float] = {}
    began = time.perf_counter()
    if kind == "tracemalloc":
        import tracemalloc

        tracemalloc.start()
        response = client.get(f"/reports/compliance/?{QUERY}", secure=True)
        body = drained(response)
        result["peak"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    else:
        before = current_rss()
        with RssSampler() as sampler:
            response = client.get(f"/reports/compliance/?{QUERY}", secure=True)
            body = drained(response)
        result["peak"] = sampler.peak - before
    result["seconds"] = time.perf_counter() - began
    assert response.status_code == 200, response.status_code
    result["lines"] = body.count(b"\n")
    return result


def child(code_root: str, kind: str) -> dict[str, float]:
    env = dict(os.environ)
    env["ALLOWED_HOSTS"] = "testserver,localhost"
    env["RATELIMIT_REPORTS"] = "1000/m"
    env["PYTHONPATH"] = os.pathsep.join([code_root, str(ROOT)])
    found = subprocess.run(  # noqa: S603 -- this script, by its own path
        [sys.executable, __file__, "--child", kind],
        env=env,
        cwd=code_root,
        check=False,
        capture_output=True,
        text=True,
    )
    if found.returncode:
        raise SystemExit(f"the {kind} child failed:\n{found.stderr[-3000:]}")
    return dict(json.loads(found.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--pg-prefix", default="sla_bench_csv")
    parser.add_argument("--baseline", help="another checkout to measure on the same data")
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--child", choices=["rss", "tracemalloc"])
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child)))
        return
    sys.path.insert(0, str(ROOT))
    trees = {"this": str(ROOT)}
    if args.baseline:
        trees["baseline"] = str(Path(args.baseline).resolve())
    header = f"{'tickets':>9} {'code':<9} {'lines':>5} {'RSS MiB':>8} {'tracemalloc MiB':>16}"
    print(f"{header} {'s':>6}")
    for size in args.tickets:
        database = f"{args.pg_prefix}_{size}"
        subprocess.run(  # noqa: S603 -- bench/reports.py, by its own path
            [sys.executable, str(ROOT / "bench" / "reports.py"), "--tickets", str(size)]
            + ["--pg-database", database, "--load-only"]
            + (["--reuse"] if args.reuse else []),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        from bench import dataset

        url = dataset.bench_database_url(
            os.environ.get("DATABASE_URL") or "sqlite://", pg_name=database
        )
        os.environ.update(
            {
                "DJANGO_SETTINGS_MODULE": "watchdog.settings",
                "DATABASE_URL": url,
                "DEBUG": "false",
                "SECRET_KEY": "bench-" + "x" * 60,
                "LOG_LEVEL": "WARNING",
            }
        )
        for name, tree in trees.items():
            rss = child(tree, "rss")
            traced = child(tree, "tracemalloc")
            print(
                f"{size:>9} {name:<9} {rss['lines']:>5.0f} {rss['peak'] / 2**20:>8.1f} "
                f"{traced['peak'] / 2**20:>16.1f} {rss['seconds']:>6.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
