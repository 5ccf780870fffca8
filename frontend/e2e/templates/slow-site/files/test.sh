#!/bin/sh
# Checks the built site in dist/ against kiln.json, the source of truth for what the page
# must show. Every check can fail; each failure is reported and the script exits non-zero.
set -eu
cd "$(dirname "$0")"

failures=0
fail() {
  echo "test: FAIL: $*" >&2
  failures=$((failures + 1))
}
pass() {
  echo "test: ok: $*"
}

page=dist/index.html

if [ ! -f "$page" ]; then
  echo "test: FAIL: $page does not exist; run 'sh build.sh' first" >&2
  exit 1
fi
pass "$page exists"

if grep -q '<title>[^<][^<]*</title>' "$page"; then
  pass "page has a non-empty <title>"
else
  fail "$page has no non-empty <title>"
fi

# kiln.json puts one value per line: the project at two spaces of indent, story titles at
# six. JSON escaping guarantees no value spans lines, so line-based matching is exact.
project=$(sed -n 's/^  "project": "\([a-z0-9-]*\)",$/\1/p' kiln.json)
if [ -z "$project" ]; then
  fail "kiln.json has no project name"
elif grep -q "<meta name=\"kiln-project\" content=\"$project\">" "$page"; then
  pass "page names project $project"
else
  fail "$page does not name project '$project' in <meta name=\"kiln-project\">"
fi

expected=$(grep -c '^      "title": ' kiln.json || true)
# Split on '<' so several sections on one line still count separately.
actual=$(tr '<' '\n' < "$page" | grep -c '^section class="story"' || true)
if [ "$expected" -eq "$actual" ]; then
  pass "page has $actual story section(s), as kiln.json lists"
else
  fail "kiln.json lists $expected story(ies) but $page has $actual story section(s)"
fi

version=dist/__kiln/version
if [ ! -f "$version" ]; then
  fail "$version does not exist"
elif [ ! -s "$version" ]; then
  fail "$version is empty"
elif [ -n "${KILN_BUILD_SHA:-}" ] && [ "$(cat "$version")" != "$KILN_BUILD_SHA" ]; then
  fail "$version is '$(cat "$version")' but KILN_BUILD_SHA is '$KILN_BUILD_SHA'"
else
  pass "$version is $(cat "$version")"
fi

if [ "$failures" -ne 0 ]; then
  echo "test: $failures check(s) failed" >&2
  exit 1
fi
echo "test: all checks passed"
