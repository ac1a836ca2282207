#!/usr/bin/env bash
# Installs what building and testing Roster needs, skipping whatever is
# already present, so a machine that has the tools starts building at once.
# Only package registries are reachable here: every tool comes from cargo,
# npm, pip or apt, never from a binary download (see shared TOOLCHAIN.md).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

CARGO_LEPTOS_VERSION=0.3.11
WASM_BINDGEN_VERSION=0.2.130
BINARYEN_VERSION=132.0.0

export PATH="$HOME/.cargo/bin:$ROOT/.tools/node_modules/.bin:$PATH"

say() { printf '[install-tools] %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# 1. The WebAssembly target for the hydrate build.
if rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "wasm32-unknown-unknown: present"
else
  say "wasm32-unknown-unknown: adding"
  rustup target add wasm32-unknown-unknown
fi

# 2. cargo-leptos (its lockfile wants a newer rustc: --ignore-rust-version).
if [ "$(cargo leptos --version 2>/dev/null | awk '{print $2}')" = "$CARGO_LEPTOS_VERSION" ]; then
  say "cargo-leptos $CARGO_LEPTOS_VERSION: present"
else
  say "cargo-leptos $CARGO_LEPTOS_VERSION: installing (about 17 minutes on 2 cores)"
  cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked --ignore-rust-version
fi

# 3. wasm-bindgen-cli, exactly the version of the wasm-bindgen crate (no
#    --locked: its lockfile names a crate version the registry lacks).
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" = "$WASM_BINDGEN_VERSION" ]; then
  say "wasm-bindgen-cli $WASM_BINDGEN_VERSION: present"
else
  say "wasm-bindgen-cli $WASM_BINDGEN_VERSION: installing (about 4 minutes)"
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

# 4. wasm-opt for release builds, from npm's binaryen (Debian's 108 breaks hydration).
if [ -x .tools/node_modules/.bin/wasm-opt ] \
  && [ "$(node -p "require('./.tools/node_modules/binaryen/package.json').version" 2>/dev/null)" = "$BINARYEN_VERSION" ]; then
  say "binaryen $BINARYEN_VERSION (wasm-opt): present"
else
  say "binaryen $BINARYEN_VERSION (wasm-opt): installing into .tools"
  mkdir -p .tools
  npm install --prefix .tools --no-save --no-package-lock "binaryen@$BINARYEN_VERSION"
fi

# 5. Chromium for the browser tests (Debian's; Playwright downloads none).
if [ -x /usr/bin/chromium ]; then
  say "chromium: present"
else
  say "chromium: installing from Debian"
  as_root apt-get update
  as_root apt-get install -y chromium
fi

# 6. Playwright and the test dependencies, exactly as locked.
if [ -x end2end/node_modules/.bin/playwright ] \
  && [ end2end/node_modules/.package-lock.json -nt end2end/package-lock.json ]; then
  say "end2end node_modules: present"
else
  say "end2end node_modules: npm ci"
  (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
fi

# 7. aiosmtpd: the SMTP server the mail tests run against.
if python3 -c 'import aiosmtpd' 2>/dev/null; then
  say "aiosmtpd: present"
else
  say "aiosmtpd: installing"
  python3 -m pip install --quiet --root-user-action=ignore aiosmtpd
fi
