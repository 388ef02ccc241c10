#!/usr/bin/env bash
# npm run bench:smoke — every benchmark at a tiny size, so none can rot unnoticed. The figures mean
# nothing; a benchmark that does not start, does not finish within its time box, or fails its own
# end-of-run checks fails the smoke. Benchmarks that need a PostgreSQL server of their own
# (checkout, listing, analytics, exports) are skipped, and said so, when none answers on 127.0.0.1:5432.
set -uo pipefail
cd "$(dirname "$0")/.."
# BENCH_RECORD=0: smoke figures mean nothing, so no benchmark writes docs/benchmarks.md here.
export WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false BENCH_RECORD=0
failed=()
run() {
  local name=$1; shift
  local log; log=$(mktemp)
  local t0=$SECONDS
  echo "bench:smoke ${name} ..."
  if timeout 240 env "$@" >"$log" 2>&1; then
    echo "bench:smoke ${name} ok ($((SECONDS - t0)) s)"
  else
    echo "bench:smoke ${name} FAILED ($((SECONDS - t0)) s); its last lines:"
    tail -20 "$log" | sed 's/^/    /'
    failed+=("$name")
  fi
  rm -f "$log"
}

run holds BENCH_SECONDS=1 BENCH_CLIENTS=2 BENCH_ENGINE_OPS=1000 npx tsx bench/holds.ts
run holds-cost COST_N=20 npx tsx bench/holds-cost.ts
run profile bash -c "npx tsx bench/profile.ts engine 200 && npx tsx bench/profile.ts socket 2 1"
run fanout FANOUT_SOCKETS=20 FANOUT_DIRECT=5 FANOUT_RATE=5 FANOUT_SECONDS=2 FANOUT_PROCESSES=1 npx tsx bench/fanout.ts
run auth BENCH_N=20 npx tsx bench/auth.ts
run onsale ONSALE_BUYERS=40 ONSALE_SEATS=30 ONSALE_SHARDS=4 ONSALE_HEADLESS=200 ONSALE_OPEN_DELAY_MS=1000 ONSALE_LATE_SPREAD_MS=1000 ONSALE_TIMEOUT_MS=20000 ONSALE_RECORD=0 npx tsx bench/onsale.ts
if pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  run checkout CHECKOUT_SIZES=1,5 npx tsx bench/checkout.ts
  run listing BENCH_SECONDS=1 BENCH_CONCURRENCY=2 npx tsx bench/listing.ts
  run exports EXPORT_ROWS=500 npx tsx bench/exports.ts
  db=evently_bench_smoke
  PGOPTIONS="-c client_min_messages=warning" psql -q -h 127.0.0.1 -U postgres -d postgres -c "drop database if exists $db with (force)" -c "create database $db" >/dev/null
  run analytics DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db" bash -c \
    'npx tsx scripts/gen-analytics-data.ts --events 5 --bookings 500 --users 50 && npx tsx bench/analytics.ts --requests 3 --warmup 1'
  PGOPTIONS="-c client_min_messages=warning" psql -q -h 127.0.0.1 -U postgres -d postgres -c "drop database if exists $db with (force)" >/dev/null
else
  echo "bench:smoke listing, analytics, exports skipped: no PostgreSQL server on 127.0.0.1:5432"
fi

if [ ${#failed[@]} -gt 0 ]; then
  echo "bench:smoke failed: ${failed[*]}"
  exit 1
fi
echo "bench:smoke: every benchmark completed"
