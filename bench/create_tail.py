"""Create's latency tail on gunicorn: this tree against a baseline tree, side by side.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/9 \
        .venv/bin/python bench/create_tail.py --baseline-root ../wt-base   # 100,000 tickets

Loads bench/api_load.py's table (bench/dataset.py, every ticket owned by one user) once,
then, for each round, starts gunicorn (4 sync workers, `-c gunicorn.conf.py`) from the
baseline tree and from this one in turn and sends `--requests` POST /api/tickets/ from
`--concurrency` client threads, each on a fresh connection, `--settle` seconds after
gunicorn started (every worker booted) and with no warm-up request: a worker's first
requests (after a start, or after `max_requests` replaced it) are part of what clients
meet. Both servers run with this tree's virtualenv against the same database and Redis
database; tickets made are deleted after each server. See bench/README.md ("Create's
tail and one sender").
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import api_load, dataset  # noqa: E402

DEFAULT_PG_NAME = "sla_bench_create"


def percentile(ordered: list[float], p: float) -> float:
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def one_server(
    *, label: str, root: Path, token: str, args: argparse.Namespace, log: Path
) -> dict[str, Any]:
    limits = {"RATELIMIT_TICKETS_CREATE": api_load.UNLIMITED, **dict(args.env)}
    deadline = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    load_before = os.getloadavg()
    with api_load.gunicorn(workers=args.workers, extra_env=limits, log=log, root=root) as server:
        # Every worker booted (not served: the baseline's are still cold for requests).
        time.sleep(args.settle)
        started_at = time.perf_counter()
        timeline: list[tuple[float, float, int]] = []  # (start offset, seconds, status)

        def create(n: int) -> tuple[int, bytes, float]:
            body: dict[str, Any] = {"title": f"{api_load.CREATED_PREFIX}{n}", "priority": "high"}
            if not args.policy_deadline:
                body["deadline"] = deadline
            at = time.perf_counter() - started_at
            status, payload, seconds = api_load.request(
                server.port, "POST", "/api/tickets/", token=token, body=body
            )
            timeline.append((at, seconds, status))
            return status, payload, seconds

        phase = api_load.drive(
            "create",
            create,
            count=args.requests,
            concurrency=args.concurrency,
            budget_s=args.budget,
        )
    removed = api_load.cleanup_created()
    ordered = sorted(phase.latencies_s)
    slowest = sorted(timeline, key=lambda t: -t[1])[:8]
    # The first request each client thread sent lands on a worker that has served nothing.
    first = sorted(timeline)[: args.workers]
    rest = sorted(timeline)[args.workers * 2 :]
    rest_ordered = sorted(s for _, s, _ in rest)
    return {
        "label": label,
        "root": str(root),
        "requests": len(ordered),
        "statuses": {str(k): v for k, v in sorted(phase.statuses.items())},
        "errors": phase.errors,
        "req_per_s": len(ordered) / phase.elapsed_s,
        "p50_ms": statistics.median(ordered) * 1000,
        "p90_ms": percentile(ordered, 90) * 1000,
        "p99_ms": percentile(ordered, 99) * 1000,
        "max_ms": ordered[-1] * 1000,
        "first_requests_ms": [round(s * 1000) for _, s, _ in first],
        "p99_after_first_2x_workers_ms": percentile(rest_ordered, 99) * 1000,
        "slowest": [
            {"at_s": round(at, 2), "ms": round(s * 1000), "status": st} for at, s, st in slowest
        ],
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "removed": removed,
    }


def render(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| round | tree | requests | req/s | p50 ms | p90 ms | p99 ms | max ms "
        "| first request per worker, ms | p99 without the first 2x workers | load before |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        lines.append(
            f"| {row['round']} | {row['label']} | {row['requests']} | {row['req_per_s']:.1f} | "
            f"{row['p50_ms']:.0f} | {row['p90_ms']:.0f} | {row['p99_ms']:.0f} | "
            f"{row['max_ms']:.0f} | {', '.join(str(x) for x in row['first_requests_ms'])} | "
            f"{row['p99_after_first_2x_workers_ms']:.0f} | "
            f"{row['load_average_before'][0]:.2f} |"
        )
    return "\n".join(lines)


def parse_env(value: str) -> tuple[str, str]:
    name, sep, setting = value.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError("expected NAME=VALUE")
    return name, setting


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=600, help="per server")
    parser.add_argument("--concurrency", type=int, default=4, help="client threads")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--budget", type=float, default=120.0, help="seconds per server, at most")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--settle", type=float, default=5.0, help="seconds between start and the first request"
    )
    parser.add_argument("--baseline-root", type=Path, help="a worktree of the base commit")
    parser.add_argument(
        "--env", type=parse_env, action="append", default=[], help="NAME=VALUE for gunicorn"
    )
    parser.add_argument(
        "--policy-deadline", action="store_true", help="no deadline in the body: the policy's"
    )
    parser.add_argument("--pg-database", default=DEFAULT_PG_NAME)
    parser.add_argument("--reuse", action="store_true", help="keep an identical loaded table")
    parser.add_argument("--output", type=Path)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    redis_url = os.environ.get("REDIS_URL", "")
    if not redis_url.startswith("redis://"):
        raise SystemExit("REDIS_URL must name a Redis database (it is emptied): redis://...")
    url = api_load.configure(pg_database=args.pg_database, redis_url=redis_url)
    if dataset.ensure_postgres_database(url):
        api_load.say(f"created database {args.pg_database}")
    api_load.setup_django(args.pg_database)
    from django.db import connection

    users, _ = api_load.load(tickets=args.tickets, now=api_load.DEFAULT_NOW, reuse=args.reuse)
    connection.close()
    api_load.RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    log = api_load.RESULTS_DIR / "create_tail-gunicorn.log"
    trees = [("this tree", ROOT)]
    if args.baseline_root:
        trees.insert(0, ("baseline", args.baseline_root.resolve()))
    rows = []
    for n in range(1, args.rounds + 1):
        for label, root in trees:
            row = one_server(label=label, root=root, token=users.main_token, args=args, log=log)
            row["round"] = n
            rows.append(row)
            api_load.say(
                f"round {n} {label}: p50 {row['p50_ms']:.0f} ms, p99 {row['p99_ms']:.0f} ms, "
                f"max {row['max_ms']:.0f} ms, first {row['first_requests_ms']}, "
                f"statuses {row['statuses']}, slowest {row['slowest'][:4]}"
            )
    text = render(rows)
    print(text)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    output = args.output or api_load.RESULTS_DIR / f"create_tail-{args.tickets}-{stamp}.json"
    output.write_text(json.dumps({"rows": rows, "report": text, "env": args.env}, indent=2))
    print(f"results: {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
