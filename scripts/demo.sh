#!/usr/bin/env bash
# The main job: installs dependencies, builds, creates demo secrets in var/secrets (mode 600) and
# runs yuerd in the foreground on config/yuerd.example.toml with its SQLite store in var/.
# Ctrl-C stops it cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh release -DCMAKE_BUILD_TYPE=RelWithDebInfo
mkdir -p var/secrets
chmod 700 var/secrets
umask 077
# Generates a secret once; later runs keep it, so the store and WeCom settings stay valid.
secret() {
  local file=var/secrets/$1 len=$2
  [[ -s $file ]] || tr -dc 'A-Za-z0-9' </dev/urandom | head -c "$len" >"$file"
}
secret app_token 32
secret app_aes_key 43
secret bot_county_token 32
secret bot_county_aes_key 43
secret admin_token 40
echo "yuerd: admin token in var/secrets/admin_token; try: build/release/daemon/yuerctl/yuerctl inbox list"
exec build/release/daemon/yuerd/yuerd --config config/yuerd.example.toml
