#!/usr/bin/env bash
# loadtest/bench.sh — the measurement ladder of loadtest/README.md: the echo ceiling and the real
# server at 100 / 1,000 / 5,000 players, each run bounded, every report kept as JSON in $OUT.
# Loopback only. Usage: loadtest/bench.sh [OUT_DIR]   (env: LT, CROUPIER, DURATION, RAMP, COUNTS)
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
LT="${LT:-$ROOT/target/release/croupier-loadtest}"
CROUPIER="${CROUPIER:-$ROOT/target/release/croupier}"
OUT="${1:-$(mktemp -d /tmp/croupier-bench.XXXXXX)}"
DURATION="${DURATION:-20s}"
RAMP="${RAMP:-}"   # empty: 5s up to 999 players, 10s up to 4,999, 40s from 5,000 (sessions take time)
COUNTS="${COUNTS:-100 1000 5000}"
ECHO_PORT="${ECHO_PORT:-9001}"
mkdir -p "$OUT"
echo "reports in $OUT"

ramp_for() {
  if [ -n "$RAMP" ]; then echo "$RAMP"
  elif [ "$1" -ge 5000 ]; then echo 40s
  elif [ "$1" -ge 1000 ]; then echo 10s
  else echo 5s; fi
}

pids=()
cleanup() { for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# Echo ceiling: one echo server process, the same loop at each player count.
"$LT" echo-server --listen "127.0.0.1:$ECHO_PORT" --max-lifetime 30m >"$OUT/echo-server.out" 2>"$OUT/echo-server.err" &
ECHO_PID=$!; pids+=("$ECHO_PID")
sleep 0.5
for n in $COUNTS; do
  timeout 15m "$LT" --echo --target "ws://127.0.0.1:$ECHO_PORT" --players "$n" --ramp-up "$(ramp_for "$n")" \
    --duration "$DURATION" --server-pid "$ECHO_PID" --progress plain --json "$OUT/echo-$n.json" \
    | tee "$OUT/echo-$n.txt"
done
kill "$ECHO_PID" 2>/dev/null || true

# The real server, a fresh ledger per player count so each starts from the same state. Every
# virtual player signs up and connects from 127.0.0.1: the per-address limits are raised.
config="$OUT/bench.toml"
sed -e 's/^demo_signups_per_address_per_minute = 60/demo_signups_per_address_per_minute = 1000000/' \
    -e 's/^demo_signups_per_second = 100/demo_signups_per_second = 100000/' \
    -e 's/^max_connections_per_address = 1024/max_connections_per_address = 100000/' \
    "$ROOT/config/default.toml" >"$config"
if [ -x "$CROUPIER" ]; then
  for n in $COUNTS; do
    data="$(mktemp -d /tmp/croupier-bench-data.XXXXXX)"
    (cd "$ROOT" && exec "$CROUPIER" serve --config "$config" --listen 127.0.0.1:0 \
      --admin-listen 127.0.0.1:0 --operator-listen 127.0.0.1:0 --data-dir "$data") \
      >"$OUT/server-$n.out" 2>"$OUT/server-$n.err" &
    SPID=$!; pids+=("$SPID")
    url=""
    for _ in $(seq 1 100); do
      url="$(grep -o '^listening on http://[0-9.:]*' "$OUT/server-$n.out" | head -1 | sed 's/listening on //' || true)"
      [ -n "$url" ] && break
      sleep 0.2
    done
    if [ -z "$url" ]; then echo "server did not start, see $OUT/server-$n.err"; exit 1; fi
    timeout 15m "$LT" --target "$url" --players "$n" --ramp-up "$(ramp_for "$n")" --duration "$DURATION" \
      --server-pid "$SPID" --ceiling "$OUT/echo-$n.json" --progress plain --json "$OUT/server-$n.json" \
      | tee "$OUT/server-$n.txt" || echo "run with $n players exited $?"
    kill "$SPID" 2>/dev/null || true
    wait "$SPID" 2>/dev/null || true
    rm -rf "$data"
  done
else
  echo "no server binary at $CROUPIER: echo ceiling only"
fi
echo "reports in $OUT"
