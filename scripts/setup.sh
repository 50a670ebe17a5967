#!/usr/bin/env bash
# Installs what a fresh machine lacks: the npm dependencies, and Mesa's lavapipe (software Vulkan) from the
# distribution's backports when Dawn finds no WebGPU adapter. Never names a host: the package source URI is
# taken from the machine's own apt configuration.
set -euo pipefail
cd "$(dirname "$0")/.."
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

if node scripts/has-adapter.mjs; then exit 0; fi

codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
if [ ! -r /etc/debian_version ] || [ "$(id -u)" != 0 ] || [ -z "$codename" ]; then
  cat >&2 <<MSG
No WebGPU adapter was found. Install a Vulkan driver that Dawn accepts, then rerun:
  - Debian 12 (as root): add the '<codename>-backports' suite to apt, then
      apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1     (Mesa >= 25 lavapipe)
  - other systems: Mesa >= 25 (lavapipe) or a GPU Vulkan driver, plus the Vulkan loader (libvulkan1).
Tests that need WebGPU run on the cpu device only until then.
MSG
  exit 0
fi

# The first configured Debian archive URI (deb822 or one-line format).
uri=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
if [ -z "$uri" ]; then
  uri=$(awk '$1=="deb" && $0 !~ /security/ {for (i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' /etc/apt/sources.list 2>/dev/null || true)
fi
if [ -z "$uri" ]; then
  echo "setup: no Debian archive URI in /etc/apt; add ${codename}-backports by hand and install mesa-vulkan-drivers libvulkan1" >&2
  exit 1
fi
cat > /etc/apt/sources.list.d/fianet-backports.sources <<SRC
Types: deb
URIs: ${uri}
Suites: ${codename}-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t "${codename}-backports" mesa-vulkan-drivers libvulkan1 >/dev/null
node scripts/has-adapter.mjs || { echo "setup: lavapipe installed but Dawn still finds no adapter" >&2; exit 1; }
