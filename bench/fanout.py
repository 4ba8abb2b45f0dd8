"""Fan-out to channels (issue 13): one sender, a team's breaches to email, webhook and Slack.

    # this tree alone
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
        .venv/bin/python bench/fanout.py --tickets 10000 --pg-database sla_bench_fanout
    # side by side with another tree (a worktree of the baseline commit), alternating
    DATABASE_URL=... .venv/bin/python bench/fanout.py --tickets 10000 \
        --pg-database sla_bench_fanout --baseline /work/wt-base --rounds 2

One team with two enabled endpoints, a signed webhook and a Slack-compatible one, both
on a real HTTP receiver on loopback (bench/http_sink.py, its own process, keep-alive,
checking every signature with its own hmac); the owner's emails go to the SMTP sink
(bench/smtp_sink.py, its own process). `--tickets` tickets of that team are past their
deadline. One `run_transitions` marks them missed, which queues a "missed" email per
ticket and a copy per endpoint (3 x tickets outbox rows); then one `deliver_due`, one
sender in this process, drains them all, batch after batch, as `check_sla` would.

What is reported: the drain's wall time and rate over all rows; the time spent in each
channel's part of the batches (notifications.delivery._send_channel, timed from here:
the transport, its sends and the marks of that channel's rows) and the rate that gives
per channel, and the sender's CPU per delivery in it; the claims' time; CPU seconds of
the sender, the HTTP receiver and the SMTP sink; and the floor, before and after the
drain: `--floor` bare http.client POSTs on one kept connection to the same receiver,
which is what the machine allows one sender at that moment (it is shared: the floor
moves with the load). Then what the receivers got: requests and distinct event ids per
path (a repeat would be a duplicate), signatures that failed, emails accepted.

Each tree runs in its own process (`--worker`) on its own fresh database
(`<pg-database>_<label>`, dropped and created), migrated by that tree's code: the
benchmark's own code (this file and the sinks) is the same for both, the code measured is
the tree's. PostgreSQL only.

`--escalation`: the issue's fan-out instead, each breach to 3 people (assignee, lead,
manager) by email and to the 2 endpoints, through one escalation level of the default
escalation policy: 5 x tickets deliveries, plus the owner's emails.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import secrets
import subprocess
import sys
import time
import urllib.parse
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.http_sink import HttpSink  # noqa: E402
from bench.smtp_sink import SmtpSink  # noqa: E402

SECRET = "bench-fanout-secret"  # noqa: S105 -- the benchmark endpoint's, nothing real
RESULT = "FANOUT-RESULT "


def server_url(database: str) -> str:
    source = os.environ.get("DATABASE_URL", "")
    parts = urllib.parse.urlsplit(source)
    if parts.scheme not in {"postgres", "postgresql"}:
        raise SystemExit("DATABASE_URL must name a PostgreSQL server (postgres://...)")
    return urllib.parse.urlunsplit(parts._replace(path=f"/{database}"))


def admin(statement: str) -> None:
    import psycopg

    with psycopg.connect(server_url("postgres"), autocommit=True) as connection:
        connection.execute(statement)


def cpu_seconds(pid: int | None) -> float:
    if pid is None:
        return 0.0
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- one tree, in its own process ---------------------------------------------------------


def worker(tree: Path, database: str, tickets: int, floor: int) -> dict[str, Any]:
    if not database.startswith("sla_bench_") and not database.startswith("h13c"):
        raise SystemExit(f"refusing database {database!r}: not a benchmark's name")
    admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    admin(f'CREATE DATABASE "{database}"')
    # The sinks start first: their processes must import this tree's bench package, not
    # the measured tree's (which may have no http_sink).
    with SmtpSink() as smtp, HttpSink(signed_path="/hook", secret=SECRET) as http:
        sys.path.insert(0, str(tree))
        os.chdir(tree)
        os.environ.update(
            {
                "DJANGO_SETTINGS_MODULE": "watchdog.settings",
                "DATABASE_URL": server_url(database),
                "DEBUG": "false",
                "SECRET_KEY": secrets.token_urlsafe(64),
                "ALLOWED_HOSTS": "localhost",
                "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "EMAIL_HOST": smtp.host,
                "EMAIL_PORT": str(smtp.port),
                "EMAIL_USE_TLS": "false",
                "EMAIL_USE_SSL": "false",
                "EMAIL_HOST_USER": "",
                "EMAIL_HOST_PASSWORD": "",
                "LOG_LEVEL": "WARNING",
                "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.1/32",
            }
        )
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        result = _measure(tickets, smtp, http, floor)
        result["http"] = http.summary()
        result["emails_received"] = smtp.received
    return result


def http_floor(http: HttpSink, requests: int) -> float:
    """Bare http.client POSTs on one kept connection to the same receiver, a prebuilt
    body each: what this machine allows one sender right now, with nothing else to do."""
    from http.client import HTTPConnection

    if not requests:
        return 0.0
    body = b'{"id":"floor"}' * 20
    headers = {"Content-Type": "application/json", "X-Watchdog-Event-Id": "floor"}
    connection = HTTPConnection(http.host, http.port, timeout=10)
    started = time.perf_counter()
    for _ in range(requests):
        connection.request("POST", "/floor", body=body, headers=headers)
        answer = connection.getresponse()
        answer.read()
    elapsed = time.perf_counter() - started
    connection.close()
    return requests / elapsed


def _measure(count: int, smtp: SmtpSink, http: HttpSink, floor: int) -> dict[str, Any]:
    from django.contrib.auth.models import User
    from django.db import connection
    from django.utils import timezone

    import notifications.delivery as delivery
    from notifications.models import Endpoint, EndpointKind, Notification
    from people.services import create_team
    from sla.enums import SlaState
    from tickets.engine import run_transitions
    from tickets.models import Ticket

    owner = User.objects.create_user("owner", email="owner@example.com")
    escalating = os.environ.get("FANOUT_ESCALATION") == "1"
    people = {}
    if escalating:
        # The fan-out: each breach to 3 people and 2 channels by one escalation
        # level (the default policy's): 60,000 deliveries for 10,000 breaches, besides
        # the owner's own email.
        people = {
            role: User.objects.create_user(role, email=f"{role}@example.com")
            for role in ("assignee", "lead", "manager")
        }
    team = create_team(
        name="Support",
        members=[people["assignee"]] if escalating else [],
        lead=people.get("lead"),
        escalation_contact=people.get("manager"),
    )
    if escalating:
        from people.models import EscalationLevel, EscalationPolicy

        policy = EscalationPolicy.objects.create(name="Default", is_default=True)
        EscalationLevel.objects.create(
            policy=policy,
            position=1,
            trigger="breach",
            roles=["assignee", "team_lead", "escalation_contact", "team_channels"],
        )
    Endpoint.objects.create(
        kind=EndpointKind.WEBHOOK, url=http.url("/hook"), team=team, secret=SECRET
    )
    Endpoint.objects.create(kind=EndpointKind.SLACK, url=http.url("/slack"), team=team, secret="")
    now = timezone.now()
    Ticket.objects.bulk_create(
        [
            Ticket(
                owner=owner,
                team=team,
                assignee=people.get("assignee"),
                title=f"Breached {index}",
                deadline=now - timedelta(minutes=5, seconds=index),
                resolution_state=SlaState.AT_RISK,
                next_check_at=now - timedelta(minutes=5, seconds=index),
            )
            for index in range(count)
        ],
        batch_size=1000,
    )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")

    floor_before = http_floor(http, floor)
    started = time.perf_counter()
    changes = run_transitions(now=now)
    transitions = time.perf_counter() - started
    rows = Notification.objects.count()

    # Time each channel's share of every batch, and the claims.
    spent: dict[str, float] = defaultdict(float)
    cpu_spent: dict[str, float] = defaultdict(float)
    sent: dict[str, int] = defaultdict(int)
    real_channel, real_claim = delivery._send_channel, delivery.claim

    def timed_channel(claimed: list[Any], **kwargs: Any) -> Any:
        factory = kwargs["transport"]
        name = getattr(factory, "__name__", type(factory).__name__)
        began, cpu_began = time.perf_counter(), time.process_time()
        report = real_channel(claimed, **kwargs)
        spent[name] += time.perf_counter() - began
        cpu_spent[name] += time.process_time() - cpu_began
        sent[name] += report.sent
        return report

    def timed_claim(**kwargs: Any) -> Any:
        began = time.perf_counter()
        claimed = real_claim(**kwargs)
        spent["claim"] += time.perf_counter() - began
        return claimed

    delivery._send_channel = timed_channel
    delivery.claim = timed_claim
    cpu_before = {
        "sender": time.process_time(),
        "http": cpu_seconds(http.pid),
        "smtp": cpu_seconds(smtp.pid),
    }
    profiler = cProfile.Profile() if os.environ.get("FANOUT_PROFILE") else None
    started = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    report = delivery.deliver_due(now=now, max_batches=10**6)
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(os.environ["FANOUT_PROFILE"])
    drain = time.perf_counter() - started
    cpu = {
        "sender": time.process_time() - cpu_before["sender"],
        "http": cpu_seconds(http.pid) - cpu_before["http"],
        "smtp": cpu_seconds(smtp.pid) - cpu_before["smtp"],
    }
    delivery._send_channel, delivery.claim = real_channel, real_claim
    floor_after = http_floor(http, floor)
    statuses = Counter(Notification.objects.values_list("status", flat=True))
    return {
        "tickets": count,
        "changes": changes,
        "outbox_rows": rows,
        "transitions_s": transitions,
        "drain_s": drain,
        "sent": report.sent,
        "failed": report.failed,
        "retrying": report.retrying,
        "channel_s": dict(spent),
        "channel_cpu_s": dict(cpu_spent),
        "channel_sent": dict(sent),
        "cpu_s": cpu,
        "http_floor_per_s": [floor_before, floor_after],
        "statuses": dict(statuses),
    }


# --- the comparison ------------------------------------------------------------------------


def run_tree(label: str, tree: Path, args: argparse.Namespace) -> dict[str, Any]:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        "--tree",
        str(tree),
        "--database",
        f"{args.pg_database}_{label}",
        "--tickets",
        str(args.tickets),
        "--floor",
        str(args.floor),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT)]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"{label} ({tree}) failed:\n{done.stdout}\n{done.stderr}")
    result: dict[str, Any] = json.loads(lines[-1][len(RESULT) :])
    result["label"] = label
    result["tree"] = str(tree)
    result["commit"] = subprocess.run(  # noqa: S603
        ["git", "-C", str(tree), "rev-parse", "--short", "HEAD"],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return result


def rates(result: dict[str, Any]) -> dict[str, float]:
    spent, sent = result["channel_s"], result["channel_sent"]
    cpu = result.get("channel_cpu_s", {})
    hooks = sum(n for name, n in sent.items() if name != "EmailTransport")
    hook_s = sum(s for name, s in spent.items() if name not in {"EmailTransport", "claim"})
    hook_cpu = sum(s for name, s in cpu.items() if name not in {"EmailTransport", "claim"})
    emails = sent.get("EmailTransport", 0)
    return {
        "all/s": result["sent"] / result["drain_s"],
        "webhooks/s": hooks / hook_s if hook_s else 0.0,
        "emails/s": emails / spent.get("EmailTransport", 1e-9),
        "webhook cpu ms": 1000 * hook_cpu / hooks if hooks else 0.0,
        "email cpu ms": 1000 * cpu.get("EmailTransport", 0.0) / emails if emails else 0.0,
    }


def report(results: list[dict[str, Any]]) -> str:
    lines = [
        "| tree | drain (s) | all rows/s | webhooks/s (webhook+Slack) | emails/s | claims (s) "
        "| sender CPU ms per webhook / email | CPU s: sender / receiver / SMTP sink "
        "| bare POSTs/s before, after | received: hook, slack, emails | bad sig |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for result in results:
        r = rates(result)
        http = result["http"]
        cpu = result["cpu_s"]
        floor = result.get("http_floor_per_s", [0.0, 0.0])
        lines.append(
            f"| {result['label']} {result['commit']} | {result['drain_s']:.1f} "
            f"| {r['all/s']:,.0f} | {r['webhooks/s']:,.0f} | {r['emails/s']:,.0f} "
            f"| {result['channel_s'].get('claim', 0):.1f} "
            f"| {r['webhook cpu ms']:.2f} / {r['email cpu ms']:.2f} "
            f"| {cpu['sender']:.1f} / {cpu['http']:.1f} / {cpu['smtp']:.1f} "
            f"| {floor[0]:,.0f}, {floor[1]:,.0f} "
            f"| {http['requests'].get('/hook', 0)} ({http['distinct_events'].get('/hook', 0)}), "
            f"{http['requests'].get('/slack', 0)} ({http['distinct_events'].get('/slack', 0)}), "
            f"{result['emails_received']} | {http['bad_signatures']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--pg-database", default="sla_bench_fanout")
    parser.add_argument("--baseline", type=Path, help="another tree to run side by side")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--floor", type=int, default=3000, help="bare POSTs before and after the drain (0: none)"
    )
    parser.add_argument("--profile", type=Path, help="write the drain's cProfile stats here")
    parser.add_argument(
        "--escalation",
        action="store_true",
        help="the breaches reach 3 people and the 2 endpoints through an escalation level "
        "(issue 13's 60,000 deliveries for 10,000 tickets); trees with escalation only",
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--tree", type=Path, default=ROOT, help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.profile is not None:
        os.environ["FANOUT_PROFILE"] = str(args.profile.resolve())
    if args.escalation:
        os.environ["FANOUT_ESCALATION"] = "1"
    if args.worker:
        result = worker(args.tree.resolve(), args.database, args.tickets, args.floor)
        print(RESULT + json.dumps(result), flush=True)
        return
    results = []
    for _ in range(args.rounds):
        if args.baseline is not None:
            results.append(run_tree("baseline", args.baseline.resolve(), args))
            print(report(results[-1:]), flush=True)
        results.append(run_tree("this", ROOT, args))
        print(report(results[-1:]), flush=True)
    print()
    print(report(results))
    print(json.dumps(results, indent=1), file=sys.stderr)


if __name__ == "__main__":
    main()
