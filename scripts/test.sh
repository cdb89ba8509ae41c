#!/usr/bin/env bash
# Runs every test of croupier: unit, property and integration tests against the real binary.
# Installs what the tests need when it is missing; starts nothing that outlives the run.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# PostgreSQL, Redis, promtool, nginx and PyYAML (installed only when missing).
scripts/install-test-deps.sh

# A throw-away PostgreSQL and Redis on free loopback ports for the conformance suites and the
# cluster tests; stopped and deleted when this script ends, whatever happens.
services=$(mktemp -d)
pg_bin=$(dirname "$(ls -d /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)")
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
pg_port=$(free_port)
redis_port=$(free_port)
stop_services() {
  runuser -u postgres -- "$pg_bin/pg_ctl" -D "$services/pg" -m immediate stop >/dev/null 2>&1 || true
  redis-cli -p "$redis_port" shutdown nosave >/dev/null 2>&1 || true
  rm -rf "$services"
}
trap stop_services EXIT
chown postgres "$services"
runuser -u postgres -- "$pg_bin/initdb" -D "$services/pg" -A trust -U postgres >/dev/null
runuser -u postgres -- "$pg_bin/pg_ctl" -D "$services/pg" -l "$services/pg.log" -w \
  -o "-p $pg_port -k $services -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
  --pidfile "$services/redis.pid" --logfile "$services/redis.log" >/dev/null
export CROUPIER_TEST_PG="postgres://postgres@127.0.0.1:$pg_port"
export CROUPIER_TEST_REDIS="redis://127.0.0.1:$redis_port/0"
export CROUPIER_REQUIRE_SERVICES=1
echo "test services: PostgreSQL on 127.0.0.1:$pg_port, Redis on 127.0.0.1:$redis_port"
# Release profile: the game-math tests enumerate and simulate tens of millions of spins.
cargo build --release --workspace --all-targets
# The README's other command, `cargo run --release -- serve`, must share this build: it may
# compile nothing now (crates/workspace-hack unifies the features; see .config/hakari.toml).
if cargo build --release --bin croupier 2>&1 | grep -E '^ *Compiling '; then
  echo "the server alone compiled crates again: run 'cargo hakari generate' (.config/hakari.toml)" >&2
  exit 1
fi
# The core is pure and the compiler keeps it so: none of these may enter its dependency tree.
if cargo tree -p croupier-core -e normal --prefix none | grep -E '^(actix|tokio|sqlx|rusqlite|redis)[a-z0-9_-]* v'; then
  echo "croupier-core must not depend on actix, tokio, sqlx, rusqlite or redis" >&2
  exit 1
fi
# No two modules of a crate may import each other, directly or around a circle.
python3 scripts/module-cycles.py
log="$services/test.log"
status=0
CROUPIER_BIN="$PWD/target/release/croupier" CROUPIER_REPO="$PWD" \
  cargo test --release --workspace --no-fail-fast 2>&1 | tee "$log" || status=$?
# One closing line over every test binary (cargo's own last line is often a crate's empty
# doc-test run, "0 passed", which says nothing about the suite).
count() { { grep -E '^test result:' "$log" || true; } | sed -E "s/.* ([0-9]+) $1.*/\\1/" | awk '{s += $1} END {print s + 0}'; }
passed=$(count passed)
failed=$(count failed)
# Lints last, so a lint never hides the tests' results; a warning fails the run.
cargo clippy --release --workspace --all-targets -- -D warnings || status=$?
echo
echo "${passed:-0} passed, ${failed:-0} failed"
exit "$status"
