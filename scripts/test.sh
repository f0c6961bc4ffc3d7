#!/usr/bin/env bash
# Runs every test: formatting, lints (server and wasm), unit and integration
# tests, the hostile-input run, then the browser tests in Chromium against a
# release build.
set -euo pipefail
source "$(dirname "$0")/env.sh"
"$ROOT/scripts/setup.sh"
cd "$ROOT"

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy (server side)"
cargo clippy --all-targets -- -D warnings
step "cargo clippy (browser side, wasm32)"
cargo clippy -p frontend --target wasm32-unknown-unknown -- -D warnings

step "PostgreSQL for the tests on the second engine (scripts/postgres.sh)"
WENSI_TEST_PG_URL="$("$ROOT/scripts/postgres.sh")"
case "$WENSI_TEST_PG_URL" in
  postgres://*) ;;
  *) echo "scripts/postgres.sh printed something other than one URL: $WENSI_TEST_PG_URL" >&2; exit 1 ;;
esac
export WENSI_TEST_PG_URL

step "cargo test (integration tests on SQLite)"
cargo test

step "integration tests on PostgreSQL (WENSI_TEST_DB=postgres, a fresh database per test; the two-process tests run here)"
WENSI_TEST_DB=postgres cargo test -p server --tests

step "hostile-input run (server/tests/hostile.rs; prints what it fired and that no login changed)"
cargo test -p server --test hostile -- --ignored --nocapture

step "hostile-input run (browser side)"
cargo test -p server --test hostile_web -- --ignored --nocapture

step "release build (cargo leptos build --release --precompress --split --bin-features embed-site)"
# The site goes inside the binary (server/build.rs): the browser tests run
# the same binary that is shipped. Cost: cargo-leptos rewrites the site on
# every build, so the server crate is compiled again each time (measured
# 2 min 57 s on a busy 2-core machine when nothing else changed).
cargo leptos build --release --precompress --split --bin-features embed-site

step "package (scripts/package.sh --no-build)"
PACKAGE_TARBALL="$("$ROOT/scripts/package.sh" --no-build)"
export PACKAGE_TARBALL

step "load check (loadtest --quick: no login lost or duplicated under load)"
LOADTEST_SERVER="$SERVER_BIN" cargo test -- --ignored --exact a_quick_run_loses_no_login --nocapture

step "browser tests (Playwright, Chromium; package.spec.ts runs the unpacked tarball)"
cd end2end
npx playwright test
