#!/bin/bash
# Installs what hood needs on a fresh Debian 12 machine (as root), then builds it with npm ci.
# The reference tools are for the differential tests and the benchmarks.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential python3 make g++ pkg-config
  busybox-static
  runc crun tar-split libseccomp-dev libcap2-bin
  btrfs-progs podman
  jq hyperfine iproute2 procps
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ] || [ ! -f build/Release/hood_native.node ]; then
  npm ci --no-audit --no-fund
elif [ -n "$(find native binding.gyp -newer build/Release/hood_native.node -print -quit)" ]; then
  # The native sources changed since the last build (a pull, a branch): rebuild them.
  npm run install
fi
