#!/usr/bin/env bash
# Installs yuer's build and test dependencies from Debian 12's packages (idempotent).
# Boost is named as 1.81 explicitly: libboost-dev would pull in 1.74 (STYLE C1).
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates tzdata
  libboost1.81-dev libboost-url1.81-dev
  nlohmann-json3-dev libsqlitecpp-dev libsqlite3-dev sqlite3 libspdlog-dev libfmt-dev catch2
  libssl-dev libtomlplusplus-dev libcli11-dev libpugixml-dev libsystemd-dev systemd libxlsxwriter-dev
  libkainjow-mustache-dev  # templates/messages/*.mustache (daemon/lessons/templates.cpp)
  unzip  # daemon/survey_service/export_test.cpp reads the XLSX export back (a zip of XML parts)
  chromium chromium-driver  # tests/sandbox/web_browser_test.cpp drives the chat view in headless Chromium
  fonts-wqy-zenhei  # a Chinese font for the browser tests' screenshots of the console and the chat view
  clang libclang-rt-14-dev  # tests/fuzz: libFuzzer targets (tests/fuzz/run.sh)
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
