#!/usr/bin/env bash
# `npm run build`: set up if needed, compile the crate to WebAssembly with wasm-pack (release,
# --target web) into pkg/, and assemble the static site in dist/:
#
#   dist/                         everything in www/
#   dist/pkg/samlab.js            wasm-bindgen's ES module (+ samlab_bg.wasm, samlab.d.ts)
#   dist/vendor/uPlot.esm.js      uPlot (npm) and its stylesheet uPlot.min.css
#   dist/vendor/d3-*.min.mjs      d3-contour, d3-geo, d3-scale-chromatic and their d3 dependencies
#                                 (npm; the loss-landscape plane, loaded on demand)
#   dist/data/mnist/*.gz          the embedded MNIST IDX files (data/mnist, from setup)
#   dist/data/fashion-mnist/*.gz  Fashion-MNIST (real copies of data/fashion-mnist's symlinks)
#   dist/data/*/manifest.json     each data set's files: {files: {name: {bytes, sha256}}}
#   dist/sw.js                    the service worker, with this build's id and the files it keeps
#
# Nothing is downloaded: wasm-pack finds wasm-bindgen (the exact Cargo.lock version) in
# .tools/bin and wasm-opt (npm binaryen 132, never Debian's binaryen 108, which corrupts
# wasm-bindgen 0.2.130 output) in node_modules/.bin. The build fails if wasm-pack says it is
# downloading anything. Finally prints raw and gzip -9 sizes.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh

export PATH="$PWD/.tools/bin:$PWD/node_modules/.bin:$PATH"
export WASM_PACK_CACHE="$PWD/.tools/wasm-pack-cache"
mkdir -p "$WASM_PACK_CACHE"

say() { printf 'build: %s\n' "$*"; }

# Guard against the silent-corruption trap: the wasm-opt on PATH must be binaryen >= 132.
wasm_opt_version=$(wasm-opt --version 2>/dev/null | sed -n 's/^wasm-opt version \([0-9]*\).*/\1/p')
if [[ -z $wasm_opt_version || $wasm_opt_version -lt 132 ]]; then
  say "wasm-opt on PATH is '$(command -v wasm-opt || echo none)' (version ${wasm_opt_version:-?}); need npm binaryen 132 (npm ci)"
  exit 1
fi

say "wasm-pack build --profile wasm-release --target web (wasm-bindgen $(wasm-bindgen --version | cut -d' ' -f2), wasm-opt $wasm_opt_version)"
mkdir -p target
log=target/wasm-pack-build.log # kept for inspection
start=$SECONDS
# --mode no-install: use the tools on PATH and fail rather than download a wasm-bindgen.
if ! wasm-pack --log-level info build --mode no-install --profile wasm-release --target web \
  --out-dir pkg --out-name samlab --no-pack . >"$log" 2>&1; then
  cat "$log" >&2
  say "wasm-pack build failed"
  exit 1
fi
# wasm-pack announces tool installs with "Installing wasm-bindgen..." and prebuilt downloads;
# (cargo's own "Downloaded <crate>" lines are crates.io and fine).
if grep -Eiq 'installing (wasm-bindgen|wasm-opt|chromedriver|geckodriver)|(pre-?built)|not installed' "$log"; then
  cat "$log" >&2
  say "wasm-pack tried to download a tool; check .tools/bin/wasm-bindgen and node_modules/.bin/wasm-opt"
  exit 1
fi
wasm_opt_used=$(sed -n 's/.*found wasm-opt at "\(.*\)".*/\1/p' "$log" | head -n 1)
if [[ -z $wasm_opt_used ]]; then
  say "note: wasm-opt did not run (disabled in Cargo.toml's package.metadata.wasm-pack?)"
elif [[ $wasm_opt_used != "$PWD/node_modules/.bin/wasm-opt" ]]; then
  cat "$log" >&2
  say "wasm-pack used wasm-opt at $wasm_opt_used, not node_modules/.bin/wasm-opt"
  exit 1
fi
# Cargo's warnings and errors are worth seeing; the rest of wasm-pack's chatter is not.
grep -E '^(warning|error)' "$log" | grep -v 'wasm-pack' >&2 || true
say "wasm-pack done in $((SECONDS - start)) s"

# Assemble dist/ --------------------------------------------------------------
rm -rf dist
mkdir -p dist/pkg dist/vendor dist/data
cp -R www/. dist/
cp pkg/samlab.js pkg/samlab_bg.wasm dist/pkg/
[[ -f pkg/samlab.d.ts ]] && cp pkg/samlab.d.ts dist/pkg/
cp node_modules/uplot/dist/uPlot.esm.js node_modules/uplot/dist/uPlot.min.css dist/vendor/
# The loss-landscape plane's d3 modules (npm, their minified ES module builds), loaded on demand;
# they import each other by name, which index.html's import map points at these copies.
D3_MODULES=(d3-array d3-color d3-contour d3-geo d3-interpolate d3-scale-chromatic)
for m in "${D3_MODULES[@]}"; do
  if [[ ! -f node_modules/$m/dist/$m.min.mjs ]]; then
    say "node_modules/$m/dist/$m.min.mjs is missing (npm ci)"
    exit 1
  fi
  cp "node_modules/$m/dist/$m.min.mjs" dist/vendor/
done

# What dist/ was built from (the page tests compare www/ against it, since dist/ is minified).
node -e '
  const fs = require("fs"), crypto = require("crypto");
  const sums = {};
  for (const f of fs.readdirSync("www").sort()) {
    if (fs.statSync("www/" + f).isFile()) sums[f] = crypto.createHash("sha256").update(fs.readFileSync("www/" + f)).digest("hex");
  }
  fs.writeFileSync("dist/sources.json", JSON.stringify(sums, null, 1) + "\n");
