#!/usr/bin/env bash
# Callback benchmark: yuerd vs a plain Node.js receiver (bench/node), both acknowledging only
# after the callback is on disk. For each connection count and repetition it
#   1. generates fresh signed, encrypted, unique callbacks (bench/callback_requests_bench),
#   2. starts a fresh yuerd (new store, synchronous = "full") on 127.0.0.1:0, warms it up, runs
#      the load generator once over the file (bench/callback_load_bench, or wrk with
#      bench/wrk/callback.lua), counts inbox rows and checks 200s <= rows <= sent, stops it
#      with SIGTERM,
#   3. does the same with a fresh Node receiver on the same request file (records in its log),
# and prints a table. Builds nothing; loopback only; every process it starts is ended on exit.
# See bench/README.md for what the numbers mean.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: bench/run_callback_bench.sh [options]
  --yuerd PATH         yuerd binary (env YUERD; default build/release/daemon/yuerd/yuerd)
  --generator PATH     callback_requests_bench (env BENCH_GENERATOR; default <build dir of yuerd>/bench/callback_requests_bench)
  --loadgen WHO        native (bench/callback_load_bench, default) or wrk (wrk + bench/wrk/callback.lua)
  --load PATH          callback_load_bench (env BENCH_LOAD; default <build dir of yuerd>/bench/callback_load_bench)
  --io-threads N       yuerd's server.io_threads (default: not set, i.e. one per core)
  --load-threads N     threads of the load generator (default 1)
  --connections LIST   connection counts, e.g. "64,256" (default 64,256)
  --duration S         seconds of each measured run (default 10)
  --warmup S           seconds of warm-up before each run (default 2)
  --repeat N           measurements per receiver and connection count (default 1)
  --max-rate R         callbacks/s the request files are sized for: R x duration (default 100000)
  --only WHO           yuerd, node or both (default both)
  --keep               keep the temporary folder (stores, logs, wrk output)
  --field-key          give yuerd a [privacy] field key, so every inbox payload is sealed (AES-256-GCM)
Prerequisites: node (>= 18) with `npm ci` done in bench/node, sqlite3; wrk only with --loadgen wrk.
Exit code 0 when every run had no error and passed the rows check, 1 otherwise, 2 on bad usage.
EOF
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)

yuerd=${YUERD:-$repo/build/release/daemon/yuerd/yuerd}
generator=${BENCH_GENERATOR:-}
load=${BENCH_LOAD:-}
loadgen=native
io_threads=""
connections="64,256"
duration=10
warmup=2
repeat=1
max_rate=100000
only=both
keep=0
threads=1
field_key=0

while [[ $# -gt 0 ]]; do
  case "$1" in
    --yuerd) yuerd=$2; shift 2 ;;
    --generator) generator=$2; shift 2 ;;
    --loadgen) loadgen=$2; shift 2 ;;
    --load) load=$2; shift 2 ;;
    --io-threads) io_threads=$2; shift 2 ;;
    --load-threads) threads=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --max-rate) max_rate=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --field-key) field_key=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
  esac
done

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }
for v in "$duration" "$warmup" "$repeat" "$max_rate" "$threads"; do
  is_uint "$v" || { echo "not a whole number: $v" >&2; exit 2; }
