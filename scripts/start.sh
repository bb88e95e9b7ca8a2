#!/usr/bin/env bash
# `npm start`: set up if needed, build the browser page (scripts/build.sh: wasm-pack + dist/),
# then serve dist/ on http://127.0.0.1:8080/ (PORT=N to change it; PORT=0 picks a free port).
# Open the printed URL in a WebGPU browser (Chrome/Edge 113+; on Linux Chromium may need
# --enable-unsafe-webgpu). The command-line trainer moved to `npm run train`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# build.sh runs scripts/setup.sh first.
bash scripts/build.sh
exec node scripts/serve.mjs dist --port "${PORT:-8080}"
