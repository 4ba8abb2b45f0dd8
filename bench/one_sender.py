"""One sender against the loopback SMTP server: this tree against a baseline, side by side.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
        .venv/bin/python bench/one_sender.py --baseline-root ../wt-base

Loads bench/sla_engine.py's table (bench/dataset.py, `--tickets`, default 20,000) once and
starts the counting SMTP server (bench/smtp_sink.py, aiosmtpd in its own process). Each
round then measures, back to back: bare smtplib sending one prebuilt message `--emails`
times over one connection (the floor), and for each tree `deliver_due(now)` of `--emails`
queued warning emails in a fresh process of that tree's code (`bench/sla_engine.py
--worker deliver`), started and warmed before the clock starts. Reported per tree:
emails/s (accepted by the server / the sender's wall time), the sender's CPU per email
(its rusage), the SMTP server's. The accepted count must equal the rows marked sent.
See bench/README.md ("Create's tail and one sender").
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import smtplib
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import dataset, sla_engine  # noqa: E402
from bench.smtp_sink import SmtpSink  # noqa: E402

DEFAULT_PG_NAME = "sla_bench_sender"


def cpu_of(pid: int | None) -> float:
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def floor(sink: SmtpSink, count: int) -> dict[str, Any]:
    """Bare smtplib: one prebuilt message, `count` times, one connection."""
    message = EmailMessage()
    message["From"] = "sla-watchdog@example.com"
    message["To"] = "owner@example.com"
    message["Subject"] = "[SLA Watchdog] SLA at risk: #1 floor"
    message.set_content("x" * 600)
    data = message.as_bytes()
    received, cpu_sink = sink.received, cpu_of(sink.pid)
    started, cpu = time.perf_counter(), time.process_time()
    with smtplib.SMTP(sink.host, sink.port) as smtp:
        for _ in range(count):
            smtp.sendmail("sla-watchdog@example.com", ["owner@example.com"], data)
    elapsed = time.perf_counter() - started
    accepted = sink.received - received
    assert accepted == count, (accepted, count)
    return {
        "label": "bare smtplib (floor)",
        "emails": count,
        "emails_per_s": count / elapsed,
        "sender_cpu_ms": (time.process_time() - cpu) / count * 1000,
        "sink_cpu_ms": (cpu_of(sink.pid) - cpu_sink) / count * 1000,
    }


def one_tree(
    ds: dataset.Dataset, sink: SmtpSink, *, label: str, root: Path, emails: int, now: str
) -> dict[str, Any]:
    """deliver_due(now) of `emails` queued warnings in a fresh process of `root`'s code."""
    ticket_ids = ds.add_pending_warnings(emails)
    script = str(root / "bench" / "sla_engine.py")
    process = subprocess.Popen(  # noqa: S603 (our own interpreter, a worktree's script)
        [sys.executable, script, "--worker", "deliver", "--now", now],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=root,
    )
    assert process.stdin is not None
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    received, cpu_sink = sink.received, cpu_of(sink.pid)
    process_cpu_start = cpu_of(process.pid)
    process.stdin.write("go\n")
    process.stdin.flush()
    before_children = children_cpu()
    output, _ = process.communicate()
    report = json.loads(output.strip().splitlines()[-1])
    sender_cpu = children_cpu() - before_children - process_cpu_start
    accepted = sink.received - received
    sink_cpu = cpu_of(sink.pid) - cpu_sink
    ds.remove_warnings(ticket_ids)
    assert report["sent"] == accepted == len(ticket_ids), (report, accepted, len(ticket_ids))
    span = report["ended_at"] - report["started_at"]
    return {
        "label": label,
        "root": str(root),
        "emails": accepted,
        "emails_per_s": accepted / span,
        "sender_cpu_ms": sender_cpu / accepted * 1000,
        "sink_cpu_ms": sink_cpu / accepted * 1000,
    }


def render(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| round | sender | emails | emails/s | sender CPU per email | SMTP server CPU per email "
        "| load |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        lines.append(
            f"| {row['round']} | {row['label']} | {row['emails']:,} | {row['emails_per_s']:.0f} "
            f"| {row['sender_cpu_ms']:.2f} ms | {row['sink_cpu_ms']:.2f} ms "
            f"| {row['load'][0]:.2f} |"
        )
    by_label: dict[str, list[float]] = {}
    for row in rows:
        by_label.setdefault(row["label"], []).append(row["emails_per_s"])
    lines.append("")
    lines.append(
        "Medians: " + "; ".join(f"{k} {statistics.median(v):.0f}/s" for k, v in by_label.items())
    )
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=int, default=20_000)
    parser.add_argument("--emails", type=int, default=3000, help="per run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline-root", type=Path, help="a worktree of the base commit")
    parser.add_argument("--pg-database", default=DEFAULT_PG_NAME)
    parser.add_argument("--reuse", action="store_true", help="keep an identical loaded table")
    parser.add_argument("--output", type=Path)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with SmtpSink() as sink:
        url = sla_engine.configure(pg_database=args.pg_database, smtp_port=sink.port)
        if not url.startswith("postgres"):
            raise SystemExit("DATABASE_URL must name a PostgreSQL server (postgres://...)")
        os.environ["BENCH_PG_DATABASE"] = args.pg_database
        if dataset.ensure_postgres_database(url):
            sla_engine.say(f"created database {args.pg_database}")
        vendor = sla_engine.setup_django()
        from django.conf import settings

        spec = dataset.Spec(
            tickets=args.tickets,
            period=100,
            now=sla_engine.DEFAULT_NOW,
            warning_minutes=settings.SLA_WARNING_MINUTES,
        )
        ds = dataset.Dataset(spec, vendor)
        if not ds.prepare(reuse=args.reuse):
            sla_engine.say(f"loading {args.tickets:,} tickets ...")
            ds.grow_to(args.tickets)
        ds.reset()
        ds.analyze()
        from tickets.checker import run_check

        run_check(now=datetime.fromisoformat(spec.now))  # the due tickets' own emails first
        from django.db import connection

        connection.close()
        trees = [("this tree", ROOT)]
        if args.baseline_root:
            trees.insert(0, ("baseline", args.baseline_root.resolve()))
        rows = []
        for n in range(1, args.rounds + 1):
            measured = [floor(sink, args.emails)]
            for label, root in trees:
                measured.append(
                    one_tree(ds, sink, label=label, root=root, emails=args.emails, now=spec.now)
                )
            for row in measured:
                row["round"], row["load"] = n, os.getloadavg()
                rows.append(row)
                sla_engine.say(
                    f"round {n} {row['label']}: {row['emails_per_s']:.0f}/s, sender CPU "
                    f"{row['sender_cpu_ms']:.2f} ms, SMTP server {row['sink_cpu_ms']:.2f} ms "
                    f"per email (load {row['load'][0]:.2f})"
                )
    text = render(rows)
    print(text)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    output = args.output or sla_engine.RESULTS_DIR / f"one_sender-{stamp}.json"
    output.write_text(json.dumps({"rows": rows, "report": text}, indent=2))
    print(f"results: {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
