#!/usr/bin/env bash
# `npm test`: the whole suite, as CI runs it. Set-up first (idempotent), then formatting and lints,
# the native tests on wgpu (lavapipe here), the wasm32 build of the library, and the JS tests.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh

# wgpu's Vulkan loader wants a runtime dir; lavapipe keeps its shader cache where we say.
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
export MESA_SHADER_CACHE_DIR="${MESA_SHADER_CACHE_DIR:-$PWD/target/mesa-shader-cache}"

step() { printf '\n== %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --check

step "cargo clippy (native and wasm32, warnings are errors)"
cargo clippy --all-targets --quiet -- -D warnings
cargo clippy --lib --test web --target wasm32-unknown-unknown --quiet -- -D warnings

step "cargo test (native wgpu)"
cargo test

step "JS tests (data scripts, page settings)"
npm run --silent test:js

step "build the page (release wasm, dist/)"
npm run --silent build

step "wasm-bindgen tests in headless Chromium (WebGPU on SwiftShader)"
npm run --silent test:wasm

step "page tests (Playwright + Chromium)"
npm run --silent test:page
