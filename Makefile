# Roster: build, run and test.
#
#   make run    install tools, release build, serve http://127.0.0.1:3000 (./data/roster.db)
#   make test   install tools, the layer check, the debug site, the Rust tests
#               (SQLite + PostgreSQL), Playwright on both side by side; clippy
#               (-D warnings) lints the builds as they compile
#   make lint   the layer check and the two linted builds, without running tests
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

.PHONY: help tools build build-release site-for-tests run test test-rust e2e e2e-sqlite e2e-postgres layers lint fmt-check bench screenshots

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
# and one integration test runs that binary alone. The lints run inside the
# same builds (LINTED below), so `make test` fails on a clippy warning too.
test: tools layers site-for-tests test-rust e2e

# The Rust tests are compiled with the same flags as the debug site build
# (see `build`), so that they share the compiled dependencies in target/.
TEST_RUSTFLAGS := --cfg erase_components

# Clippy inside the builds the tests need, instead of a `cargo clippy` that
# compiles every dependency a second time (check mode shares nothing with a
# build): clippy-driver compiles the workspace's own crates as rustc does and
# lints them (-D warnings); dependencies are built as usual. CLIPPY_ARGS is
# how cargo-clippy passes its arguments to clippy-driver.
CLIPPY_DRIVER := $(shell rustup which clippy-driver 2>/dev/null || command -v clippy-driver)
LINTED := RUSTC_WORKSPACE_WRAPPER=$(CLIPPY_DRIVER) CLIPPY_ARGS=-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__

# One cargo command for both crates: one feature resolution, so every
# dependency is compiled once (two commands compiled the web stack twice).
# --all-targets first compiles (and lints) the benches too; the run is the tests.
test-rust:
	$(call step,PostgreSQL for the integration tests,scripts/ensure-postgres.sh)
	$(call step,compile and lint every Rust target (ssr: app + server),$(LINTED) RUSTFLAGS="$(TEST_RUSTFLAGS)" cargo test -p app -p server --features app/ssr --all-targets --no-run)
	$(call step,Rust tests: app and server (unit + integration; SQLite and PostgreSQL),$(LINTED) RUSTFLAGS="$(TEST_RUSTFLAGS)" cargo test -p app -p server --features app/ssr)

# Playwright runs the server binary that `test-rust` built and tested
# (target/debug/server); cargo-leptos builds the browser half (WASM, JS, CSS
# and assets in target/site), which that binary also embeds. A separate
# server build would compile the web stack again: the tests' dev-dependencies
# give hyper, tower and others more features.
site-for-tests:
	$(call step,cargo leptos build --split --frontend-only (debug; lints app and frontend for wasm32),$(LINTED) RUSTFLAGS= cargo leptos build --split --frontend-only)

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

layers:
	$(call step,layers: no import in app/src runs up a layer (scripts/layers.toml),scripts/check-layers.py)
	$(call step,tables: each table's SQL only in its home (scripts/tables.toml),scripts/check-tables.py)

# The lints alone: the layer check, then the two builds `make test` lints in
# (the browser half for wasm32, the server half with every target). Each half
# is its own build: one would unify app's ssr and hydrate features.
lint: layers site-for-tests
	$(call step,compile and lint every Rust target (ssr: app + server),$(LINTED) RUSTFLAGS="$(TEST_RUSTFLAGS)" cargo test -p app -p server --features app/ssr --all-targets --no-run)

# Generates its own data, measures through the release server on SQLite and
# PostgreSQL, and rewrites the generated part of BENCHMARKS.md (bench/run.sh).
bench: tools
	$(call step,benchmarks (BENCHMARKS.md),bench/run.sh)