done
[[ $only == yuerd || $only == node || $only == both ]] || { echo "--only wants yuerd, node or both" >&2; exit 2; }
[[ $loadgen == native || $loadgen == wrk ]] || { echo "--loadgen wants native or wrk" >&2; exit 2; }
[[ -z $io_threads ]] || is_uint "$io_threads" || { echo "--io-threads wants a whole number" >&2; exit 2; }
connections=${connections//,/ }

yuerd=$(realpath -m "$yuerd")
[[ -n $generator ]] || generator=${yuerd%/daemon/yuerd/yuerd}/bench/callback_requests_bench
[[ -n $load ]] || load=${yuerd%/daemon/yuerd/yuerd}/bench/callback_load_bench
missing=0
need() { command -v "$1" >/dev/null || { echo "missing: $1 ($2)" >&2; missing=1; }; }
if [[ $loadgen == wrk ]]; then
  need wrk "apt-get install wrk"
elif [[ ! -x $load ]]; then
  echo "missing: $load (build the target callback_load_bench)" >&2; missing=1
fi
need sqlite3 "apt-get install sqlite3"
need stdbuf "coreutils"
[[ $only == yuerd ]] || need node "apt-get install nodejs npm"
[[ -x $generator ]] || { echo "missing: $generator (build the target callback_requests_bench)" >&2; missing=1; }
if [[ $only != node && ! -x $yuerd ]]; then echo "missing: $yuerd (build yuerd or pass --yuerd)" >&2; missing=1; fi
if [[ $only != yuerd && ! -d $here/node/node_modules/@wecom/crypto ]]; then
  echo "missing: bench/node/node_modules (run: cd bench/node && npm ci)" >&2; missing=1
fi
[[ $missing == 0 ]] || exit 2

# Stores and logs on the real disk (fsync has to mean something); request files in memory when
# /dev/shm exists, so generating them does not load the disk under test.
work=$(mktemp -d "${TMPDIR:-/tmp}/yuer-callback-bench.XXXXXX")
reqdir=$work
if [[ -d /dev/shm && -w /dev/shm ]]; then reqdir=$(mktemp -d /dev/shm/yuer-callback-bench.XXXXXX); fi
pids=()

cleanup() {
  local pid
  for pid in "${pids[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  [[ $reqdir == "$work" ]] || rm -rf "$reqdir"
  if [[ $keep == 1 ]]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- secrets and yuerd config (mode 0600, as yuerd requires for *_file secrets) ----
rand_alnum() {  # $1 = length
  local s=""
  while [[ ${#s} -lt $1 ]]; do s+=$(head -c 96 /dev/urandom | base64 -w0 | tr -dc 'A-Za-z0-9'); done
  echo "${s:0:$1}"
}
corp_id=wwbench0000001
token=$(rand_alnum 16)
aes_key=$(rand_alnum 43)
(
  umask 077
  mkdir -p "$work/secrets"
  printf '%s\n' "$token" >"$work/secrets/app_token"
  printf '%s' "$aes_key" >"$work/secrets/app_aes_key"
  printf 'bench-admin-%s\n' "$(rand_alnum 24)" >"$work/secrets/admin_token"
  printf 'k1 %s\n' "$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')" >"$work/secrets/field_keys"
)

write_yuerd_config() {  # $1 = folder of the instance
  cat >"$1/yuerd.toml" <<EOF
[server]
listen = "127.0.0.1:0"
max_connections = 4096
${io_threads:+io_threads = $io_threads}

[store]
path = "var/yuer.db"
synchronous = "full"

[wecom]
api_base = "http://127.0.0.1:9"
corp_id = "$corp_id"

[wecom.app]
token_file = "$work/secrets/app_token"
aes_key_file = "$work/secrets/app_aes_key"

[time]
zone = "Asia/Shanghai"

[admin]
token_file = "$work/secrets/admin_token"

[log]
level = "info"
EOF
  if [[ $field_key == 1 ]]; then
    printf '\n[privacy]\nfield_key_file = "%s"\n' "$work/secrets/field_keys" >>"$1/yuerd.toml"
  fi
  chmod 600 "$1/yuerd.toml"
}

# ---- helpers ----
# Waits up to 20 s for "$2" followed by http://127.0.0.1:PORT in log $1; prints the base URL.
wait_listen() {
  local log=$1 pattern=$2 pid=$3
  for _ in $(seq 200); do
    if grep -qE "$pattern" "$log" 2>/dev/null; then
      grep -oE "$pattern" "$log" | head -1 | grep -oE 'http://127\.0\.0\.1:[0-9]+'
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "server did not start; its log:" >&2
  cat "$log" >&2
  return 1
}

# Stops $1 with SIGTERM; waits up to 15 s, then SIGKILL. Sets stop_status to its exit status.
stop_server() {
  local pid=$1
  stop_status=0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    echo "  did not stop within 15 s of SIGTERM; killing" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || stop_status=$?
}

cpu_of_pid() {  # utime+stime of a process in clock ticks
  awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0
}
machine_cpu() {  # "busy total" ticks over all cores
  awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t }' /proc/stat
}
machine_busy_percent() {  # share of all cores busy during the next second
  local a b
  read -r -a a < <(machine_cpu); sleep 1; read -r -a b < <(machine_cpu)
  echo $(( 100 * (b[0] - a[0]) / (b[1] - a[1] > 0 ? b[1] - a[1] : 1) ))
}
threads_cpu() {  # one line per thread of process $1: "tid name ticks"
  local t
  for t in /proc/"$1"/task/*; do
    awk -v tid="${t##*/}" '{ match($0, /\(.*\)/); name = substr($0, RSTART + 1, RLENGTH - 2); gsub(/ /, "_", name);
           split(substr($0, RSTART + RLENGTH + 1), f, " "); print tid, name, f[12] + f[13] }' "$t/stat" 2>/dev/null
  done
}
# Per-thread CPU between two threads_cpu samples ($1, $2) over $3 seconds, busiest first:
# "name/tid NN% (X us/cb)" for threads that used at least 1% of a core; $4 = callbacks answered.
threads_cpu_delta() {
  local hz
  hz=$(getconf CLK_TCK)
  awk -v hz="$hz" -v s="$3" -v n="${4:-0}" 'FNR == NR { before[$1] = $3; next }
       { d = ($3 - before[$1]) / hz; p = 100 * d / s
         if (p >= 0.5) printf "%.0f %s/%s %.0f%% (%.1f us/cb)\n", p, $2, $1, p, (n > 0 ? 1e6 * d / n : 0) }' \
    <(printf '%s\n' "$1") <(printf '%s\n' "$2") | sort -rn | cut -d' ' -f2- | tr '\n' ' '
}

# Runs the load generator against $1 with request file $2 for $3 s using $4 connections; output
# to $5. While it measures (from its "Running" line to its exit), samples the CPU of server pid $6.
# Sets: cpu_server_pct, cpu_server_s (CPU seconds), cpu_machine_pct, thread_cpu_before, thread_cpu_after.
run_wrk() {
  local url=$1 file=$2 secs=$3 conns=$4 out=$5 spid=$6
  local hz s0 s1 m0 m1 wpid
  hz=$(getconf CLK_TCK)
  if [[ $loadgen == wrk ]]; then
    stdbuf -oL timeout $((secs + 300)) wrk -t"$threads" -c"$conns" -d"${secs}s" --latency \
      -s "$here/wrk/callback.lua" "$url" -- "$file" "$threads" >"$out" 2>&1 &
  else
    timeout $((secs + 300)) "$load" --url "$url" --file "$file" --connections "$conns" --duration "$secs" \
      --threads "$threads" >"$out" 2>&1 &
  fi
  wpid=$!
  pids+=("$wpid")
  while ! grep -q '^Running' "$out" 2>/dev/null; do
    kill -0 "$wpid" 2>/dev/null || break
    sleep 0.05
  done
  s0=$(cpu_of_pid "$spid"); read -r -a m0 < <(machine_cpu); thread_cpu_before=$(threads_cpu "$spid")
  # Non-zero also when some answer was not 200; the table marks that run FAIL.
  wait "$wpid" || grep -q '^BENCH ' "$out" || { echo "load generator failed:" >&2; cat "$out" >&2; return 1; }
  s1=$(cpu_of_pid "$spid"); read -r -a m1 < <(machine_cpu); thread_cpu_after=$(threads_cpu "$spid")
  local secs_measured
  secs_measured=$(bench_field "$out" seconds)
  cpu_server_pct=$(awk -v d=$((s1 - s0)) -v hz="$hz" -v s="$secs_measured" 'BEGIN { printf "%.0f", 100 * d / hz / s }')
  cpu_server_s=$(awk -v d=$((s1 - s0)) -v hz="$hz" 'BEGIN { printf "%.2f", d / hz }')
  cpu_machine_pct=$(awk -v b=$((m1[0] - m0[0])) -v t=$((m1[1] - m0[1])) 'BEGIN { printf "%.0f", (t > 0 ? 100 * b / t : 0) }')
}

bench_field() {  # value of key $2 on the BENCH line of wrk output $1
  grep '^BENCH ' "$1" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k { print $2 }'
}

count_records() {  # $1 = yuerd|node, $2 = store or log path
  if [[ $1 == yuerd ]]; then
    sqlite3 "$2" 'PRAGMA busy_timeout = 5000; SELECT count(*) FROM inbox;' | tail -1
  else
    if [[ -f $2 ]]; then wc -l <"$2"; else echo 0; fi
  fi
}

# ---- one measurement ----
results=()
failures=0

measure() {  # $1 = yuerd|node, $2 = connections, $3 = repetition, $4 = request file, $5 = warm-up file
  local who=$1 conns=$2 rep=$3 reqs=$4 warm=$5
  local dir="$work/$who-c$conns-r$rep" pid url store
  mkdir -p "$dir/var"
  echo "== $who, $conns connections, run $rep"
  if [[ $who == yuerd ]]; then
    write_yuerd_config "$dir"
    store="$dir/var/yuer.db"
    "$yuerd" --config "$dir/yuerd.toml" >"$dir/server.log" 2>&1 &
    pid=$!
    pids+=("$pid")
    url=$(wait_listen "$dir/server.log" 'yuerd listening on http://127\.0\.0\.1:[0-9]+' "$pid")
  else
    store="$dir/var/records.jsonl"
    WECOM_TOKEN_FILE="$work/secrets/app_token" WECOM_AES_KEY_FILE="$work/secrets/app_aes_key" \
      WECOM_CORP_ID="$corp_id" RECEIVER_LOG="$store" RECEIVER_PORT=0 \
      node "$here/node/receiver.js" >"$dir/server.log" 2>&1 &
    pid=$!
    pids+=("$pid")
    url=$(wait_listen "$dir/server.log" 'receiver listening on http://127\.0\.0\.1:[0-9]+' "$pid")
  fi
  echo "  $url (pid $pid)"

  if [[ $warmup -gt 0 ]]; then
    run_wrk "$url" "$warm" "$warmup" "$conns" "$dir/warmup.txt" "$pid"
    echo "  warm-up: $(grep '^callbacks acknowledged' "$dir/warmup.txt")"
  fi
  sleep 1
  local rows0 rows1
  rows0=$(count_records "$who" "$store")
  echo "  machine busy before the run: $(machine_busy_percent)% of all cores"

  run_wrk "$url" "$reqs" "$duration" "$conns" "$dir/wrk.txt" "$pid"
  sed -n '/^callbacks acknowledged/,/^ERROR/p' "$dir/wrk.txt" | grep -v '^BENCH' | sed 's/^/  /'
  sleep 1
  rows1=$(count_records "$who" "$store")
  stop_server "$pid"

  local ok non200 sockerr sent exhausted rate p50 p99 rows check
  ok=$(bench_field "$dir/wrk.txt" ok)
  non200=$(bench_field "$dir/wrk.txt" non200)
  sockerr=$(bench_field "$dir/wrk.txt" socket_errors)
  sent=$(bench_field "$dir/wrk.txt" sent)
  exhausted=$(bench_field "$dir/wrk.txt" exhausted)
  rate=$(bench_field "$dir/wrk.txt" rate)
  p50=$(bench_field "$dir/wrk.txt" p50_ms)
  p99=$(bench_field "$dir/wrk.txt" p99_ms)
  rows=$((rows1 - rows0))
  check=ok
  # Every 200 must be a stored record; records beyond the 200s are requests the server committed
  # while wrk was closing its connections at the deadline (at most one per connection).
  if (( non200 > 0 || sockerr > 0 || exhausted > 0 || rows < ok || rows > sent )); then
    check=FAIL
    failures=$((failures + 1))
  fi
  # CPU per callback: all of the server's threads (user + system) while wrk measured, divided by
  # the 200s. Unlike callbacks/s it hardly depends on what else runs on the machine.
  local us_per_cb
  us_per_cb=$(awk -v c="$cpu_server_s" -v n="$ok" 'BEGIN { printf "%.1f", (n > 0 ? 1e6 * c / n : 0) }')
  echo "  records stored during the run: $rows (200s: $ok, sent: $sent) -> $check; server CPU ${cpu_server_pct}% of one core (${cpu_server_s} s, ${us_per_cb} us per callback), machine ${cpu_machine_pct}% of all cores; exit status $stop_status"
  echo "  server threads (CPU of one core): $(threads_cpu_delta "$thread_cpu_before" "$thread_cpu_after" "$(bench_field "$dir/wrk.txt" seconds)" "$ok")"
  results+=("$(printf '| %-5s | %5s | %d | %8s | %7s | %7s | %4s | %4s | %8s | %8s | %3s | %4s%% | %6s | %4s%% | %-4s |' \
    "$who" "$conns" "$rep" "$rate" "$p50" "$p99" "$non200" "$sockerr" "$ok" "$rows" "$((rows - ok))" \
    "$cpu_server_pct" "$us_per_cb" "$cpu_machine_pct" "$check")")
}

echo "callback benchmark: $(nproc) cores, $(uname -r); load generator $loadgen with $threads thread(s), ${duration}s runs, ${warmup}s warm-up"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) (an idle machine shows < 0.5)"
echo "yuerd: $yuerd"
echo "node:  $(command -v node >/dev/null && node --version || echo none)"
echo "work folder: $work (stores and logs), request files: $reqdir"

# What one synchronous write costs on the disk under test: the floor under every durable commit.
fsync_probe() {
  local t0 t1
  t0=$(date +%s%N)
  dd if=/dev/zero of="$work/fsync-probe" bs=4k count=200 oflag=dsync status=none
  t1=$(date +%s%N)
  rm -f "$work/fsync-probe"
  awk -v ns=$((t1 - t0)) 'BEGIN { printf "%.2f ms", ns / 200 / 1e6 }'
}
echo "disk: one 4 KiB O_DSYNC write takes $(fsync_probe) on average (200 in a row, $(df --output=fstype "$work" | tail -1 | tr -d ' '))"

count=$((max_rate * duration))
warm_count=$((max_rate * warmup / 2 + 1000))
for conns in $connections; do
  for rep in $(seq "$repeat"); do
    # Fresh files per measurement: yuerd refuses timestamps older than its replay window (300 s).
    "$generator" --count "$warm_count" --token "$token" --aes-key "$aes_key" --corp-id "$corp_id" \
      --out "$reqdir/warm.txt"
    "$generator" --count "$count" --token "$token" --aes-key "$aes_key" --corp-id "$corp_id" \
      --out "$reqdir/requests.txt"
    if [[ $only != node ]]; then measure yuerd "$conns" "$rep" "$reqdir/requests.txt" "$reqdir/warm.txt"; fi
    if [[ $only != yuerd ]]; then measure node "$conns" "$rep" "$reqdir/requests.txt" "$reqdir/warm.txt"; fi
  done
done

echo
echo "Results ($(nproc) cores; load generator $loadgen, $threads thread(s), ${duration}s on loopback; yuerd io_threads ${io_threads:-default}$([[ $field_key == 1 ]] && echo ", inbox payloads sealed"); durable acknowledgement):"
echo "| receiver | conns | run | callbacks/s | p50 ms | p99 ms | non-200 | sock err | 200s | records | in flight | server CPU | server µs CPU/cb | machine CPU | check |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
printf '%s\n' "${results[@]}"
if [[ $failures -gt 0 ]]; then
  echo "$failures run(s) FAILED (errors, an exhausted request file, or records not matching the 200s)"
  exit 1
fi
