#!/bin/sh
# Builds the web app into build/web, stamps the version and prerenders the summary.
set -eu
cd "$(dirname "$0")"

# Flutter insists on an absolute <base href> that starts and ends with "/".
base="${BASE_PATH:-}"
base="/${base#/}"
base="${base%/}/"

flutter --suppress-analytics build web --release --no-pub --base-href "$base"

dart --suppress-analytics run tool/prerender.dart build/web

mkdir -p build/web/__kiln
# The deployer reads this to prove which commit is live; no trailing newline.
printf '%s' "${KILN_BUILD_SHA:-dev}" > build/web/__kiln/version
echo "build: wrote build/web (base href $base, version $(cat build/web/__kiln/version))"