'
# Minify the page's modules and uPlot in dist/ (www/ keeps the readable sources): each file on its
# own (no bundling), so imports, the worker and the import map stay as they are.
minify=(dist/*.js dist/pkg/samlab.js dist/vendor/uPlot.esm.js)
node_modules/.bin/esbuild "${minify[@]}" --minify --format=esm --target=es2022 --outdir=dist \
  --outbase=dist --allow-overwrite --log-level=warning

idx_names=(train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz)
for ds in mnist fashion-mnist; do
  have=1
  for f in "${idx_names[@]}"; do [[ -e data/$ds/$f ]] || have=0; done
  if ((have)); then
    mkdir -p "dist/data/$ds"
    for f in "${idx_names[@]}"; do cp -L "data/$ds/$f" "dist/data/$ds/$f"; done
  elif [[ $ds == mnist ]]; then
    say "data/mnist is incomplete; run npm run setup"
    exit 1
  else
    say "note: data/fashion-mnist not found (apt dataset-fashion-mnist); dist/ ships MNIST only"
  fi
done

# The built-in data sets' manifests: the size and SHA-256 of each file, which the worker checks
# every download and every offline copy against (www/data.js). Then the service worker's build id
# (a hash of every file it keeps: each build gets its own cache) and the list of those files: all
# of dist/ but the data sets (the worker keeps those), the types and sw.js itself.
node -e '
  const fs = require("fs"), path = require("path"), crypto = require("crypto");
  const sha = (bytes) => crypto.createHash("sha256").update(bytes).digest("hex");
  for (const ds of fs.readdirSync("dist/data").sort()) {
    const dir = path.join("dist/data", ds), files = {};
    for (const f of fs.readdirSync(dir).filter((f) => f.endsWith(".gz")).sort()) {
      const bytes = fs.readFileSync(path.join(dir, f));
      files[f] = { bytes: bytes.length, sha256: sha(bytes) };
    }
    fs.writeFileSync(path.join(dir, "manifest.json"), JSON.stringify({ dataset: ds, files }, null, 1) + "\n");
  }
  const shell = [];
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.posix.join(dir, e.name);
      if (e.isDirectory()) { if (p !== "dist/data") walk(p); } else shell.push(p.slice("dist/".length));
    }
  };
  walk("dist");
  const keep = shell.filter((f) => f !== "sw.js" && f !== "sources.json" && !f.endsWith(".d.ts")).sort();
  const build = sha(keep.map((f) => `${f} ${sha(fs.readFileSync("dist/" + f))}`).join("\n")).slice(0, 16);
  let sw = fs.readFileSync("dist/sw.js", "utf8");
  if (!sw.includes("__SAMLAB_BUILD__") || !sw.includes("__SAMLAB_SHELL__")) {
    console.error("build: dist/sw.js has lost its __SAMLAB_BUILD__ / __SAMLAB_SHELL__ placeholders");
    process.exit(1);
  }
  sw = sw.replaceAll("__SAMLAB_BUILD__", build).replaceAll("__SAMLAB_SHELL__", ["./", ...keep].join("\\n"));
  fs.writeFileSync("dist/sw.js", sw);
  console.log(`build: sw.js keeps ${keep.length + 1} files for offline use (build ${build})`);
'

# Sizes ------------------------------------------------------------------------
gz() { gzip -9 -c "$1" | wc -c; }
raw() { wc -c <"$1"; }
kb() { awk -v b="$1" 'BEGIN { printf "%.1f KB", b / 1000 }'; }
for f in dist/pkg/samlab_bg.wasm dist/pkg/samlab.js; do
  say "$(printf '%-25s %10s raw  %10s gzip -9' "${f#dist/}" "$(kb "$(raw "$f")")" "$(kb "$(gz "$f")")")"
done
# What a page load fetches: the wasm, its glue, uPlot and the page's modules, except those loaded
# only when a landscape plane is first drawn (landscape.js and the d3 modules), counted apart.
ON_DEMAND=(dist/landscape.js)
for m in "${D3_MODULES[@]}"; do ON_DEMAND+=("dist/vendor/$m.min.mjs"); done
total_raw=0 total_gz=0
while IFS= read -r -d '' f; do
  [[ " ${ON_DEMAND[*]} " == *" $f "* ]] && continue
  total_raw=$((total_raw + $(raw "$f")))
  total_gz=$((total_gz + $(gz "$f")))
done < <(printf '%s\0' dist/pkg/samlab.js dist/pkg/samlab_bg.wasm dist/vendor/uPlot.esm.js
  find dist -maxdepth 1 -type f \( -name '*.js' -o -name '*.mjs' \) -print0)
say "$(printf '%-25s %10s raw  %10s gzip -9' 'wasm + JS transferred' "$(kb $total_raw)" "$(kb $total_gz)")"
lazy_raw=0 lazy_gz=0
for f in "${ON_DEMAND[@]}"; do
  lazy_raw=$((lazy_raw + $(raw "$f")))
  lazy_gz=$((lazy_gz + $(gz "$f")))
done
say "$(printf '%-25s %10s raw  %10s gzip -9' '+ landscape.js, d3' "$(kb $lazy_raw)" "$(kb $lazy_gz)") (loaded when a plane is drawn)"
say "dist/ ready ($(du -sh dist | cut -f1) with data); serve it with: npm run serve"
