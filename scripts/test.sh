#!/usr/bin/env bash
# The test command: installs dependencies, builds with warnings as errors, runs every test under
# AddressSanitizer + UndefinedBehaviorSanitizer, then in the optimised build. ctest's summary of
# the optimised build is the last thing printed. --quick skips the sanitizer build.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
jobs=$(nproc)
if [[ ${1:-} != --quick ]]; then
  echo "== sanitizer build (ASan + UBSan)"
  bash scripts/build.sh asan -DCMAKE_BUILD_TYPE=Debug -DYUER_WERROR=ON -DYUER_SANITIZE=ON
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build/asan --output-on-failure -j "$jobs"
  echo "== fuzz targets (clang, libFuzzer; 20 s each)"
  bash tests/fuzz/run.sh "${YUER_FUZZ_SECONDS:-20}"
fi
echo "== release build"
bash scripts/build.sh release -DCMAKE_BUILD_TYPE=RelWithDebInfo -DYUER_WERROR=ON
ctest --test-dir build/release --output-on-failure -j "$jobs"
