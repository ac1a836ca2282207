#!/usr/bin/env bash
# Size of the release build's WASM, JS and CSS, raw and brotli-compressed
# (quality 11, as `--precompress` writes them and the server sends them).
# Builds first unless SKIP_BUILD=1. Prints a Markdown table: what every page
# loads (the main module, its JS, the split loader, the stylesheet), each
# application's module and shared chunk that `--split` made
# (app/src/lazy_pages.rs), loaded when a page needs it first, then the first
# visit and the total.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="$PWD/.tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  cargo leptos build --release --split >&2
fi
node - "${LEPTOS_SITE_ROOT:-target/site}/pkg" "${CARGO_TARGET_DIR:-target}/release/hash.txt" <<'JS'
const fs = require("fs"), path = require("path"), zlib = require("zlib");
const [dir, hashFile] = process.argv.slice(2);
// The build's own files: hash.txt names the main ones (older builds' files
// may still be in the directory), the split loader names the chunks.
const hashes = {};
if (fs.existsSync(hashFile)) {
  for (const line of fs.readFileSync(hashFile, "utf8").split("\n")) {
    const [k, v] = line.split(":").map((s) => s && s.trim());
    if (k && v) hashes[k] = v;
  }
}
const named = (stem, ext, key) => (hashes[key] ? `${stem}.${hashes[key]}.${ext}` : `${stem}.${ext}`);
const main = [named("roster", "css", "css"), named("roster", "js", "js"), named("roster", "wasm", "wasm")];
const loader = hashes.split ? `__wasm_split.${hashes.split}.js` : "__wasm_split.______________________.js";
const chunks = [];
if (fs.existsSync(path.join(dir, loader))) {
  main.push(loader);
  const js = fs.readFileSync(path.join(dir, loader), "utf8");
  for (const m of js.matchAll(/"\.\/([^"\/]+\.wasm)"/g)) if (!chunks.includes(m[1])) chunks.push(m[1]);
}
const size = (f) => {
  const buf = fs.readFileSync(path.join(dir, f));
  const br = zlib.brotliCompressSync(buf, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
  return [buf.length, br];
};
const kb = (n) => (n / 1024).toFixed(1) + " KiB";
const short = (f) => f.replace(/\.[A-Za-z0-9_-]{22}\./, ".");
console.log("| file | loaded | raw | brotli |");
console.log("|---|---|---:|---:|");
let first = [0, 0], all = [0, 0];
for (const f of main) {
  const [r, b] = size(f);
  first = [first[0] + r, first[1] + b];
  console.log(`| ${short(f)} | every page | ${kb(r)} | ${kb(b)} |`);
}
all = [...first];
for (const f of chunks) {
  const [r, b] = size(f);
  all = [all[0] + r, all[1] + b];
  console.log(`| ${short(f)} | when its page is first opened | ${kb(r)} | ${kb(b)} |`);
}
console.log(`| **first visit (the sign-in page)** | | **${kb(first[0])}** | **${kb(first[1])}** |`);
console.log(`| **total** | ${chunks.length} lazily loaded files | **${kb(all[0])}** | **${kb(all[1])}** |`);
JS
