#!/usr/bin/env bash
# `npm run train`: set up if needed, then train the MLP with SAM on the embedded MNIST with the
# native CLI. Extra arguments go to `samlab train` (npm run train -- --epochs 1).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
cargo build --release --quiet
exec ./target/release/samlab train --dataset mnist --sam sam --epochs 2 "$@"
