#!/bin/sh
# Builds the release binary and copies it to bin/app, the path the deploy runs.
#
# CARGO_TARGET_DIR may be shared by every app of this template, so target/release/app can be
# overwritten by another app's build (or `cargo test`) the moment cargo releases its own lock.
# Holding a lock of our own from build to copy guarantees bin/app is this workspace's binary.
set -eu
cd "$(dirname "$0")"

target="${CARGO_TARGET_DIR:-target}"
mkdir -p "$target" bin
if command -v flock >/dev/null 2>&1; then
  exec 9>"$target/.kiln-app.lock"
  flock 9
fi

cargo build --release --offline --locked
cp "$target/release/app" bin/app.tmp
mv bin/app.tmp bin/app
echo "build: wrote bin/app"
