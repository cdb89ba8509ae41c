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
CROUPIER_BIN="$PWD/target/release/croupier" CROUPIER_REPO="$PWD" cargo test --release --workspace --no-fail-fast
