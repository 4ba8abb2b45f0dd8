#!/usr/bin/env bash
# What the list and /metrics indexes cost writes, on the table bench/api_load.py loaded:
# the same INSERT of 50,000 tickets and UPDATE of 10,000 (non-HOT: next_check_at is
# indexed, as in the engine's state changes) with every index, without the two priority
# indexes, and without those and ticket_open_states_idx. Each statement runs in a
# transaction that is rolled back (the indexes come back with it), after a VACUUM.
#
#   bench/index_write_cost.sh [database] [repetitions]    # default: sla_bench_api 3
#
# Uses psql on 127.0.0.1:5432 as PGUSER (default postgres). See bench/README.md.
set -euo pipefail
DB="psql -h 127.0.0.1 -U ${PGUSER:-postgres} -d ${1:-sla_bench_api} -qAt"
REPS=${2:-3}
COLS=$($DB -c "SELECT string_agg(quote_ident(column_name), ',' ORDER BY ordinal_position)
  FROM information_schema.columns
  WHERE table_name = 'tickets_ticket' AND is_generated = 'NEVER' AND column_name <> 'id'")
PRIO="ticket_owner_prio_idx, ticket_prio_idx"
INSERT="INSERT INTO tickets_ticket ($COLS) SELECT $COLS FROM tickets_ticket WHERE id <= 50000;"
UPDATE="UPDATE tickets_ticket SET resolution_state = resolution_state,
  next_check_at = next_check_at + interval '1 second' WHERE id % 100 = 0;"

run() {  # label, statements before, measured statement: prints label and milliseconds
  $DB -c "VACUUM tickets_ticket"
  out=$($DB <<SQL
BEGIN;
$2
SELECT clock_timestamp() AS t0 \gset
$3
SELECT round(extract(epoch FROM clock_timestamp() - :'t0') * 1000);
ROLLBACK;
SQL
)
  echo "$1 $(echo "$out" | tail -1)"
}

for _ in $(seq "$REPS"); do
  run insert50k_all_ms "" "$INSERT"
  run insert50k_without_prio_ms "DROP INDEX $PRIO;" "$INSERT"
  run insert50k_without_prio_and_open_states_ms "DROP INDEX $PRIO, ticket_open_states_idx;" "$INSERT"
  run update10k_all_ms "" "$UPDATE"
  run update10k_without_prio_ms "DROP INDEX $PRIO;" "$UPDATE"
  run update10k_without_prio_and_open_states_ms "DROP INDEX $PRIO, ticket_open_states_idx;" "$UPDATE"
done | sort | awk '{a[$1] = a[$1] " " $2} END {for (k in a) print k ":" a[k]}' | sort
