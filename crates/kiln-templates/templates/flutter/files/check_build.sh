#!/bin/sh
# Checks the built site in build/web against kiln.json: the prerendered summary must list
# every story, and the version stamp must be the build's.
set -eu
cd "$(dirname "$0")"

failures=0
fail() { echo "check: FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { echo "check: ok: $*"; }

page=build/web/index.html
if [ ! -f "$page" ]; then
  echo "check: FAIL: $page does not exist; run 'sh build.sh' first" >&2
  exit 1
fi

if grep -q 'kiln:summary\|kiln:title' "$page"; then
  fail "$page still has a placeholder; the prerender step did not run"
else
  pass "$page is prerendered"
fi

# kiln.json puts one value per line (JSON escaping keeps values on one line): the project
# at two spaces of indent, story titles at six.
project=$(sed -n 's/^  "project": "\([a-z0-9-]*\)",$/\1/p' kiln.json)
if grep -q "data-kiln-project=\"$project\"" "$page"; then
  pass "page names project $project"
else
  fail "$page does not name project '$project'"
fi

expected=$(grep -c '^      "title": ' kiln.json || true)
actual=$(grep -c '<li class="story">' "$page" || true)
if [ "$expected" -eq "$actual" ]; then
  pass "page lists $actual story title(s), as kiln.json does"
else
  fail "kiln.json lists $expected story(ies) but $page lists $actual"
fi

version=build/web/__kiln/version
if [ ! -s "$version" ]; then
  fail "$version is missing or empty"
elif [ -n "${KILN_BUILD_SHA:-}" ] && [ "$(cat "$version")" != "$KILN_BUILD_SHA" ]; then
  fail "$version is '$(cat "$version")' but KILN_BUILD_SHA is '$KILN_BUILD_SHA'"
else
  pass "$version is $(cat "$version")"
fi

[ "$failures" -eq 0 ] || { echo "check: $failures check(s) failed" >&2; exit 1; }
echo "check: all checks passed"
