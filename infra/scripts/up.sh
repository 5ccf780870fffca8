#!/usr/bin/env bash
# Quick start, command 1: set up this machine and run all of Kiln (`kiln up`).
# Extra arguments go to `kiln up` (e.g. --http 127.0.0.1:9000 --scale codegen=2).
set -euo pipefail
cd "$(dirname "$0")/../.."
source infra/scripts/setup.sh
log "building kiln (release)"
cargo build --release -p kiln
exec target/release/kiln up "$@"
