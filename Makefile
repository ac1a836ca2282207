# Roster: build, run and test.
#
#   make run    install tools, release build, serve http://127.0.0.1:3000 (./data/roster.db)
#   make test   install tools, Rust tests (SQLite + PostgreSQL), the debug site,
#               Playwright on SQLite and on PostgreSQL side by side
#   make lint   the layers of app/src, then clippy for the server (ssr) and the browser (hydrate, wasm32)
#   make screenshots  debug build, then refresh the README's pictures in docs/screenshots
#   make bench  generate 1M users (ROSTER_BENCH_USERS), measure through the release server, rewrite BENCHMARKS.md
#
# Tools come only from package registries: see scripts/install-tools.sh.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# wasm-opt (npm's binaryen) for release builds, and cargo's tools.
export PATH := $(CURDIR)/.tools/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)
export CHROMIUM_PATH ?= /usr/bin/chromium
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1
export CARGO_TERM_COLOR ?= never
# leptos reads LEPTOS_OUTPUT_NAME at compile time (option_env!), and
# cargo-leptos sets it for its builds: every cargo command here gets the same
# value, so that a test build and a site build do not each compile leptos and
# everything above it.
export LEPTOS_OUTPUT_NAME := roster

# Prints a step banner and its wall time.
define step
	@echo; echo "==> $(1)"; start=$$(date +%s); $(2); echo "==> $(1): done in $$(( $$(date +%s) - start ))s"
endef

.PHONY: help tools build build-release site-for-tests run test test-rust e2e e2e-sqlite e2e-postgres lint fmt-check bench screenshots

help:
	@echo "make run | make test | make lint | make bench | make screenshots | make tools | make build | make e2e"

tools:
	$(call step,install tools,scripts/install-tools.sh)

# RUSTFLAGS is set (empty) so that cargo-leptos, which appends
# `--cfg erase_components` to the configured flags for debug builds, ends up
# with exactly `--cfg erase_components`: the flags the Rust tests use
# (TEST_RUSTFLAGS), whatever .cargo/config.toml says. Equal flags let both
# share one set of compiled dependencies in target/.
#
# --split: each application's pages (app/src/lazy_pages.rs) become a WASM
# module of their own, loaded when one of them is first opened; without it
# those routes do not link. Every build of the site passes it.
build:
	$(call step,cargo leptos build --split (debug),RUSTFLAGS= cargo leptos build --split)

# --precompress: a brotli (quality 11) and a gzip copy beside every file of
# target/site, which the server sends to browsers that accept them.
build-release:
	$(call step,cargo leptos build --release --split --precompress,cargo leptos build --release --split --precompress)

# The release binary carries its site (server/src/site.rs): it is all a
# machine needs.
run: tools build-release
	@mkdir -p data
	$(or $(CARGO_TARGET_DIR),target)/release/server

# The site first: the server binary embeds target/site when it is compiled,
# and one integration test runs that binary alone.
test: tools site-for-tests test-rust e2e

# The Rust tests are compiled with the same flags as the debug site build
# (see `build`), so that they share the compiled dependencies in target/.
TEST_RUSTFLAGS := --cfg erase_components

# One cargo command for both crates: one feature resolution, so every
# dependency is compiled once (two commands compiled the web stack twice).
test-rust:
	$(call step,PostgreSQL for the integration tests,scripts/ensure-postgres.sh)
	$(call step,Rust tests: app and server (unit + integration; SQLite and PostgreSQL),RUSTFLAGS="$(TEST_RUSTFLAGS)" cargo test -p app -p server --features app/ssr)

# Playwright runs the server binary that `test-rust` built and tested
# (target/debug/server); cargo-leptos builds the browser half (WASM, JS, CSS
# and assets in target/site), which that binary also embeds. A separate
# server build would compile the web stack again: the tests' dev-dependencies
# give hyper, tower and others more features.
site-for-tests:
	$(call step,cargo leptos build --split --frontend-only (debug),RUSTFLAGS= cargo leptos build --split --frontend-only)

# Playwright on both backends side by side; each run starts its own server on
# a fresh database and fails on a panic in that server's log.
# (No closing banner: the last line of `make test` is the Playwright summary.)
e2e:
	scripts/e2e.sh sqlite postgres

e2e-sqlite:
	scripts/e2e.sh sqlite

e2e-postgres:
	scripts/e2e.sh postgres

# The README's pictures: end2end/tests/screenshots.spec.ts alone, writing into
# docs/screenshots (every run of the suite writes them under test-results/).
screenshots: tools build
	mkdir -p docs/screenshots
	ROSTER_SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots PLAYWRIGHT_ARGS=tests/screenshots.spec.ts scripts/e2e.sh sqlite

# `--workspace` would unify app's ssr and hydrate features into one host
# build, so each half is checked on its own.
lint:
	$(call step,layers: no import in app/src runs up a layer (scripts/layers.toml),scripts/check-layers.py)
	$(call step,clippy (ssr: app + server),cargo clippy -p app -p server --all-targets --features app/ssr -- -D warnings)
	$(call step,clippy (hydrate: frontend on wasm32),cargo clippy -p frontend --target wasm32-unknown-unknown -- -D warnings)

# Generates its own data, measures through the release server on SQLite and
# PostgreSQL, and rewrites the generated part of BENCHMARKS.md (bench/run.sh).
bench: tools
	$(call step,benchmarks (BENCHMARKS.md),bench/run.sh)
