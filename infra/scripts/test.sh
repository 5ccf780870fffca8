#!/usr/bin/env bash
# Quick start, command 2: set up this machine and run every check and test:
# formatting, clippy, unit and integration tests, and the whole-stack tests.
set -euo pipefail
cd "$(dirname "$0")/../.."
started=$(date +%s)
source infra/scripts/setup.sh
ensure_nats
ensure_postgres

if ! cargo nextest --version >/dev/null 2>&1; then
  log "installing cargo-nextest"
  cargo install cargo-nextest --locked
fi

log "cargo fmt --check"
cargo fmt --all -- --check
log "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
log "running every test"
cargo nextest run --workspace --no-fail-fast
echo "test.sh: all checks passed in $(( $(date +%s) - started ))s"
