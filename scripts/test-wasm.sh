#!/usr/bin/env bash
# `npm run test:wasm`: the wasm-bindgen browser tests (tests/web.rs) in headless Chromium with
# WebGPU (SwiftShader, a CPU adapter: no GPU needed), through wasm-pack test.
#
# Nothing is downloaded: wasm-bindgen-test-runner comes from .tools/bin (the exact wasm-bindgen
# version in Cargo.lock), chromedriver from Debian's chromium-driver. The browser's options are in
# ./webdriver.json (--enable-unsafe-webgpu is the one that matters; --no-sandbox because we may run
# as root). The runner adds "headless", "disable-dev-shm-usage" and "no-sandbox" itself.
# Extra arguments go to the test binary's filter, e.g. npm run test:wasm -- matmul
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh >/dev/null

export PATH="$PWD/.tools/bin:$PWD/node_modules/.bin:$PATH"
export WASM_PACK_CACHE="$PWD/.tools/wasm-pack-cache"
export WASM_BINDGEN_TEST_WEBDRIVER_JSON="$PWD/webdriver.json"
# The default (20 s) covers the whole test binary, far too little for GPU suites on a CPU adapter.
export WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-300}"
mkdir -p "$WASM_PACK_CACHE"

chromedriver=${CHROMEDRIVER:-/usr/bin/chromedriver}
if [[ ! -x $chromedriver ]]; then
  echo "test-wasm: $chromedriver not found; apt-get install chromium chromium-driver (npm run setup)" >&2
  exit 1
fi

filter=()
if (($# > 0)); then filter=(-- "$@"); fi
# --mode no-install: fail rather than download a wasm-bindgen-test-runner or chromedriver.
# Cargo options follow the crate path directly (`wasm-pack test ... . --test web`): a `--` there
# would reach cargo as-is and wasm-pack would drop `--test web` from its build step. Whatever
# follows a later `--` goes to the test binary (a name filter, --nocapture).
exec wasm-pack test --mode no-install --headless --chrome --chromedriver "$chromedriver" --release \
  . --test web "${filter[@]}"
