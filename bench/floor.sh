#!/usr/bin/env bash
# The framework's floor: the bytes a page built with Leptos 0.8 downloads
# before any code of Roster's own. Builds bench/floor (one sign-in form and a
# server function, see its src/lib.rs) twice with Roster's WebAssembly
# profile, flags and tools: as Roster is built (hydrated, with the router),
# and in Leptos's islands mode. Then wasm-bindgen and wasm-opt as
# cargo-leptos runs them, and brotli quality 11 as `--precompress` writes.
# Prints a Markdown table. About 5 minutes the first time on 2 cores.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="$PWD/.tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"
target="${CARGO_TARGET_DIR:-$PWD/target}/floor"
# Roster's versions of every crate.
cp Cargo.lock bench/floor/Cargo.lock
# The wasm-opt flags cargo-leptos passes for Roster (Cargo.toml).
mapfile -t opt_flags < <(sed -n 's/^wasm-opt-features = \[\(.*\)\]/\1/p' Cargo.toml | tr -d '" ' | tr ',' '\n')
[ "${#opt_flags[@]}" -gt 0 ] || { echo "floor.sh: no wasm-opt-features in Cargo.toml" >&2; exit 1; }
echo "| Leptos 0.8 app with one sign-in form | WASM raw | WASM brotli | JS brotli | WASM + JS brotli |"
echo "|---|---:|---:|---:|---:|"
for variant in hydrated islands; do
  features=()
  [ "$variant" = islands ] && features=(--features islands)
  RUSTFLAGS="--cfg erase_components" cargo build --quiet --manifest-path bench/floor/Cargo.toml \
    --target-dir "$target/$variant" --lib --target wasm32-unknown-unknown --profile wasm-release "${features[@]}" >&2
  out="$target/$variant/pkg"
  rm -rf "$out"
  wasm-bindgen --target web --no-typescript --out-dir "$out" \
    "$target/$variant/wasm32-unknown-unknown/wasm-release/floor.wasm"
  wasm-opt "${opt_flags[@]}" "$out/floor_bg.wasm" -o "$out/floor_opt.wasm"
  node - "$variant" "$out/floor_opt.wasm" "$out/floor.js" <<'JS'
const fs = require("fs"), zlib = require("zlib");
const [variant, wasm, js] = process.argv.slice(2);
const br = (f) => zlib.brotliCompressSync(fs.readFileSync(f), { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
const kb = (n) => (n / 1024).toFixed(1) + " KiB";
const [w, j] = [br(wasm), br(js)];
const what = variant === "islands" ? "islands mode (`#[island]`, no router in the browser)" : "hydrated with the router, as Roster is built";
console.log(`| ${what} | ${kb(fs.statSync(wasm).size)} | ${kb(w)} | ${kb(j)} | **${kb(w + j)}** |`);
JS
done
