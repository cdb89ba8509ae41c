#!/usr/bin/env bash
# Runs every test of croupier: unit, property and integration tests against the real binary.
# Installs what the tests need when it is missing; starts nothing that outlives the run.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# promtool, nginx and PyYAML for the operations tests (installed only when missing).
scripts/install-test-deps.sh
# Release profile: the game-math tests enumerate and simulate tens of millions of spins.
cargo build --release --workspace --all-targets
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
CROUPIER_BIN="$PWD/target/release/croupier" CROUPIER_REPO="$PWD" \
  cargo test --release --workspace --no-fail-fast 2>&1 | tee "$log" || status=$?
# One closing line over every test binary (cargo's own last line is often a crate's empty
# doc-test run, "0 passed", which says nothing about the suite).
count() { { grep -E '^test result:' "$log" || true; } | sed -E "s/.* ([0-9]+) $1.*/\\1/" | awk '{s += $1} END {print s + 0}'; }
passed=$(count passed)
failed=$(count failed)
echo
echo "${passed:-0} passed, ${failed:-0} failed"
exit "$status"
