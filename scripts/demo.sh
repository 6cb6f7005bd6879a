#!/usr/bin/env bash
# The main job (README "Quick start"): installs dependencies, builds, and runs the whole programme
# on one machine: wecom-sandbox seeded with the sample county 云川县 (3 townships, 6 parent groups,
# the management groups with robots, a kf account), yuerd on SQLite with a fast clock (a day in
# about a minute), 1,200 roster families, sample schedules, an open survey round and simulated
# parents answering it through the sandbox's kf. Prints the URLs; Ctrl-C stops everything.
#
#   bash scripts/demo.sh [--resume] [--clock-rate N] [--port P] [--sandbox-port P] [--no-build [--bin DIR]]
#
# --resume keeps var/demo (store, sandbox state, tokens) from the last run; without it the demo
# starts fresh. Parts of the API a build does not have yet are logged and skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

resume=0 rate=1440 port=8080 sport=9080 build=1 bin=$root/build/release
while (($#)); do
  case $1 in
    --resume) resume=1 ;;
    --clock-rate) rate=$2; shift ;;
    --port) port=$2; shift ;;
    --sandbox-port) sport=$2; shift ;;
    --no-build) build=0 ;;
    --bin) bin=$(cd "$2" && pwd); shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "demo.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

if ((build)); then
  bash scripts/install-deps.sh
  bash scripts/build.sh release -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
yuerd=$bin/daemon/yuerd/yuerd
yuerctl=$bin/daemon/yuerctl/yuerctl
sandbox=$bin/tests/sandbox/wecom-sandbox
demo_tool=$bin/tests/demo/yuer-demo
fixture=$root/tests/sandbox/fixtures/demo_county.json
for b in "$yuerd" "$yuerctl" "$sandbox" "$demo_tool"; do
  [[ -x $b ]] || { echo "demo.sh: $b is missing (run without --no-build)" >&2; exit 1; }
done

