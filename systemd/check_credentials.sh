#!/bin/sh
# Checks that the unit's LoadCredential= IDs and the config's *_credential names are the same set,
# and that every credential source is an absolute path. (systemd-analyze verify does not check
# LoadCredential= values.) Usage: check_credentials.sh UNIT_FILE CONFIG_TOML
set -eu
unit=${1:?usage: check_credentials.sh UNIT_FILE CONFIG_TOML}
config=${2:?usage: check_credentials.sh UNIT_FILE CONFIG_TOML}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

sed -n -E 's/^LoadCredential=([^:]*):.*/\1/p' "$unit" | sort >"$tmp/unit"
sed -n -E 's/^[[:space:]]*[a-z_]+_credential[[:space:]]*=[[:space:]]*"([^"]*)".*/\1/p' "$config" | sort -u >"$tmp/config"

status=0
if ! [ -s "$tmp/unit" ]; then echo "FAIL: $unit has no LoadCredential= lines" >&2; status=1; fi
if grep -n -E '^LoadCredential=' "$unit" | grep -v -E '^[0-9]+:LoadCredential=[A-Za-z0-9_.-]+:/' >&2; then
  echo "FAIL: LoadCredential= lines above need ID:/absolute/path" >&2
  status=1
fi
if ! diff -u "$tmp/config" "$tmp/unit" >&2; then
  echo "FAIL: credential names differ (- only in $config, + only in $unit)" >&2
  status=1
fi
[ "$status" -eq 0 ] && echo "OK: $(wc -l <"$tmp/unit") credentials match"
exit "$status"
