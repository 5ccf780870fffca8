#!/usr/bin/env bash
# Quick start, command 1: set up this machine and run all of Kiln (`kiln up`).
# Extra arguments go to `kiln up` (e.g. --http 127.0.0.1:9000 --scale codegen=2).
set -euo pipefail
cd "$(dirname "$0")/../.."
source infra/scripts/setup.sh
log "building kiln (release)"
cargo build --release -p kiln
log "building the dashboard (npm run build)"
(cd frontend && npm run build)
exec target/release/kiln up "$@"
