#!/usr/bin/env bash
# Fails when a Catch2 test name holds a ';'. catch_discover_tests hands names to CMake as a list,
# so such a name became two ctest entries whose filters matched no test and "passed" without
# running anything (found 2026-12-04: the scheduler, survey, crash and access e2e cases).
# Usage: test_names.sh TEST_BINARY...
set -euo pipefail
status=0
for bin in "$@"; do
  bad=$(ASAN_OPTIONS=detect_leaks=0 "$bin" --list-test-names-only | grep ';' || true)
  if [[ -n $bad ]]; then
    echo "$bin: test names must not contain ';' (ctest would split them and run nothing):" >&2
    echo "$bad" >&2
    status=1
  fi
done
((status == 0)) && echo "test names ok: $*"
exit $status
