#!/bin/sh
# Prints a numbered line every second for about ten seconds: a long-running test step whose
# live log the browser tests watch, reload and compare.
set -eu
i=1
while [ "$i" -le 10 ]; do
  echo "tick $i of 10"
  i=$((i + 1))
  sleep 1
done
echo "slow checks passed"
