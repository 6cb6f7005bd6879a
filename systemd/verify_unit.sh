#!/bin/sh
# Runs `systemd-analyze verify` on a unit file and fails on any complaint about it.
# Usage: verify_unit.sh UNIT_FILE
#
# verify exits 0 even for unknown keys or bad values (it logs "…, ignoring"), so the output is
# checked: any line naming the unit fails the test. verify also refuses an ExecStart= binary
# that does not exist, so the unit is copied to a temporary folder with the ExecStart= program
# replaced by one that exists (/bin/true); its arguments and every other line stay as they are.
set -eu

unit=${1:?usage: verify_unit.sh UNIT_FILE}
name=$(basename "$unit")

if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "systemd-analyze not found: install the Debian package 'systemd'" >&2
  exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

sed -E 's|^ExecStart=[^ ]+|ExecStart=/bin/true|' "$unit" >"$tmp/$name"
grep -q '^ExecStart=/bin/true' "$tmp/$name" || { echo "$unit: no ExecStart= line" >&2; exit 1; }

set +e
out=$(cd "$tmp" && SYSTEMD_LOG_LEVEL=info systemd-analyze verify --man=no "./$name" 2>&1)
rc=$?
set -e

printf '%s\n' "$out"
if [ "$rc" -ne 0 ]; then
  echo "FAIL: systemd-analyze verify exited with $rc" >&2
  exit 1
fi
if printf '%s\n' "$out" | grep -F "$name" >/dev/null; then
  echo "FAIL: systemd-analyze verify complained about $name (lines above)" >&2
  exit 1
fi
echo "OK: $name verified"
