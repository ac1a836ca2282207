#!/usr/bin/env bash
# Size of the release build's WASM, JS and CSS, raw and brotli-compressed
# (quality 11, as a server would precompress them). Builds first unless
# SKIP_BUILD=1. Prints a Markdown table.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="$PWD/.tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  cargo leptos build --release >&2
fi
node - target/site/pkg <<'JS'
const fs = require("fs"), path = require("path"), zlib = require("zlib");
const dir = process.argv[2];
const files = fs.readdirSync(dir).filter((f) => /\.(wasm|js|css)$/.test(f)).sort();
let raw = 0, br = 0;
console.log("| file | raw | brotli |");
console.log("|---|---:|---:|");
const kb = (n) => (n / 1024).toFixed(1) + " KiB";
for (const f of files) {
  const buf = fs.readFileSync(path.join(dir, f));
  const b = zlib.brotliCompressSync(buf, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
  raw += buf.length; br += b;
  console.log(`| ${f} | ${kb(buf.length)} | ${kb(b)} |`);
}
console.log(`| **total** | **${kb(raw)}** | **${kb(br)}** |`);
JS
