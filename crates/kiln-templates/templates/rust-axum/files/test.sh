#!/bin/sh
# Runs the tests with the release profile so they reuse build.sh's compiled dependencies.
# `cargo test` rebuilds target/release/app for the integration tests, so it takes the same
# lock as build.sh (see there) to never swap another app's binary in mid-copy.
set -eu
cd "$(dirname "$0")"

target="${CARGO_TARGET_DIR:-target}"
mkdir -p "$target"
if command -v flock >/dev/null 2>&1; then
  exec 9>"$target/.kiln-app.lock"
  flock 9
fi

exec cargo test --release --offline --locked