dir=$root/var/demo
if ((!resume)); then rm -rf "$dir"; fi
mkdir -p "$dir/secrets" "$dir/logs"
chmod 700 "$dir/secrets"
umask 077
log() { printf '[demo %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

# --- secrets: the fixture's demo app and robots (made-up values the sandbox knows), our own admin token
nth() { grep -o "\"$1\": \"[^\"]*\"" "$fixture" | sed -n "${2}p" | sed 's/.*: "\(.*\)"/\1/'; }
[[ -s $dir/secrets/app_secret ]] || nth secret 1 >"$dir/secrets/app_secret"
[[ -s $dir/secrets/app_token ]] || nth token 1 >"$dir/secrets/app_token"
[[ -s $dir/secrets/app_aes_key ]] || nth aes_key 1 >"$dir/secrets/app_aes_key"
[[ -s $dir/secrets/bot_token ]] || nth token 2 >"$dir/secrets/bot_token"
[[ -s $dir/secrets/bot_aes_key ]] || nth aes_key 2 >"$dir/secrets/bot_aes_key"
if [[ ! -s $dir/secrets/robot_keys ]]; then
  i=0
  for g in county qinghe shiqiao liuxi; do
    i=$((i + 1))
    echo "$g $(grep -o '"key": "[^"]*"' "$fixture" | sed -n "${i}p" | sed 's/.*: "\(.*\)"/\1/')"
  done >"$dir/secrets/robot_keys"
fi
# (no `tr </dev/urandom | head`: under pipefail its SIGPIPE would end the script)
secret() {
  [[ -s $dir/secrets/$1 ]] && return 0
  local s=""
  while ((${#s} < $2)); do s+=$(head -c 64 /dev/urandom | tr -dc 'A-Za-z0-9'); done
  printf '%s' "${s:0:$2}" >"$dir/secrets/$1"
}
secret admin_token 40
secret phone_key 40
kfid=$(nth open_kfid 1)

# --- yuerd's config; the controllable clock only when this build knows it
write_config() {
  cat >"$dir/yuerd.toml" <<EOF
# Written by scripts/demo.sh: the demo's yuerd, against the wecom-sandbox on port $sport.
[server]
listen = "127.0.0.1:$port"
[store]
path = "yuer.db"
synchronous = "normal"
[wecom]
api_base = "http://127.0.0.1:$sport"
corp_id = "$(nth corp_id 1)"
[wecom.app]
token_file = "secrets/app_token"
aes_key_file = "secrets/app_aes_key"
agent_id = 1000002
secret_file = "secrets/app_secret"
[wecom.kf]
open_kfids = ["$kfid"]
[wecom.robots]
keys_file = "secrets/robot_keys"
[[wecom.bot]]
name = "county"
token_file = "secrets/bot_token"
aes_key_file = "secrets/bot_aes_key"
[group_task]
enabled = true
batch_delay_s = 5  # real seconds: posts for one owner are merged this long before the task is made
first_check_s = 5
[groups]
enabled = true
soft_cap = 350
hard_cap = 400
[roster]
phone_key_file = "secrets/phone_key"
[time]
zone = "Asia/Shanghai"
$1
[callback]
replay_window_s = 3600  # the demo's clocks run fast: an hour of demo time is 2.5 s
[admin]
token_file = "secrets/admin_token"
[content]
lessons_dir = "$root/templates/lessons"
[survey]
dir = "$root/templates/surveys"
[log]
level = "info"
EOF
}
write_config "test_clock = true
clock_rate = $rate"
if ! "$yuerd" --check-config "$dir/yuerd.toml" >"$dir/logs/check-config.log" 2>&1; then
  if grep -q "test_clock\|clock_rate" "$dir/logs/check-config.log"; then
    log "this yuerd has no [time] test_clock yet: running on the real clock"
    write_config ""
    "$yuerd" --check-config "$dir/yuerd.toml" >"$dir/logs/check-config.log" 2>&1 || { cat "$dir/logs/check-config.log"; exit 1; }
  else
    cat "$dir/logs/check-config.log" >&2
    exit 1
  fi
fi

# --- start the children; Ctrl-C (or any child dying) stops them all
pids=()
stop() {
  trap - INT TERM EXIT
  log "stopping"
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  log "stopped; run again with --resume to continue from here"
}
trap 'stop; exit 0' INT TERM
trap stop EXIT

sandbox_args=(--listen "127.0.0.1:$sport" --fixture "$fixture" --state "$dir/sandbox-state.json"
              --callback-url "http://127.0.0.1:$port/wecom/callback/app")
if "$sandbox" --help 2>&1 | grep -q -- --clock-rate; then sandbox_args+=(--clock-rate "$rate")
else log "this wecom-sandbox has no --clock-rate yet: its clock runs at real speed"; fi
"$sandbox" "${sandbox_args[@]}" >"$dir/logs/sandbox.log" 2>&1 &
pids+=($!)
ctl() { "$yuerctl" --url "http://127.0.0.1:$port" --token-file "$dir/secrets/admin_token" "$@"; }
sbx() { "$yuerctl" --url "http://127.0.0.1:$sport" api --no-token "$@"; }
for _ in $(seq 100); do sbx GET /_sandbox/clock >/dev/null 2>&1 && break; sleep 0.1; done
sbx GET /_sandbox/clock >/dev/null || { log "wecom-sandbox did not start:"; cat "$dir/logs/sandbox.log"; exit 1; }
sbx POST /_sandbox/apps/callback_url --data "{\"agent_id\":1000002,\"callback_url\":\"http://127.0.0.1:$port/wecom/callback/app\"}" >/dev/null ||
  log "could not point the sandbox app's callback at yuerd"

(cd "$dir" && exec "$yuerd" --config "$dir/yuerd.toml") >"$dir/logs/yuerd.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do ctl status >/dev/null 2>&1 && break; sleep 0.1; done
ctl status >/dev/null || { log "yuerd did not start:"; tail -20 "$dir/logs/yuerd.log"; exit 1; }
# Both clocks run fast: start yuerd's from the sandbox's, so callback timestamps stay in the window.
if now=$(sbx GET /_sandbox/clock 2>/dev/null | grep -o '"unix_ms": *[0-9]*' | grep -o '[0-9]*$'); then
  ctl api POST /api/v1/clock --data "{\"set_unix_ms\":$now}" >/dev/null 2>&1 || true
fi

# --- the sample county: org, roster, groups, tokens, schedules, a survey round (fresh runs only)
try() { local what=$1; shift; if "$@" >>"$dir/logs/setup.log" 2>&1; then log "$what"; else log "$what: skipped (see var/demo/logs/setup.log)"; fi; }
if [[ ! -e $dir/.seeded ]]; then
  "$demo_tool" county --out "$dir" --families 1200 >/dev/null
  try "org: 云南省 › 演示州 › 云川县, 3 townships, 9 villages" ctl org import "$dir/org.csv" --apply
  try "roster: 1,200 families (children 0-36 months)" ctl roster import "$dir/roster.csv" --apply
  add_parent() { try "parent group $3" ctl groups add --kind parent --unit "$1" --chat-id "$2" --name "$3" --owner "$4"; }
  add_parent 539901100000 wrDemoqinghe1L36OHKJxrs 青禾镇宝宝成长1群 QingheCoord
  add_parent 539901100000 wrDemoqinghe2zDYHwynFzW 青禾镇宝宝成长2群 QingheCoord
  add_parent 539901200000 wrDemoshiqiao1zRk6SyqSUn 石桥乡宝宝成长1群 ShiqiaoCoord
  add_parent 539901200000 wrDemoshiqiao2kACN26CdbB 石桥乡宝宝成长2群 ShiqiaoCoord
  add_parent 539901300000 wrDemoliuxi1uPB5cukr87 柳溪镇宝宝成长1群 LiuxiCoord
  add_parent 539901300000 wrDemoliuxi24IFAV4qRLb 柳溪镇宝宝成长2群 LiuxiCoord
  add_mgmt() { try "management group $2" ctl groups add --kind management --unit "$1" --name "$2" --route robot --robot "$3"; }
  add_mgmt 539901000000 云川县育儿项目管理群 county
  add_mgmt 539901100000 青禾镇育儿项目工作群 qinghe
  add_mgmt 539901200000 石桥乡育儿项目工作群 shiqiao
  add_mgmt 539901300000 柳溪镇育儿项目工作群 liuxi
  for t in "县级管理员 county_admin 539901000000 county" "青禾镇协调员 township_coordinator 539901100000 qinghe" \
           "石桥乡协调员 township_coordinator 539901200000 shiqiao" "柳溪镇协调员 township_coordinator 539901300000 liuxi"; do
    read -r name role unit file <<<"$t"
    if ctl tokens add --name "$name" --role "$role" --unit "$unit" --json >"$dir/logs/token.json" 2>>"$dir/logs/setup.log"; then
      grep -o '"secret": *"[^"]*"' "$dir/logs/token.json" | sed 's/.*"\(yt_[^"]*\)"/\1/' >"$dir/secrets/token_$file"
      log "token $name → var/demo/secrets/token_$file"
    else
      log "token $name: skipped (see var/demo/logs/setup.log)"
    fi
    rm -f "$dir/logs/token.json"
  done
  today=$(TZ=Asia/Shanghai date +%F)
  later=$(TZ=Asia/Shanghai date -d '+30 days' +%F)
  schedule() {
    try "schedule $1" ctl api POST /api/v1/schedules --data "{\"name\":\"$1\",\"audience\":{\"units\":[\"539901000000\"],\"group_kinds\":[\"parent\"],\"tags\":[]},
      \"content\":{\"kind\":\"series\",\"ref\":\"\"},\"time\":$2,\"start_date\":\"$today\",\"end_date\":null,
      \"quiet_hours\":\"21:30-07:30\",\"route\":\"$3\"}"
  }
  schedule "每日育儿小课堂（按月龄）" '{"kind":"daily","at":"09:00"}' auto
  schedule "每周喂养提醒" '{"kind":"weekly","at":"19:30","weekday":3}' group_task
  try "survey round: 婴幼儿喂养调查 ($today to $later)" ctl api POST /api/v1/surveys --data \
    "{\"survey\":\"feeding\",\"name\":\"婴幼儿喂养调查\",\"units\":[\"539901000000\"],\"opens\":\"$today\",\"closes\":\"$later\"}"
  touch "$dir/.seeded"
else
  log "resuming: store, sandbox state and tokens from the last run"
fi

"$demo_tool" parents --sandbox "http://127.0.0.1:$sport" --yuerd "http://127.0.0.1:$port" \
  --token-file "$dir/secrets/admin_token" --roster "$dir/roster.csv" >"$dir/logs/parents.log" 2>&1 &
pids+=($!)

cat <<EOF

  育儿群助手 demo is running (clock rate $rate: a day in about $((86400 / rate)) s where supported).

  Web console      http://127.0.0.1:$port/
                   token: var/demo/secrets/admin_token (superuser), token_county, token_qinghe, ...
  Sandbox chat     http://127.0.0.1:$sport/   (groups, parents, mass messages to confirm)
  yuerctl          $yuerctl --url http://127.0.0.1:$port --token-file var/demo/secrets/admin_token status
  Logs             var/demo/logs/ (yuerd.log, sandbox.log, parents.log, setup.log)

  Ctrl-C stops everything; bash scripts/demo.sh --resume continues from here.
EOF

# Wait until Ctrl-C or a child ends on its own.
set +e
wait -n "${pids[@]}"
log "a demo process ended on its own (see var/demo/logs/)"
exit 1
