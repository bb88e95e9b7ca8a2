#!/usr/bin/env bash
# Fuzz the readers of untrusted bytes (IDX, CIFAR-10 archives and batches, safetensors
# checkpoints) with cargo-fuzz/libFuzzer. Not part of `npm test` or CI: run it by hand.
#
#   bash scripts/fuzz.sh [SECONDS] [TARGET...]
#
# SECONDS per target (default 60); TARGETs default to all of them, one after another:
#
#   idx            parse_images / parse_labels on raw bytes (gzip when they start with 1f 8b)
#   idx_gzip       the same on the input gzip-compressed (the header fields behind the decoder),
#                  checked against the raw parse
#   cifar_archive  cifar::read_archive on raw bytes (.tar.gz when 1f 8b, else a plain .tar)
#   cifar_tar_gz   read_archive on the input as a well-formed .tar.gz, checked against the .tar
#   cifar_batches  parse_batch / read_batches on the input cut into named loose .bin files
#   safetensors    checkpoint::from_safetensors for the [4, 3, 2] MLP's layout
#
# Installs cargo-fuzz into .tools/ if missing (idempotent; needs crates.io once) and builds with
# the stable toolchain: `--sanitizer none` (sanitizers need nightly) and `--debug-assertions`
# (overflow checks on, so arithmetic overflow is a crash too). Each run: `-rss_limit_mb=2048`
# (more RSS than that is reported as a crash), `-timeout=10` (one input running longer is a
# hang), a per-format `-max_len`, the target's dictionary and seeds.
#
# Files (all git-ignored except fuzz/seeds and fuzz/dicts):
#   fuzz/corpus/TARGET/     the corpus libFuzzer grows (kept between runs; seeds come from
#                           fuzz/seeds/TARGET/, written by `python3 fuzz/make_seeds.py`)
#   fuzz/artifacts/TARGET/  crashing, leaking, slow or out-of-memory inputs
#   fuzz/logs/TARGET.log    libFuzzer's output
#
# Reproduce a crash: .tools/bin/cargo-fuzz run --sanitizer none -a TARGET fuzz/artifacts/TARGET/crash-…
# Exit status: 0 when every target ran clean, 1 if any found something (listed at the end).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf 'fuzz: %s\n' "$*"; }

CARGO_FUZZ_VERSION=0.13.2
ALL_TARGETS=(idx idx_gzip cifar_archive cifar_tar_gz cifar_batches safetensors)

seconds=${1:-60}
if ! [[ $seconds =~ ^[0-9]+$ ]] || ((seconds == 0)); then
  say "usage: bash scripts/fuzz.sh [SECONDS] [TARGET...] (SECONDS a positive integer, got '$seconds')"
  exit 2
fi
shift $(($# > 0 ? 1 : 0))
targets=("$@")
((${#targets[@]})) || targets=("${ALL_TARGETS[@]}")
for t in "${targets[@]}"; do
  if ! [[ " ${ALL_TARGETS[*]} " == *" $t "* ]]; then
    say "unknown target '$t'; targets: ${ALL_TARGETS[*]}"
    exit 2
  fi
done

# Largest input per format: MNIST-sized headers and gzip streams, archives with a few whole
# 3073-byte CIFAR records, loose batches likewise; a checkpoint of the small MLP is ~400 bytes,
# so 64 KiB leaves room for long JSON headers without slowing every mutation.
max_len_of() {
  case $1 in
    safetensors) echo 65536 ;;
    *) echo 1048576 ;;
  esac
}
dict_of() {
  case $1 in
    idx | idx_gzip) echo fuzz/dicts/idx.dict ;;
    cifar_archive | cifar_tar_gz) echo fuzz/dicts/tar.dict ;;
    safetensors) echo fuzz/dicts/safetensors.dict ;;
    *) ;; # cifar_batches: names come from a selector byte, no tokens to splice in
  esac
}

# cargo-fuzz under .tools/ ------------------------------------------------------------------
export PATH="$PWD/.tools/bin:$PATH"
if [[ "$(cargo-fuzz --version 2>/dev/null)" == "cargo-fuzz $CARGO_FUZZ_VERSION" ]]; then
  say "cargo-fuzz $CARGO_FUZZ_VERSION already in .tools/bin"
else
  say "installing cargo-fuzz $CARGO_FUZZ_VERSION into .tools/ (about a minute, once)"
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked --root .tools --quiet
fi
if ! command -v c++ >/dev/null; then
  say "no C++ compiler: libfuzzer-sys builds libFuzzer with it; apt-get install -y g++"
  exit 1
fi

flags=(--sanitizer none --debug-assertions)
say "building the fuzz targets (release, debug assertions, no sanitizer; the first build takes minutes)"
cargo fuzz build "${flags[@]}"

mkdir -p fuzz/logs
failed=()
summary=()
for t in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
  log="fuzz/logs/$t.log"
  say "$t: ${seconds}s, max_len $(max_len_of "$t"), log $log"
  dict=$(dict_of "$t")
  status=0
  cargo fuzz run "${flags[@]}" "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
    -max_len="$(max_len_of "$t")" ${dict:+-dict="$dict"} -print_final_stats=1 \
    >"$log" 2>&1 || status=$?
  # The last status line ("#N DONE cov: … corp: …/…b … exec/s: …") and the final stats.
  last=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p' <<<"$last")
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log")
  found=$(find "fuzz/artifacts/$t" -type f | wc -l)
  line=$(printf '%-14s execs %-10s exec/s %-7s cov %-6s corpus %-12s peak_rss_mb %-6s artifacts %s' \
    "$t" "${runs:-?}" "${rate:-?}" "${cov:-?}" "${corp:-?}" "${rss:-?}" "$found")
  summary+=("$line")
  say "$line"
  if ((status != 0 || found > 0)); then
    failed+=("$t")
    grep -E '^(==[0-9]+== ?ERROR|thread .* panicked|.*SUMMARY|artifact_prefix|Test unit written)' "$log" | head -n 5 || true
  fi
done

say "summary (${seconds}s per target):"
printf '  %s\n' "${summary[@]}"
if ((${#failed[@]})); then
  say "FOUND PROBLEMS in: ${failed[*]}; inputs under fuzz/artifacts/, details in fuzz/logs/"
  exit 1
fi
say "no crashes, hangs or out-of-memory inputs"
