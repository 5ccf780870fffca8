#!/usr/bin/env bash
# Quick start, command 2: set up this machine and run every check and test:
# formatting, clippy, unit and integration tests, the whole-stack tests, and the dashboard's
# lint, type check, unit tests, build and browser tests (against a real `kiln up`).
set -euo pipefail
cd "$(dirname "$0")/../.."
started=$(date +%s)
source infra/scripts/setup.sh
ensure_nats
ensure_postgres
ensure_chromium
ensure_test_toolchains
ensure_mariadb
ensure_schemathesis
ensure_embedding_model

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

frontend_started=$(date +%s)
cargo build --quiet -p kiln
export KILN_BIN="$PWD/target/debug/kiln"
log "dashboard: lint (eslint, API types up to date)"
(cd frontend && npm run lint)
log "dashboard: type check"
(cd frontend && npm run typecheck)
log "dashboard: unit tests (vitest)"
(cd frontend && npm test)
log "dashboard: build"
(cd frontend && npm run build)
log "dashboard: browser tests (headless chromium against kiln up)"
(cd frontend && npm run test:e2e)
log "dashboard checks took $(( $(date +%s) - frontend_started ))s"
echo "test.sh: all checks passed in $(( $(date +%s) - started ))s"
