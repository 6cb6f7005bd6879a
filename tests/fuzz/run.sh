#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan, build/fuzz) and runs each for a while.
# Usage: tests/fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]   (default 20 s, every target)
# Each target starts from its seed corpus (tests/fuzz/corpus/<target>) and the kept crash inputs
# (tests/vectors/regress/<target>); inputs it finds go to build/fuzz/corpus/<target>, crashes to
# build/fuzz/crashes/<target>/ (copy one to tests/vectors/regress/<target>/ when you fix it).
# Exit 1 when any target crashed, leaked, timed out or ran out of memory.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-20}
shift || true
all=(callback_envelope event_payload roster_csv config survey_definition survey_answer kf_sync_msg chat_change)
targets=("$@")
((${#targets[@]})) || targets=("${all[@]}")

mkdir -p build
cmake -S . -B build/fuzz -G Ninja -DYUER_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo >build/fuzz-configure.log 2>&1 || { cat build/fuzz-configure.log; exit 1; }
cmake --build build/fuzz -j "$(nproc)" --target yuer_fuzzers

failed=0
printf '%-18s %10s %8s %8s %7s %s\n' target execs cov ft corpus result
for t in "${targets[@]}"; do
  work=build/fuzz/corpus/$t crashes=build/fuzz/crashes/$t log=build/fuzz/$t.log
  mkdir -p "$work" "$crashes" "tests/vectors/regress/$t"
  rc=0
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "build/fuzz/tests/fuzz/fuzz_$t" -max_total_time="$secs" -timeout=25 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="$crashes/" "$work" "tests/fuzz/corpus/$t" "tests/vectors/regress/$t" \
    >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  last=$(grep -E '#[0-9]+.*cov: ' "$log" | tail -1 || true)
  cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.*ft: \([0-9]*\).*/\1/p' <<<"$last")
  corpus=$(find "$work" -type f | wc -l)
  result=ok
  if ((rc != 0)); then
    result="FAILED (exit $rc, see $log)"
    failed=$((failed + 1))
    grep -E 'ERROR|invariant|SUMMARY|Test unit written' "$log" | head -5 >&2 || true
  fi
  printf '%-18s %10s %8s %8s %7s %s\n' "$t" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$corpus" "$result"
done
echo "fuzz: ${#targets[@]} targets, ${secs} s each, $failed failed"
((failed == 0))
