#!/usr/bin/env bash
# Fails when a Catch2 test name holds a ';'. catch_discover_tests hands names to CMake as a list,
# so such a name became two ctest entries whose filters matched no test and "passed" without
# running anything (found 2026-12-04: the scheduler, survey, crash and access e2e cases).
set -euo pipefail
cd "$(dirname "$0")/.."
bad=$(git ls-files '*.cpp' | xargs grep -n -E 'TEST_CASE\("[^"]*;' || true)
if [[ -n $bad ]]; then
  echo "test names must not contain ';' (ctest would split them and run nothing):" >&2
  echo "$bad" >&2
  exit 1
fi
echo "test names ok"
