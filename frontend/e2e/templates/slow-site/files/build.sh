#!/bin/sh
# Builds the deployable site into dist/. Plain POSIX sh and no network, so the build is
# reproducible on any host that has a shell.
set -eu
cd "$(dirname "$0")"

rm -rf dist
mkdir -p dist/__kiln
cp index.html styles.css kiln.json dist/
# The deployer and smoke tests read this to prove which commit is live; no trailing
# newline so the body is exactly the sha.
printf '%s' "${KILN_BUILD_SHA:-dev}" > dist/__kiln/version

echo "build: wrote dist/ (version $(cat dist/__kiln/version))"
