"""The at-risk board's ticket query: one OR over the visibility branches against one query
per branch (dashboard.board.board_tickets), on the data bench/visibility.py loads.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/visibility.py --pg-database sla_bench_visibility   # loads
    DATABASE_URL=... .venv/bin/python bench/board.py --pg-database sla_bench_visibility

Prints, per user, the median wall time of 7 calls in this process (query, rows and
merge) for each way, and the rows each returned (which must be the same).
"""

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.visibility import use_database


def timed(call: Any, repeat: int = 7) -> tuple[float, Any]:
    samples, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = call()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pg-database", default="sla_bench_visibility")
    parser.add_argument("--users", default="u3,u2,late,big")
    args = parser.parse_args()
    use_database(args.pg_database)

    from django.contrib.auth.models import User

    from dashboard.board import BOARD_MAX_ROWS, board_tickets
    from tickets.models import ACTIVE_STATUS_LIST, BOARD_ORDER, Ticket

    def one_or(user: User) -> list[int]:
        rows = (
            Ticket.objects.visible_to(user)
            .filter(status__in=ACTIVE_STATUS_LIST)
            .select_related("owner")
            .order_by(BOARD_ORDER.asc(), "id")[: BOARD_MAX_ROWS + 1]
        )
        return [t.pk for t in rows]

    print(f"{'user':<6} {'one OR (ms)':>12} {'by branch (ms)':>15}  same rows")
    for username in args.users.split(","):
        user = User.objects.get(username=username)
        or_ms, or_rows = timed(lambda u=user: one_or(u))
        branch_ms, branch_rows = timed(lambda u=user: [t.pk for t in board_tickets(u, {})])
        print(f"{username:<6} {or_ms:>12.1f} {branch_ms:>15.1f}  {or_rows == branch_rows}")


if __name__ == "__main__":
    main()
